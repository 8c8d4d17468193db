"""A system scenario with perp markets (``[[perp_markets]]``) run block by block and stored.

``liqcascade simulate`` (and :func:`liqcascade.execution.runs.system_simulate`) send a system
scenario with perp markets here: the lending markets and the perps together, and each side
without the other (:mod:`liqcascade.engine.system_perps_run`), stored as a run of kind
``system_perps``. The perp engine trades on the perp's book through the perp replay's dust
guard (a dust trade priced at the mid; :mod:`liqcascade.execution.perps`).
"""

from __future__ import annotations

from pathlib import Path

from liqcascade import __version__
from liqcascade.engine.result import Result
from liqcascade.engine.system_perps_run import KIND, run_system_perps_simulation
from liqcascade.io.store import ResultsStore, run_id as _run_id

__all__ = ["KIND", "system_perps_simulate"]


def system_perps_simulate(scenario, store: ResultsStore | str | Path | None, recompute: bool = False, progress=None,
                          alone: bool = True) -> Result:
    """Run (or find stored) a system scenario with perp markets; ``alone``: each side also
    without the other. ``progress(done, total)`` counts blocks over the runs."""
    from liqcascade.execution.perps import _DustSafe
    from liqcascade.execution.runs import hashed, load_system, save, stored
    from liqcascade.io.system import system_market_sims, system_simulation_parts

    ss = load_system(scenario)
    path, oracle, settings = system_simulation_parts(ss)
    per_market = system_market_sims(ss)
    cfg = ss.resolved()
    rid = _run_id({"kind": KIND, "config": hashed(cfg, ("curve",)), "alone": alone}, __version__)
    if not recompute and (found := stored(store, rid, KIND)) is not None:
        return found
    res = run_system_perps_simulation(ss.model, path, oracle, ss.perps, settings, cfg, progress, alone, per_market,
                                      _DustSafe)
    save(store, rid, KIND, cfg, res, {"source": ss.source})
    return res.with_run_id(rid)
