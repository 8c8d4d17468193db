"""The points of a cascade curve: one book under a grid of shocks.

Each point is the fixed point of :class:`~liqcascade.engine.static.StaticCascade` from its
shock, the same numbers bit for bit as a run of that shock alone (``tests/engine/test_curve.py``
checks every point against a fresh solver). The points share the solver's set-up (the rows'
parameters, the book sorted by pre-shock health, the working buffers) and nothing else, so
they are independent and can run side by side: with more than one numba thread the points
are shared among as many Python threads, each point on one numba thread in a solver of its
own (:meth:`StaticCascade.twin`), instead of one point at a time on all threads. A point's
rounds are mostly serial work between short parallel sweeps (the venues' trades, the resets,
the totals), and the compiled kernels release the GIL, so two points at once keep both cores
busier than one point on two (``docs/benchmarks.md`` has the measurements).

The threads take the costliest points first (:func:`costliest_first`). A curve's points move one
set of assets by one factor each, so each account's counted collateral and debt split once into
the moved assets' part and the rest (:class:`Direction`) give its HF at every point's shocked
prices; the first round of a point then skips, without reading their rows, the accounts that
bound rules out, where HF0 alone (the solver's bound) would have it check them. For rules
whose HF moves only with the prices of the assets an account holds (``priced_by_rows``), the
later rounds after a large price move do the same with each untouched account's held assets
(:class:`HeldAssets`): a thin venue's crash moves a few assets, and the accounts holding none
of them keep their HF. The skipped accounts cannot be eligible, so the numbers are the same.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass
from typing import Callable

import numpy as np

from liqcascade._jit import jit_enabled
from liqcascade._typing import FloatArray
from liqcascade.engine.curve_kernels import (
    MASK_ASSETS, MASK_BYTES, asset_masks, byte_extremes, first_round_bounds, held_bounds, split_values,
)
from liqcascade.engine.static import CascadeOutcome, StaticCascade
from liqcascade.protocols.base import HF_INF


@dataclass(frozen=True)
class CurvePoint:
    """What a curve keeps of one cascade (prices and per-asset totals in the market's asset
    order; USD totals as :meth:`StaticCascade.totals` gives them)."""

    prices0: FloatArray
    prices_shocked: FloatArray
    prices_final: FloatArray
    seized: FloatArray
    repaid: FloatArray
    deficit: FloatArray
    rounds: int
    converged: bool
    collateral_seized_usd: float
    debt_repaid_usd: float
    bad_debt_usd: float
    accounts_liquidated: int


@dataclass(frozen=True)
class Direction:
    """The accounts' values split along a curve's direction: the points move one set of assets
    (``group``) by one factor ``f = 1 - shock`` each and leave the others. By working position
    of a fully sorted solver's book: counted collateral value (LT-weighted, as its HF counts it)
    and debt value at the reference prices, of the group's rows (``wg``, ``dg``) and of the
    others (``wo``, ``do``). HF is linear in each asset's price in numerator and denominator
    (the rules the curve uses this for), so at factor ``f`` it is
    ``(wg f + wo) / (dg f + do)``. Shared by a solver and its twins (the same sorted book)."""

    group: np.ndarray
    wg: FloatArray
    wo: FloatArray
    dg: FloatArray
    do: FloatArray
    held: "HeldAssets | None" = None
    """The assets each account holds, for the later rounds' bounds (rules ``priced_by_rows``)."""

    @classmethod
    def of(cls, solver: StaticCascade, shocks: FloatArray) -> "Direction | None":
        """The direction of ``shocks`` (points x assets) if every row moves the same assets by one
        amount (or none), with factors ``f`` in [0.01, 11) where the split's rounding is far
        below the bound's safety margin; None otherwise, or for rules whose liquidations move
        other accounts or that liquidate softly (their sweeps keep no such bounds)."""
        caps = solver.model.rules.capabilities
        if caps.global_effects or caps.soft_liquidation or shocks.shape[0] == 0:
            return None
        group = (shocks != 0.0).any(axis=0)
        if not group.any():
            return None
        picked = shocks[:, group]
        f = 1.0 - picked[:, 0]
        moved = (picked != 0.0).any(axis=1)
        if not ((picked == picked[:, :1]).all() and (picked[moved] != 0.0).all() and (f >= 0.01).all()):
            return None
        solver.sort_all()  # the split is by working position of the full sort
        rules, base = solver.model.rules, solver.book_arrays
        p0 = np.asarray(solver.model.prices, dtype=np.float64)
        everyone = np.arange(base.n_accounts, dtype=np.int64)
        v0 = rules.health(base, p0, everyone)
        vh = rules.health(base, np.where(group, 0.5 * p0, p0), everyone)
        parts = [np.empty(base.n_accounts) for _ in range(4)]
        split_values(v0.hf, v0.debt_usd, vh.hf, vh.debt_usd, *parts)
        return cls(group, *parts, HeldAssets.of(solver))

    def factor(self, shock: FloatArray) -> float:
        """The point's factor ``f`` (1 for the unshocked point)."""
        return float(1.0 - shock[self.group][0])

    def bounds(self, shock: FloatArray) -> Callable[[int, float, FloatArray], None]:
        """The ``first_bounds`` of :meth:`StaticCascade.run` for the point ``shock``."""
        f = self.factor(shock)
        return lambda upto, c1, q: first_round_bounds(upto, f, c1, self.wg, self.wo, self.dg, self.do, q)


