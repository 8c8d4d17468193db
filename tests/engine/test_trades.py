"""The ``trades`` table: a liquidation outcome as signed flows per party, account, asset and
kind (``engine/trades.py``), in static and block-by-block results.

Its sums are the run's tallies (per asset and per account), and together with the starting
book its account rows give the end book exactly: what the table says moved is what moved.
The hand case's numbers are worked out from Morpho Blue's formula in the comment.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from liqcascade.engine.dynamic import Liquidators, SimSettings, simulate
from liqcascade.engine.dynamic.schema import TRADES
from liqcascade.engine.static import CascadeSettings, MarketModel, StaticCascade
from liqcascade.engine.trades import AssetFlow, static_trades
from liqcascade.markets.oracle import Instant
from liqcascade.protocols.aave_v3 import V3_3
from liqcascade.protocols.aave_v3.rules import AaveV3Rules
from liqcascade.protocols.compound_v3.rules import CometRules
from liqcascade.protocols.compound_v3.storefront import StoreFrontSettings
from liqcascade.protocols.crvusd.rules import CrvUsdRules
from liqcascade.protocols.maker.clipper import ClipperSettings
from liqcascade.protocols.maker.flip_auctions import FlipSettings, Keeper
from liqcascade.protocols.maker.rules import MakerRules
from liqcascade.scenarios import instant_shock, linear_shock

from . import mechanism_books as mb
from .mechanism_books import PARAMS, PRICES, WETH

REPO = Path(__file__).resolve().parents[2]
QUIET = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
COLLATERAL_KINDS = ("seized", "received", "returned", "redistributed_collateral")
DEBT_KINDS = ("repaid", "written_off", "redistributed_debt")

pytestmark = pytest.mark.usefixtures("one_numba_thread")


def rules_of(protocol: str):
    return AaveV3Rules(PARAMS, V3_3) if protocol == "aave_v3" else mb.make_rules(protocol)


def sums(tr: pd.DataFrame, party: str, kind: str, column: str = "amount") -> np.ndarray:
    """Per asset of the market, the table's sum of ``column`` for (party, kind)."""
    sel = tr[(tr["party"] == party) & (tr["kind"] == kind)]
    g = sel.groupby("asset")[column].sum()
    return np.array([float(g.get(a, 0.0)) for a in PARAMS.symbols])


def per_account(tr: pd.DataFrame, kinds, column: str, n_accounts: int) -> np.ndarray:
    """Per account (book order; ids are 0..n-1), the sum of ``column`` over the account's rows of ``kinds``."""
    sel = tr[(tr["party"] == "account") & tr["kind"].isin(kinds)]
    out = np.zeros(n_accounts)
    np.add.at(out, sel["account_id"].to_numpy(dtype=np.int64), sel["usd"].to_numpy() if column == "usd"
              else sel["amount"].to_numpy())
    return out


def matrix(tr: pd.DataFrame, kinds, n_accounts: int) -> np.ndarray:
    """(account, asset) sums of the account rows of ``kinds`` (tokens)."""
    sel = tr[(tr["party"] == "account") & tr["kind"].isin(kinds)]
    out = np.zeros((n_accounts, len(PARAMS.symbols)))
    np.add.at(out, (sel["account_id"].to_numpy(dtype=np.int64), sel["asset"].map(PARAMS.index).to_numpy(dtype=np.int64)),
              sel["amount"].to_numpy())
    return out


def close(x, y, scale):
    np.testing.assert_allclose(np.asarray(x) / scale, np.asarray(y) / scale, rtol=0, atol=1e-9)


