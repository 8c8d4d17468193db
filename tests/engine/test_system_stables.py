"""Stablecoins issued by a market of a system, and owners whose accounts span markets:
hand cases against the closed form of a fee-free x·y = k pool, conservation, the system
without issuers unchanged, owner sums, static and block by block."""

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings as hsettings
from hypothesis import strategies as hst

from liqcascade.engine.dynamic import Dynamics, SimSettings
from liqcascade.engine.static import CascadeSettings, MarketModel
from liqcascade.engine.system import IssuedCoin, SystemCascade, SystemModel
from liqcascade.engine.system_dynamic_run import run_system_simulation
from liqcascade.engine.system_owners import owned_accounts
from liqcascade.engine.system_run import run_system
from liqcascade.errors import ConfigError
from liqcascade.markets.cpmm import ConstantProductPool
from liqcascade.markets.oracle import Instant
from liqcascade.protocols.aave_v3 import V3_0
from liqcascade.protocols.aave_v3.rules import AaveV3Rules
from liqcascade.scenarios import instant_shock

from .conftest import PARAMS, PRICES, book
from .test_dynamic import UNBOUNDED

X = Y = 2e6  # the DAI pool: 2M DAI against 2M USD, no fee: k = 4e12, price 1
K = X * Y


def dai_pool(x=X, y=Y):
    return ConstantProductPool("DAI", x, y, 0.0)


def market(rows):
    return MarketModel(book(rows), AaveV3Rules(PARAMS, V3_0), PRICES, {})


# WETH -10 % -> 1800 (no WETH venue: it stays there). The issuer's vault: 10 WETH, 16,000 DAI:
# HF = 10*1800*0.85/16,000 = 0.95625 -> 50 % close: 8,000 DAI repaid, 4.6667 WETH seized;
# after it HF = 5.3333*1800*0.85/(8,000*p_dai) = 8,160/(8,000*p_dai) > 1 for p_dai < 1.02.
ISSUER = [("a", "WETH", 10.0, 0.0), ("a", "DAI", 0.0, 16_000.0)]
D = 8_000.0
# The other market's account owes DAI: 5 WETH, 7,620 DAI: HF at DAI = 1 is 7,650/7,620 = 1.0039,
# below 1 once DAI is above 7,650/7,620 = 1.003937.
BORROWER = [("b", "WETH", 5.0, 0.0), ("b", "DAI", 0.0, 7_620.0)]


def system(markets, share=1.0, issuer="maker", venues=None, owners=None):
    return SystemModel(PARAMS.symbols, PRICES, markets, {"DAI": dai_pool()} if venues is None else venues,
                       issued=(IssuedCoin("DAI", issuer, share),), owners=owners or {})


def closed_form_price(bought):
    """Marginal price of the fee-free pool after ``bought`` DAI leave it: k / (x - bought)^2."""
    return K / (X - bought) ** 2


def test_coin_price_after_the_issuers_purchase_is_the_closed_form(one_numba_thread):
    res = run_system(system({"maker": market(ISSUER)}), {"WETH": 0.1})
    coin = res["stablecoins"].iloc[0]
    assert coin["debt_repaid"] == pytest.approx(D, rel=1e-12)
    assert coin["bought"] == pytest.approx(D, rel=1e-12)  # conservation: bought = repaid in the coin
    assert coin["price_final"] == pytest.approx(K / (X - D) ** 2, rel=1e-12)  # 1.008048...
    assert coin["bought_cost_usd"] == pytest.approx(Y * D / (X - D), rel=1e-12)  # 8,032.13
    assert coin["rounds_bought"] == 1
    r = res["rounds"]
    row = r[(r["market"] == "maker") & (r["asset"] == "DAI")].iloc[0]
    assert row["debt_bought"] == pytest.approx(D, rel=1e-12)
    assert row["price_after"] == pytest.approx(coin["price_final"], rel=1e-15)


