"""The library calls behind the command line (and any other face).

Each function takes a scenario (path or built :class:`~liqcascade.io.scenario.Scenario`, or a
system scenario with ``[[markets]]``), runs it, and stores the result under its run id (hash of
the resolved config, the run kind and its arguments, and the package version). Running the
same thing again finds the stored run instead of recomputing, unless ``recompute`` is set.
The work is done in :mod:`liqcascade.execution` (runs, Monte Carlo, sweeps, calibration);
this module is the one door the faces (command line, report, dashboard) go through.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from liqcascade.engine.result import Result
from liqcascade.execution.runs import (  # noqa: F401  (the API)
    COMPARE_PROTOCOLS,
    DEFAULT_STORE,
    compare,
    curve,
    default_scenario_path,
    is_perp,
    is_system,
    load_scenario,
    load_system,
    network,
    run,
    simulate,
    system_curve,
    system_run,
)
from liqcascade.execution.api import risk_table_from_store  # noqa: F401
from liqcascade.execution.walls import default_grid as default_walls_grid, walls  # noqa: F401
from liqcascade.io import scenario as _scenario
from liqcascade.io.store import ResultsStore


def montecarlo(
    scenario,
    paths: int,
    store: ResultsStore | str | Path | None = DEFAULT_STORE,
    executor="local",
    workers: int | None = None,
    seed: int | None = None,
    reserves_usd: float | None = None,
    chunk_size: int | None = None,
    progress=None,
    levels: Sequence[float] = (0.95, 0.99, 0.999),
    confidence: float = 0.95,
    alone: bool = False,
) -> Result:
    """The scenario's ``[simulation]`` over ``paths`` price paths of its ``[montecarlo]`` table.

    Tables: ``paths`` (one row per path) and ``risk`` (:func:`liqcascade.risk.risk_table`); for a
    system scenario (``[[markets]]``) also ``market_paths`` and ``market_risk`` (per market), and
    with ``alone`` each market also alone on every path (``contagion_risk``).
    ``executor``: ``serial``, ``local`` (worker processes; a script needs no ``__main__``
    guard), ``dask``, ``dask://HOST:PORT`` or an open executor. A stored run is loaded, an
    interrupted one resumed: see :func:`liqcascade.execution.api.montecarlo`, whose arguments
    these are.
    """
    from liqcascade.execution.api import montecarlo as _montecarlo

    return _montecarlo(scenario, paths, executor=executor, workers=workers, chunk_size=chunk_size, seed=seed,
                       reserves_usd=reserves_usd, store=store, progress=progress, levels=tuple(levels),
                       confidence=confidence, alone=alone)


def perp_montecarlo(scenario, paths: int, seed: int = 0, store: ResultsStore | str | Path | None = DEFAULT_STORE,
                    levels: Sequence[float] = (0.95, 0.99), recompute: bool = False, progress=None,
                    executor="serial", workers: int | None = None, chunk_size: int | None = None) -> Result:
    """A perp scenario (``[perps]``) over ``paths`` resampled mark paths, with its risk table, in
    chunks on ``executor`` (``serial``, ``local``, ``dask``, ``dask://HOST:PORT`` or an open one):
    see :func:`liqcascade.execution.perp_montecarlo.perp_montecarlo`."""
    from liqcascade.execution.perp_montecarlo import perp_montecarlo as _perp_montecarlo

    return _perp_montecarlo(scenario, paths, seed, store, tuple(levels), recompute, progress, executor, workers,
                            chunk_size)


# ----------------------------------------------------------------- calibration and sweeps (issue 5)
def calibrate(scenario, param: str, asset: str, budget: float, **kw) -> Result:
    """The parameter value that keeps a risk metric within ``budget``: see
    :func:`liqcascade.execution.calibrate.calibrate` (the keyword arguments are its)."""
    from liqcascade.execution.calibrate import calibrate as _calibrate

    return _calibrate(scenario, param, asset, budget, **kw)


def perp_calibrate(scenario, param: str, budget: float, metric: str = "p_adl", confidence: float = 0.99,
                   paths: int | None = None, seed: int = 0, value_range: tuple[float, float] | None = None,
                   grid: int = 5, tol: float | None = None, store: ResultsStore | str | Path | None = DEFAULT_STORE,
                   recompute: bool = False, executor="serial", workers: int | None = None,
                   chunk_size: int | None = None) -> Result:
    """A perp scenario's loosest maintenance scale, maximum leverage or open-interest cap within a
    budget on fund VaR, P(ADL) or socialised VaR: see
    :func:`liqcascade.execution.perp_calibrate.perp_calibrate`."""
    from liqcascade.execution.perp_calibrate import perp_calibrate as _perp_calibrate

    return _perp_calibrate(scenario, param, budget, metric, confidence, paths, seed, value_range, grid, tol, store,
                           recompute, executor=executor, workers=workers, chunk_size=chunk_size)


def liquidity_cap(scenario, asset: str, blocks: int = 1, share: float = 1.0,
                  store: ResultsStore | str | Path | None = DEFAULT_STORE) -> Result:
    """The liquidity-based supply cap rule: see :func:`liqcascade.execution.calibrate.liquidity_cap`."""
    from liqcascade.execution.calibrate import liquidity_cap as _cap

    return _cap(scenario, asset, blocks, share, store)


def sweep(scenario, factors, kind: str = "static", **kw) -> Result:
    """A full factorial over dotted config fields: see :func:`liqcascade.execution.sweep.sweep`."""
    from liqcascade.execution.sweep import sweep as _sweep

    return _sweep(scenario, factors, kind, **kw)