# ------------------------------------------------------------------ a hand case
def test_morpho_bad_debt_hand_case():
    """Morpho Blue, LLTV 0.80: LIF = min(1.15, 1 / (0.3 * 0.8 + 0.7)) = 1 / 0.94. One WETH
    against 1500 USDC (healthy at $2000: 1600 > 1500); WETH falls 30 % to $1400 (no venue:
    no impact). The whole debt would seize 1500 / 0.94 / 1400 = 1.14 WETH > 1, so the
    liquidator seizes the 1 WETH and repays 1400 * 0.94 = 1316 USDC; the 184 USDC left is
    written off. The liquidator sells the WETH at the prevailing $1400."""
    b = mb.book([(0, "WETH", 1.0, 0.0), (0, "USDC", 0.0, 1500.0)])
    model = MarketModel(b, mb.make_rules("morpho_blue"), PRICES, {})
    out = StaticCascade(model, CascadeSettings(impact=False)).run({"WETH": 0.3}, trades=True)
    got = static_trades(model, out)
    want = pd.DataFrame([
        ("account", 0, "WETH", "seized", -1.0, -1400.0),
        ("account", 0, "USDC", "repaid", -1316.0, -1316.0),
        ("account", 0, "USDC", "written_off", -184.0, -184.0),
        ("liquidators", 0, "WETH", "received", 1.0, 1400.0),
        ("liquidators", -1, "WETH", "sold", -1.0, -1400.0),
    ], columns=list(TRADES.names))
    assert list(got.columns) == TRADES.names
    pd.testing.assert_frame_equal(got[["party", "asset", "kind"]], want[["party", "asset", "kind"]])
    assert got["account_id"].tolist() == [0, 0, 0, 0, -1]
    np.testing.assert_allclose(got[["amount", "usd"]].to_numpy(), want[["amount", "usd"]].to_numpy(), rtol=1e-12)


# ------------------------------------------------------------------ static: sums = tallies
def check_static(b, model, out):
    tr = static_trades(model, out)
    t, n = out.totals, b.n_accounts
    scale = np.maximum(1.0, b.collateral.sum() + b.debt.sum())
    close(-sums(tr, "account", "seized"), t["seized"], scale)
    close(sums(tr, "protocol", "fee"), t["fee"], scale)
    close(sums(tr, "liquidators", "received"), t["seized"] - t["fee"], scale)
    # seized = received by liquidators + kept by the protocol
    close(-sums(tr, "account", "seized"), sums(tr, "liquidators", "received") + sums(tr, "protocol", "fee"), scale)
    # what liquidators received and did not sell, they hold
    close(sums(tr, "liquidators", "received") + sums(tr, "liquidators", "sold"), t["held"], scale)
    close(-sums(tr, "liquidators", "sold", "usd"), t["proceeds"], scale * 1e4)
    close(-sums(tr, "account", "repaid"), t["repaid"], scale)
    close(-sums(tr, "account", "written_off"), t["deficit"], scale)
    # redistribution moves collateral and debt between troves: it sums to nothing
    close(sums(tr, "account", "redistributed_collateral"), 0.0, scale)
    close(sums(tr, "account", "redistributed_debt"), 0.0, scale)
    tl = out.tallies
    usd = scale * 1e4
    close(-per_account(tr, ["seized"], "usd", n), out.per_account(tl.acct_seized_usd), usd)
    close(-per_account(tr, ["repaid"], "usd", n), out.per_account(tl.acct_repaid_usd), usd)
    close(-per_account(tr, ["written_off"], "usd", n), out.per_account(tl.acct_bad_debt_usd), usd)
    # the book at the end is the book at the start plus the account rows
    c0, d0 = mb.start_rows(b)
    c1, d1 = mb.final_rows(out)
    close(c0 + matrix(tr, COLLATERAL_KINDS, n), c1, scale)
    close(d0 + matrix(tr, DEBT_KINDS, n), d1, scale)
    return tr


@pytest.mark.parametrize("protocol", ("aave_v3",) + mb.PROTOCOLS)
@settings(max_examples=20, deadline=None, suppress_health_check=QUIET)
@given(data=st.data())
def test_static_trades_sum_to_the_tallies(protocol, data):
    b = data.draw(mb.books("compound_v2" if protocol == "aave_v3" else protocol, 5, 30))
    drop = data.draw(st.floats(0.0, 0.45))
    sp = mb.stability_pool_for(b, data.draw(st.floats(0.0, 1.0)))
    rules = rules_of(protocol) if protocol not in mb.LIQUITY else mb.make_rules(protocol, stability_pool=sp)
    model = MarketModel(b, rules, PRICES, mb.pool(2e5))
    out = StaticCascade(model, CascadeSettings(impact=True)).run({"WETH": drop}, trades=True)
    check_static(b, model, out)


