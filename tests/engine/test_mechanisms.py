"""The non-Aave mechanisms in the static and the dynamic engine (issue 4, "Must reach").

Market (``mechanism_books``): WETH $2000 (threshold 0.80, bonus 0.10), WBTC $30,000
(0.75, 0.05), USDC $1. Every expected number below is worked out by hand in a comment from
the protocol's formula (``../shared/reference/protocols.md``); none was read off a run.
The static runs use ``impact=False`` (prices stay at the shocked level) so one call's
numbers are the whole story; the dynamic runs use an instant oracle, no venue for the
collateral (sales at the market price) and unbounded liquidators, and check conservation
every block (``check_conservation``).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from liqcascade.engine.dynamic import Liquidators, SimSettings, simulate
from liqcascade.engine.static import CascadeSettings, MarketModel, StaticCascade
from liqcascade.markets.oracle import Instant
from liqcascade.protocols.base import LiquidationLimits, Lots, Tallies
from liqcascade.protocols.compound_v3.fast import store_front_price
from liqcascade.protocols.compound_v3.rules import CometRules
from liqcascade.protocols.compound_v3.storefront import StoreFrontSettings
from liqcascade.protocols.maker import exact as mk
from liqcascade.protocols.maker.clipper import CURVES, ClipperAuctions, ClipperSettings
from liqcascade.protocols.maker.fast import auction_price
from liqcascade.protocols.maker.rules import MakerRules
from liqcascade.protocols.mechanisms import kernels_python as K
from liqcascade.protocols.morpho_blue import exact as mo
from liqcascade.scenarios import instant_shock, linear_shock

from . import mechanism_books as mb
from .mechanism_books import PARAMS, PRICES, USDC, WBTC, WETH

REL = 1e-9
UNBOUNDED = Liquidators(calls_per_account=64, gas_asset=None, min_profit_usd=-math.inf)
QUIET = [HealthCheck.too_slow, HealthCheck.data_too_large]
HYP = settings(max_examples=25, deadline=None, suppress_health_check=QUIET)


def approx(x, rel=REL, abs=1e-9):
    return pytest.approx(x, rel=rel, abs=abs)


pytestmark = pytest.mark.usefixtures("one_numba_thread")


# ------------------------------------------------------------------ runners
def static_run(rules, b, drop, impact=False, venues=None):
    model = MarketModel(b, rules, PRICES, venues or {})
    solver = StaticCascade(model, CascadeSettings(impact=impact))
    return solver, solver.run({"WETH": drop})


def dynamic_run(rules, b, move, n_blocks=20, venues=None, liquidators=UNBOUNDED, path=None):
    model = MarketModel(b, rules, PRICES, venues or {})
    path = path or instant_shock({"WETH": 2000.0}, {"WETH": move}, n_blocks=n_blocks)
    return simulate(model, path, Instant(), SimSettings(liquidators, check_conservation=True))


def static_totals(out):
    return {name: out.totals[name] for name in ("seized", "fee", "repaid", "deficit")}


def check_static_conservation(b, out):
    """Collateral leaving the book is what was seized; debt leaving it was repaid or written off."""
    c0, d0 = mb.start_rows(b)
    c1, d1 = mb.final_rows(out)
    assert (c1 >= -1e-12).all() and (d1 >= -1e-9).all()
    t = out.totals
    scale_c = np.maximum(1.0, c0.sum(axis=0))
    scale_d = np.maximum(1.0, d0.sum(axis=0))
    coll_out = c0.sum(axis=0) - c1.sum(axis=0)
    debt_out = d0.sum(axis=0) - d1.sum(axis=0)
    np.testing.assert_allclose(coll_out / scale_c, t["seized"] / scale_c, rtol=0, atol=1e-9)
    np.testing.assert_allclose(debt_out / scale_d, (t["repaid"] + t["deficit"]) / scale_d, rtol=0, atol=1e-9)
    assert (t["fee"] <= t["seized"] * (1 + 1e-12) + 1e-12).all()


def one(coll, debt, asset="WETH"):
    """A single account: ``coll`` of ``asset`` against ``debt`` USDC."""
    return mb.book([(0, asset, coll, 0.0), (0, "USDC", 0.0, debt)])


# ================================================================== (a) hand cases
# Each case: protocol, rules, book, WETH drop, expected (seized WETH, fee WETH, repaid USDC,
# deficit USDC), expected end (collateral WETH, debt USDC) of account 0.
#
# Compound v2 (CF 0.80, LI 1.10, close factor 0.5, seize share 2.8 %): 10 WETH against
# 15,000 USDC; HF at $2000 = 16,000 / 15,000 > 1, at $1800 = 14,400 / 15,000 = 0.96.
# repay = 0.5 * 15,000 = 7,500; seize = repay * LI * Pb / Pc = 7,500 * 1.1 / 1800 = 4.583333;
# protocol share 0.028 * 4.583333 = 0.128333. After: 5.416667 WETH ($7,800 counted) against
# 7,500: healthy, one call.
CV2 = ("compound_v2", 10.0, 15000.0, 0.10, (7500 * 1.1 / 1800, 0.028 * 7500 * 1.1 / 1800, 7500.0, 0.0),
       (10 - 7500 * 1.1 / 1800, 7500.0))
# Morpho (LLTV 0.80: LIF = min(1.15, 1 / (0.3 * 0.8 + 0.7)) = 1 / 0.94): 1 WETH against 1500.
# At $1800 (HF 1440/1500): seize 1500 / 0.94 / 1800 = 0.886525 < 1, the whole debt is repaid.
MO_A = ("morpho_blue", 1.0, 1500.0, 0.10, (1500 / 0.94 / 1800, 0.0, 1500.0, 0.0),
        (1 - 1500 / 0.94 / 1800, 0.0))
# At $1400: 1500 / 0.94 / 1400 = 1.1398 > 1: all the collateral, repaid 1400 * 0.94 = 1316,
# bad debt 1500 - 1316 = 184 written off (the market's suppliers bear it).
MO_B = ("morpho_blue", 1.0, 1500.0, 0.30, (1.0, 0.0, 1316.0, 184.0), (0.0, 0.0))
# Euler (liquidation LTV 0.80, max discount 0.15): at $1800 health 0.96, discount 4 %:
# repay the whole 1500, yield 1500 / 0.96 = $1562.5 = 0.868056 WETH.
EU_A = ("euler_v2", 1.0, 1500.0, 0.10, (1500 / 0.96 / 1800, 0.0, 1500.0, 0.0), (1 - 1500 / 0.96 / 1800, 0.0))
# At $1200 health 960/1500 = 0.64, floored at 0.85: yield 1500 / 0.85 = $1764.7 > $1200 of
# collateral, so all of it for 1200 * 0.85 = 1020; 480 socialized.
EU_B = ("euler_v2", 1.0, 1500.0, 0.40, (1.0, 0.0, 1020.0, 480.0), (0.0, 0.0))
# Comet (liquidate CF 0.80, liquidation factor 0.90): at $1800 absorb credits 1800 * 0.9 =
# 1620 >= 1500: the debt is covered (1500), the account keeps 120 as supply (outside the
# book), the protocol takes the 1 WETH and (reserves below target) sells it on.
CO_A = ("compound_v3", 1.0, 1500.0, 0.10, (1.0, 0.0, 1500.0, 0.0), (0.0, 0.0))
# At $1500: credit 1350 < 1500: 1350 covered, 150 paid from reserves (written off).
CO_B = ("compound_v3", 1.0, 1500.0, 0.25, (1.0, 0.0, 1350.0, 150.0), (0.0, 0.0))
# Same with reserves at target: the protocol keeps the collateral (all of it is "fee").
CO_KEEP = ("compound_v3_keep", 1.0, 1500.0, 0.10, (1.0, 1.0, 1500.0, 0.0), (0.0, 0.0))
# Maker (mat 1.25, chop 1.10, keepers' margin 5 %): at $1800, tab = 1500 * 1.1 = 1650; keepers
# pay 1800 * 0.95 = 1710 a WETH: sold 1650 / 1710 = 0.964912, the debt is covered and
# 1 - 0.964912 goes back to the vault.
MK_A = ("maker", 1.0, 1500.0, 0.10, (1650 / 1710, 0.0, 1500.0, 0.0), (1 - 1650 / 1710, 0.0))
# At $1200: bid 1140 < tab: the whole lot raises 1140; 1500 - 1140 = 360 is bad debt.
MK_B = ("maker", 1.0, 1500.0, 0.40, (1.0, 0.0, 1140.0, 360.0), (0.0, 0.0))

HAND = {"cv2": CV2, "morpho": MO_A, "morpho_bad": MO_B, "euler": EU_A, "euler_floor": EU_B, "comet": CO_A,
        "comet_short": CO_B, "comet_keep": CO_KEEP, "maker": MK_A, "maker_bad": MK_B}


@pytest.mark.parametrize("case", list(HAND))
def test_hand_case_static(case):
    protocol, coll, debt, drop, (seized, fee, repaid, deficit), (c_end, d_end) = HAND[case]
    b = one(coll, debt)
    rules = mb.make_rules(protocol)
    assert rules.health(rules.prepare(b), PRICES).hf[0] > 1.0  # healthy before the drop
    _, out = static_run(rules, b, drop)
    t = static_totals(out)
    assert t["seized"][WETH] == approx(seized)
    assert t["fee"][WETH] == approx(fee)
    assert t["repaid"][USDC] == approx(repaid)
    assert t["deficit"][USDC] == approx(deficit)
    c1, d1 = mb.final_rows(out)
    assert c1[0, WETH] == approx(c_end)
    assert d1[0, USDC] == approx(d_end)
    assert out.tallies.acct_calls[0] == 1
    check_static_conservation(b, out)


@pytest.mark.parametrize("case", list(HAND))
def test_hand_case_dynamic(case):
    """The same cases block by block: one liquidation at the block of the drop, same amounts."""
    protocol, coll, debt, drop, (seized, fee, repaid, deficit), _ = HAND[case]
    res = dynamic_run(mb.make_rules(protocol), one(coll, debt), -drop)
    t = mb.dynamic_totals(res)
    assert t["seized"][WETH] == approx(seized)
    assert t["fee"][WETH] == approx(fee)
    assert t["repaid"][USDC] == approx(repaid)
    assert t["deficit"][USDC] == approx(deficit)
    s = res.summary
    assert s["accounts_liquidated"] == 1 and s["liquidation_calls"] == 1
    assert s["first_eligible_block"] == 1 and s["last_liquidation_block"] == 1
    assert s["bad_debt_written_off_usd"] == approx(deficit)


def test_compound_v2_protocol_share_and_incentive_in_value():
    """Value seized = repaid * LI (at the call's prices) for each call, and the protocol takes
    its 2.8 % of every seize: a deeper drop needs several close-factor calls.

    10 WETH / 15,000 at $1500 (HF 0.8): call 1 repays 7,500, seizes 7,500 * 1.1 / 1500 = 5.5
    (4.5 left, $5,400 counted against 7,500); call 2 repays 3,750 and seizes 2.75 (1.75 left,
    $2,100 against 3,750); call 3 repays 1,875 and seizes 1.375 (0.375 left, $450 against
    1,875); call 4 would seize 1.375 / 2 = 0.6875 > 0.375, so it repays what 0.375 WETH
    covers, 0.375 * 1500 / 1.1 = 511.36, and leaves 1,363.64 of debt with no collateral
    (Compound v2 does not write it off)."""
    b = one(10.0, 15000.0)
    _, out = static_run(mb.make_rules("compound_v2"), b, 0.25)
    t = out.totals
    repaid = 7500 + 3750 + 1875 + 0.375 * 1500 / 1.1
    assert out.tallies.acct_calls[0] == 4
    assert t["seized"][WETH] == approx(10.0)
    assert t["fee"][WETH] == approx(0.28)
    assert t["repaid"][USDC] == approx(repaid)
    assert t["deficit"][USDC] == 0.0
    assert out.tallies.acct_seized_usd[0] == approx(1.1 * out.tallies.acct_repaid_usd[0])
    _, d1 = mb.final_rows(out)
    assert d1[0, USDC] == approx(15000 - repaid)
    check_static_conservation(b, out)


def test_compound_v2_feedback_through_the_pool():
    """The hand case with a fee-free pool of $1M a side: the liquidator sells what it
    received, 4.583333 - 0.128333 = 4.455 WETH, into the pool re-centred at $1800, moving it
    to 1800 * (x / (x + 4.455))^2 with x = 1e6 / sqrt(2000 * 1800) = 527.05, i.e. $1770.0;
    there the account (5.416667 WETH * 1770 * 0.8 = 7,670 against 7,500) is healthy, so the
    cascade stops after one round at that price."""
    b = one(10.0, 15000.0)
    model = MarketModel(b, mb.make_rules("compound_v2"), PRICES, mb.pool(1e6))
    _, out = mb.cascade(model, {"WETH": 0.10})
    sold = 7500 * 1.1 / 1800 * (1 - 0.028)
    assert out.rounds == 1 and out.converged
    assert out.totals["sold"][WETH] == approx(sold)
    assert out.prices_final[WETH] == approx(mb.cpmm_price(1e6, 1800.0, sold))
    assert 1769 < out.prices_final[WETH] < 1771


def test_comet_absorb_takes_every_collateral_and_the_debt():
    """1 WETH + 0.01 WBTC against 1,700: counted 1600 + 225 = 1825 at $2000 (healthy), 1440 +
    225 = 1665 < 1700 at $1800. Absorb takes both collaterals and the whole debt; credit
    1800 * 0.90 + 300 * 0.95 = 1905 >= 1700, so nothing is written off."""
    b = mb.book([(0, "WETH", 1.0, 0.0), (0, "WBTC", 0.01, 0.0), (0, "USDC", 0.0, 1700.0)])
    for engine in ("static", "dynamic"):
        rules = mb.make_rules("compound_v3")
        if engine == "static":
            _, out = static_run(rules, b, 0.10)
            t = static_totals(out)
            c1, d1 = mb.final_rows(out)
            assert (c1 == 0).all() and (d1 == 0).all()
            check_static_conservation(b, out)
        else:
            t = mb.dynamic_totals(dynamic_run(rules, b, -0.10))
        assert t["seized"][WETH] == approx(1.0) and t["seized"][WBTC] == approx(0.01)
        assert t["repaid"][USDC] == approx(1700.0) and t["deficit"][USDC] == 0.0


def test_comet_ranking_counts_every_collateral():
    """The dynamic engine ranks an absorb by what buyers make on all the collateral it
    takes, not on the largest row alone. The account above at $1800: WETH 1 * 1800 + WBTC
    0.01 * 30,000 = 2100 at the oracle, counted as 2100 / 1800 = 1.16667 WETH; the store
    front (factor 0.5) sells WETH at 1800 * (1 - 0.5 * 0.10) = 1710 and WBTC at 30,000 *
    (1 - 0.5 * 0.05) = 29,250, so buyers pay 1710 + 292.5 = 2002.5 USDC. The ranking
    prices the resale even when the static engine would keep the collateral (``resale =
    false``): the store front sells it in the dynamic engine."""
    b = mb.book([(0, "WETH", 1.0, 0.0), (0, "WBTC", 0.01, 0.0), (0, "USDC", 0.0, 1700.0)])
    prices = PRICES.copy()
    prices[WETH] = 1800.0
    for protocol in ("compound_v3", "compound_v3_keep"):
        rules = mb.make_rules(protocol)
        arrays = rules.prepare(b)
        fc = rules.first_call(arrays, prices, np.array([0]))
        assert fc.collateral_asset[0] == WETH and fc.debt_asset[0] == USDC
        assert fc.costs.received[0] == approx(2100.0 / 1800.0) and fc.costs.paid[0] == approx(2002.5)
        assert fc.repaid[0] == approx(1700.0)


# ------------------------------------------------------------------ Liquity hand cases
# Troves (WETH, USDC debt): A (1, 1500), B (10, 5000), C (30, 10000); stakes = collateral.
# At $1600: A's ICR = 1600 / 1500 = 1.0667 < 1.1; B 3.2, C 4.8; TCR = 41 * 1600 / 16,500 =
# 3.98 (Normal Mode).
TROVES = [(1.0, 1500.0), (10.0, 5000.0), (30.0, 10000.0)]


def liquity_v1_expected():
    """v1, Stability Pool 1000: gas 1 / 200 = 0.005 WETH; 0.995 left; the pool offsets 1000
    and gets 0.995 * 1000 / 1500 = 0.663333; 500 of debt and 0.331667 WETH are
    redistributed by stake, B 10/40 and C 30/40."""
    to_sp = 0.995 * 1000 / 1500
    rd, rc = 500.0, 0.995 - to_sp
    return dict(sp=1000.0, seized=to_sp + 0.005, repaid=1000.0,
                coll=[0.0, 10 + rc / 4, 30 + 3 * rc / 4], debt=[0.0, 5000 + rd / 4, 10000 + 3 * rd / 4])


def liquity_v2_expected():
    """v2 WETH branch (SP penalty 5 %, redistribution 10 %), pool 1001 (1 BOLD stays):
    offset 1000; the pool's share of the collateral 1000 / 1500 = 0.666667, gas 0.5 % of it
    0.003333; the pool takes at most 1000 * 1.05 / 1600 = 0.65625 of the remaining 0.663333,
    0.007083 is surplus; 500 is redistributed with min(0.333333 + 0.007083, 500 * 1.1 /
    1600 = 0.34375) = 0.340417 WETH, so no surplus is left for A."""
    sp_part = 1000 / 1500
    gas = sp_part * 0.005
    to_sp = 1000 * 1.05 / 1600
    rc = (1 - sp_part) + (sp_part - gas - to_sp)
    return dict(sp=1001.0, seized=to_sp + gas, repaid=1000.0,
                coll=[0.0, 10 + rc / 4, 30 + 3 * rc / 4], debt=[0.0, 5000 + 500 / 4, 10000 + 3 * 500 / 4])


@pytest.mark.parametrize("protocol", mb.LIQUITY)
def test_liquity_offset_and_redistribution_by_stake(protocol):
    e = liquity_v1_expected() if protocol == "liquity_v1" else liquity_v2_expected()
    b = mb.troves(TROVES)
    rules = mb.make_rules(protocol, stability_pool=e["sp"])
    _, out = static_run(rules, b, 0.20)
    t = out.totals
    assert t["seized"][WETH] == approx(e["seized"])
    assert t["repaid"][USDC] == approx(e["repaid"])
    assert t["fee"][WETH] == 0.0 and t["deficit"][USDC] == 0.0
    c1, d1 = mb.final_rows(out)
    np.testing.assert_allclose(c1[:, WETH], e["coll"], rtol=REL, atol=1e-12)
    np.testing.assert_allclose(d1[:, USDC], e["debt"], rtol=REL, atol=1e-9)
    assert out.arrays.state[K.ST_SP] == approx(e["sp"] - 1000.0)
    check_static_conservation(b, out)
    # block by block: the same liquidation at the block of the drop
    res = dynamic_run(mb.make_rules(protocol, stability_pool=e["sp"]), b, -0.20)
    d = mb.dynamic_totals(res)
    assert d["seized"][WETH] == approx(e["seized"]) and d["repaid"][USDC] == approx(e["repaid"])
    assert res.summary["accounts_liquidated"] == 1


def test_liquity_v2_surplus_stays_with_the_owner():
    """v2, pool 10,000 covers A entirely: gas 0.005; the pool takes 1500 * 1.05 / 1600 =
    0.984375; the owner's surplus is 1 - 0.005 - 0.984375 = 0.010625 (left on A's row, the
    CollSurplusPool claim); nothing is redistributed."""
    b = mb.troves(TROVES)
    _, out = static_run(mb.make_rules("liquity_v2", stability_pool=10000.0), b, 0.20)
    c1, d1 = mb.final_rows(out)
    assert out.totals["seized"][WETH] == approx(0.005 + 1500 * 1.05 / 1600)
    assert c1[0, WETH] == approx(1 - 0.005 - 1500 * 1.05 / 1600)
    np.testing.assert_allclose(c1[1:, WETH], [10.0, 30.0])
    np.testing.assert_allclose(d1[:, USDC], [0.0, 5000.0, 10000.0])
    check_static_conservation(b, out)


# ================================================================== (b) conservation, by hypothesis
def _drops():
    return st.floats(0.0, 0.45)


@pytest.mark.parametrize("protocol", mb.SEPARATE)
@HYP
@given(data=st.data())
def test_static_conservation_and_value_relations(protocol, data):
    """On random books with price impact: the book's collateral and debt are accounted for,
    and per account the value taken matches the protocol's incentive.

    - Compound v2: every call seizes repay * LI in value, LI = 1.10 (WETH) or 1.05 (WBTC),
      and the protocol's share is 2.8 % of every seize.
    - Morpho: value seized = repaid * LIF (1/0.94 for WETH, 1/(0.3*0.75+0.7) for WBTC); debt
      is written off only when the collateral is gone, and then all of it.
    - Euler: repaid <= value seized <= repaid / (1 - 0.15); same write-off rule.
    - Comet: an absorbed account has no collateral or debt left; repaid + written off =
      its debt; repaid <= credit (value * liquidation factor).
    - Maker: a barked vault has no debt left; repaid + written off = its debt; the keepers
      paid 95 % of the value sold, which covers the repaid debt.
    """
    b = data.draw(mb.books(protocol, 5, 30))
    drop = data.draw(_drops())
    rules = mb.make_rules(protocol)
    solver, out = static_run(rules, b, drop, impact=True, venues=mb.pool(2e5))
    check_static_conservation(b, out)
    t = out.tallies
    seized = out.per_account(t.acct_seized_usd)
    repaid = out.per_account(t.acct_repaid_usd)
    bad = out.per_account(t.acct_bad_debt_usd)
    calls = out.per_account(t.acct_calls)
    c0, d0 = mb.start_rows(b)
    c1, d1 = mb.final_rows(out)
    hit = calls > 0
    tol = 1e-9 * np.maximum(1.0, d0.sum(axis=1))
    if protocol == "compound_v2":
        assert out.totals["fee"].sum() == approx((0.028 * out.totals["seized"]).sum())
        weth_only = c0[:, WBTC] == 0
        li = 1.0 + mb.BONUS
        np.testing.assert_allclose(seized[weth_only], li[WETH] * repaid[weth_only], rtol=1e-9, atol=1e-9)
        assert (seized >= li[WBTC] * repaid - tol).all() and (seized <= li[WETH] * repaid + tol).all()
        assert (bad == 0).all()
    elif protocol in ("morpho_blue", "euler_v2"):
        gone = c1.sum(axis=1) == 0
        assert (bad[~gone] == 0).all()
        np.testing.assert_allclose(d1[gone & hit].sum(axis=1), 0.0, atol=1e-9)
        if protocol == "morpho_blue":
            asset = np.where(c0[:, WETH] > 0, WETH, WBTC)
            lif = 1.0 / (0.3 * mb.LT[asset] + 0.7)
            np.testing.assert_allclose(seized[hit], lif[hit] * repaid[hit], rtol=1e-9)
        else:
            assert (seized >= repaid - tol).all() and (seized <= repaid / 0.85 + tol).all()
    elif protocol.startswith("compound_v3"):
        assert (c1[hit] == 0).all() and (d1[hit] == 0).all()
        np.testing.assert_allclose(repaid[hit] + bad[hit], d0[hit, USDC], rtol=1e-9)
        # credit at the call's prices: seized value at the liquidation factors
        assert (repaid <= seized * 0.95 + tol).all()
    else:  # maker
        assert (d1[hit] == 0).all()
        np.testing.assert_allclose(repaid[hit] + bad[hit], d0[hit, USDC], rtol=1e-9)
        assert (repaid <= 0.95 * seized + tol).all()
        returned = hit & (c1.sum(axis=1) > 0)  # tab covered: keepers paid exactly the tab
        chop = 1.0 + mb.BONUS[np.where(c0[:, WETH] > 0, WETH, WBTC)]
        np.testing.assert_allclose(0.95 * seized[returned], chop[returned] * d0[returned, USDC], rtol=1e-9)
    s = solver.summarize(out)
    assert s["bad_debt_written_off_usd"] == approx(float(bad.sum()))


@pytest.mark.parametrize("protocol", mb.PROTOCOLS)
@settings(max_examples=8, deadline=None, suppress_health_check=QUIET)
@given(data=st.data())
def test_dynamic_conservation_every_block(protocol, data):
    """A 40 % fall over 100 blocks into a shallow pool, 300 blocks, a few liquidations per
    block: the engine's conservation check holds every block (it raises otherwise)."""
    b = data.draw(mb.books(protocol, 5, 20))
    sp = mb.stability_pool_for(b, data.draw(st.floats(0.0, 1.0)))
    rules = mb.make_rules(protocol, stability_pool=sp)
    path = linear_shock({"WETH": 2000.0}, {"WETH": -0.4}, duration_blocks=100, n_blocks=300)
    liq = Liquidators(liquidations_per_block=3, gas_asset=None, min_profit_usd=-math.inf, spread_blocks=3)
    res = dynamic_run(rules, b, 0.0, venues=mb.pool(3e5), liquidators=liq, path=path)
    t = mb.dynamic_totals(res)
    assert (t["seized"] >= 0).all() and (t["repaid"] >= 0).all()
    # per liquidation (one call a block here): value seized against debt repaid. The event
    # amounts are differences of the account's running USD totals, so a dust call (a
    # leftover 1e-16 WBTC) carries their rounding: only calls above $0.001 are compared.
    ev = res["events"]
    ev = ev[ev["debt_repaid_usd"] > 1e-3]
    ratio = (ev["collateral_seized_usd"] / ev["debt_repaid_usd"]).to_numpy()
    if protocol == "compound_v2":  # LI 1.05 (WBTC) or 1.10 (WETH)
        assert np.all(np.isclose(ratio, 1.05, rtol=1e-9) | np.isclose(ratio, 1.10, rtol=1e-9))
    elif protocol == "morpho_blue":  # LIF 1 / (0.3 * LLTV + 0.7), LLTV 0.75 or 0.80
        lifs = 1 / (0.3 * mb.LT[[WETH, WBTC]] + 0.7)
        assert np.all(np.isclose(ratio, lifs[0], rtol=1e-9) | np.isclose(ratio, lifs[1], rtol=1e-9))
    elif protocol == "euler_v2":  # 1 / df, df between 0.85 and 1
        assert np.all((ratio >= 1 - 1e-9) & (ratio <= (1 / 0.85) * (1 + 1e-9)))