def test_another_market_sees_the_coin_price_and_falls_with_it(one_numba_thread):
    s = system({"maker": market(ISSUER), "aave": market(BORROWER)})
    solver = SystemCascade(s)
    assert solver.alone("aave", {"WETH": 0.1}).tallies.acct_calls.sum() == 0  # 1.0039 > 1 at DAI = 1
    out = solver.run({"WETH": 0.1})
    p = closed_form_price(D)
    assert p > 7_650.0 / 7_620.0
    aave = out.markets["aave"]
    assert aave.prices_final[PARAMS.index("DAI")] == pytest.approx(p, rel=1e-12)
    assert aave.tallies.acct_calls.sum() == 1
    rounds = pd.DataFrame(aave.round_rows)
    hit = rounds[(rounds["asset"] == "DAI") & (rounds["debt_repaid"] > 0)].iloc[0]
    assert hit["round"] == 2 and hit["price_before"] == pytest.approx(p, rel=1e-12)
    # the borrower's DAI is not the issuer's debt: nothing more is bought
    assert out.coins["DAI"].bought == pytest.approx(D, rel=1e-12)
    assert out.coins["DAI"].repaid == pytest.approx(D, rel=1e-12)


def test_a_market_holding_the_coin_as_collateral_sees_it(one_numba_thread):
    # 10,000 DAI supplied (DAI minted elsewhere), 5,000 USDC owed: never liquidated; its DAI is
    # worth the pool's price at the end
    holder = market([("h", "DAI", 10_000.0, 0.0), ("h", "USDC", 0.0, 5_000.0)])
    res = run_system(system({"maker": market(ISSUER), "aave": holder}), {"WETH": 0.1})
    a = res["assets"].set_index("asset")
    assert a.loc["DAI", "price_final"] == pytest.approx(closed_form_price(D), rel=1e-12)


def test_buy_share_scales_the_purchase(one_numba_thread):
    res = run_system(system({"maker": market(ISSUER)}, share=0.25), {"WETH": 0.1})
    coin = res["stablecoins"].iloc[0]
    assert coin["debt_repaid"] == pytest.approx(D, rel=1e-12)
    assert coin["bought"] == pytest.approx(0.25 * D, rel=1e-12)
    assert coin["price_final"] == pytest.approx(closed_form_price(0.25 * D), rel=1e-12)


def test_with_buy_debt_the_coin_is_bought_once(one_numba_thread):
    # buy_debt already buys every market's repaid debt on its venue: no second purchase
    res = run_system(system({"maker": market(ISSUER)}), {"WETH": 0.1}, CascadeSettings(buy_debt=True))
    assert res["assets"].set_index("asset").loc["DAI", "price_final"] == pytest.approx(closed_form_price(D), rel=1e-12)
    coin = res["stablecoins"].iloc[0]
    assert coin["bought"] == pytest.approx(D, rel=1e-12)
    assert coin["price_final"] == pytest.approx(closed_form_price(D), rel=1e-12)


def _same_tables(a, b, skip=("stablecoins",)):
    assert set(a.tables) - set(skip) == set(b.tables) - set(skip)
    for name in a.tables:
        if name not in skip:
            pd.testing.assert_frame_equal(a[name], b[name], check_exact=True)


def test_a_coin_nobody_buys_leaves_the_system_unchanged(one_numba_thread):
    # buy_share 0 (Liquity's Stability Pool) or an issuer without debt in the coin: every
    # table is the system's without issued coins, bit for bit
    markets = {"maker": market(ISSUER), "aave": market(BORROWER)}
    plain = run_system(SystemModel(PARAMS.symbols, PRICES, markets, {"DAI": dai_pool()}), {"WETH": 0.1})
    assert "stablecoins" not in plain.tables and "owners" not in plain.tables
    _same_tables(run_system(system(markets, share=0.0), {"WETH": 0.1}), plain)
    _same_tables(run_system(system(markets, issuer="aave"), {"WETH": 0.05}),
                 run_system(SystemModel(PARAMS.symbols, PRICES, markets, {"DAI": dai_pool()}), {"WETH": 0.05}))


def test_leaving_the_issuer_out_leaves_the_coin_alone(one_numba_thread):
    solver = SystemCascade(system({"maker": market(ISSUER), "aave": market(BORROWER)}))
    out = solver.run({"WETH": 0.1}, only=["aave"])
    assert out.coins == {}
    assert out.markets["aave"].prices_final[PARAMS.index("DAI")] == 1.0


