"""Static cascade against cases computed by hand (numbers in the comments)."""

import numpy as np
import pytest

from liqcascade.engine.run import run_static
from liqcascade.engine.static import CascadeSettings, MarketModel, StaticCascade
from liqcascade.markets.cpmm import ConstantProductPool
from liqcascade.protocols.aave_v3 import V3_0, V3_3
from liqcascade.protocols.aave_v3.rules import AaveV3Rules

from .conftest import PARAMS, PRICES, book


def model(rows, version=V3_0, venues=None, prices=PRICES):
    return MarketModel(book(rows), AaveV3Rules(PARAMS, version), prices, venues or {})


@pytest.mark.parametrize("version", [V3_0, V3_3])
def test_full_close_below_095(version):
    # 10 WETH, 15000 USDC debt; -20 % -> 1600: HF = 16000*0.85/15000 = 0.9067 < 0.95 -> 100 %.
    # Cover 15000: collateral 15000*1.05/1600 = 9.84375 WETH ($15750) <= 10 WETH.
    # Fee = (15750 - 15750/1.05) * 0.1 = $75.
    res = run_static(model([("a", "WETH", 10.0, 0), ("a", "USDC", 0, 15000.0)], version), {"WETH": 0.2})
    s = res.summary
    assert s["debt_repaid_usd"] == pytest.approx(15000.0, rel=1e-12)
    assert s["collateral_seized_usd"] == pytest.approx(15750.0, rel=1e-12)
    assert s["protocol_fee_usd"] == pytest.approx(75.0, rel=1e-9)
    assert s["bad_debt_usd"] == 0.0
    assets = res["assets"].set_index("asset")
    assert assets.loc["WETH", "seized"] == pytest.approx(9.84375, rel=1e-12)


def test_half_close_between_095_and_1():
    # 10 WETH at 1860 (-7 %), 16000 USDC: HF = 15810/16000 = 0.988125 -> 50 % close factor.
    # Repay 8000; seize 8000*1.05/1860 = 4.516129 WETH ($8400). HF after:
    # (10-4.516129)*1860*0.85/8000 = 1.0837 >= 1, so one call.
    res = run_static(model([("a", "WETH", 10.0, 0), ("a", "USDC", 0, 16000.0)]), {"WETH": 0.07})
    s = res.summary
    assert s["liquidation_calls"] == 1
    assert s["debt_repaid_usd"] == pytest.approx(8000.0, rel=1e-12)
    assert s["collateral_seized_usd"] == pytest.approx(8400.0, rel=1e-12)
    acc = res["accounts"].iloc[0]
    assert acc["hf_after"] == pytest.approx((10 - 8400 / 1860) * 1860 * 0.85 / 8000, rel=1e-12)


@pytest.mark.parametrize("version,written_off,unrecoverable", [(V3_0, 0.0, 1.0), (V3_3, 1.0, 0.0)])
def test_bad_debt_burn_only_from_v33(version, written_off, unrecoverable):
    # 1 WETH, 2000 USDC; -25 % -> 1500: HF 0.6375, cover all -> needs 1.4 WETH > 1 WETH:
    # seize all 1 WETH, repay 1500/1.05 = 1428.5714; 571.4286 USDC is left with no collateral.
    # v3.3+ burns it into the USDC deficit; v3.0 leaves it on the account (unrecoverable).
    res = run_static(model([("a", "WETH", 1.0, 0), ("a", "USDC", 0, 2000.0)], version), {"WETH": 0.25})
    s = res.summary
    left = 2000.0 - 1500.0 / 1.05
    assert s["debt_repaid_usd"] == pytest.approx(1500.0 / 1.05, rel=1e-12)
    assert s["bad_debt_usd"] == pytest.approx(left, rel=1e-12)
    assert s["bad_debt_written_off_usd"] == pytest.approx(left * written_off, rel=1e-12)
    assert s["bad_debt_unrecoverable_usd"] == pytest.approx(left * unrecoverable, rel=1e-12)
    deficit = res["assets"].set_index("asset").loc["USDC", "deficit"]
    assert deficit == pytest.approx(left * written_off, rel=1e-12)