def test_liquity_redistribution_in_the_trades():
    """Liquity v1 with an empty Stability Pool: a trove at ICR 1.0 (1 WETH against 2000 USDC
    at $2000) is below the MCR of 110 %; the pool cannot offset it, so its debt and its
    collateral less the liquidator's 0.5 % (0.995 WETH) go to the other two troves by
    stake (collateral 10 and 30 WETH: shares 1/4 and 3/4)."""
    b = mb.troves([(1.0, 2000.0), (10.0, 5000.0), (30.0, 5000.0)])
    model = MarketModel(b, mb.make_rules("liquity_v1", stability_pool=0.0), PRICES, {})
    out = StaticCascade(model, CascadeSettings(impact=False)).run({"WETH": 0.0}, trades=True)
    tr = check_static(b, model, out)
    rc = tr[(tr["party"] == "account") & (tr["kind"] == "redistributed_collateral")].set_index("account_id")["amount"]
    rd = tr[(tr["party"] == "account") & (tr["kind"] == "redistributed_debt")].set_index("account_id")["amount"]
    np.testing.assert_allclose([rc[0], rc[1], rc[2]], [-0.995, 0.995 / 4, 0.995 * 3 / 4], rtol=1e-12)
    np.testing.assert_allclose([rd[0], rd[1], rd[2]], [-2000.0, 500.0, 1500.0], rtol=1e-12)
    seized = tr[(tr["party"] == "account") & (tr["kind"] == "seized")]
    assert seized["amount"].tolist() == pytest.approx([-0.005], rel=1e-12)  # the gas compensation


def test_crvusd_example_trades_sum_to_its_assets_table():
    """crvUSD's soft liquidation trades collateral for stablecoin inside the bands (account
    ``seized`` and ``received``); hard liquidation takes both and repays the debt."""
    from liqcascade import api

    res = api.run(REPO / "examples" / "crvusd_market.toml", store=None)
    tr, a = res.table("trades"), res.table("assets").set_index("asset")
    for asset in a.index:
        sel = tr[(tr["asset"] == asset) & (tr["party"] == "account")]
        seized = -sel[sel["kind"] == "seized"]["amount"].sum()
        repaid = -sel[sel["kind"] == "repaid"]["amount"].sum()
        assert seized == pytest.approx(a.loc[asset, "seized"], rel=1e-12, abs=1e-9)
        assert repaid == pytest.approx(a.loc[asset, "repaid"], rel=1e-12, abs=1e-9)
    acc = tr[tr["party"] == "account"]
    assert -acc[acc["kind"] == "seized"]["usd"].sum() == pytest.approx(res.summary["collateral_seized_usd"], rel=1e-12)
    assert (acc["kind"] == "received").any()


# ------------------------------------------------------------------ block by block
def check_dynamic(b, res):
    tr, s = res.table("trades"), res.summary
    assert list(tr.columns) == TRADES.names
    a = res.table("assets").set_index("asset")

    def col(name):
        return np.array([float(a.loc[x, name]) if x in a.index else 0.0 for x in PARAMS.symbols])

    scale = np.maximum(1.0, b.collateral.sum() + b.debt.sum())
    close(-sums(tr, "account", "seized"), col("seized"), scale)
    close(sums(tr, "protocol", "fee"), col("fee"), scale)
    close(-sums(tr, "account", "repaid"), col("repaid"), scale)
    close(-sums(tr, "account", "written_off"), col("deficit"), scale)
    # the assets table's returned: the protocol's sales' returns and crvUSD's bands' stablecoin
    close(sums(tr, "account", "returned") + sums(tr, "account", "received"), col("returned"), scale)
    # liquidators: received from the calls + bought from the protocol's sales + sold = held at the end
    close(sums(tr, "liquidators", "received") + sums(tr, "liquidators", "bought") + sums(tr, "liquidators", "sold"),
          col("inventory_end"), scale)
    # the protocol: kept - sold on - returned = what its sales still hold
    close(sums(tr, "protocol", "fee") + sums(tr, "protocol", "sold") + sums(tr, "protocol", "returned"),
          col("fee") - col("protocol_sold") - col("returned") + sums(tr, "account", "received"), scale)
    acc = tr[tr["party"] == "account"]
    usd = scale * 1e4
    close(-acc[acc["kind"] == "seized"]["usd"].sum(), s["collateral_seized_usd"], usd)
    close(-acc[acc["kind"] == "repaid"]["usd"].sum(), s["debt_repaid_usd"], usd)
    close(-acc[acc["kind"] == "written_off"]["usd"].sum(), s["bad_debt_written_off_usd"], usd)
    return tr


