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
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass
from typing import Callable

import numpy as np

from liqcascade._jit import jit_enabled
from liqcascade._typing import FloatArray
from liqcascade.engine.static import StaticCascade


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


def run_point(solver: StaticCascade, shock: FloatArray) -> CurvePoint:
    """One cascade of ``shock`` (per asset) on ``solver``, reduced to what the curve reports."""
    out = solver.run(shock, keep_arrays=False)
    t, a = out.totals, out.tallies
    # the sums of StaticCascade.totals, the same reductions over the same arrays (so the same
    # bits), without the counts and totals a curve does not report
    bad_remaining = solver.model.rules.unrecoverable_debt(out.arrays, out.prices_final, np.flatnonzero(out.touched))
    return CurvePoint(
        out.prices0, out.prices_shocked, out.prices_final, t["seized"].copy(), t["repaid"].copy(),
        t["deficit"].copy(), out.rounds, out.converged, float(a.acct_seized_usd.sum()),
        float(a.acct_repaid_usd.sum()), float(a.acct_bad_debt_usd.sum()) + float(bad_remaining.sum()),
        int(np.count_nonzero(a.acct_calls)),  # calls are never negative
    )


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
        out = []
        for k in range(n):
            out.append(run_point(solver, shocks[k]))
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
    keep one thread busy after the others have finished."""
    n = shocks.shape[0]
    solver.sort_all()  # before any thread starts: the twins share the sorted book
    results: list[CurvePoint | None] = [None] * n
    done: queue.Queue[BaseException | None] = queue.Queue()
    nxt = iter(costliest_first(shocks))
    lock = threading.Lock()

    def work(own: StaticCascade | None) -> None:
        try:
            if jit_enabled():
                import numba

                numba.set_num_threads(1)  # per thread: this thread's parallel kernels run on it alone
            if own is None:  # its buffers are copied and first written here, beside the other threads' points
                own = solver.twin()
            while True:
                with lock:
                    k = next(nxt, None)
                if k is None:
                    return
                results[k] = run_point(own, shocks[k])
                done.put(None)
        except BaseException as e:  # handed to the calling thread, which raises it
            done.put(e)

    threads = [threading.Thread(target=work, args=(s,), daemon=True) for s in [solver] + [None] * (workers - 1)]
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
