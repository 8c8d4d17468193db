"""Depth that moves in time: the stress law by hand, the stale-bid cleaning on hand-made files,
and the shipped fit rebuilt from the shared 2025-10-10 data."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from liqcascade.errors import ConfigError, DataError
from liqcascade.markets.orderbook import DepthCurve
from liqcascade.markets.perp_depth import (
    DepthDynamics,
    StaleBid,
    _stale_runs,
    clean_book_depth,
    fit_depth_dynamics,
    load_dynamics,
    shipped_dynamics,
    stress_path,
)

from ..conftest import shared_file

CURVE = DepthCurve((0.01, 0.02), (100.0, 300.0))


def dyn(half_life_s: float = 600.0, kappa: float = 10.0) -> DepthDynamics:
    return DepthDynamics(CURVE, CURVE, half_life_s, kappa)


def test_step_decays_by_half_per_half_life_and_jumps_by_kappa_abs_return():
    d = dyn(600.0, 10.0)
    assert d.step(1.0, 600.0, 0.0) == pytest.approx(0.5)
    assert d.step(1.0, 1200.0, -0.02) == pytest.approx(0.25 + 0.2)
    assert d.step(0.0, 0.0, 0.03) == pytest.approx(0.3)


def test_profile_scales_every_bucket_by_exp_minus_stress():
    bids, asks = dyn().profile(math.log(10.0))
    assert bids.notional == pytest.approx((10.0, 30.0))
    assert asks.fractions == (0.01, 0.02)


@given(st.floats(0.0, 5.0), st.floats(1.0, 7200.0))
def test_stress_path_on_a_flat_price_is_geometric_decay(x0, t):
    d = dyn(900.0)
    out = stress_path(d, np.array([0.0, t / 2, t]), np.full(3, 100.0), x0)
    assert out[-1] == pytest.approx(x0 * 2.0 ** (-t / 900.0), abs=1e-12)


def test_bad_stress_and_steps_are_errors():
    with pytest.raises(ConfigError, match="stress"):
        dyn().profile(-0.1)
    with pytest.raises(ConfigError, match="dt_s"):
        dyn().step(0.0, -1.0, 0.0)
    with pytest.raises(ConfigError, match="half_life_s"):
        DepthDynamics(CURVE, CURVE, 0.0, 1.0)
    with pytest.raises(ConfigError, match="prices"):
        stress_path(dyn(), np.array([0.0, 1.0]), np.array([1.0, -1.0]))


# ---------------------------------------------------------------------- cleaning, by hand

KLINE_HEADER = ("open_time,open,high,low,close,volume,close_time,quote_volume,count,"
                "taker_buy_volume,taker_buy_quote_volume,ignore\n")
T0 = 1760054400  # 2025-10-10 00:00:00 UTC


def _files(tmp_path, mid: float, bid_raw, ask_raw, bid_1_tokens: float = 1.0):
    depth = tmp_path / "depth.csv"
    rows = ["timestamp,percentage,depth,notional"]
    for k, n in zip(range(1, 6), bid_raw):
        rows.append(f"2025-10-10 00:00:30,{-k},{bid_1_tokens if k == 1 else 1.0},{n}")
    for k, n in zip(range(1, 6), ask_raw):
        rows.append(f"2025-10-10 00:00:30,{k},1.0,{n}")
    depth.write_text("\n".join(rows) + "\n")
    kline = tmp_path / "kline.csv"
    kline.write_text(KLINE_HEADER + f"{T0 * 1000},{mid},{mid},{mid},{mid},0,{T0 * 1000 + 59999},0,60,0,0,0\n")
    return depth, kline


def test_snapshot_with_the_price_above_the_stale_bid_is_unchanged(tmp_path):
    raw = [10e6, 20e6, 30e6, 40e6, 50e6]
    depth, kline = _files(tmp_path, 130_000.0, raw, raw, bid_1_tokens=1e3)  # bids within 1 % average 10 000
    c = clean_book_depth(depth, kline, StaleBid(111_100.0, 1e6))
    assert not c.contaminated[0]
    assert c.bid[0] == pytest.approx(raw)
    assert c.ask[0] == pytest.approx(raw)


def test_contaminated_snapshot_is_remapped_to_true_distances(tmp_path):
    # mid 110 000 below a stale bid at 111 100: the feed's reference is (111 100 + 110 000)/2 = 110 550,
    # 1.005 x the mid. Bid bucket k reaches 1 - 1.005(1 - k) below the mid: 0.505 %, 1.51 %, ...,
    # 4.525 %; ask bucket k reaches 1.005(1 + k) - 1 above it: 1.505 %, ...
    bid_raw = [1e6 + 10e6, 1e6 + 20e6, 1e6 + 30e6, 1e6 + 40e6, 1e6 + 50e6]  # the 1 M stale bid in each
    ask_raw = [10e6, 20e6, 30e6, 40e6, 50e6]
    # bids within 1 %: 11 M USDT for 99.4 BTC, i.e. 110 664 per BTC, above the 110 000 mid: contaminated
    depth, kline = _files(tmp_path, 110_000.0, bid_raw, ask_raw, bid_1_tokens=99.4)
    c = clean_book_depth(depth, kline, StaleBid(111_100.0, 1e6))
    assert c.contaminated[0]
    # within 1 %: between (0.505 %, 10 M) and (1.51 %, 20 M)
    assert c.bid[0, 0] == pytest.approx(10e6 + 10e6 * (0.01 - 0.00505) / (0.0151 - 0.00505))
    assert math.isnan(c.bid[0, 4])  # 5 % lies beyond the deepest re-mapped bucket (4.525 %)
    assert c.ask[0, 0] == pytest.approx(10e6 * 0.01 / 0.01505)  # linear from zero to the first bucket


def test_bids_averaging_below_the_mid_are_live_even_below_the_stale_price(tmp_path):
    raw = [10e6, 20e6, 30e6, 40e6, 50e6]
    depth, kline = _files(tmp_path, 110_000.0, raw, raw, bid_1_tokens=100.0)  # 100 000 per BTC < mid
    c = clean_book_depth(depth, kline, StaleBid(111_100.0, 1e6))
    assert not c.contaminated[0]
    assert c.bid[0] == pytest.approx(raw)


def test_stale_runs_are_whole_runs_below_the_price_holding_a_crossed_snapshot():
    below = np.array([0, 1, 1, 1, 0, 1, 1, 0, 1], dtype=bool)
    crossed = np.array([0, 0, 0, 1, 0, 0, 0, 0, 1], dtype=bool)
    assert _stale_runs(below, crossed).tolist() == [0, 1, 1, 1, 0, 0, 0, 0, 1]


def test_missing_column_names_the_file(tmp_path):
    depth, kline = _files(tmp_path, 1.0, [1] * 5, [1] * 5)
    depth.write_text("timestamp,percentage,depth\n2025-10-10 00:00:30,-1,1\n")
    with pytest.raises(DataError, match="depth.csv.*notional"):
        clean_book_depth(depth, kline)


def test_bad_dynamics_file_is_an_error_naming_it(tmp_path):
    p = tmp_path / "dyn.json"
    p.write_text('{"half_life_s": 1}')
    with pytest.raises(DataError, match="dyn.json.*missing"):
        load_dynamics(p)


# ---------------------------------------------------------------------- the real data

DEPTH = "binance_futures_btcusdt_bookdepth_2025-10-10.csv"
PRICE = "binance_cm_btcusd_perp_1m_price_2025-10-09_10.csv"


def test_shipped_fit_is_what_the_command_builds_from_the_shared_data():
    fit = fit_depth_dynamics(shared_file(DEPTH), shared_file(PRICE))
    shipped = shipped_dynamics()
    assert shipped.half_life_s == pytest.approx(fit.dynamics.half_life_s, rel=1e-9)
    assert shipped.kappa == pytest.approx(fit.dynamics.kappa, rel=1e-9)
    assert shipped.bids.notional == pytest.approx(fit.dynamics.bids.notional, rel=1e-9)
    # what docs/perps.md says of it
    assert 25 * 60 < fit.dynamics.half_life_s < 35 * 60
    assert fit.r2_change > 0.5
    assert math.exp(fit.max_stress) > 20.0  # depth 20x thinner at the trough, not >100x


def test_cleaned_bid_depth_is_continuous_where_the_contamination_starts():
    """Evidence for the stale-bid reading: the price crosses below the stale bid near 15:00; the
    cleaned depth within 1 % of the half hour after matches the half hour before within 15 %."""
    c = clean_book_depth(shared_file(DEPTH), shared_file(PRICE))
    t15 = T0 + 15 * 3600
    before = np.nanmedian(c.bid[(c.times >= t15 - 1800) & (c.times < t15), 0])
    after = np.nanmedian(c.bid[(c.times >= t15) & (c.times < t15 + 1800), 0])
    assert not c.contaminated[c.times < t15 - 1800].any()
    assert c.contaminated[(c.times >= t15 + 3600)].all()
    assert after == pytest.approx(before, rel=0.15)


def test_docs_show_what_the_fit_command_prints(capsys):
    from liqcascade.markets.perp_depth import main

    from ..conftest import REPO

    main([str(shared_file(DEPTH)), str(shared_file(PRICE))])
    printed = capsys.readouterr().out.splitlines()
    page = (REPO / "docs" / "perps.md").read_text()
    block = page[page.index("$ python -m liqcascade.markets.perp_depth"):]
    shown = block.split("```")[0].splitlines()[1:]
    assert printed == [ln for ln in shown if ln]


def test_the_raw_crash_window_median_bid_near_the_mid_is_the_stale_bid_alone():
    """What docs/perps.md says of the raw feed's 20:50-21:30 median (which the shipped 'crash'
    depth file was until 2026-12-07; it is now the fit's calm book at the crash stress)."""
    from liqcascade.markets.orderbook import median_book_depth
    from liqcascade.markets.perp_depth import STALE_BID

    bids, _ = median_book_depth(shared_file(DEPTH), "2025-10-10 20:50", "2025-10-10 21:30")
    assert bids.notional[:2] == pytest.approx((STALE_BID.notional_usd, STALE_BID.notional_usd), rel=1e-9)


def test_horizon_fit_recovers_kappa_from_a_series_built_by_the_law():
    from liqcascade.markets.perp_depth import _horizon_fit

    rng = np.random.default_rng(7)
    a, kappa, n = 2.0 ** (-1.0 / 30.0), 8.0, 400
    r = rng.normal(0.0, 0.004, n)
    xm = np.empty(n)
    xm[0] = 0.5
    for m in range(1, n):  # x after minute m = a x + kappa |r of minute m|
        xm[m] = a * xm[m - 1] + kappa * abs(r[m])
    got, xs, xe, pred = _horizon_fit(xm, r, 15, a, np.ones(n, dtype=bool))
    assert got == pytest.approx(kappa, rel=1e-9)
    assert pred == pytest.approx(xe, rel=1e-9)