@hsettings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    debts=hst.lists(hst.floats(12_000.0, 16_800.0), min_size=1, max_size=6),
    shock=hst.floats(0.02, 0.5),
    share=hst.floats(0.0, 1.0),
)
def test_pure_buying_never_lowers_the_coin_and_walks_the_curve(one_numba_thread, debts, shock, share):
    # nobody holds DAI as collateral, so it is only bought: its price never falls below 1,
    # and with a fee-free pool every purchase is one walk along x·y = k
    rows = [r for k, d in enumerate(debts) for r in ((f"v{k}", "WETH", 10.0, 0.0), (f"v{k}", "DAI", 0.0, d))]
    res = run_system(system({"maker": market(rows)}, share=share), {"WETH": shock})
    coin = res["stablecoins"].iloc[0]
    repaid = res["market_assets"].query("asset == 'DAI'")["debt_repaid"].sum()
    assert coin["debt_repaid"] == pytest.approx(repaid, rel=1e-12, abs=1e-9)
    assert coin["bought"] == pytest.approx(share * repaid, rel=1e-9, abs=1e-9)
    assert coin["price_final"] >= 1.0
    assert coin["price_final"] == pytest.approx(closed_form_price(coin["bought"]), rel=1e-9)
    r = res["rounds"].query("asset == 'DAI'")
    assert (r["price_after"] >= r["price_before"]).all()


def test_bad_declarations_name_the_key():
    m = {"maker": market(ISSUER)}
    cases = [
        (dict(issued=(IssuedCoin("DAI", "mkr"),), venues={"DAI": dai_pool()}), "stablecoins.DAI.issuer"),
        (dict(issued=(IssuedCoin("DAI", "maker"),), venues={}), "stablecoins.DAI"),
        (dict(issued=(IssuedCoin("DAI", "maker", 1.5),), venues={"DAI": dai_pool()}), "stablecoins.DAI.buy_share"),
        (dict(issued=(IssuedCoin("DAI", "maker"), IssuedCoin("DAI", "maker")), venues={"DAI": dai_pool()}),
         "stablecoins.DAI"),
        (dict(owners={"maker": np.array([None, None], dtype=object)}, venues={}), "owners.maker"),
    ]
    for kw, key in cases:
        with pytest.raises(ConfigError) as e:
            SystemModel(PARAMS.symbols, PRICES, m, source="s.toml", **kw)
        assert e.value.key == key and e.value.file == "s.toml"


def test_owner_table_sums_the_markets_account_rows(one_numba_thread):
    # owner o1 holds the issuer's vault and the borrower's account; o2 an account never touched
    maker = market(ISSUER + [("c", "WETH", 10.0, 0.0), ("c", "DAI", 0.0, 1_000.0)])
    aave = market(BORROWER)
    owners = {"maker": np.array(["o1", "o2"], dtype=object), "aave": np.array(["o1"], dtype=object)}
    res = run_system(system({"maker": maker, "aave": aave}, owners=owners), {"WETH": 0.1})
    o = res["owners"].set_index("owner")
    acc = res["accounts"]
    assert list(o.index) == ["o1", "o2"]
    assert o.loc["o1", "positions"] == 2 and o.loc["o1", "markets"] == "maker+aave"
    assert o.loc["o1", "markets_liquidated"] == "maker+aave" and o.loc["o1", "accounts_liquidated"] == 2
    assert o.loc["o2", "markets_liquidated"] == "" and o.loc["o2", "collateral_seized_usd"] == 0.0
    for col in ("collateral_seized_usd", "debt_repaid_usd", "bad_debt_usd"):
        assert o[col].sum() == pytest.approx(acc[col].sum(), rel=1e-12)
    assert o.loc["o1", "loss_usd"] == pytest.approx(acc["collateral_seized_usd"].sum() - acc["debt_repaid_usd"].sum(),
                                                    rel=1e-12)
    # the issuer's vault: 8,400 USD seized (8,000 * 1.05) for 8,000 repaid: a 400 USD bonus
    assert acc.set_index("account_id").loc["a", "collateral_seized_usd"] == pytest.approx(8_400.0, rel=1e-12)
    # before the shock: 20,000 + 10,000 collateral (WETH at 2,000), 16,000 + 7,620 debt
    assert o.loc["o1", "collateral_usd_before"] == pytest.approx(30_000.0, rel=1e-15)
    assert o.loc["o1", "debt_usd_before"] == pytest.approx(23_620.0, rel=1e-15)
    # every linked account once, untouched ones included
    linked = owned_accounts(system({"maker": maker, "aave": aave}, owners=owners), {})
    assert sorted(zip(linked["market"], linked["account_id"])) == [("aave", "b"), ("maker", "a"), ("maker", "c")]
    assert linked["collateral_seized_usd"].sum() == 0.0


def _dynamic_system(owners=None):
    return system({"maker": market(ISSUER), "aave": market(BORROWER)}, owners=owners)


DYN = SimSettings(UNBOUNDED, Dynamics(recovery_half_life_s=math.inf, permanent_fraction=1.0), check_conservation=True)