@pytest.mark.parametrize("kind", ["maker_auctions", "comet_storefront"])
def test_dynamic_conservation_with_the_protocols_own_sales(kind):
    """Maker's Clipper auctions and Comet's store front keep the collateral with the protocol
    over time; the conservation check covers what they hold, sell on and return."""
    rng = np.random.default_rng(5)
    rows = []
    for k in range(30):
        c = float(rng.lognormal(1.0, 1.0))
        rows += [(k, "WETH", c, 0.0), (k, "USDC", 0.0, c * 2000 * 0.8 / rng.uniform(1.0, 1.6))]
    b = mb.book(rows)
    if kind == "maker_auctions":
        rules = MakerRules(PARAMS, auctions=ClipperSettings(tail=3600, cusp=0.5, keeper_margin=0.04))
    else:
        rules = CometRules(PARAMS, base="USDC", storefront=StoreFrontSettings(1e4, 5e4, 0.01))
    path = linear_shock({"WETH": 2000.0}, {"WETH": -0.4}, duration_blocks=100, n_blocks=400)
    liq = Liquidators(liquidations_per_block=2, gas_asset=None, min_profit_usd=-math.inf)
    res = dynamic_run(rules, b, 0.0, venues=mb.pool(5e5), liquidators=liq, path=path)
    s = res.summary
    assert s["accounts_liquidated"] > 5
    t = mb.dynamic_totals(res)
    assert t["protocol_sold"][WETH] > 0


