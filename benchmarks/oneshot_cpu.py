"""CPU of one-shot static cascades on the core benchmark's 1M-account Aave book, for comparing two
checkouts in turn (issue 14): ``PYTHONPATH=CHECKOUT/src NUMBA_NUM_THREADS=1 python
benchmarks/oneshot_cpu.py`` (run from the checkout) builds the book, compiles on a small one, then
times a fresh solver and its run (``keep_arrays=False``) on thin and deep venues, the book as drawn
and in health order, by the thread's CPU seconds (``time.thread_time``: with one numba thread the
kernels run on it). Prints one JSON line; a time, not a verdict."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from test_bench_core import SHOCK, _aave_book, _model  # noqa: E402

from liqcascade.engine.static import StaticCascade  # noqa: E402
from liqcascade.model.synthetic import synthetic_book  # noqa: E402


def main() -> dict[str, float]:
    snap, book = _aave_book()
    small = synthetic_book(snap.params, snap.price_array, n_accounts=2000, seed=3)
    out = {}
    for deep in (False, True):
        StaticCascade(_model(snap, small, deep)).run(SHOCK, keep_arrays=False)  # compiled or loaded
        for stored in ("drawn", "ordered"):
            model = _model(snap, book, deep)
            if stored == "ordered":
                model = replace(model, book=book.in_health_order(model.rules, model.prices))
            t0 = time.thread_time()
            StaticCascade(model).run(SHOCK, keep_arrays=False)
            out[f"{'deep' if deep else 'thin'}_{stored}"] = round(time.thread_time() - t0, 4)
    return out


if __name__ == "__main__":
    print(json.dumps(main()))