def test_end_of_run_passes_belong_to_their_outcome():
    """The summary, totals and accounts table share the end-of-run passes of one outcome; a second
    run's outcome gets its own. Account a: 1 WETH, 2000 USDC (v3.0). At -25 % (1500) all its WETH
    is seized for 1500 / 1.05 of debt: 2000 - 1428.5714 is left with no collateral. At -10 % (1800)
    HF = 1800 * 0.85 / 2000 = 0.765 < 0.95: full close of 2000 needs 2100 / 1800 = 1.1667 WETH
    > 1, so again all of it for 1800 / 1.05 = 1714.2857, leaving 285.7143."""
    solver = StaticCascade(model([("a", "WETH", 1.0, 0), ("a", "USDC", 0, 2000.0)], V3_0))
    deep, mild = solver.run({"WETH": 0.25}), solver.run({"WETH": 0.10})
    for out, price in ((deep, 1500.0), (mild, 1800.0), (deep, 1500.0)):
        left = 2000.0 - price / 1.05
        assert solver.summarize(out)["bad_debt_unrecoverable_usd"] == pytest.approx(left, rel=1e-12)
        assert solver.totals(out)["bad_debt_usd"] == pytest.approx(left, rel=1e-12)
        acc = solver.account_frame(out)
        assert acc["bad_debt_usd"].tolist() == pytest.approx([left], rel=1e-12)
        assert acc["debt_usd_after"].tolist() == pytest.approx([left], rel=1e-12)
        assert acc["collateral_usd_after"].tolist() == [0.0]

def test_dust_rule_v33_covers_less_than_close_factor():
    # 3.5 WETH at $1000 (-50 %), debts 2050 USDC + 1000 DAI; HF = 2975/3050 = 0.9754.
    # v3.3: collateral $3500 and USDC debt $2050 both >= $2000, HF > 0.95 and 2050 > 1525
    # -> max cover = 0.5 * 3050 = 1525 USDC, which would leave $525 of USDC debt (< $1000):
    # MustNotLeaveDust. The liquidator covers the most that leaves $1000: 1050 USDC,
    # seizing 1050*1.05/1000 = 1.1025 WETH. HF after = 2.3975*850/2000 = 1.0189.
    rows = [("a", "WETH", 3.5, 0), ("a", "USDC", 0, 2050.0), ("a", "DAI", 0, 1000.0)]
    res = run_static(model(rows, V3_3), {"WETH": 0.5})
    s = res.summary
    assert s["liquidation_calls"] == 1
    assert s["debt_repaid_usd"] == pytest.approx(1050.0, rel=1e-9)
    assert s["collateral_seized_usd"] == pytest.approx(1102.5, rel=1e-9)
    # v3.0: per-reserve 50 %: 1025 USDC, seize $1076.25.
    res0 = run_static(model(rows, V3_0), {"WETH": 0.5})
    assert res0.summary["debt_repaid_usd"] == pytest.approx(1025.0, rel=1e-12)
    assert res0.summary["collateral_seized_usd"] == pytest.approx(1076.25, rel=1e-12)


def test_sale_feeds_back_and_liquidates_a_second_account():
    # -10 % -> 1800. A: 1 WETH / 1600 USDC, HF 0.95625 -> 50 %: repay 800, seize 0.466667 WETH,
    # fee 0.466667*(1-1/1.05)*0.1, sold = the rest. B: 1 WETH / 1500 USDC, HF 1.02 at 1800,
    # below 1 under 1764.7. Pool (fee 0): 20 WETH / 40000 USD at 2000, k = 800000; arbitrage
    # to 1800 leaves x = sqrt(k/1800) WETH; selling q then gives 1800*(x/(x+q))^2.
    rows = [("A", "WETH", 1.0, 0), ("A", "USDC", 0, 1600.0), ("B", "WETH", 1.0, 0), ("B", "USDC", 0, 1500.0)]
    pool = ConstantProductPool.from_price_depth("WETH", 2000.0, 40_000.0, fee=0.0)
    res = run_static(model(rows, V3_0, {"WETH": pool}), {"WETH": 0.1})
    seized_a = 800 * 1.05 / 1800
    sold_a = seized_a - seized_a * (1 - 1 / 1.05) * 0.1
    x = (800_000 / 1800) ** 0.5
    p1 = 1800 * (x / (x + sold_a)) ** 2
    r = res["rounds"]
    r1 = r[(r["round"] == 1) & (r["asset"] == "WETH")].iloc[0]
    assert r1["collateral_sold"] == pytest.approx(sold_a, rel=1e-12)
    assert r1["price_after"] == pytest.approx(p1, rel=1e-9)
    assert p1 < 1500 / 0.85
    assert res.summary["accounts_liquidated"] == 2
    assert res.summary["rounds"] >= 2
    # the no-feedback run liquidates A only
    off = run_static(model(rows, V3_0, {"WETH": pool}), {"WETH": 0.1}, CascadeSettings(impact=False))
    assert off.summary["accounts_liquidated"] == 1
    assert res.summary["amplification"] > 1.0
    assert off.summary["amplification"] == pytest.approx(1.0)