def test_block_by_block_one_purchase_at_the_closed_form_and_the_other_market_follows(one_numba_thread):
    s = _dynamic_system({"maker": np.array(["o1"], dtype=object), "aave": np.array(["o1"], dtype=object)})
    path = instant_shock({"WETH": 2000.0}, {"WETH": -0.1}, 6)
    res = run_system_simulation(s, path, Instant(), DYN)
    blocks = res["stablecoin_blocks"]
    assert len(blocks) == 1
    first = blocks.iloc[0]
    assert first["block"] == 1
    assert first["debt_repaid"] == pytest.approx(D, rel=1e-12) and first["bought"] == first["debt_repaid"]
    assert first["price_before"] == pytest.approx(1.0, rel=1e-12)
    assert first["price_after"] == pytest.approx(closed_form_price(D), rel=1e-12)
    assert first["bought_cost_usd"] == pytest.approx(Y * D / (X - D), rel=1e-12)
    ev = res["events"]
    hit = ev[ev["market"] == "aave"]
    assert list(hit["block"]) == [2]  # it sees the coin at the pool's price in the next block
    m = res["markets"].set_index("market")
    assert m.loc["aave", "alone_accounts_liquidated"] == 0 and m.loc["aave", "accounts_liquidated"] == 1
    steps = res["steps"]
    dai = steps[(steps["market"] == "aave") & (steps["asset"] == "DAI") & (steps["block"] == 2)].iloc[0]
    assert dai["oracle_price"] == pytest.approx(closed_form_price(D), rel=1e-12)
    coin = res["stablecoins"].iloc[0]
    assert coin["bought"] == pytest.approx(D, rel=1e-12) and coin["blocks_bought"] == 1
    o = res["owners"].set_index("owner")
    assert o.loc["o1", "markets_liquidated"] == "maker+aave"
    assert o.loc["o1", "collateral_seized_usd"] == pytest.approx(ev["collateral_seized_usd"].sum(), rel=1e-12)


def test_block_by_block_without_issued_coins_is_unchanged(one_numba_thread):
    markets = {"maker": market(ISSUER), "aave": market(BORROWER)}
    path = instant_shock({"WETH": 2000.0}, {"WETH": -0.1}, 6)
    plain = run_system_simulation(SystemModel(PARAMS.symbols, PRICES, markets, {"DAI": dai_pool()}), path, Instant(),
                                  DYN)
    none_bought = run_system_simulation(system(markets, share=0.0), path, Instant(), DYN)
    _same_tables(none_bought, plain, skip=("stablecoins", "stablecoin_blocks"))
    assert none_bought["stablecoins"].iloc[0]["bought"] == 0.0
    assert none_bought["stablecoins"].iloc[0]["debt_repaid"] == pytest.approx(D, rel=1e-12)


@hsettings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    debts=hst.lists(hst.floats(12_000.0, 16_800.0), min_size=1, max_size=5),
    drop=hst.floats(0.02, 0.4),
    phi=hst.floats(0.0, 1.0),
)
def test_block_by_block_pure_buying_keeps_the_coin_at_or_above_its_start(one_numba_thread, debts, drop, phi):
    # only bought, never sold: each block's purchase lifts the pool, and recovery (toward the
    # reference times the permanent impact of the purchases, both >= 1) never takes it below 1;
    # every DAI the issuer repaid was bought
    rows = [r for k, d in enumerate(debts) for r in ((f"v{k}", "WETH", 10.0, 0.0), (f"v{k}", "DAI", 0.0, d))]
    settings = SimSettings(UNBOUNDED, Dynamics(recovery_half_life_s=120.0, permanent_fraction=phi),
                           check_conservation=True)
    path = instant_shock({"WETH": 2000.0}, {"WETH": -drop}, 30)
    res = run_system_simulation(system({"maker": market(rows)}), path, Instant(), settings, alone=False)
    blocks, steps = res["stablecoin_blocks"], res["steps"]
    dai = steps[steps["asset"] == "DAI"]
    assert len(dai) or not len(blocks)  # a coin bought is a tracked asset
    assert (dai["market_price"] >= 1.0 - 1e-12).all()
    assert (blocks["price_after"] >= blocks["price_before"]).all()
    a = res["assets"]
    assert blocks["bought"].sum() == pytest.approx(a[a["asset"] == "DAI"]["repaid"].sum(), rel=1e-12, abs=1e-9)