@pytest.mark.parametrize("protocol", ("aave_v3",) + mb.PROTOCOLS)
@settings(max_examples=6, deadline=None, suppress_health_check=QUIET)
@given(data=st.data())
def test_dynamic_trades_sum_to_the_tallies(protocol, data):
    b = data.draw(mb.books("compound_v2" if protocol == "aave_v3" else protocol, 5, 20))
    sp = mb.stability_pool_for(b, data.draw(st.floats(0.0, 1.0)))
    rules = rules_of(protocol) if protocol not in mb.LIQUITY else mb.make_rules(protocol, stability_pool=sp)
    path = linear_shock({"WETH": 2000.0}, {"WETH": -0.4}, duration_blocks=100, n_blocks=200)
    liq = Liquidators(liquidations_per_block=3, gas_asset=None, min_profit_usd=-math.inf, spread_blocks=3)
    res = simulate(MarketModel(b, rules, PRICES, mb.pool(3e5)), path, Instant(), SimSettings(liq))
    check_dynamic(b, res)


@pytest.mark.parametrize("kind", ["maker_auctions", "maker_flip", "comet_storefront"])
def test_dynamic_trades_with_the_protocols_own_sales(kind):
    """Maker's auctions (Clipper, or Liquidations 1.2's Flipper with keepers) and Comet's
    store front: the protocol keeps the lot (``fee``), sells it to liquidators over time
    (protocol ``sold``, liquidators ``bought``) and Maker's Clipper hands back what the tab
    did not need (account ``returned``)."""
    rng = np.random.default_rng(5)
    rows = []
    for k in range(30):
        c = float(rng.lognormal(1.0, 1.0))
        rows += [(k, "WETH", c, 0.0), (k, "USDC", 0.0, c * 2000 * 0.8 / rng.uniform(1.0, 1.6))]
    b = mb.book(rows)
    if kind == "maker_auctions":
        rules = MakerRules(PARAMS, auctions=ClipperSettings(tail=3600, cusp=0.5, keeper_margin=0.04))
    elif kind == "maker_flip":
        # keepers whose bids always land (gas price far above the block's), bidding their value
        rules = MakerRules(PARAMS, flip=FlipSettings(keepers=(Keeper(gas_gwei=1e6),), inclusion_sigma=0.0))
    else:
        rules = CometRules(PARAMS, base="USDC", storefront=StoreFrontSettings(1e4, 5e4, 0.01))
    path = linear_shock({"WETH": 2000.0}, {"WETH": -0.4}, duration_blocks=100, n_blocks=400)
    liq = Liquidators(liquidations_per_block=2, gas_asset=None, min_profit_usd=-math.inf)
    res = simulate(MarketModel(b, rules, PRICES, mb.pool(5e5)), path, Instant(), SimSettings(liq))
    tr = check_dynamic(b, res)
    assert sums(tr, "protocol", "sold")[WETH] < 0 and sums(tr, "liquidators", "bought")[WETH] > 0
    if kind == "maker_auctions":
        assert sums(tr, "account", "returned")[WETH] > 0


def test_dynamic_hand_case_morpho():
    """The static hand case block by block: WETH at $1400 from the first block, liquidated at once."""
    b = mb.book([(0, "WETH", 1.0, 0.0), (0, "USDC", 0.0, 1500.0)])
    path = instant_shock({"WETH": 2000.0}, {"WETH": -0.3}, n_blocks=3)
    liq = Liquidators(calls_per_account=64, gas_asset=None, min_profit_usd=-math.inf)
    res = simulate(MarketModel(b, mb.make_rules("morpho_blue"), PRICES, {}), path, Instant(), SimSettings(liq))
    tr = res.table("trades").set_index(["party", "asset", "kind"])
    assert tr.loc[("account", "WETH", "seized"), "amount"] == pytest.approx(-1.0, rel=1e-12)
    assert tr.loc[("account", "USDC", "repaid"), "amount"] == pytest.approx(-1316.0, rel=1e-12)
    assert tr.loc[("account", "USDC", "written_off"), "amount"] == pytest.approx(-184.0, rel=1e-12)
    assert tr.loc[("liquidators", "WETH", "received"), "usd"] == pytest.approx(1400.0, rel=1e-12)
    assert tr.loc[("account", "USDC", "repaid"), "account_id"] == 0


