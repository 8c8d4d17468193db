"""The self-contained HTML report of a stored run (or of a scenario, run first).

``build_report(store, "RUN_ID")`` reads the run and its companions (the cascade curve with
and without feedback, the liquidation walls, a simulation of the same market; see
:mod:`liqcascade.report.bundle`) from the store and returns one HTML page that opens offline:
plotly.js is inlined once, every figure is JSON drawn by ``Plotly.newPlot``, and nothing is
fetched. ``build_report(store, "scenario.toml")`` first runs the scenario's static cascade,
curves and walls into the store (stored runs are found, not recomputed).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from liqcascade.io.store import ResultsStore, StoreError, is_store
from liqcascade.report import bundle as _bundle
from liqcascade.report.html import render_report
from liqcascade.report.views import View, views_for

_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")


@dataclass(frozen=True)
class Report:
    """A rendered report: the page, the run it is about, its views and what it lacks."""

    html: str
    run_id: str
    views: tuple[View, ...]
    notes: tuple[str, ...]


def _is_scenario(target) -> bool:
    from liqcascade.io.scenario import Scenario

    if isinstance(target, (Scenario, Path)):
        return True
    return str(target).endswith(".toml") or Path(str(target)).is_file() or not _RUN_ID.match(str(target))


def make_report(
    store: ResultsStore | str | Path, target, complete: bool = True, simulate: bool = False
) -> Report:
    """The report of ``target``: a stored run id, or a scenario (path or built) to run first.

    ``complete``: for a run id, run its missing companions (curve with and without feedback,
    walls) from the scenario file it was run from, when that file still describes the same
    market. ``simulate``: for a scenario with a ``[simulation]`` table, run it too.
    """
    scenario = _is_scenario(target)
    if not isinstance(store, ResultsStore) and not scenario and not is_store(store):
        raise StoreError(f"{store}: no results store here (no store.json or catalog.duckdb); give --store the folder "
                         "runs were stored in")
    st = store if isinstance(store, ResultsStore) else ResultsStore(Path(store), create=scenario)
    notes: list[str] = []
    if scenario:
        rid = _bundle.prepare(st, target, simulate)
    else:
        rid = str(target)
        b = _bundle.find(st, rid)
        if complete and b.target.kind in ("static", "curve", "simulation") and None in (b.curve, b.curve_flat, b.walls):
            _, why = _bundle.complete_from_source(st, rid)
            if why:
                notes.append(f"the curve without feedback and the walls could not be run: {why}")
    b = _bundle.find(st, rid)
    views = views_for(b)
    notes += _missing(b)
    return Report(render_report(b, views, notes), rid, tuple(views), tuple(notes))


def _missing(b: _bundle.Bundle) -> list[str]:
    """What a static, curve or simulation run's report would show but the store lacks."""
    if b.target.kind not in ("static", "curve", "simulation", "walls"):
        return []
    out = []
    if b.curve is None:
        out.append("no cascade curve with feedback of this market is stored (liqcascade curve SCENARIO)")
    if b.curve_flat is None:
        out.append("no cascade curve without feedback is stored (liqcascade curve SCENARIO --no-impact)")
    if b.walls is None:
        out.append("no liquidation walls are stored (liqcascade report SCENARIO runs them)")
    return out


def build_report(store: ResultsStore | str | Path, target, complete: bool = True, simulate: bool = False) -> str:
    """The report's HTML (see :func:`make_report`)."""
    return make_report(store, target, complete, simulate).html


def check_output(path: str | Path, option: str = "out") -> Path:
    """``path`` if a file can be written there (its folder exists and is writable, it is not a
    folder); otherwise a :class:`~liqcascade.errors.ConfigError` naming ``option`` and the path.
    Called before anything is run, so a bad output path costs nothing."""
    import os

    from liqcascade.errors import ConfigError

    p = Path(path)
    parent = p.parent if str(p.parent) else Path(".")
    why = None
    if p.is_dir():
        why = "a file name, not a folder"
    elif not parent.exists():
        why = f"a file in an existing folder ({parent} does not exist)"
    elif not parent.is_dir():
        why = f"a file in a folder ({parent} is not a folder)"
    elif not os.access(parent, os.W_OK | os.X_OK) or (p.exists() and not os.access(p, os.W_OK)):
        why = f"a file you may write ({p if p.exists() else parent} is not writable)"
    if why:
        raise ConfigError(option, "", why, str(p))
    return p


def write_report(store: ResultsStore | str | Path, target, out: str | Path, option: str = "out", **kw) -> Report:
    """Build the report and write it to ``out`` atomically (a temporary file, then a rename).

    ``out`` is checked first (:func:`check_output`; ``option`` is its name in messages, e.g.
    ``-o`` on the command line); a write that fails anyway leaves no file behind."""
    import os

    from liqcascade.errors import ConfigError

    out = check_output(out, option)
    rep = make_report(store, target, **kw)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(rep.html, encoding="utf-8")
        os.replace(tmp, out)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise ConfigError(option, "", f"a file that can be written ({e.strerror})", str(out)) from None
    return rep


__all__ = ["Report", "build_report", "check_output", "make_report", "write_report"]
