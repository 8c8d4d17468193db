"""Oracle models (``liqcascade.markets.oracle``): hand-computed cases, twins, invariants.

Every expected number below is worked out by hand from the rule in the class docstring;
blocks are 12 s apart unless said otherwise.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liqcascade.errors import ConfigError, DataError
from liqcascade.markets import oracle_python as plain
from liqcascade.markets.oracle import (
    ChainlinkPush,
    Instant,
    MakerOSM,
    Oracle,
    Twap,
    chainlink_push_kernel,
    chainlink_quiet_kernel,
    chainlink_step_kernel,
    run_streaming,
)

BLOCK = 12


def blocks(n: int, t0: int = 0) -> np.ndarray:
    return t0 + BLOCK * np.arange(n, dtype=np.int64)


def step_path(n: int, at: int, before: float, after: float) -> np.ndarray:
    m = np.full(n, before)
    m[at:] = after
    return m


# --------------------------------------------------------------------------- Chainlink


def test_chainlink_step_of_0_6_pct_updates_at_that_block():
    t, m = blocks(50), step_path(50, 10, 100.0, 100.6)
    tr = ChainlinkPush(0.005, 3600).apply(t, m)
    assert np.flatnonzero(tr.updated).tolist() == [0, 10]
    assert tr.n_updates == 2
    assert np.all(tr.price[:10] == 100.0) and np.all(tr.price[10:] == 100.6)


def test_chainlink_step_of_0_4_pct_waits_for_the_heartbeat():
    # the round at block 0 (t=0) is 3600 s old at block 300 (t=3600): heartbeat round there
    t, m = blocks(700), step_path(700, 10, 100.0, 100.4)
    tr = ChainlinkPush(0.005, 3600).apply(t, m)
    assert np.flatnonzero(tr.updated).tolist() == [0, 300, 600]
    assert np.all(tr.price[:300] == 100.0) and np.all(tr.price[300:] == 100.4)


def test_chainlink_heartbeat_counts_from_the_last_round_not_from_the_start():
    # deviation round at block 10 (t=120) -> next heartbeat at t=3720, block 310
    m = step_path(400, 10, 100.0, 100.6)
    tr = ChainlinkPush(0.005, 3600).apply(blocks(400), m)
    assert np.flatnonzero(tr.updated).tolist() == [0, 10, 310]


def test_chainlink_delay_shifts_visibility():
    t, m = blocks(50), step_path(50, 10, 100.0, 100.6)
    tr = ChainlinkPush(0.005, 3600, delay_blocks=3).apply(t, m)
    # block 0's round lands at 3, block 10's at 13; the feed reads m0 before any landing
    assert np.flatnonzero(tr.updated).tolist() == [3, 13]
    assert np.all(tr.price[:13] == 100.0) and np.all(tr.price[13:] == 100.6)


def test_chainlink_trigger_compares_with_the_last_answer_not_the_visible_price():
    # with a 5-block delay, blocks 11..14 still see 100 while the answer in flight is 100.6:
    # no new round there (100.6 vs 100.6), only the one opened at block 10
    t, m = blocks(40), step_path(40, 10, 100.0, 100.6)
    tr = ChainlinkPush(0.005, 3600, delay_blocks=5).apply(t, m)
    assert np.flatnonzero(tr.updated).tolist() == [5, 15]


def test_chainlink_deviation_is_relative_to_the_last_round():
    # 100 -> 100.3 -> 100.6: 0.3 % then 0.6 % from the round at block 0 -> round at block 20;
    # then 100.9: 0.298 % from 100.6, no round; 101.2: 0.596 % -> round at block 40
    m = np.concatenate([np.full(10, 100.0), np.full(10, 100.3), np.full(10, 100.6), np.full(10, 100.9),
                        np.full(10, 101.2)])
    tr = ChainlinkPush(0.005, 3600).apply(blocks(50), m)
    assert np.flatnonzero(tr.updated).tolist() == [0, 20, 40]


def test_chainlink_that_never_updates_holds_the_first_price():
    rng = np.random.default_rng(3)
    m = 100 * np.exp(np.cumsum(rng.normal(0, 0.05, 5000)))
    tr = ChainlinkPush(math.inf, math.inf).apply(blocks(5000), m)
    assert np.all(tr.price == m[0])
    assert tr.n_updates == 1


def test_chainlink_is_per_column_on_a_matrix():
    a, b = step_path(50, 10, 100.0, 100.6), step_path(50, 20, 50.0, 50.2)
    tr = ChainlinkPush().apply(blocks(50), np.column_stack([a, b]))
    assert tr.n_updates.tolist() == [2, 1]
    assert np.array_equal(tr.price[:, 0], ChainlinkPush().apply(blocks(50), a).price)


def test_chainlink_updates_are_not_monotone_in_the_threshold_in_general():
    """A hand-made path on which the higher threshold updates more often (heartbeat off).

    d=1 %: 98.9 is −1.1 % from 100 (round); 98.4 is −0.51 % from 98.9 and 99.88 +0.99 %:
    no more rounds -> 2. d=1.5 %: 98.9 is −1.1 % (none); 98.4 is −1.6 % from 100 (round);
    99.88 is +1.504 % from 98.4 (round) -> 3. So "fewer updates with a wider threshold"
    holds only on monotone paths (tested below), not as a law.
    """
    m = np.array([100.0, 98.9, 98.4, 99.88])
    t = blocks(4)
    assert ChainlinkPush(0.01, math.inf).apply(t, m).n_updates == 2
    assert ChainlinkPush(0.015, math.inf).apply(t, m).n_updates == 3


# --------------------------------------------------------------------------- TWAP


@pytest.mark.parametrize("kind", ["geometric", "arithmetic"])
def test_twap_of_a_constant_is_the_constant(kind):
    tr = Twap(600, kind).apply(blocks(200, t0=1_700_000_000), np.full(200, 1234.5))
    np.testing.assert_allclose(tr.price, 1234.5, rtol=1e-12)
    assert tr.n_updates == 200


def test_twap_of_a_step_is_the_time_weighted_mix():
    # 100 on [0, 60), 110 from t=60 (block 5); window 60 s over [t-60, t)
    t, m = blocks(12), step_path(12, 5, 100.0, 110.0)
    ari = Twap(60, "arithmetic").apply(t, m).price
    geo = Twap(60, "geometric").apply(t, m).price
    # block 5, t=60: [0,60) all 100 (the block's own price does not count yet)
    assert ari[5] == pytest.approx(100.0, rel=1e-12)
    # block 6, t=72: [12,72) = 48 s at 100 + 12 s at 110
    assert ari[6] == pytest.approx((48 * 100 + 12 * 110) / 60, rel=1e-12)
    # block 7, t=84: 36 s at 100 + 24 s at 110 = 104
    assert ari[7] == pytest.approx(104.0, rel=1e-12)
    assert geo[7] == pytest.approx(100**0.6 * 110**0.4, rel=1e-12)
    # block 10, t=120: [60,120) all 110
    assert ari[10] == pytest.approx(110.0, rel=1e-12) and geo[10] == pytest.approx(110.0, rel=1e-12)
    # the geometric mean never exceeds the arithmetic one
    assert np.all(geo <= ari * (1 + 1e-12))


def test_twap_window_not_a_multiple_of_the_block_time():
    # window 30 s at t=84 (block 7): [54, 84) = 6 s at 100 (block 4) + 24 s at 110
    t, m = blocks(12), step_path(12, 5, 100.0, 110.0)
    assert Twap(30, "arithmetic").apply(t, m).price[7] == pytest.approx((6 * 100 + 24 * 110) / 30, rel=1e-12)


def test_twap_history_before_the_path_is_flat_at_the_first_price():
    # block 1, t=12, window 60: [-48, 12) all at m0=100 even though m1 = 200
    t, m = blocks(3), np.array([100.0, 200.0, 200.0])
    tr = Twap(60, "arithmetic").apply(t, m)
    assert tr.price[0] == 100.0 and tr.price[1] == pytest.approx(100.0, rel=1e-12)
    # block 2, t=24: 48 s at 100 and 12 s at 200
    assert tr.price[2] == pytest.approx((48 * 100 + 12 * 200) / 60, rel=1e-12)


# --------------------------------------------------------------------------- Maker OSM


def test_osm_delays_by_exactly_one_hop():
    # one price per block; hop 3600 s = 300 blocks; pokes at blocks 0 (construction), 300, 600, 900
    n = 1200
    t, m = blocks(n), 1000.0 + np.arange(n)
    tr = MakerOSM(3600).apply(t, m)
    assert np.flatnonzero(tr.updated).tolist() == [0, 300, 600, 900]
    # hour 0 and hour 1 read m0 (cur = nxt = m0 at construction, then cur = that nxt)
    assert np.all(tr.price[:600] == 1000.0)
    # hour k >= 1 reads the price poked at the start of hour k-1
    assert np.all(tr.price[600:900] == m[300]) and np.all(tr.price[900:] == m[600])


def test_osm_pokes_on_hop_boundaries_not_hop_after_start():
    # start at t=1000: construction sets zzz = 0, so the first poke is at t >= 3600, not 4600
    n = 600
    t = blocks(n, t0=1000)
    m = 50.0 + np.arange(n)
    tr = MakerOSM(3600).apply(t, m)
    first = int(np.ceil((3600 - 1000) / BLOCK))  # block 217, t=3604
    second = int(np.ceil((7200 - 1000) / BLOCK))  # block 517, t=7204
    assert np.flatnonzero(tr.updated).tolist() == [0, first, second]
    assert np.all(tr.price[:second] == 50.0) and np.all(tr.price[second:] == m[first])


def test_osm_skips_hops_without_blocks():
    # blocks at t = 0, 100, 9000 (two hops later), 9100, 11000: pokes at 0, 9000, 11000
    t = np.array([0, 100, 9000, 9100, 11000], dtype=np.int64)
    m = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    tr = MakerOSM(3600).apply(t, m)
    assert tr.updated.tolist() == [True, False, True, False, True]
    # poke at 9000: cur <- nxt (=1.0 from construction), nxt <- 3; poke at 11000: cur <- 3
    assert tr.price.tolist() == [1.0, 1.0, 1.0, 1.0, 3.0]


# --------------------------------------------------------------------------- Instant


def test_instant_is_the_market():
    m = np.array([1.0, 2.0, 0.5])
    tr = Instant().apply(blocks(3), m)
    assert np.array_equal(tr.price, m) and tr.n_updates == 3


# --------------------------------------------------------------------------- the two faces agree

ORACLES = [
    Instant(),
    ChainlinkPush(0.005, 3600),
    ChainlinkPush(0.003, 600, delay_blocks=4),
    ChainlinkPush(math.inf, math.inf, delay_blocks=1),
    Twap(1800, "geometric"),
    Twap(100, "arithmetic"),
    MakerOSM(3600),
    MakerOSM(600),
]


@pytest.mark.parametrize("oracle", ORACLES, ids=repr)
@pytest.mark.parametrize("n_assets", [None, 3])
def test_streaming_and_batch_agree(oracle, n_assets):
    rng = np.random.default_rng(11)
    n = 1500
    shape = (n,) if n_assets is None else (n, n_assets)
    m = 2000 * np.exp(np.cumsum(rng.normal(0, 0.002, shape), axis=0))
    t = 1_690_000_007 + np.cumsum(rng.integers(1, 30, n)).astype(np.int64)  # irregular blocks
    batch = oracle.apply(t, m)
    stream = run_streaming(oracle, t, m)
    assert isinstance(oracle, Oracle)
    np.testing.assert_allclose(stream.price, batch.price, rtol=1e-12)
    assert np.array_equal(stream.updated, batch.updated)
    assert np.array_equal(np.asarray(stream.n_updates), np.asarray(batch.n_updates))


def test_streaming_state_is_not_mutated():
    o = ChainlinkPush(0.005, 3600, delay_blocks=2)
    s0 = o.init(np.array([100.0, 200.0]), 0)
    snapshot = [np.array(x, copy=True) for x in s0]
    s1, p1 = o.step(s0, 12, np.array([101.0, 200.0]))
    s2, p2 = o.step(s0, 12, np.array([101.0, 200.0]))
    for a, b in zip(s0, snapshot):
        assert np.array_equal(a, b)
    assert np.array_equal(p1, p2) and np.array_equal(s1.pending_answer, s2.pending_answer)


def test_streaming_counts_updates_in_the_state():
    o = ChainlinkPush(0.005, 3600)
    s = o.init(100.0, 0)
    assert o.read(s) == 100.0 and bool(s.updated) and int(s.n_updates) == 1
    s, p = o.step(s, 12, 100.4)
    assert p == 100.0 and not bool(s.updated)
    s, p = o.step(s, 24, 100.6)
    assert p == 100.6 and bool(s.updated) and int(s.n_updates) == 2


def test_jit_and_plain_twins_agree():
    rng = np.random.default_rng(5)
    n, k = 3000, 4
    m = np.ascontiguousarray(100 * np.exp(np.cumsum(rng.normal(0, 0.003, (n, k)), axis=0)))
    t = np.cumsum(rng.integers(1, 25, n)).astype(np.int64)
    for dev, hb, d in [(0.005, 3600.0, 0), (0.002, 300.0, 7), (math.inf, math.inf, 0)]:
        outs = []
        for fn in (plain.chainlink_push, chainlink_push_kernel):
            r, p, u = np.empty((n, k), bool), np.empty((n, k)), np.empty((n, k), bool)
            fn(t, m, dev, hb, d, r, p, u)
            outs.append((r, p, u))
        for a, b in zip(*outs):
            assert np.array_equal(a, b)


@pytest.mark.parametrize("fn", [plain.chainlink_quiet, chainlink_quiet_kernel], ids=["python", "jit"])
@settings(max_examples=60, deadline=None)
@given(rows=st.integers(0, 6), k=st.integers(1, 5), seed=st.integers(0, 2**32 - 1),
       deviation=st.sampled_from([0.0, 0.005, 0.02, math.inf]), heartbeat=st.sampled_from([30.0, 3600.0, math.inf]),
       bad=st.sampled_from([None, math.nan, math.inf, 0.0, -1.0]))
def test_chainlink_quiet_is_the_first_row_that_opens_a_round(fn, rows, k, seed, deviation, heartbeat, bad):
    """The rows before the first that opens a round or holds a price ``step`` refuses: the
    NumPy expressions ``quiet_blocks`` used before, row by row (and ``step`` opens no round on
    those rows, below)."""
    rng = np.random.default_rng(seed)
    answer = 100.0 * rng.lognormal(0, 0.5, k)
    answer_t = rng.integers(0, 100, k).astype(np.int64)
    m = np.ascontiguousarray(answer * (1.0 + rng.choice([0.0, 0.001, -0.004, 0.01, -0.03], (rows, k))))
    if bad is not None and rows:
        m[rng.integers(0, rows), rng.integers(0, k)] = bad
    times = 100 + np.arange(rows, dtype=np.int64) * 12
    with np.errstate(invalid="ignore"):
        fire = np.abs(m / answer - 1.0) >= deviation
    fire |= (times[:, None] - answer_t) >= heartbeat
    stop = fire.any(axis=1) | ~(np.isfinite(m) & (m > 0.0)).all(axis=1)
    want = int(np.argmax(stop)) if stop.any() else rows
    assert fn(times, m, answer, answer_t, deviation, heartbeat) == want


def test_chainlink_quiet_blocks_then_step_agree():
    """Three blocks within 0.5 % and the heartbeat, then a 0.6 % move: three quiet blocks, and
    ``step`` opens its round at the fourth."""
    o = ChainlinkPush(0.005, 3600)
    s = o.init(np.array([100.0, 50.0]), 0)
    m = np.array([[100.1, 50.0], [99.6, 50.2], [100.4, 49.9], [100.6, 50.0]])
    n, quiet = o.quiet_blocks(s, blocks(4, 12), m)
    assert n == 3 and quiet.block == 3 and not quiet.updated.any()
    _, p = o.step(quiet, 48, m[3])
    assert p.tolist() == [100.6, 50.0]


@pytest.mark.parametrize("fn", [plain.chainlink_step, chainlink_step_kernel], ids=["python", "jit"])
@settings(max_examples=60, deadline=None)
@given(k=st.integers(1, 6), seed=st.integers(0, 2**32 - 1), deviation=st.sampled_from([0.0, 0.005, math.inf]),
       heartbeat=st.sampled_from([30.0, 3600.0, math.inf]))
def test_chainlink_step_kernel_is_the_numpy_step(fn, k, seed, deviation, heartbeat):
    """A block of a feed without delay: the NumPy expressions ``step`` used before, per column."""
    rng = np.random.default_rng(seed)
    answer = 100.0 * rng.lognormal(0, 0.5, k)
    answer_t, n_up = rng.integers(0, 100, k).astype(np.int64), rng.integers(0, 9, k).astype(np.int64)
    visible = answer * rng.choice([1.0, 0.99], k)
    m = answer * (1.0 + rng.choice([0.0, 0.001, -0.004, 0.01, -0.03], k))
    t = 120
    fire = (np.abs(m / answer - 1.0) >= deviation) | ((t - answer_t) >= heartbeat)
    out = (np.empty(k), np.empty(k, np.int64), np.empty(k), np.empty(k, dtype=bool), np.empty(k, np.int64))
    fn(m, t, answer, answer_t, visible, n_up, deviation, heartbeat, *out)
    assert out[0].tolist() == np.where(fire, m, answer).tolist()
    assert out[1].tolist() == np.where(fire, np.int64(t), answer_t).tolist()
    assert out[2].tolist() == np.where(fire, m, visible).tolist()
    assert out[3].tolist() == fire.tolist() and out[4].tolist() == (n_up + fire).tolist()


# --------------------------------------------------------------------------- properties

prices = st.lists(st.floats(0.5, 2.0), min_size=2, max_size=60)
gaps = st.integers(1, 900)


@st.composite
def paths(draw):
    ratios = draw(prices)
    n = len(ratios)
    dt = draw(st.lists(gaps, min_size=n, max_size=n))
    t = np.cumsum(np.array(dt, dtype=np.int64))
    return t, 100.0 * np.cumprod(np.array(ratios) ** 0.02)


@settings(max_examples=150, deadline=None)
@given(paths(), st.floats(0.0005, 0.05), st.sampled_from([60.0, 600.0, 3600.0, math.inf]), st.integers(0, 5))
def test_chainlink_reads_a_past_market_price(path, dev, hb, delay):
    t, m = path
    tr = ChainlinkPush(dev, hb, delay).apply(t, m)
    for i in range(t.size):
        # landed answers are market prices at least `delay` blocks old; before any landing, m0
        past = m[: max(i - delay, 0) + 1]
        assert tr.price[i] in past
    assert np.all(tr.updated[:delay] == False)  # noqa: E712


@settings(max_examples=150, deadline=None)
@given(paths(), st.floats(0.0005, 0.05), st.floats(0.0005, 0.05), st.sampled_from([60.0, 3600.0, math.inf]),
       st.booleans())
def test_chainlink_updates_non_increasing_in_threshold_on_monotone_paths(path, d1, d2, hb, rising):
    """On a monotone path a wider threshold never updates more often.

    Induction on rounds: with d1 ≤ d2 the k-th d1-round is never later than the k-th
    d2-round, so its answer is never further along the path; its next deviation or
    heartbeat trigger then comes no later either.
    """
    t, m = path
    m = np.sort(m) if rising else np.sort(m)[::-1].copy()
    lo, hi = sorted((d1, d2))
    assert ChainlinkPush(hi, hb).apply(t, m).n_updates <= ChainlinkPush(lo, hb).apply(t, m).n_updates


@settings(max_examples=150, deadline=None)
@given(paths(), st.floats(0.0005, 0.05), st.sampled_from([60.0, 600.0, 3600.0]))
def test_chainlink_update_count_between_heartbeat_only_and_every_block(path, dev, hb):
    """Heartbeat alone gives the fewest rounds (any extra round only pulls the next
    heartbeat earlier); deviation 0 gives a round at every block."""
    t, m = path
    n = ChainlinkPush(dev, hb).apply(t, m).n_updates
    assert ChainlinkPush(math.inf, hb).apply(t, m).n_updates <= n <= t.size
    assert ChainlinkPush(0.0, math.inf).apply(t, m).n_updates == t.size


@settings(max_examples=100, deadline=None)
@given(paths(), st.floats(0.0005, 0.05), st.sampled_from([600.0, 3600.0]))
def test_chainlink_answer_stays_within_the_threshold_between_rounds(path, dev, hb):
    """Between rounds the market never strays the threshold away from the answer."""
    t, m = path
    tr = ChainlinkPush(dev, hb).apply(t, m)
    quiet = ~tr.updated
    assert np.all(np.abs(m[quiet] / tr.price[quiet] - 1.0) < dev)


@settings(max_examples=100, deadline=None)
@given(paths(), st.integers(1, 4000))
def test_twap_lies_within_the_prices_in_force_over_the_window(path, window):
    """The value read at block i averages the prices in force over [t_i − W, t_i): those of
    blocks j..i−1, where j is the last block at or before t_i − W (block 0 if none)."""
    t, m = path
    for kind in ("geometric", "arithmetic"):
        p = Twap(window, kind).apply(t, m).price
        for i in range(t.size):
            j = max(int(np.searchsorted(t, t[i] - window, side="right")) - 1, 0)
            cand = m[j : max(i, j + 1)]
            # 1e-9: rounding of the running integrals (see the Twap docstring)
            assert cand.min() * (1 - 1e-9) <= p[i] <= cand.max() * (1 + 1e-9)


# --------------------------------------------------------------------------- bad input


def test_bad_times_name_the_row():
    with pytest.raises(DataError, match="row 3"):
        Instant().apply(np.array([0, 12, 12, 36]), np.ones(4))
    with pytest.raises(DataError, match="int64"):
        Instant().apply(np.array([0.0, 12.0]), np.ones(2))


def test_bad_prices_name_the_row():
    with pytest.raises(DataError, match="row 2"):
        ChainlinkPush().apply(blocks(3), np.array([1.0, 0.0, 1.0]))
    with pytest.raises(DataError, match="shape"):
        ChainlinkPush().apply(blocks(3), np.ones(4))


@pytest.mark.parametrize(
    "make",
    [
        lambda: ChainlinkPush(deviation=-0.1),
        lambda: ChainlinkPush(heartbeat_s=0),
        lambda: ChainlinkPush(delay_blocks=-1),
        lambda: ChainlinkPush(delay_blocks=1.5),
        lambda: Twap(0),
        lambda: Twap(60, "harmonic"),
        lambda: MakerOSM(0),
    ],
)
def test_bad_config_is_a_config_error(make):
    with pytest.raises(ConfigError):
        make()
