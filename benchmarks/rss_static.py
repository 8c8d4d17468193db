"""Peak resident memory of a static cascade on a large book, in a process of its own (issue 14).

``python rss_static.py build N PATH [ordered]`` draws the core benchmark's synthetic Aave book with
``N`` accounts and saves its columns to ``PATH`` (``.npz``; ``ordered``: the book in health order at
the reference prices, with its marker); ``python rss_static.py run PATH`` loads them, runs one
static cascade on thin venues (every account sorted, or none: an ordered book) and prints one JSON line:
the process's peak RSS (``resource.getrusage``), accounts, holdings and seconds. Two processes so
that the peak counts the book and the run, not the drawing of the book (its temporaries).
``python rss_static.py where PATH`` runs the same and then lists, largest first, each distinct
array the solver holds (the model's book included) with its bytes and its resident bytes (pages in
memory, ``mincore``): where the resident memory at the end of the run is (Linux only).
"""

from __future__ import annotations

import json
import resource
import sys
import time

import numpy as np

COLUMNS = ("account", "asset", "collateral", "debt", "account_ids", "emode", "offsets")


def build(n_accounts: int, path: str, ordered: bool = False) -> None:
    from core_model import core_model as _model

    from liqcascade.io.aave_config import load_aave_reserve_config
    from liqcascade.model.synthetic import synthetic_book

    snap = load_aave_reserve_config()
    book = synthetic_book(snap.params, snap.price_array, n_accounts=n_accounts, seed=11)
    marker = {}
    if ordered:
        model = _model(snap, book, deep=False)
        book = book.in_health_order(model.rules, model.prices)
        marker = {"health_prices": np.asarray(book.health_order.prices), "health_rank": book.health_order.rank}
    np.savez(path, **{c: getattr(book, c) for c in COLUMNS}, **marker)


def _load_and_run(path: str, timings: dict[str, float] | None = None):
    """The saved book loaded, then a solver built on it and run (thin venues); ``timings`` gets
    the seconds of the solver's build and run (not of the loading)."""
    from core_model import SHOCK
    from core_model import core_model as _model

    from liqcascade.engine.static import StaticCascade
    from liqcascade.io.aave_config import load_aave_reserve_config
    from liqcascade.model import HealthOrder, PositionBook

    snap = load_aave_reserve_config()
    with np.load(path) as z:
        cols = {c: z[c] for c in COLUMNS}
        if "health_rank" in z:
            cols["health_order"] = HealthOrder(tuple(z["health_prices"].tolist()), z["health_rank"])
    book = PositionBook(assets=snap.params.symbols, **cols)
    t0 = time.perf_counter()
    solver = StaticCascade(_model(snap, book, deep=False))
    out = solver.run(SHOCK, keep_arrays=False)
    if timings is not None:
        timings["seconds"] = time.perf_counter() - t0
    return solver, out


def run(path: str) -> dict[str, float]:
    timings: dict[str, float] = {}
    solver, out = _load_and_run(path, timings)
    book = solver.model.book
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    return {"peak_rss_bytes": peak, "accounts": book.n_accounts, "holdings": book.n_rows,
            "seconds": timings["seconds"], "rounds": out.rounds, "in_health_order": book.health_order is not None}


def _resident(a: np.ndarray) -> int:
    """Bytes of the pages under ``a``'s buffer that are in memory (``mincore``)."""
    import ctypes
    import mmap

    page = mmap.PAGESIZE
    addr = a.__array_interface__["data"][0]
    start = addr - addr % page
    n_pages = (addr + a.nbytes - start + page - 1) // page
    vec = (ctypes.c_ubyte * n_pages)()
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.mincore(ctypes.c_void_p(start), ctypes.c_size_t(n_pages * page), vec) != 0:
        raise OSError(ctypes.get_errno(), "mincore")
    return sum(v & 1 for v in vec) * page


def where(path: str, at_least: float = 1e6) -> None:
    from test_bench_memory import distinct_arrays

    solver, _ = _load_and_run(path)
    seen = distinct_arrays(solver, name="solver")
    total = 0
    for p, a in sorted(seen.values(), key=lambda x: -x[1].nbytes):
        if a.nbytes >= at_least and a.nbytes:
            r = _resident(a)
            total += r
            print(f"{a.nbytes / 1e6:9.1f} MB {r / 1e6:9.1f} MB resident  {str(a.dtype):8s} {p}")
    status = {k: int(v.split()[0]) * 1024 for k, v in
              (line.split(":", 1) for line in open("/proc/self/status") if line.startswith(("VmRSS", "VmHWM")))}
    print(f"these arrays resident {total / 1e9:.3f} GB; the process {status['VmRSS'] / 1e9:.3f} GB "
          f"(peak {status['VmHWM'] / 1e9:.3f} GB)")


if __name__ == "__main__":
    if sys.argv[1] == "build":
        build(int(sys.argv[2]), sys.argv[3], sys.argv[4:] == ["ordered"])
    elif sys.argv[1] == "where":
        where(sys.argv[2])
    else:
        print(json.dumps(run(sys.argv[2])))