@dataclass(frozen=True)
class _HalfAccrued(CrvUsdRules):
    """Every other loan owes 5 % more than its bands were placed for (interest accrued): the
    adiabatic model's only way to a full health below 0 (tests/engine/test_crvusd_dynamic.py)."""

    def prepare(self, b):
        arrays = super().prepare(b)
        arrays.debt[self.loans(arrays).drow[::2]] *= 1.05
        return arrays


def test_dynamic_trades_crvusd_soft_and_hard():
    """crvUSD block by block: each block arbitrageurs trade the bands to the venue's price
    (account ``seized`` WETH and ``received`` USDC), and the loans with accrued interest,
    whose full health falls below 0, are hard-liquidated (their bands' WETH and USDC
    ``seized``, the debt ``repaid``). Loans of 10 WETH against 4000..14000 USDC over 10
    bands, WETH falling 70 %: both happen."""
    rules = _HalfAccrued(PARAMS, collateral="WETH", debt_asset="USDC", A=100, n_bands=10)
    b = mb.book([row for k, d in enumerate(np.linspace(4000.0, 14000.0, 12))
                 for row in ((k, "WETH", 10.0, 0.0), (k, "USDC", 0.0, float(d)))])
    path = linear_shock({"WETH": 2000.0}, {"WETH": -0.7}, duration_blocks=100, n_blocks=200)
    liq = Liquidators(gas_asset=None, min_profit_usd=-math.inf)
    res = simulate(MarketModel(b, rules, PRICES, mb.pool(3e6)), path, Instant(), SimSettings(liq))
    tr = check_dynamic(b, res)
    assert sums(tr, "account", "received")[PARAMS.index("USDC")] > 0  # soft sales
    assert sums(tr, "account", "repaid")[PARAMS.index("USDC")] < 0  # hard liquidations


@settings(max_examples=15, deadline=None, suppress_health_check=QUIET)
@given(data=st.data())
def test_static_trades_text_ids_and_row_order(data):
    """The same cascade on a book whose ids are text gives the same table with the ids put in
    (``""`` on the per-asset rows instead of -1), and rows come ordered by party (account,
    liquidators, protocol), account (book order; per-asset rows last), asset (market order), kind."""
    b = data.draw(mb.books("compound_v2", 5, 30))
    drop = data.draw(st.floats(0.0, 0.45))
    names = np.array([f"0xacc{k:03d}" for k in range(b.n_accounts)], dtype=object)
    text = dataclasses.replace(b, account_ids=names)
    tables = []
    for book in (b, text):
        model = MarketModel(book, rules_of("aave_v3"), PRICES, mb.pool(2e5))
        tables.append(static_trades(model, StaticCascade(model, CascadeSettings(impact=True)).run({"WETH": drop},
                                                                                                   trades=True)))
    by_int, by_text = tables
    as_int = by_int["account_id"].to_numpy(dtype=np.int64)
    assert by_text["account_id"].tolist() == ["" if k < 0 else names[k] for k in as_int]
    pd.testing.assert_frame_equal(by_int.drop(columns="account_id"), by_text.drop(columns="account_id"))
    party = by_int["party"].map({"account": 0, "liquidators": 1, "protocol": 2}).to_numpy()
    account = np.where(as_int < 0, b.n_accounts, as_int)
    keys = list(zip(party, account, by_int["asset"].map(PARAMS.index), by_int["kind"]))
    assert keys == sorted(keys)


