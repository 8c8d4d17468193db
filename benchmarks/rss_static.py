"""Peak resident memory of a static cascade on a large book, in a process of its own (issue 14).

``python rss_static.py build N PATH [ordered]`` draws the core benchmark's synthetic Aave book with
``N`` accounts and saves its columns to ``PATH`` (``.npz``; ``ordered``: the book in health order at
the reference prices, with its marker); ``python rss_static.py run PATH`` loads them, runs one
static cascade on thin venues (every account sorted, or none: an ordered book) and prints one JSON line:
the process's peak RSS (``resource.getrusage``), accounts, holdings and seconds. Two processes so
that the peak counts the book and the run, not the drawing of the book (its temporaries).
"""

from __future__ import annotations

import json
import resource
import sys
import time

import numpy as np

COLUMNS = ("account", "asset", "collateral", "debt", "account_ids", "emode", "offsets")


def build(n_accounts: int, path: str, ordered: bool = False) -> None:
    from test_bench_core import _model

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


def run(path: str) -> dict[str, float]:
    from test_bench_core import SHOCK, _model

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
    out = StaticCascade(_model(snap, book, deep=False)).run(SHOCK, keep_arrays=False)
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    return {"peak_rss_bytes": peak, "accounts": book.n_accounts, "holdings": book.n_rows, "seconds": seconds,
            "rounds": out.rounds, "in_health_order": book.health_order is not None}


if __name__ == "__main__":
    if sys.argv[1] == "build":
        build(int(sys.argv[2]), sys.argv[3], sys.argv[4:] == ["ordered"])
    else:
        print(json.dumps(run(sys.argv[2])))
