"""Filling numba's on-disk cache ahead of the first real run (issue 14: the first run after
``make demo`` does not compile).

Every kernel is compiled with ``cache=True`` (:mod:`liqcascade._jit`): compiled once, it is
loaded from ``__pycache__`` by every later process. numba compiles per argument type, not per
size, so two tiny bundled scenarios (``data/scenarios/warm_*.toml``) run through every engine
path (static, curve, block by block; one market under each registered protocol; a system of
four markets) compile what any run of any size needs. Nothing is stored; the numbers are not
read. About a minute of CPU for the compilation the first time (docs/benchmarks.md), ~10 s
once cached.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Callable

from liqcascade._jit import counting_compiles, jit_enabled
from liqcascade.errors import LiqcascadeError


@dataclass(frozen=True)
class WarmStep:
    """One warm-up run: what ran, its seconds, how many kernels it compiled (0: all loaded from
    the cache), and why it did not run (``skipped``: the protocol refused the warm-up book)."""

    what: str
    seconds: float
    compiled: int
    skipped: str | None = None


def scenario_path(name: str) -> Path:
    """A bundled warm-up scenario: ``market`` or ``system``."""
    return Path(str(resources.files("liqcascade") / "data" / "scenarios" / f"warm_{name}.toml"))


def _timed(what: str, call: Callable[[], object], skippable: bool = False) -> WarmStep:
    t0 = time.perf_counter()
    with counting_compiles() as seen:
        try:
            call()
        except LiqcascadeError as e:
            if not skippable:
                raise
            return WarmStep(what, time.perf_counter() - t0, sum(seen.values()), str(e))
    return WarmStep(what, time.perf_counter() - t0, sum(seen.values()))


def _curve_bounds() -> None:
    """The curve's bounds kernels on one account: a curve on two threads uses them only for the
    points that start after its second thread has split the book (and the held-asset bounds
    only in rounds after a large price move), which on the warm-up's small book may be none
    (the numbers are the same either way), so they are compiled here, on the engine's types."""
    import numpy as np

    from liqcascade.engine.curve_kernels import MASK_BYTES, asset_masks, byte_extremes, first_round_bounds, held_bounds
    from liqcascade.model import asset_dtype

    one = np.ones(1)
    first_round_bounds(1, 0.5, 1.0, one, one.copy(), one.copy(), one.copy(), np.zeros(1))
    cmask, dmask = np.zeros(1, dtype=np.uint32), np.zeros(1, dtype=np.uint32)
    asset_masks(np.array([0, 1], dtype=np.int64), np.zeros(1, dtype=asset_dtype(1)), one, one.copy(), cmask, dmask)
    lo, hi = np.empty((MASK_BYTES, 256)), np.empty((MASK_BYTES, 256))
    byte_extremes(one, lo, hi)
    held_bounds(1, 1.0, lo, hi, one.copy(), cmask, dmask, np.zeros(1, dtype=np.bool_), np.zeros(1))


def warm(on_step: Callable[[WarmStep], None] | None = None) -> list[WarmStep]:
    """Compile every engine path's kernels into numba's on-disk cache (see the module's text).

    A protocol whose rules refuse the warm-up's ETH/DAI book (a step ``skipped`` with the
    reason) is not warmed; every other error propagates. ``on_step`` sees each step as it ends.
    With the JIT disabled (``LIQCASCADE_DISABLE_JIT``) there is nothing to compile: no step runs.
    """
    if not jit_enabled():
        return []
    from liqcascade.execution.runs import compare, curve, simulate, system_curve, system_run
    from liqcascade.protocols.registry import names

    market, system = scenario_path("market"), scenario_path("system")
    plan: list[tuple[str, Callable[[], object], bool]] = [
        (f"{p}: static and block by block", lambda p=p: compare(market, [p], store=None, dynamic=True), True)
        for p in names()
    ]
    plan += [
        ("one market: cascade curve", lambda: curve(market, store=None), False),
        ("cascade curve: first-round bounds", _curve_bounds, False),
        ("one market: block by block", lambda: simulate(market, store=None), False),
        ("system of four markets: static", lambda: system_run(system, store=None), False),
        ("system of four markets: contagion curve", lambda: system_curve(system, store=None), False),
        ("system of four markets: block by block", lambda: simulate(system, store=None), False),
    ]
    steps = []
    for what, call, skippable in plan:
        steps.append(_timed(what, call, skippable))
        if on_step is not None:
            on_step(steps[-1])
    return steps