@settings(max_examples=15, deadline=None, suppress_health_check=QUIET)
@given(data=st.data())
def test_static_trades_built_in_order_equal_the_sorted_parts(data):
    """The table built in order (rows of distinct holdings) equals the one of a part per party
    and kind sorted stably by party, account, asset and kind."""
    from liqcascade.engine.trades import BookRows, _sorted_table
    from liqcascade.protocols.flows import FLOW_USD

    b = data.draw(mb.books("compound_v2", 5, 30))
    model = MarketModel(b, rules_of("aave_v3"), PRICES, mb.pool(2e5))
    out = StaticCascade(model, CascadeSettings(impact=True)).run({"WETH": data.draw(st.floats(0.0, 0.45))},
                                                                  trades=True, replay_ok=False)
    got = static_trades(model, out)
    a, f = out.arrays, out.tallies.flows
    rows = BookRows.of(a.offsets, a.asset, out.account_order, b.account_ids, b.assets)
    live = np.flatnonzero(f[:, :FLOW_USD].any(axis=1))
    t = out.totals
    per_asset = [AssetFlow("liquidators", "sold", -t["sold"], -t["proceeds"]),
                 AssetFlow("liquidators", "bought", t["bought"], t["bought_cost"])]
    want = _sorted_table(f, live, rows.account(live), rows.asset[live], rows, per_asset)
    pd.testing.assert_frame_equal(got, want, check_exact=True)


def test_trades_of_two_rows_of_one_holding():
    """A book built directly (not by ``from_rows``) may hold one asset in two rows of an account:
    the table keeps a row per book row, sorted stably by party, account, asset and kind (the two
    rows' seized in row order, then their repaid)."""
    from liqcascade.engine.trades import BookRows, trades_table
    from liqcascade.protocols.flows import FLOW_REPAID, FLOW_SEIZED, FLOW_USD, N_FLOWS

    offsets = np.array([0, 3])
    asset = np.array([WETH, WETH, 2])
    flows = np.zeros((3, N_FLOWS))
    flows[0, [FLOW_SEIZED, FLOW_USD + FLOW_SEIZED]] = [1.0, 2000.0]
    flows[1, [FLOW_SEIZED, FLOW_USD + FLOW_SEIZED]] = [2.0, 4000.0]
    flows[1, [FLOW_REPAID, FLOW_USD + FLOW_REPAID]] = [5.0, 5.0]  # a row's repaid, after both rows' seized
    flows[2, [FLOW_REPAID, FLOW_USD + FLOW_REPAID]] = [3.0, 3.0]
    rows = BookRows.of(offsets, asset, np.array([0]), np.array([7]), PARAMS.symbols)
    tr = trades_table(flows, rows, [AssetFlow("liquidators", "sold", np.array([-3.0, 0, 0]), np.array([-5900.0, 0, 0]))])
    assert list(zip(tr["party"], tr["account_id"], tr["asset"], tr["kind"], tr["amount"])) == [
        ("account", 7, "WETH", "repaid", -5.0),
        ("account", 7, "WETH", "seized", -1.0),
        ("account", 7, "WETH", "seized", -2.0),
        ("account", 7, "USDC", "repaid", -3.0),
        ("liquidators", 7, "WETH", "received", 1.0),
        ("liquidators", 7, "WETH", "received", 2.0),
        ("liquidators", -1, "WETH", "sold", -3.0),
    ]