@dataclass(frozen=True)
class HeldAssets:
    """By working position of a fully sorted solver's book: the bits of the assets each account
    holds as collateral (``cmask``) and owes (``dmask``), and its HF at the reference prices
    (``hf0``, the solver's). For rules ``priced_by_rows`` these bound the HF of an account no
    liquidation has touched at any prices (:func:`~liqcascade.engine.curve_kernels_python.held_bounds`):
    the later rounds of a cascade move the prices of the assets sold, and the accounts holding
    none of them need not be read."""

    p0: FloatArray
    hf0: FloatArray
    cmask: np.ndarray
    dmask: np.ndarray

    @classmethod
    def of(cls, solver: StaticCascade) -> "HeldAssets | None":
        """The held assets of ``solver``'s book (sorted in full here), or None for rules not
        ``priced_by_rows`` or a market of more than :data:`MASK_ASSETS` assets."""
        m = solver.model
        if not m.rules.capabilities.priced_by_rows or len(m.assets) > MASK_ASSETS:
            return None
        solver.sort_all()
        base = solver.book_arrays
        cmask = np.empty(base.n_accounts, dtype=np.uint32)  # MASK_BYTES bytes
        dmask = np.empty(base.n_accounts, dtype=np.uint32)
        asset_masks(base.offsets, base.asset, base.coll, base.debt, cmask, dmask)
        return cls(np.asarray(m.prices, dtype=np.float64), solver.hf0_working, cmask, dmask)

    def bounds(
        self, upto: int, prices: FloatArray, step: float, cum_bound: float, q: FloatArray, touched: np.ndarray
    ) -> None:
        """The ``later_bounds`` of :meth:`StaticCascade.run`: tighten ``q`` before a round at
        ``prices`` whose price-ratio spread stays within :data:`HELD_SPREAD` (where the
        bound's rounding stays far below its safety margin; a round beyond it keeps ``q``) and
        whose price-move bound ``step`` from the round before is at least :data:`HELD_STEP`."""
        ratio = prices / self.p0
        if step < HELD_STEP or not (ratio.min() > 0.0 and ratio.max() / ratio.min() < HELD_SPREAD):
            return
        lo, hi = np.empty((MASK_BYTES, 256)), np.empty((MASK_BYTES, 256))
        byte_extremes(ratio, lo, hi)
        held_bounds(upto, cum_bound, lo, hi, self.hf0, self.cmask, self.dmask, touched, q)


HELD_STEP = 1.5
"""Smallest price-move bound of a round (from the round before) for which the held-asset bounds
are computed: the pass reads every account's bound and the held assets of the ones the round
would check (about 4 ms on the 1M book), worth it when prices moved so far that the round would
check most accounts (thin venues' crash rounds, steps of 5 to 300), not for the last rounds'
small moves (steps of 1.01 to 1.1, a few thousand accounts checked)."""

