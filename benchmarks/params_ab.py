"""One process's figures for the per-asset parameter tables (issue 14), for comparing two checkouts
in turn: run it once with each checkout's ``src`` first on ``PYTHONPATH`` (alternating, e.g. A B A B)
and compare the lines. On the core benchmark's 1M-account Aave book it prints one JSON line: the
engine's array bytes per holding after a thin-venue run (``test_bench_memory``'s count), the
median seconds of the full HF pass (``rules.health`` on the solver's book, every account), of a
one-shot cascade (a fresh solver) and of a warm one (thin venues), and of one 100-point cascade
curve on deep venues. Timings after a first call of each (compiled kernels cached).
``params_ab.py curve``: only one 100-point curve on deep venues and one on thin venues (after a
2-point curve that loads the kernels), wall and CPU seconds."""

from __future__ import annotations

import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))

from test_bench_core import SHOCK, _aave_book, _model  # noqa: E402
from test_bench_memory import array_bytes  # noqa: E402

from liqcascade.engine.run import cascade_curve  # noqa: E402
from liqcascade.engine.static import StaticCascade  # noqa: E402


def median_seconds(fn, repeats: int) -> float:
    fn()  # compile / warm
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def main() -> dict[str, float]:
    snap, book = _aave_book()
    thin, deep = _model(snap, book, False), _model(snap, book, True)
    solver = StaticCascade(thin)
    solver.run(SHOCK, keep_arrays=False)
    out: dict[str, float] = {"bytes_per_holding": array_bytes(solver) / book.n_rows}
    prices = np.asarray(thin.prices, dtype=np.float64)
    base = solver._kept_base()
    out["hf_pass_s"] = median_seconds(lambda: thin.rules.health(base, prices), 9)
    out["one_shot_thin_s"] = median_seconds(lambda: StaticCascade(thin).run(SHOCK, keep_arrays=False), 3)
    out["warm_thin_s"] = median_seconds(lambda: solver.run(SHOCK, keep_arrays=False), 5)
    grid = np.linspace(0.0, 0.8, 100)
    co = ("wstETH", "rETH", "cbETH")
    out["curve_deep_s"] = median_seconds(lambda: cascade_curve(deep, "WETH", grid, co_move=co), 1)
    out["load1"] = os.getloadavg()[0]
    return out


def curves() -> dict[str, float]:
    snap, book = _aave_book()
    grid, co = np.linspace(0.0, 0.8, 100), ("wstETH", "rETH", "cbETH")
    out: dict[str, float] = {}
    for depth in ("deep", "thin"):
        model = _model(snap, book, depth == "deep")
        cascade_curve(model, "WETH", grid[:2], co_move=co)
        t0, c0 = time.perf_counter(), time.process_time()
        cascade_curve(model, "WETH", grid, co_move=co)
        out[f"curve_{depth}_s"] = time.perf_counter() - t0
        out[f"curve_{depth}_cpu_s"] = time.process_time() - c0  # less at the mercy of other processes
    out["load1"] = os.getloadavg()[0]
    return out


if __name__ == "__main__":
    print(json.dumps(curves() if sys.argv[1:] == ["curve"] else main()))