def test_trades_of_two_rows_of_one_holding_in_order():
    """Rows given in the table's account order (``flow_rows`` as the replay gives them), accounts
    told apart by index and not by rank: account 1 (id 8: WBTC seized 0.5), then account 0 (id 7:
    two WETH rows, seized 1 and 2, and USDC repaid 3). Account 0's rows out of asset order are
    sorted within it; the accounts keep the order they come in (8 before 7)."""
    from liqcascade.engine.trades import BookRows, trades_table
    from liqcascade.protocols.flows import FLOW_REPAID, FLOW_SEIZED, FLOW_USD, N_FLOWS

    offsets = np.array([0, 1, 4])
    asset = np.array([PARAMS.index("WBTC"), WETH, WETH, 2])
    flows = np.zeros((4, N_FLOWS))
    flows[0, [FLOW_SEIZED, FLOW_USD + FLOW_SEIZED]] = [0.5, 15000.0]
    flows[1, [FLOW_SEIZED, FLOW_USD + FLOW_SEIZED]] = [1.0, 2000.0]
    flows[2, [FLOW_SEIZED, FLOW_USD + FLOW_SEIZED]] = [2.0, 4000.0]
    flows[3, [FLOW_REPAID, FLOW_USD + FLOW_REPAID]] = [3.0, 3.0]
    rows = BookRows.of(offsets, asset, np.array([1, 0]), np.array([7, 8]), PARAMS.symbols)
    tr = trades_table(flows, rows, [], np.arange(4), np.array([1, 0, 0, 0]))
    assert list(zip(tr["party"], tr["account_id"], tr["asset"], tr["kind"], tr["amount"])) == [
        ("account", 8, "WBTC", "seized", -0.5),
        ("account", 7, "WETH", "seized", -1.0),
        ("account", 7, "WETH", "seized", -2.0),
        ("account", 7, "USDC", "repaid", -3.0),
        ("liquidators", 8, "WBTC", "received", 0.5),
        ("liquidators", 7, "WETH", "received", 1.0),
        ("liquidators", 7, "WETH", "received", 2.0),
    ]
    assert tr["account_id"].dtype == np.int64


@pytest.mark.parametrize("compiled", [True, False], ids=["jit", "python"])
@pytest.mark.parametrize("every", [True, False], ids=["every_row", "live_rows"])
def test_flow_hits_hand_case(compiled, every):
    """``flow_hits`` on three rows of four flow columns (two of tokens, two of USD), by hand: party 0
    has kinds ``a`` (column 0, sign -1) and ``b`` (column 1, +1); party 1 one kind, column 0 less
    column 1 (as the liquidators' ``received``: seized - fee). Zeros are left out, a party's rows
    come row by row and kind by kind, and the parties' rows one party after the other."""
    from liqcascade.engine import kernels, kernels_python

    k = kernels if compiled else kernels_python
    flows = np.array([[2.0, 0.5, 20.0, 5.0],  # row 0: a -2 (usd -20), b 0.5 (5), party 1: 1.5 (15)
                      [0.0, 0.0, 0.0, 0.0],  # row 1: nothing
                      [1.0, 1.0, 10.0, 10.0]])  # row 2: a -1 (-10), b 1 (10), party 1: 1 - 1 = 0, left out
    live = np.array([0, 1, 2], dtype=np.int64)
    got = k.flow_hits(flows, np.empty(0, dtype=np.int64) if every else live, every,
                      np.array([0, 1, 0]), np.array([-1, -1, 1]), np.array([-1.0, 1.0, 1.0]), np.array([0, 0, 1]),
                      np.array([0, 1, 0]), np.full(3, -1), 2, 2, np.array([7, 8, 9]), np.array([3, 4, 5]),
                      np.zeros(2, dtype=np.int64))
    start, account, asset, kind, amount, usd = got
    assert start.tolist() == [0, 4, 5]
    assert account.tolist() == [7, 7, 9, 9, 7]
    assert asset.tolist() == [3, 3, 5, 5, 3]
    assert kind.tolist() == [0, 1, 0, 1, 0]
    assert amount.tolist() == [-2.0, 0.5, -1.0, 1.0, 1.5]
    assert usd.tolist() == [-20.0, 5.0, -10.0, 10.0, 15.0]


@pytest.mark.parametrize("compiled", [True, False], ids=["jit", "python"])
def test_flow_hits_leaves_room_after_each_party(compiled):
    """``extra[p]`` rows left after party ``p``'s: the hand case's rows (party 0: 4, party 1: 1)
    with room for 2 after party 0 and 3 after party 1: party 0 is rows 0-5 (written 0-3), party 1
    rows 6-9 (written 6)."""
    from liqcascade.engine import kernels, kernels_python

    k = kernels if compiled else kernels_python
    flows = np.array([[2.0, 0.5, 20.0, 5.0], [0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 10.0, 10.0]])
    start, account, asset, kind, amount, usd = k.flow_hits(
        flows, np.empty(0, dtype=np.int64), True, np.array([0, 1, 0]), np.array([-1, -1, 1]),
        np.array([-1.0, 1.0, 1.0]), np.array([0, 0, 1]), np.array([0, 1, 2]), np.full(3, -1), 2, 2, np.array([7, 8, 9]),
        np.array([3, 4, 5]), np.array([2, 3], dtype=np.int64))
    assert start.tolist() == [0, 6, 10] and amount.shape == (10,)
    assert amount[:4].tolist() == [-2.0, 0.5, -1.0, 1.0] and account[:4].tolist() == [7, 7, 9, 9]
    assert amount[6] == 1.5 and usd[6] == 15.0 and kind[6] == 2 and account[6] == 7 and asset[6] == 3