# ================================================================== (c) Liquity socialization sums
def _one_pass(rules, b, price):
    """One pass of the rules at ``price`` for WETH (``liquidateTroves`` on the whole book:
    redistribution happens once, after the pass)."""
    arrays = rules.prepare(b)
    prices = PRICES.copy()
    prices[WETH] = price
    n = b.n_accounts
    tallies = Tallies.zeros(3, n, b.n_rows)
    q = np.zeros(n)
    touched = np.zeros(n, dtype=np.bool_)
    sp0 = float(arrays.state[K.ST_SP])
    rules.sweep(arrays, prices, n, tallies, LiquidationLimits(), touched, q, 1.0)
    return arrays, tallies, sp0


@pytest.mark.parametrize("protocol", mb.LIQUITY)
@HYP
@given(data=st.data())
def test_liquity_socialization_sums(protocol, data):
    """One pass over a random trove book: the liquidated troves' debt = debt the Stability
    Pool absorbed + debt redistributed to the survivors; their collateral = the pool's gain
    + the liquidator's gas compensation + collateral redistributed + the owners' surplus.
    With depositors keeping their gains (``sp_sell_fraction`` 0) the pool's gain is the
    protocol-kept part of the seizure, so the gas is seized - kept: in v1 Normal Mode 0.5 %
    of each liquidated trove's collateral, in v2 0.5 % of the offset part (cap 2 WETH)."""
    b = data.draw(mb.books(protocol, 5, 30))
    price = data.draw(st.floats(1000.0, 2000.0))
    sp = mb.stability_pool_for(b, data.draw(st.sampled_from([0.0, 0.05, 0.3, 2.0])))
    rules = mb.make_rules(protocol, stability_pool=sp, sp_sell_fraction=0.0)
    arrays, t, sp0 = _one_pass(rules, b, price)
    c0, d0 = b.collateral[b.asset == WETH], b.debt[b.asset == USDC]
    c1, d1 = arrays.coll[arrays.asset == WETH], arrays.debt[arrays.asset == USDC]
    closed = t.acct_calls > 0
    assert closed.sum() < b.n_accounts  # the last trove is never liquidated
    assert (d1[closed] == 0).all()
    absorbed = sp0 - arrays.state[K.ST_SP]
    assert absorbed == approx(t.repaid[USDC])
    redistributed_debt = float((d1 - d0)[~closed].sum())
    redistributed_coll = float((c1 - c0)[~closed].sum())
    surplus = float(c1[closed].sum())
    assert (d1 - d0)[~closed].min(initial=0.0) >= -1e-9  # survivors only gain
    scale = float(d0.sum())
    assert float(d0[closed].sum()) == approx(absorbed + redistributed_debt, abs=1e-9 * scale)
    gas = t.seized[WETH] - t.fee[WETH]
    pool_gain = t.fee[WETH]
    whole = pool_gain + gas + redistributed_coll + surplus
    assert float(c0[closed].sum()) == approx(whole, abs=1e-9 * c0.sum())
    # redistribution is by stake (the troves' collateral in the book)
    if redistributed_debt > 0:
        share = c0[~closed] / c0[~closed].sum()
        np.testing.assert_allclose((d1 - d0)[~closed], share * redistributed_debt, rtol=1e-9, atol=1e-9)
    # the liquidator's gas compensation (in Normal Mode only troves below the MCR are visited,
    # and each pays 0.5 % of its collateral, offset or redistributed alike)
    tcr0 = c0.sum() * price / d0.sum()
    if protocol == "liquity_v1" and tcr0 >= 1.5:
        assert gas == approx(0.005 * float(c0[closed].sum()), abs=1e-12)
    if protocol == "liquity_v2":  # 0.5 % of the offset part only: at most 0.5 % of the whole
        assert -1e-12 <= gas <= 0.005 * float(c0[closed].sum()) * (1 + 1e-12) + 1e-12
        if absorbed == 0:
            assert gas == 0.0


