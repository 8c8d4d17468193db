"""Where a cascade curve's time goes, for comparing two checkouts in turn (issue 14): run it with
each checkout's ``src`` first on ``PYTHONPATH`` (alternating, A B A B) and compare the lines.
On the core benchmark's 1M-account Aave book and venues (``deep`` or ``thin``):

- ``curve_cpu.py points DEPTH [STRIDE]``: the thread CPU of one point on one numba thread, mean
  over every ``STRIDE``-th point of the 100-point grid (after three points that load the
  kernels), split into the rounds' sweeps, the buffers' reset, the later rounds' held-asset
  bounds, the unrecoverable debt of the touched accounts and the rest; and a digest of the
  points' numbers (equal digests: equal numbers, bit for bit).
- ``curve_cpu.py curve DEPTH [REPEATS]``: the 100-point ``cascade_curve`` as the benchmark calls
  it (after a 3-point curve on a 2,000-account book of the same market), wall and process CPU
  seconds, and a digest of the curve table.
"""

from __future__ import annotations

import collections
import hashlib
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))

from test_bench_core import _aave_book, _model  # noqa: E402

from liqcascade.engine import curve as curve_mod  # noqa: E402
from liqcascade.engine.run import cascade_curve  # noqa: E402
from liqcascade.engine.static import StaticCascade  # noqa: E402
from liqcascade.model.synthetic import synthetic_book  # noqa: E402

CO_MOVE = ("wstETH", "rETH", "cbETH")
GRID = np.linspace(0.0, 0.8, 100)


def _timed(spent: dict[str, float], owner: object, name: str, label: str) -> None:
    """Wrap ``owner.name`` to add its thread CPU seconds to ``spent[label]``."""
    fn = getattr(owner, name)

    def timed(*args, **kwargs):
        t = time.thread_time()
        try:
            return fn(*args, **kwargs)
        finally:
            spent[label] += time.thread_time() - t

    setattr(owner, name, timed)


def points(depth: str, stride: int) -> str:
    import numba

    numba.set_num_threads(1)
    snap, book = _aave_book()
    model = _model(snap, book, depth == "deep")
    spent: dict[str, float] = collections.defaultdict(float)
    _timed(spent, type(model.rules), "sweep", "sweeps")
    _timed(spent, type(model.rules), "unrecoverable_debt", "unrecoverable")
    _timed(spent, StaticCascade, "_fresh_arrays", "reset")
    if hasattr(curve_mod, "HeldAssets"):
        _timed(spent, curve_mod.HeldAssets, "bounds", "held")
    solver = StaticCascade(model)
    shocks = np.zeros((GRID.shape[0], len(model.assets)))
    for a in ("WETH", *CO_MOVE):
        shocks[:, model.assets.index(a)] = GRID
    direction = curve_mod.Direction.of(solver, shocks)
    picked = list(range(0, GRID.shape[0], stride))
    for k in picked[:3]:
        curve_mod.run_point(solver, shocks[k], direction)
    spent.clear()
    total, out = 0.0, []
    for k in picked:
        t = time.thread_time()
        out.append(curve_mod.run_point(solver, shocks[k], direction))
        total += time.thread_time() - t
    n = len(picked)
    parts = " ".join(f"{k} {1e3 * v / n:.2f}" for k, v in spent.items())
    digest = hashlib.sha1(repr([(o.collateral_seized_usd, o.debt_repaid_usd, o.bad_debt_usd, o.accounts_liquidated,
                                 o.rounds, o.prices_final.tolist(), o.seized.tolist(), o.repaid.tolist(),
                                 o.deficit.tolist()) for o in out]).encode()).hexdigest()[:12]
    return (f"{depth} a point {1e3 * total / n:.2f} ms: {parts} rest {1e3 * (total - sum(spent.values())) / n:.2f}"
            f" | digest {digest} | load {os.getloadavg()[0]:.2f}")


def curve(depth: str, repeats: int) -> str:
    snap, book = _aave_book()
    small = synthetic_book(snap.params, snap.price_array, n_accounts=2_000, seed=11)
    cascade_curve(_model(snap, small, depth == "deep"), "WETH", [0.2, 0.5, 0.8], co_move=CO_MOVE)
    model = _model(snap, book, depth == "deep")
    lines = []
    for _ in range(repeats):
        load = os.getloadavg()[0]
        t, c = time.perf_counter(), time.process_time()
        res = cascade_curve(model, "WETH", GRID, co_move=CO_MOVE)
        wall, cpu = time.perf_counter() - t, time.process_time() - c
        table = res.table("curve").select_dtypes("number")
        digest = hashlib.sha1(np.ascontiguousarray(table.to_numpy()).tobytes()).hexdigest()[:12]
        lines.append(f"{depth} curve wall {wall:.3f} s cpu {cpu:.3f} s | digest {digest} | load {load:.2f}")
    return "\n".join(lines)


if __name__ == "__main__":
    what, depth = sys.argv[1], sys.argv[2]
    more = int(sys.argv[3]) if len(sys.argv) > 3 else None
    print(points(depth, more or 4) if what == "points" else curve(depth, more or 1), flush=True)