def test_flow_hits_reads_the_live_rows_in_their_order():
    """Given ``live``, the rows are read in its order (a book in health order lists its accounts
    otherwise than the working rows): rows 2 then 0, each with its own account and asset."""
    from liqcascade.engine import kernels

    flows = np.array([[1.0, 3.0], [0.0, 0.0], [2.0, 6.0]])
    got = kernels.flow_hits(flows, np.array([2, 0], dtype=np.int64), False, np.array([0]), np.array([-1]),
                            np.array([1.0]), np.array([0]), np.array([0]), np.array([-1]), 1, 1, np.array([5, 6]), np.array([0, 1]),
                            np.zeros(1, dtype=np.int64))
    assert got[0].tolist() == [0, 2]
    assert got[1].tolist() == [5, 6] and got[2].tolist() == [0, 1]
    assert got[4].tolist() == [2.0, 1.0] and got[5].tolist() == [6.0, 3.0]


@pytest.mark.parametrize("compiled", [True, False], ids=["jit", "python"])
def test_flow_hits_every_row_in_another_order(compiled):
    """``live`` a permutation of every row (the replayed rows of a book in health order, listed in
    its source's order): the rows are counted in memory order but written in ``live``'s order."""
    from liqcascade.engine import kernels, kernels_python

    k = kernels if compiled else kernels_python
    flows = np.array([[1.0, 3.0], [0.0, 0.0], [2.0, 6.0]])
    got = k.flow_hits(flows, np.array([2, 1, 0], dtype=np.int64), False, np.array([0]), np.array([-1]),
                      np.array([-1.0]), np.array([0]), np.array([0]), np.array([-1]), 1, 1, np.array([5, 6, 7]), np.array([0, 1, 2]),
                      np.zeros(1, dtype=np.int64))
    assert got[0].tolist() == [0, 2]
    assert got[1].tolist() == [5, 7] and got[2].tolist() == [0, 2]
    assert got[4].tolist() == [-2.0, -1.0] and got[5].tolist() == [-6.0, -3.0]



@pytest.mark.parametrize("compiled", [True, False], ids=["jit", "python"])
def test_flow_hits_gate(compiled):
    """A kind gated on a column has rows only when that column is non-zero in some row (as the
    liquidators' ``received``, seized - fee, only where something was seized): one kind, column 0
    less column 1, gated on column 0. Rows (0, 1) and (0, 0): column 0 is zero throughout, so no
    row, though the first's 0 - 1 is -1. Rows (0, 1) and (2, 0): both, -1 and 2."""
    from liqcascade.engine import kernels, kernels_python

    k = kernels if compiled else kernels_python

    def hits(flows):
        return k.flow_hits(np.array(flows, dtype=np.float64), np.empty(0, dtype=np.int64), True, np.array([0]),
                           np.array([1]), np.array([1.0]), np.array([0]), np.array([0]), np.array([0]), 1, 2,
                           np.array([3, 4]), np.array([0, 0]), np.zeros(1, dtype=np.int64))

    start, account, _, _, amount, usd = hits([[0.0, 1.0, 0.0, 10.0], [0.0, 0.0, 0.0, 0.0]])
    assert start.tolist() == [0, 0] and amount.shape == (0,)
    start, account, _, _, amount, usd = hits([[0.0, 1.0, 0.0, 10.0], [2.0, 0.0, 20.0, 0.0]])
    assert start.tolist() == [0, 2] and account.tolist() == [3, 4]
    assert amount.tolist() == [-1.0, 2.0] and usd.tolist() == [-10.0, 20.0]