HELD_SPREAD = 1e6
"""Largest ratio of the highest to the lowest price ratio (to the reference prices) at which the
held-asset bounds are used: the HF they start from is a float sum (relative rounding ~1e-15),
which the spread can magnify to at most ~1e-9 x 1e-3 here, below :data:`BOUND_SAFETY`."""


def run_point(solver: StaticCascade, shock: FloatArray, direction: Direction | None = None) -> CurvePoint:
    """One cascade of ``shock`` (per asset) on ``solver``, reduced to what the curve reports;
    with the curve's ``direction``, its first round skips what the split rules out, and its
    later rounds what the held assets rule out."""
    held = None if direction is None or direction.held is None else direction.held.bounds
    out = solver.run(shock, keep_arrays=False, first_bounds=None if direction is None else direction.bounds(shock),
                     later_bounds=held)
    t, a = out.totals, out.tallies
    # the sums of StaticCascade.totals, the same reductions over the same arrays (so the same
    # bits), without the counts and totals a curve does not report
    bad_remaining = unrecoverable_touched(solver, out)
    return CurvePoint(
        out.prices0, out.prices_shocked, out.prices_final, t["seized"].copy(), t["repaid"].copy(),
        t["deficit"].copy(), out.rounds, out.converged, float(a.acct_seized_usd.sum()),
        float(a.acct_repaid_usd.sum()), float(a.acct_bad_debt_usd.sum()) + bad_remaining,
        int(np.count_nonzero(a.acct_calls)),  # calls are never negative
    )


def unrecoverable_touched(solver: StaticCascade, out: CascadeOutcome) -> float:
    """The sum of the rules' ``unrecoverable_debt`` over the accounts ``out`` touched, as the
    array of them all in working order sums it. For rules with ``debt_free_bound`` the accounts
    whose bound says they had no debt left (most liquidated accounts repay all of it) are not
    read, nor, when :func:`lowest_price_ratio` is at least :data:`UNDERFLOW_RATIO`, the ones
    whose bound says they hold collateral: their entries are 0, as the rules would give, so a
    sum of only zeros is 0, and otherwise the entries read are put among zeros at their places
    and summed as the whole array (the same terms in the same order: the same bits)."""
    rules, touched = solver.model.rules, np.flatnonzero(out.touched)
    if not rules.capabilities.debt_free_bound:
        return float(rules.unrecoverable_debt(out.arrays, out.prices_final, touched).sum())
    q = solver.hf_bounds[touched]
    if lowest_price_ratio(solver.model.assets, out) >= UNDERFLOW_RATIO:
        read = np.flatnonzero(~((q > 0.0) & (q <= HF_INF)))  # skip: HF_INF (no debt) or a positive bound
    else:
        read = np.flatnonzero(q != HF_INF)
    part = rules.unrecoverable_debt(out.arrays, out.prices_final, touched[read])
    if not part.any():
        return 0.0  # the whole array is +0.0 (the rules give 0.0 where no debt is unrecoverable)
    bad = np.zeros(touched.shape[0])
    bad[read] = part
    return float(bad.sum())


def lowest_price_ratio(assets: tuple[str, ...], out: CascadeOutcome) -> float:
    """The lowest ratio over assets of the final price to the highest price any round of ``out``
    saw (the shocked prices and the prices after each round, from its round rows)."""
    high = np.array(out.prices_shocked, dtype=np.float64)
    where = {a: i for i, a in enumerate(assets)}
    for row in out.round_rows:
        i = where[row["asset"]]
        high[i] = max(high[i], row["price_after"])
    return float(np.min(out.prices_final / high))


UNDERFLOW_RATIO = 1e-140
"""Lowest final-to-highest price ratio (:func:`lowest_price_ratio`) at which an account whose
bound says it holds collateral is taken to hold some at the final prices without reading it:
it had at least ``BOUND_COLLATERAL_FLOOR`` (1e-100) USD at some round's prices, so one of its
rows (of at most 1e9) held 1e-109 USD or more, and at the final prices at least ~1e-249: no
product of amount and price underflows to 0."""