@pytest.mark.parametrize("protocol", mb.LIQUITY)
@settings(max_examples=10, deadline=None, suppress_health_check=QUIET)
@given(data=st.data())
def test_liquity_static_cascade_keeps_the_system_whole(protocol, data):
    """Over a whole cascade with price impact: the system's debt falls by exactly what the
    pool absorbed (redistributed debt stays in the system) and its collateral by what was
    seized (pool gains and gas); the surplus stays with the owners."""
    b = data.draw(mb.books(protocol, 5, 30))
    sp = mb.stability_pool_for(b, data.draw(st.floats(0.0, 1.0)))
    rules = mb.make_rules(protocol, stability_pool=sp)
    _, out = static_run(rules, b, data.draw(st.floats(0.0, 0.5)), impact=True, venues=mb.pool(2e5))
    check_static_conservation(b, out)
    assert out.totals["deficit"].sum() == 0.0
    assert sp - out.arrays.state[K.ST_SP] == approx(out.totals["repaid"][USDC], abs=1e-9 * max(sp, 1.0))
    assert out.arrays.state[K.ST_SP] >= -1e-9 * max(sp, 1.0)


# ================================================================== (d) Morpho and Euler bad debt
def _bad_debt_expected(protocol, coll, debt, price):
    """(repaid, all collateral gone) by the protocol's formula at ``price``."""
    if protocol == "morpho_blue":
        all_gone = coll * price < debt / 0.94
        return (coll * price * 0.94 if all_gone else debt), all_gone
    df = max(coll * price * 0.8 / debt, 0.85)
    all_gone = coll * price < debt / df
    return (coll * price * df if all_gone else debt), all_gone


