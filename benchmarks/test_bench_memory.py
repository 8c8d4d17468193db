"""Memory per holding (issue 14): the bytes of every array a static cascade holds on the 1M-account
book (the model's book, the solver's sorted book and working amounts, per-account bounds, tallies and
marks) after one thin-venue run, which sorts the whole book. Recorded, not judged: the issue's
target (<= 50 B a holding) is not reached (docs/benchmarks.md says where the bytes are). And the
peak RSS of a static run on 10M accounts, in a process of its own, judged < 2 GB whatever the
load (the figures: docs/benchmarks.md)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from dataclasses import replace

import numpy as np
import pytest

from test_bench_core import N_ACCOUNTS, SHOCK, _model, aave_books  # noqa: F401 (a fixture)

from liqcascade.engine.static import StaticCascade


def distinct_arrays(*objects, name: str = "") -> dict[int, tuple[str, np.ndarray]]:
    """The distinct NumPy buffers reachable from ``objects`` through attributes, dataclass
    fields, dicts, lists and tuples, each as its base array with the first path that reached it
    (``name`` then ``.field``, ``[key]``), keyed by the base array's id."""
    seen: dict[int, tuple[str, np.ndarray]] = {}
    todo = [(f"{name}[{i}]" if len(objects) > 1 else name, o) for i, o in enumerate(objects)]
    visited: set[int] = set()
    while todo:
        path, obj = todo.pop()
        if isinstance(obj, np.ndarray):
            root = obj
            while isinstance(root.base, np.ndarray):
                root = root.base
            seen.setdefault(id(root), (path, root))
            continue
        if id(obj) in visited or isinstance(obj, (str, bytes, int, float, bool, type(None))):
            continue
        visited.add(id(obj))
        if isinstance(obj, dict):
            todo.extend((f"{path}[{k!r}]", v) for k, v in obj.items())
        elif isinstance(obj, (list, tuple)):
            todo.extend((f"{path}[{i}]", v) for i, v in enumerate(obj))
        else:
            todo.extend((f"{path}.{f}", getattr(obj, f)) for f in getattr(obj, "__dataclass_fields__", ()))
            todo.extend((f"{path}.{k}", v) for k, v in getattr(obj, "__dict__", {}).items())
    return seen


def array_bytes(*objects) -> int:
    """Bytes of the distinct NumPy buffers reachable from ``objects`` (:func:`distinct_arrays`:
    a buffer shared by two holders counts once)."""
    return sum(root.nbytes for _, root in distinct_arrays(*objects).values())


def test_array_bytes_counts_each_buffer_once():
    a = np.zeros(100)
    holder = {"x": a, "view": a[10:], "again": [a, (a,)], "other": np.zeros(5, dtype=np.int16)}
    assert array_bytes(holder) == 800 + 10


@pytest.mark.parametrize("stored", ["as_drawn", "in_health_order"])
def test_memory_per_holding_1M(benchmark, aave_books, record, stored):
    """``in_health_order``: the book kept in health order at the reference prices: the solver
    works on its layout and amounts (no sorted copy of either)."""
    snap, book = aave_books
    model = _model(snap, book, False)
    if stored == "in_health_order":
        book = book.in_health_order(model.rules, model.prices)
        model = replace(model, book=book)
    solver = StaticCascade(model)
    benchmark.pedantic(solver.run, args=(SHOCK,), kwargs={"keep_arrays": False}, rounds=1, iterations=1)
    total = array_bytes(solver)  # the model (its book) is reached through the solver
    per_holding = total / book.n_rows
    benchmark.extra_info.update({"bytes": total, "bytes_per_holding": per_holding,
                                 "bytes_per_account": total / book.n_accounts})
    record("memory_1M_thin" + ("" if stored == "as_drawn" else "_ordered"), benchmark, N_ACCOUNTS)
    print(f"\nengine arrays after a thin-venue run, 1M accounts ({stored}): {total / 1e6:.0f} MB, "
          f"{per_holding:.1f} B per holding ({book.n_rows:,} holdings)")


N_RSS = 10_000_000
RSS_LIMIT = 2e9
"""Issue 14: the peak RSS of a 10M-account static run below 2 GB."""


@pytest.mark.slow
@pytest.mark.parametrize("stored", ["as_drawn", "in_health_order"])
def test_peak_rss_10M_static(benchmark, tmp_path, record, target, stored):
    """The core benchmark's synthetic Aave book at 10M accounts, saved by one process and run
    (thin venues: the whole book sorted) by another, whose peak RSS (``getrusage``) is judged:
    the book, the solver's arrays and everything else the process holds (numba, NumPy; a run loads no
    pandas, tests/engine/test_static_imports.py; the child imports benchmarks/core_model.py, not pytest).
    ``in_health_order``: the book saved in health order with its marker (nothing sorted)."""
    here = Path(__file__).parent
    env = os.environ | {"PYTHONPATH": os.pathsep.join([str(here), os.environ.get("PYTHONPATH", "")])}
    path = tmp_path / "book.npz"
    script = str(here / "rss_static.py")
    ordered = ["ordered"] if stored == "in_health_order" else []
    subprocess.run([sys.executable, script, "build", str(N_RSS), str(path), *ordered], check=True, env=env)

    def child():
        done = subprocess.run([sys.executable, script, "run", str(path)], check=True, env=env, capture_output=True,
                              text=True)
        return json.loads(done.stdout.strip().splitlines()[-1])

    got = benchmark.pedantic(child, rounds=1, iterations=1)
    benchmark.extra_info.update(got)
    assert got["in_health_order"] == bool(ordered)
    record("peak_rss_10M_static" + ("" if stored == "as_drawn" else "_ordered"), benchmark, N_RSS)
    print(f"\npeak RSS of a 10M-account static run ({stored}): {got['peak_rss_bytes'] / 1e9:.2f} GB "
          f"({got['peak_rss_bytes'] / got['holdings']:.0f} B per holding, {got['holdings']:,} holdings; "
          f"the solver built and run in {got['seconds']:.1f} s)")
    target.size_at_most(f"peak RSS, static cascade on 10M accounts ({stored.replace('_', ' ')})", got["peak_rss_bytes"],
                        RSS_LIMIT)