def default_workers(points: int) -> int:
    """Python threads for a curve of ``points`` points: numba's thread count (one point per
    thread), one without the JIT (plain-Python kernels hold the GIL) and one on numba's
    ``workqueue`` threading layer, which must not launch parallel kernels from two threads at once
    (``omp`` and ``tbb`` may)."""
    if not jit_enabled() or points < 2:
        return 1
    import numba

    try:
        layer = numba.threading_layer()
    except ValueError:  # no parallel kernel has run yet: the layer is not chosen
        return 1
    if layer not in THREADSAFE_LAYERS:
        return 1
    return max(1, min(numba.get_num_threads(), points))


THREADSAFE_LAYERS = ("omp", "tbb")
"""numba threading layers that accept parallel kernels launched from several threads at once."""


def curve_points(
    solver: StaticCascade,
    shocks: FloatArray,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[CurvePoint]:
    """The cascade of every row of ``shocks`` (points x assets, fractional drops) on ``solver``'s
    market, in row order. ``workers``: threads running points at once (default
    :func:`default_workers`); the numbers do not depend on it. ``progress(done, total)`` is called
    from the calling thread before the first point and after each point."""
    n = shocks.shape[0]
    workers = default_workers(n) if workers is None else max(1, min(int(workers), n))
    if progress is not None:
        progress(0, n)
    if workers == 1:
        direction = Direction.of(solver, shocks)
        out = []
        for k in range(n):
            out.append(run_point(solver, shocks[k], direction))
            if progress is not None:
                progress(k + 1, n)
        return out
    return _threaded(solver, shocks, workers, progress)


def _threaded(
    solver: StaticCascade, shocks: FloatArray, workers: int, progress: Callable[[int, int], None] | None
) -> list[CurvePoint]:
    """:func:`curve_points` on ``workers`` threads, each with a solver of its own and one numba
    thread, taking the next point when it is done with one, the costliest first (see
    :func:`costliest_first`): the points differ in cost, and a costly point taken last would
    keep one thread busy after the others have finished. The first twin's thread also finds the
    curve's :class:`Direction` while the first points run; the points that start after it use it
    (the numbers are the same with or without it)."""
    n = shocks.shape[0]
    solver.sort_all()  # before any thread starts: the twins share the sorted book
    results: list[CurvePoint | None] = [None] * n
    done: queue.Queue[BaseException | None] = queue.Queue()
    nxt = iter(costliest_first(shocks))
    lock = threading.Lock()

    found: list[Direction | None] = [None]

    def work(own: StaticCascade | None, finds_direction: bool) -> None:
        try:
            if jit_enabled():
                import numba

                numba.set_num_threads(1)  # per thread: this thread's parallel kernels run on it alone
            if own is None:  # its buffers are copied and first written here, beside the other threads' points
                own = solver.twin()
            if finds_direction:  # reads only the sorted book, which no thread changes now
                found[0] = Direction.of(solver, shocks)
            while True:
                with lock:
                    k = next(nxt, None)
                if k is None:
                    return
                results[k] = run_point(own, shocks[k], found[0])
                done.put(None)
        except BaseException as e:  # handed to the calling thread, which raises it
            done.put(e)

    threads = [threading.Thread(target=work, args=(None if w else solver, w == 1), daemon=True) for w in range(workers)]
    for t in threads:
        t.start()
    try:
        for finished in range(1, n + 1):
            error = done.get()
            if error is not None:
                raise error
            if progress is not None:
                progress(finished, n)
    finally:
        # on an error (a point's, or the progress callback's, or an interrupt) no thread
        # starts another point; the ones running finish theirs
        with lock:
            for _ in nxt:
                pass
        for t in threads:
            t.join()
    return [r for r in results if r is not None]


def costliest_first(shocks: FloatArray) -> list[int]:
    """The rows of ``shocks`` (points x assets) in the order a curve's threads take them: by the
    price-move bound ``max(f) / min(f)`` of the shocked prices relative to the reference ones,
    ``f = 1 - shock``, largest first; ties in row order. A point's first round
    looks at the accounts whose pre-shock health is below that bound (``engine/static.py``), and
    the larger shocks liquidate more, so the bound orders the points by their cost."""
    f = 1.0 - shocks
    bound = f.max(axis=1) / f.min(axis=1)
    return [int(k) for k in np.argsort(-bound, kind="stable")]
