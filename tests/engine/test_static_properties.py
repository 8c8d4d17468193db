"""Invariants of the static cascade, over generated books (hypothesis)."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from liqcascade.engine.static import CascadeSettings, MarketModel, StaticCascade
from liqcascade.markets.cpmm import ConstantProductPool
from liqcascade.model import PositionBook
from liqcascade.protocols.aave_v3 import V3_0, V3_3, V3_7
from liqcascade.protocols.aave_v3.rules import AaveV3Rules

from .conftest import PARAMS, PRICES, aave_sweep

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def books(draw, multi_collateral=True):
    """Accounts with WETH (and maybe DAI) collateral and USDC/DAI/WETH debt, HF 0.7-2."""
    n = draw(st.integers(1, 25))
    ids, assets, coll, debt = [], [], [], []
    for k in range(n):
        c_weth = draw(st.floats(0.01, 500.0))
        hf = draw(st.floats(0.7, 2.0))
        cap = c_weth * 2000.0 * 0.85 / hf
        ids.append(k); assets.append(0); coll.append(c_weth); debt.append(0.0)
        if multi_collateral and draw(st.booleans()):
            c_dai = draw(st.floats(0.0, 50_000.0))
            ids.append(k); assets.append(2); coll.append(c_dai); debt.append(0.0)
            cap += c_dai * 0.78 / hf
        split = draw(st.floats(0.0, 1.0))
        ids.append(k); assets.append(1); coll.append(0.0); debt.append(cap * split)
        if split < 1.0:
            ids.append(k); assets.append(2 if not multi_collateral else 0); coll.append(0.0)
            debt.append(cap * (1 - split) / (1.0 if not multi_collateral else 2000.0))
    return PositionBook.from_rows(ids, assets, coll, debt, PARAMS.symbols)


def solver(book, version, depth, impact=True, sell_fraction=1.0):
    venues = {"WETH": ConstantProductPool.from_price_depth("WETH", 2000.0, depth, fee=0.003)}
    m = MarketModel(book, AaveV3Rules(PARAMS, version), PRICES, venues)
    return StaticCascade(m, CascadeSettings(impact=impact, sell_fraction=sell_fraction))


@SETTINGS
@given(books(), st.sampled_from([V3_0, V3_3, V3_7]), st.floats(0.0, 0.7), st.floats(1e4, 1e8), st.floats(0, 1))
def test_conservation(book, version, shock, depth, sell_fraction):
    s = solver(book, version, depth, sell_fraction=sell_fraction)
    out = s.run({"WETH": shock})
    t = out.totals
    # collateral seized = sold + held by liquidators + protocol fee, per asset
    np.testing.assert_allclose(t["seized"], t["sold"] + t["held"] + t["fee"], rtol=1e-12, atol=1e-12)
    coll0, debt0 = book.totals_by_asset()
    coll1 = np.bincount(out.arrays.asset, weights=out.arrays.coll, minlength=3)
    debt1 = np.bincount(out.arrays.asset, weights=out.arrays.debt, minlength=3)
    # collateral removed from the book = seized; debt removed = repaid + written off
    np.testing.assert_allclose(coll0 - coll1, t["seized"], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(debt0 - debt1, t["repaid"] + t["deficit"], rtol=1e-9, atol=1e-6)
    assert (out.arrays.coll >= 0).all() and (out.arrays.debt >= 0).all()
    if version == V3_0:
        assert (t["deficit"] == 0).all()
    # the fixed point: nobody left below 1 who still has seizable collateral
    if out.converged and not out.stuck:
        v = s.model.rules.health(out.arrays, out.prices_final)
        assert not np.any((v.hf < 1) & (v.collateral_usd > 0) & (v.debt_usd > 0))


@SETTINGS
@given(books(multi_collateral=False), st.floats(0.0, 0.6), st.floats(0.0, 0.3), st.sampled_from([V3_0, V3_3, V3_7]))
def test_without_feedback_deeper_shock_liquidates_more(book, s1, extra, version):
    # No price feedback: every account is liquidated at the shocked price only, so a
    # deeper shock means a lower HF for every account (its debt does not fall with WETH) and
    # more bad debt. Not more seized tokens: test_without_feedback_seized_tokens_can_fall.
    s = solver(book, version, 1e6, impact=False)
    a = s.run({"WETH": s1})
    b = s.run({"WETH": min(s1 + extra, 0.95)})
    assert set(a.liquidated_accounts().tolist()) <= set(b.liquidated_accounts().tolist())
    bad_a = s.summarize(a)["bad_debt_usd"]
    bad_b = s.summarize(b)["bad_debt_usd"]
    assert bad_b >= bad_a - 1e-9 * max(1.0, bad_a)


@st.composite
def stable_debt_books(draw):
    """Accounts with WETH and DAI collateral (DAI unshocked) and USDC debt, HF 0.7-2: every
    health factor falls as WETH falls."""
    n = draw(st.integers(1, 25))
    ids, assets, coll, debt = [], [], [], []
    for k in range(n):
        c_weth, c_dai, hf = draw(st.floats(0.01, 500.0)), draw(st.floats(0.0, 2e6)), draw(st.floats(0.7, 2.0))
        cap = (c_weth * 2000.0 * 0.85 + c_dai * 0.78) / hf
        ids += [k, k, k]; assets += [0, 2, 1]; coll += [c_weth, c_dai, 0.0]; debt += [0.0, 0.0, cap]
    return PositionBook.from_rows(ids, assets, coll, debt, PARAMS.symbols)


@SETTINGS
@given(stable_debt_books(), st.floats(0.0, 0.6), st.floats(0.0, 0.3), st.sampled_from([V3_0, V3_3, V3_7]))
def test_without_feedback_two_collaterals_deeper_shock_liquidates_more(book, s1, extra, version):
    """As above with two collaterals per account (the liquidator's pair can change with the
    shock) and debt the shock does not move."""
    s = solver(book, version, 1e6, impact=False)
    a = s.run({"WETH": s1})
    b = s.run({"WETH": min(s1 + extra, 0.95)})
    assert set(a.liquidated_accounts().tolist()) <= set(b.liquidated_accounts().tolist())
    bad_a = s.summarize(a)["bad_debt_usd"]
    assert s.summarize(b)["bad_debt_usd"] >= bad_a - 1e-9 * max(1.0, bad_a)


def test_without_feedback_borrowing_the_shocked_asset_escapes_a_deeper_shock():
    """Debt in the shocked asset falls with it. 100,000 DAI (LT 0.78) against 40 WETH: HF
    78,000 / 80,000 = 0.975 at $2000, liquidated; at -10 % the debt is 72,000 and HF 1.083:
    not liquidated. The deeper shock liquidates fewer accounts."""
    book = PositionBook.from_rows([0, 0], [2, 0], [100_000.0, 0.0], [0.0, 40.0], PARAMS.symbols)
    s = solver(book, V3_3, 1e6, impact=False)
    assert s.run({"WETH": 0.0}).liquidated_accounts().tolist() == [0]
    assert s.run({"WETH": 0.10}).liquidated_accounts().tolist() == []


def test_without_feedback_seized_tokens_can_fall():
    """One collateral, no feedback, v3.3: a deeper shock seizes fewer WETH. 2 WETH against
    1,360 USDC + 2,040 DAI (LT 0.85, bonus 5 %: HF 1 at $2000).

    -5.5 % (p = 1890): HF = 2*1890*0.85/3400 = 0.945 < 0.95, so the close factor is 100 %: the
    largest debt, 2,040 DAI, is repaid in one call for 2040*1.05/1890 = 1.13333 WETH, leaving
    0.86667 WETH ($1,638) against 1,360 USDC: HF 1.024, done.

    -3.5 % (p = 1930): HF = 0.965 > 0.95 with both reserves >= $2000 and DAI more than half the
    debt, so at most half the total debt (1,700) may be repaid, which would leave 340 DAI < $1000:
    MustNotLeaveDust. The liquidator covers 1,040 DAI (leaving $1000) for 1040*1.05/1930 =
    0.56580 WETH; HF is then 1.43420*1930*0.85/2360 = 0.99695 < 1, and a second call repays the
    now largest debt, 1,360 USDC (< $2000: 100 %), for 1360*1.05/1930 = 0.73990 WETH. Total
    1.30570 WETH: more than at the deeper shock.
    """
    book = PositionBook.from_rows([0, 0, 0], [0, 1, 2], [2.0, 0.0, 0.0], [0.0, 1360.0, 2040.0], PARAMS.symbols)
    s = solver(book, V3_3, 1e6, impact=False)
    shallow, deep = s.run({"WETH": 0.035}), s.run({"WETH": 0.055})
    assert deep.totals["seized"][0] == pytest.approx(2040 * 1.05 / 1890, rel=1e-12)
    assert shallow.totals["seized"][0] == pytest.approx((1040 + 1360) * 1.05 / 1930, rel=1e-12)
    assert deep.per_account(deep.tallies.acct_calls).tolist() == [1]
    assert shallow.per_account(shallow.tallies.acct_calls).tolist() == [2]
    assert shallow.totals["seized"][0] > deep.totals["seized"][0]


def test_without_feedback_the_largest_collateral_can_switch_away_from_the_shocked_asset():
    """Two collaterals, no feedback, v3.0 (no dust rule): 1 WETH and 1,000 DAI against 1,750 USDC.

    -45 % (p = 1100): WETH is the larger collateral; HF = (935 + 780)/1750 = 0.980 > 0.95, so
    half the debt, 875 USDC, is repaid for 875*1.05/1100 = 0.83523 WETH: HF 1.067, done.

    -55 % (p = 900): DAI ($1000) is now the larger; HF 0.883 < 0.95, so all 1,000 DAI go, for
    1000/1.045 = 956.94 USDC; then HF = 765/793.06 = 0.965 and half the rest, 396.53 USDC, is
    repaid for 396.53*1.05/900 = 0.46262 WETH. Fewer WETH at the deeper shock.
    """
    book = PositionBook.from_rows([0, 0, 0], [0, 2, 1], [1.0, 1000.0, 0.0], [0.0, 0.0, 1750.0], PARAMS.symbols)
    s = solver(book, V3_0, 1e6, impact=False)
    shallow, deep = s.run({"WETH": 0.45}), s.run({"WETH": 0.55})
    assert shallow.totals["seized"][0] == pytest.approx(875 * 1.05 / 1100, rel=1e-12)
    assert shallow.totals["seized"][2] == 0.0
    assert deep.totals["seized"][2] == pytest.approx(1000.0, rel=1e-12)
    assert deep.totals["seized"][0] == pytest.approx((1750 - 1000 / 1.045) / 2 * 1.05 / 900, rel=1e-12)


@SETTINGS
@given(books(multi_collateral=False), st.floats(0.0, 0.6), st.floats(0.0, 0.3), st.floats(1e5, 1e8))
def test_with_feedback_the_final_price_is_at_most_the_shocked_price(book, s1, extra, depth):
    s = solver(book, V3_3, depth)
    b = s.run({"WETH": min(s1 + extra, 0.95)})
    assert b.prices_final[0] <= b.prices_shocked[0] * (1 + 1e-12)


def test_with_feedback_an_account_can_escape_the_deeper_shock():
    """With feedback the deeper shock's final price can be the higher one (the test below), and
    an account whose liquidation price lies between the two final prices is liquidated at the
    smaller shock only. The book of the test below, plus A2: 0.001 WETH against DAI at a
    liquidation price of $834.23 (debt 834.23 * 0.001 * 0.85), too small to move the pool."""
    base = [0, 0, 1, 1], [0, 2, 0, 2], [24.0, 0, 1.0, 0], [0, 38400.0, 0, 1700.0]
    s = solver(PositionBook.from_rows(*base, PARAMS.symbols), V3_3, 1e5)
    low = s.run({"WETH": 0.09375}).prices_final[0]
    high = s.run({"WETH": 0.125}).prices_final[0]
    liq_price = 834.23
    assert low < liq_price < high  # the deeper shock (-12.5 %) ends higher
    ids, assets, coll, debt = (list(x) for x in base)
    book = PositionBook.from_rows(ids + [2, 2], assets + [0, 2], coll + [0.001, 0.0],
                                  debt + [0.0, liq_price * 0.001 * 0.85], PARAMS.symbols)
    s = solver(book, V3_3, 1e5)
    shallow, deep = s.run({"WETH": 0.09375}), s.run({"WETH": 0.125})
    assert 2 in shallow.liquidated_accounts().tolist()
    assert 2 not in deep.liquidated_accounts().tolist()
    assert deep.prices_final[0] == pytest.approx(high, rel=1e-12)  # A2 never sold: same run as without it


def test_with_feedback_final_price_is_path_dependent():
    """A deeper shock can end at a (slightly) higher price: fixed-bonus liquidation is path dependent.

    Found by hypothesis and checked by hand. Pool: CPMM, $100k a side at $2000, fee 0.3 %.
    A0: 24 WETH / 38,400 DAI (HF0 1.0625); A1: 1 WETH / 1,700 DAI (HF0 1.0). v3.3 rules.

    -9.375 % (p = 1812.5): A0's HF is 0.9629 > 0.95 and its position is > $2000 a side, so
    the close factor is 50 %: repay 19,200 DAI for 19,200*1.05/1812.5 = 11.1228 WETH. A1
    (HF 0.906) is closed in full for 1,700*1.05/1812.5 = 0.98483 WETH. The sale crashes the
    pool, and A0 is then liquidated again far below, losing all of its remaining 12.877 WETH.
    WETH seized: 24 + 0.98483.

    -12.5 % (p = 1750): A0's HF is 0.9297 < 0.95, so it is closed in full at once, for
    38,400*1.05/1750 = 23.04 WETH; A1 is underwater and loses its 1 WETH. WETH seized:
    23.04 + 1 = 24.04, less than the shallower shock's, so the pool ends higher.
    """
    book = PositionBook.from_rows([0, 0, 1, 1], [0, 2, 0, 2], [24.0, 0, 1.0, 0], [0, 38400.0, 0, 1700.0], PARAMS.symbols)
    s = solver(book, V3_3, 1e5)
    a = s.run({"WETH": 0.09375})
    b = s.run({"WETH": 0.125})
    assert a.totals["seized"][0] == pytest.approx(24 + 1700 * 1.05 / 1812.5, rel=1e-12)
    assert b.totals["seized"][0] == pytest.approx(38400 * 1.05 / 1750 + 1, rel=1e-12)
    assert a.rounds >= 2 and b.rounds >= 1
    assert b.prices_final[0] > a.prices_final[0]


@SETTINGS
@given(books(multi_collateral=False), st.floats(0.0, 0.9), st.sampled_from([V3_0, V3_3]))
def test_without_impact_liquidated_set_is_liquidation_price_above_shocked(book, shock, version):
    s = solver(book, version, 1e6, impact=False)
    out = s.run({"WETH": shock})
    p = 2000.0 * (1 - shock)
    # static liquidation price of WETH: debt value / (WETH collateral * LT), with the
    # account's WETH debt valued at the same WETH price: HF(p) = c*p*LT / (d_usd + d_weth*p)
    c = np.bincount(book.account, weights=np.where(book.asset == 0, book.collateral, 0.0), minlength=book.n_accounts)
    d_usd = np.bincount(book.account, weights=np.where(book.asset != 0, book.debt, 0.0), minlength=book.n_accounts)
    d_weth = np.bincount(book.account, weights=np.where(book.asset == 0, book.debt, 0.0), minlength=book.n_accounts)
    denom = c * 0.85 - d_weth
    with np.errstate(divide="ignore", invalid="ignore"):
        liq_price = np.where(denom > 0, d_usd / denom, np.inf)
    has_debt = (d_usd + d_weth) > 0
    expected = has_debt & (liq_price > p) & (c > 0)
    # exclude measure-zero ties within float error of the boundary
    clear = np.abs(liq_price - p) > 1e-9 * p
    got = out.per_account(out.tallies.acct_calls) > 0
    assert np.array_equal(got[clear], expected[clear])


def test_jit_and_python_twins_agree():
    """The compiled sweep (forced on, whatever LIQCASCADE_DISABLE_JIT says) and its plain
    Python source give the same numbers on a multi-asset book."""
    from liqcascade._jit import jit_functions
    from liqcascade.protocols.aave_v3 import kernels_python

    compiled = jit_functions(kernels_python.FUNCTIONS, parallel=kernels_python.PARALLEL, enabled=True)
    rng = np.random.default_rng(3)
    n = 2000
    ids = np.repeat(np.arange(n), 3)
    assets = np.tile([0, 1, 2], n)
    coll = np.where(assets == 0, rng.lognormal(0, 1, 3 * n), np.where(assets == 2, rng.lognormal(7, 1, 3 * n), 0))
    hf = rng.uniform(0.6, 1.6, n)
    cap = (coll.reshape(n, 3) * np.array([2000 * 0.85, 0, 0.78])).sum(1) / hf
    debt = np.zeros(3 * n)
    debt[1::3] = cap * 0.7
    debt[2::3] = cap * 0.3
    book = PositionBook.from_rows(ids, assets, coll, debt, PARAMS.symbols)
    prices = PRICES * np.array([0.8, 1, 1])
    results = []
    for sweep in (compiled["sweep"], kernels_python.sweep):
        r = aave_sweep(sweep, V3_3, book, prices)
        arr, t = r.arrays, r.tallies
        results.append((r.found, r.calls, arr.coll.copy(), arr.debt.copy(), t.seized.copy(), t.deficit.copy(), r.q,
                        t.flows))
    (f1, c1, *a1), (f2, c2, *a2) = results
    assert (f1, c1) == (f2, c2) and c1 > 0
    for x, y in zip(a1, a2):
        np.testing.assert_allclose(x, y, rtol=1e-13, atol=0)


@st.composite
def rich_books(draw):
    """Multi-asset accounts, the same asset on both sides, e-mode, an LT-0 asset."""
    from liqcascade.model import AssetParams, EModeCategory, RiskParams

    params = RiskParams.from_assets(
        [AssetParams("WETH", 18, 0.8, 0.85, 0.05, 0.1, emode_category=1),
         AssetParams("stETH", 18, 0.7, 0.8, 0.07, 0.1, emode_category=1),
         AssetParams("USDC", 6, 0.75, 0.78, 0.045, 0.1),
         AssetParams("GHO", 18, 0.0, 0.0, 0.0, 0.0)],
        [EModeCategory(1, "ETH", 0.9, 0.93, 0.01)],
    )
    n = draw(st.integers(1, 25))
    ids, assets, coll, debt, emode = [], [], [], [], {}
    for k in range(n):
        emode[k] = draw(st.sampled_from([0, 1]))
        for a in range(4):
            if draw(st.booleans()):
                ids.append(k); assets.append(a)
                coll.append(draw(st.floats(0, 100.0)) * (1.0 if a < 2 else 2000.0))
                debt.append(draw(st.floats(0, 80.0)) * (1.0 if a < 2 else 1500.0) * draw(st.sampled_from([0.0, 1.0])))
    if not ids:
        ids, assets, coll, debt = [0], [0], [1.0], [0.0]
    return params, PositionBook.from_rows(ids, assets, coll, debt, params.symbols, emode=emode)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rich_books(), st.sampled_from([V3_0, V3_3, V3_7]), st.sampled_from(["largest", "max_bonus"]),
    st.lists(st.floats(-0.3, 0.8), min_size=2, max_size=2), st.booleans(), st.floats(1e4, 1e7),
)
def test_skipping_never_changes_the_result(pb, version, policy, shocks, buy_debt, depth):
    """The HF0 prefix and the per-account bounds skip only accounts that cannot be
    eligible: the results equal a run that checks every account every round. Several
    shocks run on one solver, so reused buffers are checked too."""
    from liqcascade.engine.static import StaticCascade as SC

    params, book = pb
    prices = np.array([2000.0, 1900.0, 1.0, 1.0])
    venues = {
        "WETH": ConstantProductPool.from_price_depth("WETH", 2000.0, depth),
        "stETH": ConstantProductPool.from_price_depth("stETH", 1900.0, depth / 2),
        "USDC": ConstantProductPool.from_price_depth("USDC", 1.0, 5 * depth),
    }
    model = MarketModel(book, AaveV3Rules(params, version, policy), prices, venues)
    cfg = CascadeSettings(buy_debt=buy_debt)
    fast = SC(model, cfg)

    class Brute(SC):
        def _prefix_len(self, bound):
            self.sort_all()  # the whole book in the order whose front the fast solver sorts
            return self.model.book.n_accounts

    brute_rules = AaveV3Rules(params, version, policy)
    orig_sweep = AaveV3Rules.sweep

    def sweep_all(self, arrays, prices, upto, tallies, limits, touched, q, cum_bound):
        q[:] = 0.0
        return orig_sweep(self, arrays, prices, upto, tallies, limits, touched, q, float("inf"))

    for s1, s2 in [(shocks[0], shocks[1]), (shocks[1], shocks[0])]:
        shock = {"WETH": s1, "stETH": s2}
        a = fast.run(shock)
        AaveV3Rules.sweep = sweep_all
        try:
            b = Brute(MarketModel(book, brute_rules, prices, venues), cfg).run(shock)
        finally:
            AaveV3Rules.sweep = orig_sweep
        assert a.rounds == b.rounds
        np.testing.assert_array_equal(a.prices_final, b.prices_final)
        np.testing.assert_array_equal(a.liquidated_accounts(), b.liquidated_accounts())
        for name in a.totals:
            np.testing.assert_array_equal(a.totals[name], b.totals[name], err_msg=name)


def test_same_numbers_on_one_or_two_threads(monkeypatch):
    """Fixed chunking: the parallel kernels give bit-identical results on any thread count."""
    import numba

    from liqcascade import _jit
    from liqcascade._jit import jit_enabled

    monkeypatch.setattr(_jit, "SERIAL_BELOW", 0)  # small books would run on one thread either way
    if not jit_enabled() or numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs the JIT and at least 2 numba threads to compare thread counts")

    from liqcascade.io.aave_config import load_aave_reserve_config
    from liqcascade.model.synthetic import synthetic_book

    snap = load_aave_reserve_config()
    book = synthetic_book(snap.params, snap.price_array, n_accounts=20_000, seed=3)
    px = snap.price_array
    venues = {"WETH": ConstantProductPool.from_price_depth("WETH", float(px[snap.params.index("WETH")]), 5e6)}
    model = MarketModel(book, AaveV3Rules(snap.params, V3_3), px, venues)
    shock = {"WETH": 0.25, "wstETH": 0.25}
    results = []
    old = numba.get_num_threads()
    try:
        for threads in (1, 2):
            numba.set_num_threads(threads)
            out = StaticCascade(model).run(shock)
            results.append((out.prices_final.tobytes(), out.arrays.coll.tobytes(), out.arrays.debt.tobytes(),
                            out.totals["seized"].tobytes(), out.tallies.acct_repaid_usd.tobytes()))
    finally:
        numba.set_num_threads(old)
    assert all(r == results[0] for r in results)
    assert len(results[0][0]) > 0


def test_outcomes_kept_across_runs_are_not_overwritten():
    """The solver reuses its per-account buffers run to run: an outcome kept with
    ``keep_arrays=True`` holds its own copies (a later, larger shock changes nothing in it), and
    a run after a larger one starts from a clean slate (the same numbers as a fresh solver)."""
    from liqcascade.io.aave_config import load_aave_reserve_config
    from liqcascade.model.synthetic import synthetic_book

    snap = load_aave_reserve_config()
    px = snap.price_array
    book = synthetic_book(snap.params, px, n_accounts=3_000, seed=8)
    venues = {"WETH": ConstantProductPool.from_price_depth("WETH", float(px[snap.params.index("WETH")]), 2e6)}
    model = MarketModel(book, AaveV3Rules(snap.params, V3_3), px, venues)
    solver = StaticCascade(model)
    small = solver.run({"WETH": 0.1})
    before = (small.tallies.acct_calls.copy(), small.tallies.acct_seized_usd.copy(), small.touched.copy())
    big = solver.run({"WETH": 0.5}, keep_arrays=False)
    assert big.touched.sum() > before[2].sum() > 0  # the larger shock reaches more accounts
    np.testing.assert_array_equal(small.tallies.acct_calls, before[0])
    np.testing.assert_array_equal(small.tallies.acct_seized_usd, before[1])
    np.testing.assert_array_equal(small.touched, before[2])
    again = solver.run({"WETH": 0.1})
    fresh = StaticCascade(model).run({"WETH": 0.1})
    # account by account (the two solvers have sorted different parts of the book: the working
    # orders agree on the accounts the runs looked at, not beyond)
    for a, b in ((again.tallies.acct_calls, fresh.tallies.acct_calls), (again.touched, fresh.touched),
                 (again.tallies.acct_repaid_usd, fresh.tallies.acct_repaid_usd)):
        assert again.per_account(a).tobytes() == fresh.per_account(b).tobytes()
    assert _coll_in_book_order(again).tobytes() == _coll_in_book_order(fresh).tobytes()


def _coll_in_book_order(out):
    """An outcome's end-of-run collateral column in the book's row order."""
    a, at = out.arrays, np.argsort(out.account_order)
    return np.concatenate([a.coll[a.offsets[j]:a.offsets[j + 1]] for j in at])