@pytest.mark.parametrize("protocol", ["morpho_blue", "euler_v2"])
@HYP
@given(coll=st.floats(0.1, 10.0), hf=st.floats(0.3, 0.99), drop=st.floats(0.0, 0.5))
def test_bad_debt_is_the_debt_left_when_collateral_is_gone(protocol, coll, hf, drop):
    """One borrower with HF ``hf`` after the drop, either engine: if the collateral is all
    seized, what is written off is exactly the debt the liquidation left (debt - repaid)
    and nothing stays in the book; if collateral is left, nothing is written off.

    Morpho: all the collateral goes when its value is below debt * LIF (LIF = 1 / 0.94),
    for value / LIF. Euler: when below debt / df, for value * df, df = max(HF, 0.85).
    (Block by block the borrower is liquidated at $2000 already when its HF there is < 1.)"""
    price = 2000 * (1 - drop)
    debt = coll * price * 0.8 / hf
    b = one(coll, debt)
    _, out = static_run(mb.make_rules(protocol), b, drop)
    res = dynamic_run(mb.make_rules(protocol), b, -drop, n_blocks=4)
    dyn_price = 2000.0 if coll * 2000 * 0.8 < debt else price
    for t, p in ((out.totals, price), (mb.dynamic_totals(res), dyn_price)):
        repaid, all_gone = _bad_debt_expected(protocol, coll, debt, p)
        assert t["repaid"][USDC] == approx(repaid)
        assert t["deficit"][USDC] == approx(debt - repaid if all_gone else 0.0, abs=1e-9 * debt)
        assert t["seized"][WETH] <= coll * (1 + 1e-12)
    repaid, all_gone = _bad_debt_expected(protocol, coll, debt, price)
    c1, d1 = mb.final_rows(out)
    assert d1[0, USDC] == 0.0
    assert (c1[0, WETH] == 0.0) == all_gone


