"""How a :class:`~liqcascade.engine.result.Result` shows itself in a notebook: an HTML block
(the headline numbers, then every table with its size) and the main figure of each run kind.

Both read only the result's own tables. plotly is imported when a figure is asked for, so a
result that is never plotted never loads it.
"""

from __future__ import annotations

import html
import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from liqcascade.errors import LiqcascadeError

if TYPE_CHECKING:  # pragma: no cover
    from liqcascade.engine.result import Result

HEADLINE = {
    # summary fields shown first, in this order, when the summary has them (units in the name)
    "summary": ("bad_debt_usd", "collateral_seized_usd", "debt_repaid_usd", "accounts_liquidated",
                "headline_asset", "initial_drop", "final_drop", "amplification", "insolvent_shortfall_usd"),
}
PREVIEW_ROWS = 10
"""Rows of the headline table shown for a result without a one-row summary."""


def headline(res: "Result") -> pd.DataFrame:
    """The headline of a run as a (field, value) table: the summary's key fields, a Monte Carlo
    run's bad-debt rows of its risk table, or the first rows of its first table."""
    if "summary" in res.tables and len(res.tables["summary"]) == 1:
        row = res.tables["summary"].iloc[0]
        keys = [k for k in HEADLINE["summary"] if k in row.index] or list(row.index)
        return pd.DataFrame({"field": keys, "value": [row[k] for k in keys]})
    if "risk" in res.tables:
        r = res.tables["risk"]
        return r[r["metric"] == "bad_debt_usd"].reset_index(drop=True)
    first = next(iter(res.tables.values()), pd.DataFrame())
    return first.head(PREVIEW_ROWS)


def to_html(res: "Result") -> str:
    """The headline table, then one line per table: name, rows and columns."""
    title = f"liqcascade {html.escape(res.kind)} result" + (f" {html.escape(res.run_id)}" if res.run_id else "")
    items = "".join(f"<li><code>{html.escape(name)}</code>: {len(df):,} rows &times; {df.shape[1]} columns</li>"
                    for name, df in res.tables.items())
    return (f"<div class=\"liqcascade-result\"><strong>{title}</strong>"
            f"{headline(res).to_html(index=False, border=0, max_rows=PREVIEW_ROWS)}"
            f"<p>Tables (<code>.to_pandas(name)</code>):</p><ul>{items}</ul></div>")


def figure(res: "Result"):
    """The main figure of the run (a ``plotly.graph_objects.Figure``)."""
    builders = {"static": _static, "curve": _curve, "simulation": _simulation, "montecarlo": _montecarlo,
                "compare": _compare, "calibration": _calibration}
    if res.kind not in builders:
        raise LiqcascadeError(f"no main figure for a {res.kind} result (figures exist for "
                              f"{', '.join(builders)}); its tables: {sorted(res.tables)}")
    import plotly.graph_objects as go

    fig = go.Figure()
    builders[res.kind](res, fig)
    fig.update_layout(template="plotly_white")
    return fig


def _static(res: "Result", fig: Any) -> None:
    """The headline asset's price round by round, from its shocked price to the fixed point."""
    asset = str(res.summary.get("headline_asset") or res.tables["assets"]["asset"].iloc[0])
    r = res.tables["rounds"]
    r = r[r["asset"] == asset].sort_values("round")
    a = res.tables["assets"].set_index("asset").loc[asset]
    x = [0] + r["round"].tolist()
    y = [float(a["price_shocked"])] + r["price_after"].astype(float).tolist()
    fig.add_scatter(x=x, y=y, mode="lines+markers", name=f"{asset} price", line=dict(shape="hv"))
    fig.add_hline(y=float(a["price_reference"]), line=dict(dash="dot"), annotation_text="reference")
    fig.update_layout(title=f"{asset}: price after each liquidation round", xaxis_title="round (0 = the shock)",
                      yaxis_title=f"{asset} price (USD)")


def _curve(res: "Result", fig: Any) -> None:
    """Final drop against the initial shock, beside the diagonal (no feedback)."""
    c = res.tables["curve"].sort_values("shock")
    fig.add_scatter(x=c["shock"], y=c["final_drop"], mode="lines+markers", name="final drop")
    fig.add_scatter(x=c["shock"], y=c["shock"], mode="lines", name="initial shock (no feedback)",
                    line=dict(dash="dot"))
    asset = str(c["asset"].iloc[0]) if len(c) else ""
    fig.update_layout(title=f"Cascade curve of {asset}", xaxis_title="initial shock (fraction)",
                      yaxis_title="final drop (fraction)")


def _simulation(res: "Result", fig: Any) -> None:
    """Reference, market and oracle price of the asset that fell most, block by block."""
    s = res.tables["steps"]
    first = s.groupby("asset")["reference_price"].transform("first")
    asset = (s["reference_price"] / first).groupby(s["asset"]).min().idxmin()
    g = s[s["asset"] == asset].sort_values("block")
    for col in ("reference_price", "market_price", "oracle_price"):
        fig.add_scatter(x=g["block"], y=g[col], mode="lines", name=col.replace("_", " "), line=dict(shape="hv"))
    fig.update_layout(title=f"{asset} prices block by block", xaxis_title="block", yaxis_title=f"{asset} price (USD)")


def _montecarlo(res: "Result", fig: Any) -> None:
    """The exceedance curve of bad debt: the share of paths with at least x, log scale, so the
    tail stays readable when most paths have none."""
    v = np.sort(res.tables["paths"]["bad_debt_usd"].to_numpy(dtype=np.float64))
    n = v.size
    share = 1.0 - np.arange(n) / n  # P(bad debt >= v[i]) of the empirical distribution
    fig.add_scatter(x=v, y=share, mode="lines", name="P(bad debt >= x)", line=dict(shape="hv"))
    fig.update_layout(title=f"Bad debt over {n:,} paths: share of paths at or above each amount",
                      xaxis_title="bad debt (USD)", yaxis_title="share of paths", yaxis_type="log")
    if n:
        fig.update_yaxes(range=[math.log10(1.0 / n) - 0.1, 0.05])


def _compare(res: "Result", fig: Any) -> None:
    """Bad debt and liquidated collateral per protocol."""
    c = res.tables["comparison"]
    fig.add_bar(x=c["protocol"], y=c["bad_debt_usd"], name="bad debt (USD)")
    fig.add_bar(x=c["protocol"], y=c["collateral_seized_usd"], name="collateral seized (USD)")
    fig.update_layout(title="One book and crash under each protocol's rules", barmode="group",
                      yaxis_title="USD")


def _calibration(res: "Result", fig: Any) -> None:
    """The metric against the parameter over the explored candidates, with the budget and the
    chosen value."""
    c = res.tables["candidates"].sort_values("value")
    s = res.summary
    fig.add_scatter(x=c["value"], y=c["estimate"], mode="lines+markers", name=str(s.get("metric", "metric")))
    if s.get("budget") is not None:
        fig.add_hline(y=float(s["budget"]), line=dict(dash="dot"), annotation_text="budget")
    chosen = s.get("chosen")
    if chosen is not None and not pd.isna(chosen):
        fig.add_vline(x=float(chosen), line=dict(dash="dash"), annotation_text="chosen")
    fig.update_layout(title=f"{s.get('param', 'parameter')} of {s.get('asset', '')}: metric against value",
                      xaxis_title=str(s.get("param", "value")), yaxis_title=str(s.get("metric", "metric")))
