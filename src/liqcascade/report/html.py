"""One HTML file with everything inside: plotly.js once, each figure as JSON, no fetches.

The page carries a Content-Security-Policy that allows no network source at all
(``default-src 'none'``), so a browser opening it cannot fetch anything even when online;
scripts and styles are inline, images only ``data:``/``blob:`` (plotly's PNG export).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any

from liqcascade import __version__
from liqcascade.report.answer import key_figures
from liqcascade.report.bundle import Bundle
from liqcascade.report.views import View, format_value, headline, headline_source

REPORT_CSP = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
              "img-src data: blob:; font-src data:")


@lru_cache(maxsize=1)
def plotly_js() -> str:
    """The minified plotly.js shipped inside the installed ``plotly`` wheel."""
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


def environment():
    """Jinja2 environment over the report's templates (autoescaped HTML)."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("liqcascade.report", "templates"),
        autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(zip=zip, fmt=format_value)
    return env


def script_json(obj: Any) -> str:
    """JSON safe inside ``<script type="application/json">``: ``<``, ``>`` and ``&`` escaped,
    so no stored string (a scenario name, say) can close the script element."""
    text = json.dumps(obj, separators=(",", ":"), allow_nan=False, default=str)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def figure_payload(views: list[View]) -> str:
    """The views' figures as one JSON object keyed by view key."""
    return script_json({v.key: v.figure for v in views})


def run_rows(b: Bundle) -> list[dict[str, str]]:
    """The runs a report draws on, for its 'runs' table."""
    roles = {}
    for role, r in (("companion: cascade curve, feedback on", b.curve), ("companion: cascade curve, no feedback", b.curve_flat),
                    ("companion: liquidation walls", b.walls), ("companion: simulation", b.simulation)):
        if r is not None:
            roles.setdefault(r.run_id, role)
    roles[b.target.run_id] = "this report's run"
    return [
        {"run_id": r.run_id, "kind": r.kind, "role": roles[r.run_id], "created_at": r.created_at, "version": r.version,
         "source": str(r.meta.get("source", "")), "tables": ", ".join(b.tables(r))}
        for r in b.members()
    ]


def render_report(b: Bundle, views: list[View], notes: list[str] = ()) -> str:
    """The self-contained report of a bundle."""
    t = b.target
    name = t.config.get("name") or t.kind
    return environment().get_template("report.html.j2").render(
        title=f"liqcascade report: {name}",
        name=name,
        description=t.config.get("description", ""),
        target=t,
        generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        version=__version__,
        csp=REPORT_CSP,
        plotly_js=plotly_js(),
        answer=key_figures(b),
        headline=headline(b),
        headline_source=headline_source(b),
        views=views,
        figures=figure_payload(views),
        runs=run_rows(b),
        config=json.dumps(t.config, indent=1, sort_keys=True, default=str),
        notes=list(notes),
    )