@HYP
@given(
    coll=st.integers(10**18, 10**22),
    c=st.floats(0.2, 0.79),
    idx=st.floats(1.0, 1.5),
    share=st.floats(0.01, 1.0),
)
def test_morpho_suppliers_bear_exactly_the_bad_debt(coll, c, idx, share):
    """Integer Morpho (both tokens 18 decimals, 1 collateral = 2000 loan tokens, LLTV 0.8):
    seizing all the collateral of a borrower whose collateral is worth ``c`` < 1 / LIF of its
    debt writes off the rest of its debt; total supply assets fall by exactly the bad debt
    while supply shares do not move (every supplier loses pro rata), and the borrow side
    falls by repaid + bad debt. The bad debt is the debt less value / LIF (LIF = 1 / 0.94),
    to rounding."""
    lltv = 8 * 10**17
    price = 2000 * 10**36
    debt_wei = int(coll * 2000 / c)
    shares = int(debt_wei * 10**6 / idx)
    tbs = int(shares / share)
    tba = int(tbs * idx / 10**6)
    tsa = tba * 2
    m = mo.MarketState(tsa, tsa * 10**6, tba, tbs)
    liq = mo.liquidate(m, mo.Position(shares, coll), price, lltv, seized_assets=coll)
    after = liq.market_after
    assert liq.position_after == mo.Position(0, 0)
    assert liq.bad_debt_assets > 0
    assert m.total_supply_assets - after.total_supply_assets == liq.bad_debt_assets
    assert after.total_supply_shares == m.total_supply_shares
    borrow_out = m.total_borrow_assets - after.total_borrow_assets
    assert borrow_out == min(m.total_borrow_assets, liq.repaid_assets) + liq.bad_debt_assets
    owed = mo.to_assets_up(shares, tba, tbs)
    lif = mo.liquidation_incentive_factor(lltv) / 1e18
    assert lif == approx(1 / 0.94, rel=1e-15)
    assert abs(liq.bad_debt_assets - (owed - coll * 2000 / lif)) <= 1e-12 * owed + 4


# ================================================================== (e) Maker auctions
CURVE_NAMES = list(CURVES)


@st.composite
def curve_cases(draw):
    """(curve, cut [ray, at most 1], step, tau): stairstep cuts 0.9-0.9999 per step,
    exponential 0.999-1 per second."""
    curve = draw(st.sampled_from(CURVE_NAMES))
    most = 10**26 if curve == "stairstep" else 10**24
    cut = mk.RAY - draw(st.integers(10**23 if curve == "stairstep" else 0, most))
    return curve, cut, draw(st.integers(1, 600)), draw(st.integers(60, 20_000))


@HYP
@given(case=curve_cases(), top=st.integers(10**27, 10**32),
       t=st.lists(st.integers(0, 30_000), min_size=2, max_size=8))
def test_auction_price_never_rises_with_time(case, top, t):
    """Between resets the Clipper's price is non-increasing in time, for all three curves,
    in the integer abaci and in the float form the engine runs."""
    curve, cut_ray, step, tau = case
    cut = cut_ray / mk.RAY
    t = sorted(t)
    if curve == "linear":
        exact = [mk.linear_price(top, x, tau) for x in t]
    elif curve == "stairstep":
        exact = [mk.stairstep_price(top, x, cut_ray, step) for x in t]
    else:
        exact = [mk.exponential_price(top, x, cut_ray) for x in t]
    fast = [auction_price(CURVES[curve], top / 1e27, float(x), float(tau), cut, float(step)) for x in t]
    assert all(a >= b for a, b in zip(exact, exact[1:]))
    assert all(a >= b for a, b in zip(fast, fast[1:]))
    assert exact[0] <= top and fast[0] <= top / 1e27 * (1 + 1e-15)