def test_emode_threshold_applies_to_category_assets():
    from liqcascade.model import AssetParams, EModeCategory, PositionBook, RiskParams

    params = RiskParams.from_assets(
        [AssetParams("WETH", 18, 0.8, 0.83, 0.05, 0.1, emode_category=1),
         AssetParams("wstETH", 18, 0.7, 0.8, 0.07, 0.1, emode_category=1),
         AssetParams("USDC", 6, 0.77, 0.8, 0.045, 0.1)],
        [EModeCategory(1, "ETH correlated", 0.90, 0.93, 0.01)],
    )
    # 1 wstETH ($2000) against 1.8 WETH debt ($1800 at 1000 each? no: WETH $1000): in e-mode
    # HF = 2000*0.93/1800 = 1.0333; outside e-mode HF = 2000*0.8/1800 = 0.8889.
    b = PositionBook.from_rows(["e", "e", "n", "n"], [1, 0, 1, 0], [1.0, 0, 1.0, 0], [0, 1.8, 0, 1.8],
                               params.symbols, emode={"e": 1, "n": 0})
    m = MarketModel(b, AaveV3Rules(params, V3_0), np.array([1000.0, 2000.0, 1.0]))
    res = run_static(m, {})
    acc = res["accounts"].set_index("account_id")
    assert list(acc.index) == ["n"]
    assert acc.loc["n", "hf_before"] == pytest.approx(2000 * 0.8 / 1800, rel=1e-12)


def test_unknown_shock_asset_is_config_error():
    from liqcascade.errors import ConfigError

    with pytest.raises(ConfigError, match="shock.XYZ"):
        run_static(model([("a", "WETH", 1.0, 0)]), {"XYZ": 0.1})


def test_liquidators_buy_the_repaid_debt_through_its_venue():
    # Same account as test_full_close_below_095: 15,000 USDC repaid. With buy_debt, the
    # liquidator buys it from a fee-free USDC pool of 1e6 USDC / $1e6: cost
    # = y*X/(x-X) = 1e6*15000/985000, and the pool's price becomes (1e6+cost)/985000.
    pool = ConstantProductPool.from_price_depth("USDC", 1.0, 1e6, fee=0.0)
    m = model([("a", "WETH", 10.0, 0), ("a", "USDC", 0, 15000.0)], V3_0, {"USDC": pool})
    res = run_static(m, {"WETH": 0.2}, CascadeSettings(buy_debt=True))
    r = res["rounds"].set_index("asset")
    cost = 1e6 * 15000 / 985000
    assert r.loc["USDC", "debt_bought_cost_usd"] == pytest.approx(cost, rel=1e-12)
    assert r.loc["USDC", "price_after"] == pytest.approx((1e6 + cost) / 985000, rel=1e-12)
    # without buy_debt the stablecoin's price does not move
    res0 = run_static(m, {"WETH": 0.2})
    assert (res0["rounds"]["debt_bought_cost_usd"] == 0).all()
    assert res0["assets"].set_index("asset").loc["USDC", "price_final"] == 1.0


def test_router_of_two_venues_in_the_cascade():
    # Two identical fee-free pools behave as one pool of twice the depth: selling q into
    # the pair moves the price like selling q into one pool with 2x reserves.
    from liqcascade.markets.router import Router

    rows = [("A", "WETH", 1.0, 0), ("A", "USDC", 0, 1600.0)]
    one = ConstantProductPool.from_price_depth("WETH", 2000.0, 40_000.0, fee=0.0)
    big = ConstantProductPool.from_price_depth("WETH", 2000.0, 80_000.0, fee=0.0)
    r2 = run_static(model(rows, V3_0, {"WETH": Router.of([one, one])}), {"WETH": 0.1})
    r1 = run_static(model(rows, V3_0, {"WETH": big}), {"WETH": 0.1})
    p2 = r2["assets"].set_index("asset").loc["WETH", "price_final"]
    p1 = r1["assets"].set_index("asset").loc["WETH", "price_final"]
    assert p2 == pytest.approx(p1, rel=1e-9)
    assert p1 < 1800.0