def _depth(market, size):
    """A market whose marginal sale price falls linearly from ``market`` to 0 over ``size``
    tokens: ``depth(asset, level)`` is what it absorbs before the marginal price reaches
    ``level``, ``size * (1 - level / market)`` (0 at or above ``market``)."""
    def depth(i, level):
        return size * (1.0 - level / market) if level < market else 0.0

    return depth


@HYP
@given(
    curve=st.sampled_from(CURVE_NAMES),
    margin=st.floats(0.0, 0.1),
    buf=st.floats(1.0, 1.4),
    cusp=st.floats(0.3, 0.6),
    tail=st.integers(3000, 8000),
    depth=st.floats(0.5, 20.0),
)
def test_clipper_takes_only_below_market_less_margin(curve, margin, buf, cusp, tail, depth):
    """Clipper auctions driven block by block at a constant oracle of $1800: every take is
    at the curve's price, which is at most the market's (marginal) price net of the keeper's
    margin, 1800 * (1 - margin), and they do take once the price is below it, as much as the
    market absorbs before its marginal price falls to price / (1 - margin) (up to the lot and
    the tab); the prices never rise between resets; a reset (redo) restarts at oracle * buf.
    The ranges make the bid reachable before ``tail`` and ``cusp`` (cusp * buf < 1 - margin;
    at most ~2,700 s to the bid), so some take happens."""
    cut = 0.99 if curve == "stairstep" else 0.9995
    s = ClipperSettings(buf=buf, tail=float(tail), cusp=cusp, curve=curve, cut=cut, step=60.0, tau=3000.0,
                        keeper_margin=margin)
    auctions = ClipperAuctions(s, 1.0 + mb.BONUS, 3)
    oracle = PRICES.copy()
    oracle[WETH] = 1800.0
    lots = Lots(np.array([0]), np.array([0]), np.array([WETH]), np.array([10.0]), np.array([15000.0]))
    auctions.receive(0, lots, oracle)
    depth_at = _depth(1800.0, depth)
    bid = 1800 * (1 - margin)
    last_price = math.inf
    takes = 0
    for t in range(12, 12 * 700, 12):
        if auctions.a["lot"].size == 0:
            break
        top, start, tab0, lot0 = (float(auctions.a[f][0]) for f in ("top", "start", "tab", "lot"))
        r0 = auctions.resets
        step = auctions.step(t, oracle, depth_at)
        if auctions.resets > r0:  # redo: restart at the oracle price times buf
            top, start = 1800 * buf, float(t)
            last_price = math.inf
            if auctions.a["lot"].size:
                assert auctions.a["top"][0] == approx(top) and auctions.a["start"][0] == t
        price = auction_price(CURVES[curve], top, t - start, s.tau, s.cut, s.step)
        assert price <= last_price * (1 + 1e-12) or last_price == math.inf
        if step.sold[WETH] > 0:
            takes += 1
            unit = step.proceeds_usd[WETH] / step.sold[WETH]
            assert unit == approx(price)
            # as much as the market absorbs before its marginal price is price / (1 - margin)
            want = min(lot0, tab0 / price, depth_at(WETH, price / (1 - margin)))
            assert step.sold[WETH] == approx(want)
            assert unit <= bid * (1 + 1e-12)
            assert step.proceeds_usd[WETH] <= tab0 * (1 + 1e-12)
            last_price = unit
        elif 0 < price < bid * (1 - 1e-6):
            raise AssertionError(f"t={t}: no take at price {price} below the keepers' bid {bid}")
    assert takes > 0


def test_maker_clipper_hand_case_in_the_dynamic_engine():
    """1 WETH against 1500 DAI, the price falls to $1800 at block 1 (t = 12 s): bark, tab
    1500 * 1.1 = 1650, top 1800 * 1.3 = 2340, stairstep 0.99 per 90 s, keepers' margin 5 %:
    they take once the price is at most 1800 * 0.95 = 1710, i.e. after n = 32 steps
    (2340 * 0.99^31 = 1713.6 > 1710 >= 2340 * 0.99^32 = 1696.5): at elapsed 2880 s, t =
    2892, block 241. They buy 1650 / (2340 * 0.99^32) = 0.97262 WETH for the tab; 0.02738
    returns to the vault; keeper incentives tip 300 + chip 0.1 % * 1650 = 301.65."""
    b = one(1.0, 1500.0)
    clipper = ClipperSettings(buf=1.3, tail=10_000, cusp=0.4, curve="stairstep", cut=0.99, step=90,
                              chip=0.001, tip=300, keeper_margin=0.05)
    rules = MakerRules(PARAMS, auctions=clipper)
    price = 2340 * 0.99**32
    early = dynamic_run(rules, b, -0.10, n_blocks=241)  # last block t = 2880
    s = early.summary
    assert s["auctions_kicked"] == 1 and s["auctions_open_end"] == 1 and s["auction_raised_usd"] == 0.0
    assert s["keeper_incentives_usd"] == approx(301.65)
    res = dynamic_run(rules, b, -0.10, n_blocks=242)
    s = res.summary
    assert s["auctions_finished"] == 1 and s["auction_resets"] == 0
    assert s["auction_raised_usd"] == approx(1650.0)
    assert s["auction_penalty_usd"] == approx(150.0) and s["auction_bad_debt_usd"] == 0.0
    t = mb.dynamic_totals(res)
    assert t["protocol_sold"][WETH] == approx(1650 / price)
    assert t["returned"][WETH] == approx(1 - 1650 / price)
    assert t["repaid"][USDC] == approx(1500.0)  # the debt the protocol took over at bark


# ================================================================== (f) Comet store front
@pytest.mark.parametrize("reserves,target,sold_weth", [
    # reserves below target: buyers pay the store-front price 1800 * (1 - 0.5 * 0.1) = 1710
    # (they resell at 1800 * (1 - 0.005) = 1791 > 1710, so they take it all); reserves fall by
    # max(debt 1500, credit 1620) at absorb and rise by 1710: 1000 - 1620 + 1710 = 1090
    (1000.0, 1e6, 1.0),
    # at or above target after absorb (40M - 1620 >= 20M): the store front is shut
    (40e6, 20e6, 0.0),
])
def test_comet_store_front(reserves, target, sold_weth):
    b = one(1.0, 1500.0)
    rules = CometRules(PARAMS, base="USDC", storefront=StoreFrontSettings(reserves, target, 0.005))
    res = dynamic_run(rules, b, -0.10, n_blocks=30)
    s = res.summary
    t = mb.dynamic_totals(res)
    assert s["absorbed_debt_usd"] == approx(1500.0)
    assert s["reserves_min_usd"] == approx(reserves - 1620.0)
    assert t["protocol_sold"][WETH] == approx(sold_weth)
    assert s["store_front_sold_usd"] == approx(1710.0 * sold_weth)
    assert s["reserves_end_usd"] == approx(reserves - 1620.0 + 1710.0 * sold_weth)
    assert s["protocol_holdings_usd"] == approx(1800.0 * (1 - sold_weth))
    assert store_front_price(1800.0, 0.9, 0.5) == approx(1710.0)


def test_comet_store_front_stops_at_target():
    """1 WETH + 0.01 WBTC absorbed at $1800 (credit 1620 + 285 = 1905 > debt 1700), reserves
    start 1000 above target: after absorb they are 905 below it, WETH sells for 1710 and
    lifts them 805 above target, so the WBTC (store-front price 30,000 * (1 - 0.5 * 0.05) =
    29,250) is never sold, in that block or later."""
    target = 1e6
    b = mb.book([(0, "WETH", 1.0, 0.0), (0, "WBTC", 0.01, 0.0), (0, "USDC", 0.0, 1700.0)])
    rules = CometRules(PARAMS, base="USDC", storefront=StoreFrontSettings(target + 1000, target, 0.005))
    res = dynamic_run(rules, b, -0.10, n_blocks=50)
    s = res.summary
    t = mb.dynamic_totals(res)
    assert t["protocol_sold"][WETH] == approx(1.0) and t["protocol_sold"][WBTC] == 0.0
    assert s["reserves_end_usd"] == approx(target + 805.0)
    assert s["protocol_holdings_usd"] == approx(0.01 * 30000)


# ================================================================== (g) Liquity modes
def _recovery_book(other_coll):
    """Trove A: 1 WETH, 1250 debt (ICR 1.2 at $1500); trove B: ``other_coll`` WETH, 2000 debt."""
    return mb.troves([(1.0, 1250.0), (other_coll, 2000.0)])


@HYP
@given(tcr=st.floats(1.25, 1.75))
def test_liquity_v1_recovery_mode_iff_tcr_below_150(tcr):
    """At $1500 trove A (ICR 1.2) is above the MCR. With a system TCR below 150 % (Recovery
    Mode) and A's ICR below the TCR and a pool that covers its debt, A is liquidated with its
    collateral capped at 1250 * 1.1 / 1500 = 0.916667 (0.5 % of it to the liquidator, the
    rest to the pool) and 0.083333 left to the owner; at TCR >= 150 % it is not touched.
    B's collateral sets the TCR: (1 + x) * 1500 / 3250 = tcr."""
    x = tcr * 3250 / 1500 - 1
    if abs(tcr - 1.5) < 1e-6:
        return
    b = _recovery_book(x)
    rules = mb.make_rules("liquity_v1", stability_pool=5000.0)
    for engine in ("static", "dynamic"):
        if engine == "static":
            _, out = static_run(rules, b, 0.25)
            t = out.totals
            c1, _ = mb.final_rows(out)
        else:
            t = mb.dynamic_totals(dynamic_run(rules, b, -0.25, n_blocks=4))
        if tcr < 1.5:
            capped = 1250 * 1.1 / 1500
            assert t["repaid"][USDC] == approx(1250.0)
            assert t["seized"][WETH] == approx(capped)
            if engine == "static":
                assert c1[0, WETH] == approx(1 - capped)
        else:
            assert t["seized"][WETH] == 0.0 and t["repaid"][USDC] == 0.0


def test_liquity_v1_recovery_mode_counts_open_troves_only():
    """The TCR that decides Recovery Mode is over the system's troves: a closed trove's
    surplus (CollSurplusPool) is not system collateral.

    Troves at $1500: A (1, 1250; ICR 1.2), B (1.2, 1400; ICR 1.286), C (3, 3300; ICR 1.364).
    TCR = 5.2 * 1500 / 5950 = 1.311 < 1.5: A goes first, capped at 0.916667 (surplus
    0.083333); then the TCR is 4.2 * 1500 / 4700 = 1.340, B (ICR 1.286 < 1.340) goes, capped
    at 1400 * 1.1 / 1500 = 1.026667 (surplus 0.173333); then 3 * 1500 / 3300 = 1.364 and C is
    the last trove. A second pass at the same price changes nothing, and the TCR it sees is
    C's, 1.364 (not (3 + 0.0833 + 0.1733) * 1500 / 3300 = 1.480 with the surpluses)."""
    b = mb.troves([(1.0, 1250.0), (1.2, 1400.0), (3.0, 3300.0)])
    rules = mb.make_rules("liquity_v1", stability_pool=10_000.0)
    arrays, t, _ = _one_pass(rules, b, 1500.0)
    assert t.repaid[USDC] == approx(1250.0 + 1400.0)
    prices = PRICES.copy()
    prices[WETH] = 1500.0
    cut = rules.before_pass(arrays, prices)
    st_ = arrays.state
    assert st_[K.ST_SYS_COLL] == approx(3.0) and st_[K.ST_SYS_DEBT] == approx(3300.0)
    assert cut == approx(1.5 / 1.1)  # still Recovery Mode


@HYP
@given(tcr=st.floats(0.9, 1.6))
def test_liquity_v2_shutdown_below_scr_and_no_recovery_mode(tcr):
    """WETH branch (MCR = SCR = 110 %): the branch is shut down iff its TCR < 110 %; there is
    no Recovery Mode, so trove A (ICR 1.2 at $1500) is never liquidated whatever the TCR;
    B (ICR 0.75 x) is liquidated iff below the MCR."""
    x = tcr * 3250 / 1500 - 1
    b_icr = x * 1500 / 2000
    if abs(tcr - 1.1) < 1e-6 or abs(b_icr - 1.1) < 1e-6:
        return
    b = _recovery_book(x)
    rules = mb.make_rules("liquity_v2", stability_pool=5000.0)
    prices = PRICES.copy()
    prices[WETH] = 1500.0
    assert rules.shutdown(rules.prepare(b), prices) == (tcr < 1.1)
    _, out = static_run(rules, b, 0.25)
    calls = out.per_account(out.tallies.acct_calls)
    assert calls[0] == 0
    assert (calls[1] > 0) == (b_icr < 1.1)
