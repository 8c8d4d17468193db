"""The charts a report and the dashboard show, each built from stored tables only.

A :class:`View` is one plotly figure (as plotly's JSON: ``data`` and ``layout``), the stored
tables it was drawn from (table name and run id), and a caption. :func:`views_for` returns
the views a bundle of runs supports: a view appears only when its tables are there, so any
run kind gets the views it can (static runs, curves, walls, simulations, Monte Carlo runs
with ``paths``/``risk`` tables, calibrations with a candidates table).

Conventions: fractions are plotted as fractions with a ``%`` tick format; money in USD with a
``$`` prefix; every axis title names its unit in parentheses; long simulations are thinned
to at most :data:`MAX_POINTS` points per trace (the caption says so).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pandas as pd

from liqcascade.report.bundle import Bundle, RunInfo

MAX_POINTS = 2000
"""Most points per trace of a time series; longer series are thinned (or summed) by block groups."""
MAX_ASSETS = 4
"""Most assets whose price paths a simulation view draws (the ones that moved most)."""
HIST_BINS = 60

FEEDBACK = "with feedback"
NO_FEEDBACK = "no feedback"
_COLORS = {FEEDBACK: "#c0392b", NO_FEEDBACK: "#2c7fb8"}

ASSET_COLORS = {
    "ETH": "#4c6ef5", "WETH": "#4c6ef5", "wstETH": "#0ca678", "rETH": "#e8590c", "cbETH": "#1c7ed6",
    "WBTC": "#f59f00", "USDC": "#2b8a3e", "USDT": "#12b886", "DAI": "#fab005", "USDe": "#495057",
    "LINK": "#364fc7", "AAVE": "#9c36b5", "weETH": "#862e9c", "GHO": "#a61e4d", "LUSD": "#5c940d",
}
"""Fixed colours of the common assets (one per asset, every figure of every report)."""
_PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
            "#17becf", "#393b79", "#637939")


def asset_color(asset: str) -> str:
    """The colour of ``asset`` in every figure: :data:`ASSET_COLORS`, else a palette entry
    chosen by a hash of the name (CRC-32, the same on every machine and run)."""
    import zlib

    name = str(asset)
    return ASSET_COLORS.get(name) or _PALETTE[zlib.crc32(name.encode("utf-8")) % len(_PALETTE)]


@dataclass(frozen=True)
class Source:
    """A stored table a figure was drawn from."""

    table: str
    run_id: str
    kind: str
    note: str = ""

    def describe(self) -> str:
        extra = f", {self.note}" if self.note else ""
        return f"table {self.table} of run {self.run_id} ({self.kind}{extra})"


@dataclass(frozen=True)
class View:
    """One figure, where its numbers come from, and what it shows."""

    key: str
    title: str
    figure: dict[str, Any]
    sources: tuple[Source, ...]
    caption: str
    table: pd.DataFrame | None = field(default=None, compare=False)
    """A small table shown under the figure (e.g. the risk estimates), or None."""

    def trace_names(self) -> list[str]:
        return [t.get("name", "") for t in self.figure.get("data", [])]


# ------------------------------------------------------------------ figure helpers
def _subplots(rows: int, cols: int, titles: tuple[str, ...], **kw):
    from plotly.subplots import make_subplots

    return make_subplots(rows=rows, cols=cols, subplot_titles=titles, **kw)


def _finish(fig, height: int) -> dict[str, Any]:
    """Shared layout (no template: plotly.js defaults, small payload), as plotly JSON."""
    import plotly.io as pio

    top, bottom = 60, 120
    fig.update_layout(
        template=None,
        height=height,
        margin=dict(l=70, r=30, t=top, b=bottom),
        # below the bottom axis title, whatever the figure's height
        legend=dict(orientation="h", yanchor="top", y=-62 / (height - top - bottom), x=0),
        hovermode="closest",
        font=dict(family="system-ui, -apple-system, Segoe UI, Roboto, Helvetica, Arial, sans-serif", size=12),
        plot_bgcolor="#fbfbfb",
    )
    fig.update_xaxes(showgrid=True, gridcolor="#e6e6e6", zeroline=False)
    fig.update_yaxes(showgrid=True, gridcolor="#e6e6e6", zeroline=False)
    return json.loads(pio.to_json(fig, validate=True))


def _usd_axis(fig, title: str, **where) -> None:
    fig.update_yaxes(title_text=f"{title} (USD)", tickprefix="$", **where)


def _pct_axis(update: Callable, title: str, **where) -> None:
    update(title_text=f"{title} (%)", tickformat=".0%", **where)


def _vline(fig, x: float, text: str, row: int | str = "all", col: int | str = "all") -> None:
    fig.add_vline(x=x, line=dict(color="#555", dash="dot", width=1), annotation_text=text,
                  annotation_position="top", row=row, col=col)


def _thin(n: int) -> int:
    """Stride that keeps at most MAX_POINTS of ``n`` points."""
    return max(1, math.ceil(n / MAX_POINTS))


def _arr(s: pd.Series) -> np.ndarray:
    return np.asarray(s, dtype=np.float64)


# ------------------------------------------------------------------ cascade curve
def curve_view(b: Bundle) -> View | None:
    """Final price (USD), collateral liquidated and bad debt against the initial shock, with
    and without feedback: the gap between the two is the cascade's own share."""
    pairs = [(r, label) for r, label in ((b.curve, FEEDBACK), (b.curve_flat, NO_FEEDBACK)) if b.has(r, "curve")]
    if not pairs:
        return None
    asset = str(b.load(pairs[0][0], "curve")["asset"].iloc[0])
    fig = _subplots(1, 3, ("Final price", "Collateral liquidated", "Bad debt"), horizontal_spacing=0.08)
    sources = []
    for run, label in pairs:
        c = b.load(run, "curve").sort_values("shock")
        x = _arr(c["shock"])
        drop = _arr(c["final_drop"])
        for col, y in enumerate((c["price_final"], c["collateral_seized_usd"], c["bad_debt_usd"]), start=1):
            fig.add_scatter(
                x=x, y=_arr(y), name=label, legendgroup=label, showlegend=col == 1, mode="lines+markers",
                line=dict(color=_COLORS[label], dash="solid" if label == FEEDBACK else "dash"), marker=dict(size=4),
                customdata=drop if col == 1 else None,
                hovertemplate=("shock %{x:.1%}: final price $%{y:,.2f} (drop %{customdata:.2%})<extra>" + label
                               + "</extra>") if col == 1 else None,
                row=1, col=col,
            )
        sources.append(Source("curve", run.run_id, "curve", f"feedback {'on' if label == FEEDBACK else 'off'}"))
    for col in (1, 2, 3):
        _pct_axis(fig.update_xaxes, f"Initial shock to {asset}", row=1, col=col)
    _usd_axis(fig, f"Final {asset} price", row=1, col=1)
    _usd_axis(fig, "Collateral seized", row=1, col=2)
    _usd_axis(fig, "Bad debt", row=1, col=3)
    return View("curve", f"Cascade curve of {asset}", _finish(fig, 440), tuple(sources), _curve_caption(b, pairs, asset))


def _curve_caption(b: Bundle, pairs, asset: str) -> str:
    text = (f"For each initial shock to {asset} (and the assets that move with it), the cascade's fixed point. "
            "No feedback: prices stay at the shocked level; with feedback: liquidators sell into the venues "
            "until no account is eligible.")
    if b.curve is not None and b.has(b.curve, "curve"):
        c = b.load(b.curve, "curve")
        c = c[c["shock"] > 0]
        if len(c):
            top = c.loc[c["amplification"].idxmax()]
            text += (f" Largest amplification {top['amplification']:.3f} at a {top['shock']:.0%} shock: "
                     f"final drop {top['final_drop']:.1%}, of which {top['final_drop'] - top['shock']:.1%} "
                     "is the cascade's own.")
    return text


# ------------------------------------------------------------------ liquidation walls
def walls_view(b: Bundle) -> View | None:
    """Collateral liquidatable by price (from the book, no feedback) beside what is liquidated
    once the cascade runs from each price."""
    if not b.has(b.walls, "walls"):
        return None
    w = b.load(b.walls, "walls").sort_values("price")
    asset = str(w["asset"].iloc[0])
    fig = _subplots(1, 2, ("Liquidation walls (no feedback)", "Liquidated from each starting price"),
                    horizontal_spacing=0.1)
    price = _arr(w["price"])
    width = float(np.median(np.diff(np.sort(price)))) * 0.9 if len(price) > 1 else None
    fig.add_bar(x=price, y=_arr(w["collateral_new_usd"]), width=width, name="newly liquidatable (book)",
                marker_color="#7f8c8d", row=1, col=1)
    fig.add_scatter(x=price, y=_arr(w["collateral_liquidatable_usd"]), name="liquidatable (book, no feedback)",
                    mode="lines", line=dict(color="#34495e", dash="dot"), row=1, col=2)
    sources = [Source("walls", b.walls.run_id, "walls")]
    for run, label, name in ((b.curve_flat, NO_FEEDBACK, "liquidated, no feedback"),
                             (b.curve, FEEDBACK, "liquidated, with cascade")):
        if b.has(run, "curve") and b.load(run, "curve")["asset"].iloc[0] == asset:
            c = b.load(run, "curve").sort_values("price_shocked")
            fig.add_scatter(x=_arr(c["price_shocked"]), y=_arr(c["collateral_seized_usd"]), name=name,
                            mode="lines+markers", marker=dict(size=4),
                            line=dict(color=_COLORS[label], dash="solid" if label == FEEDBACK else "dash"), row=1, col=2)
            sources.append(Source("curve", run.run_id, "curve", f"feedback {'on' if label == FEEDBACK else 'off'}"))
    ref = float(price.max()) if w["shock"].min() == 0 else None
    for col in (1, 2):
        fig.update_xaxes(title_text=f"{asset} price (USD)", tickprefix="$", row=1, col=col)
        if ref is not None:
            _vline(fig, ref, "reference", row=1, col=col)
    _usd_axis(fig, "Collateral crossing HF 1 at this step", row=1, col=1)
    _usd_axis(fig, "Collateral", row=1, col=2)
    caption = (f"Left: at each {asset} price (other prices at their reference), the collateral of the accounts "
               "that cross below health factor 1 at that price step. Right: the collateral of all accounts below 1 "
               "at that price (dotted), and the collateral actually seized when the cascade starts from that "
               "price, with no feedback and with the liquidators' selling moving prices.")
    return View("walls", f"Liquidation walls of {asset}", _finish(fig, 440), tuple(sources), caption)


# ------------------------------------------------------------------ static rounds
def rounds_view(b: Bundle) -> View | None:
    """Price of each asset that moved and the collateral seized, round by round of one cascade."""
    t = b.target
    if not (b.has(t, "rounds") and b.has(t, "assets")):
        return None
    r = b.load(t, "rounds")
    if not len(r):
        return None
    if "market" in r.columns:  # a system: every market saw the same prices; seized adds up
        r = r.groupby(["round", "asset"], as_index=False).agg(
            price_before=("price_before", "first"), price_after=("price_after", "first"),
            collateral_seized=("collateral_seized", "sum"))
    ref = b.load(t, "assets").set_index("asset")["price_reference"]
    fig = _subplots(1, 2, ("Price, round by round", "Collateral seized per round"), horizontal_spacing=0.1)
    moved = r.groupby("asset")["price_after"].min() < r.groupby("asset")["price_before"].max()
    for asset, g in r[r["asset"].isin(moved[moved].index)].groupby("asset", sort=True):
        g = g.sort_values("round")
        x = np.concatenate([[0], _arr(g["round"])])
        y = np.concatenate([[g["price_before"].iloc[0]], _arr(g["price_after"])]) / float(ref[asset])
        fig.add_scatter(x=x, y=y, name=f"{asset} price", mode="lines+markers", line=dict(color=asset_color(asset)),
                        marker=dict(color=asset_color(asset)), meta={"asset": str(asset)}, row=1, col=1)
    seized = r.assign(usd=r["collateral_seized"] * r["price_before"])
    top = seized.groupby("asset")["usd"].sum().nlargest(MAX_ASSETS + 1)
    top = list(top[top > 0].index[:MAX_ASSETS])
    seized["group"] = seized["asset"].where(seized["asset"].isin(top), "other assets")
    per = seized.groupby(["group", "round"])["usd"].sum().reset_index()
    for group in top + (["other assets"] if (per["group"] == "other assets").any() else []):
        g = per[per["group"] == group]
        other = group == "other assets"
        fig.add_bar(x=_arr(g["round"]), y=_arr(g["usd"]), name=f"{group} seized",
                    marker_color="#adb5bd" if other else asset_color(group),
                    meta={} if other else {"asset": str(group)}, row=1, col=2)
    fig.update_layout(barmode="stack")
    for col in (1, 2):
        fig.update_xaxes(title_text="Round of the cascade (round number)", dtick=1, row=1, col=col)
    _pct_axis(fig.update_yaxes, "Price, share of the reference", row=1, col=1)
    _usd_axis(fig, "Seized, at the round's opening price", row=1, col=2)
    caption = ("Round 0 is the shocked price; each round liquidates every eligible account at the current "
               "prices, then the liquidators' sales set the next prices. Left: the assets whose price the "
               "selling moved; right: collateral seized by asset (the largest, the rest as 'other assets').")
    return View("rounds", "The cascade round by round", _finish(fig, 440),
                (Source("rounds", t.run_id, t.kind), Source("assets", t.run_id, t.kind)), caption)


# ------------------------------------------------------------------ simulation
_SIM_STEPS = {"block", "time", "asset", "reference_price", "market_price", "oracle_price"}


def _sim_run(b: Bundle) -> RunInfo | None:
    """The target or its companion simulation, whichever has a block-by-block ``steps``
    table of the simulation engine (a Maker replay's ``steps`` has other columns)."""
    for r in (b.target, b.simulation):
        if b.has(r, "steps") and _SIM_STEPS <= set(b.load(r, "steps").columns):
            return r
    return None


def has_utc_start(run: RunInfo) -> bool:
    """True when a simulation's block times are real UTC times: a replay of recorded prices
    (the path's times are the candles' and blocks' Unix seconds). Synthetic paths count
    seconds from a start of their own, so they are drawn as minutes since the first block."""
    sim = run.config.get("simulation")
    return isinstance(sim, dict) and sim.get("path") == "replay"


def _time_x(run: RunInfo, t: pd.Series) -> tuple[Any, str]:
    """x values and axis title of block times: UTC datetimes for a replay, else minutes."""
    if has_utc_start(run):
        stamps = pd.to_datetime(np.asarray(t, dtype=np.int64), unit="s", utc=True).tz_localize(None)
        return [x.isoformat() for x in stamps], "Time (UTC)"
    return _minutes(t), "Time since the first block (minutes)"


def _per_block(steps: pd.DataFrame) -> pd.DataFrame:
    """The per-block columns of ``steps`` (repeated on every asset row), one row per block."""
    return steps.drop_duplicates("block").sort_values("block").reset_index(drop=True)


def _minutes(t: pd.Series) -> np.ndarray:
    v = _arr(t)
    return (v - v[0]) / 60.0 if len(v) else v


def prices_view(b: Bundle) -> View | None:
    """Reference, market (venues) and oracle price of the assets that moved most."""
    run = _sim_run(b)
    if run is None:
        return None
    s = b.load(run, "steps")
    if not len(s):
        return None
    first = s.groupby("asset")["reference_price"].transform("first")
    drop = (s["reference_price"] / first).groupby(s["asset"]).min().sort_values()
    assets = list(drop.index[:MAX_ASSETS])
    fig = _subplots(len(assets), 1, tuple(f"{a}" for a in assets), shared_xaxes=True, vertical_spacing=0.06)
    stride = _thin(s["block"].nunique())
    # the asset's own colour on every line; the line style tells reference, market and oracle apart
    styles = (("reference_price", "reference", "solid", 2.0), ("market_price", "market (venues)", "dot", 1.5),
              ("oracle_price", "oracle", "dash", 1.5))
    xtitle = ""
    for i, a in enumerate(assets, start=1):
        g = s[s["asset"] == a].sort_values("block").iloc[::stride]
        x, xtitle = _time_x(run, g["time"])
        for col, label, dash, width in styles:
            fig.add_scatter(x=x, y=_arr(g[col]), name=f"{a} {label}", mode="lines", meta={"asset": str(a)},
                            line=dict(color=asset_color(a), dash=dash, width=width, shape="hv"), row=i, col=1)
        fig.update_yaxes(title_text=f"{a} price (USD)", tickprefix="$", row=i, col=1)
    fig.update_xaxes(title_text=xtitle, row=len(assets), col=1)
    caption = ("The exogenous path plus the permanent part of liquidation selling (reference, solid), the price in "
               "the venues liquidators sell into (market, dotted), and the price the protocol sees (oracle, dashed); "
               "each asset in its own colour."
               + (" Times are the replay's block times in UTC." if has_utc_start(run) else "")
               + (f" Every {stride}th block shown." if stride > 1 else ""))
    return View("prices", "Price paths", _finish(fig, 260 * len(assets) + 120), (Source("steps", run.run_id, run.kind),),
                caption)


def liquidations_view(b: Bundle) -> View | None:
    """Liquidations per block, cumulative collateral seized and bad debt over time."""
    run = _sim_run(b)
    if run is None:
        return None
    pb = _per_block(b.load(run, "steps"))
    if not len(pb):
        return None
    stride = _thin(len(pb))
    grp = pb.index // stride
    agg = pd.DataFrame({
        "time": pb["time"].groupby(grp).first(),
        "liquidated": pb["accounts_liquidated"].groupby(grp).sum(),
        "eligible": pb["eligible_accounts"].groupby(grp).max(),
        "seized_cum": pb["collateral_seized_usd"].cumsum().groupby(grp).last(),
        "repaid_cum": pb["debt_repaid_usd"].cumsum().groupby(grp).last(),
        "written_off": pb["bad_debt_written_off_usd"].groupby(grp).last(),
        "shortfall": pb["eligible_shortfall_usd"].groupby(grp).max(),
    })
    x, xtitle = _time_x(run, agg["time"])
    per = "per block" if stride == 1 else f"per {stride} blocks"
    fig = _subplots(3, 1, (f"Accounts liquidated {per}", "Collateral seized and debt repaid so far", "Bad debt"),
                    shared_xaxes=True, vertical_spacing=0.08)
    fig.add_bar(x=x, y=_arr(agg["liquidated"]), name="accounts liquidated", marker_color="#c0392b", row=1, col=1)
    fig.add_scatter(x=x, y=_arr(agg["eligible"]), name="accounts eligible (HF < 1)", mode="lines",
                    line=dict(color="#7f8c8d", shape="hv"), row=1, col=1)
    fig.add_scatter(x=x, y=_arr(agg["seized_cum"]), name="collateral seized so far", mode="lines", row=2, col=1)
    fig.add_scatter(x=x, y=_arr(agg["repaid_cum"]), name="debt repaid so far", mode="lines", row=2, col=1)
    fig.add_scatter(x=x, y=_arr(agg["written_off"]), name="bad debt written off so far", mode="lines",
                    line=dict(color="#8e44ad", shape="hv"), row=3, col=1)
    fig.add_scatter(x=x, y=_arr(agg["shortfall"]), name="debt above collateral of eligible accounts", mode="lines",
                    line=dict(color="#e67e22", dash="dot", shape="hv"), row=3, col=1)
    fig.update_yaxes(title_text="Accounts (count)", row=1, col=1)
    _usd_axis(fig, "Cumulative", row=2, col=1)
    _usd_axis(fig, "Bad debt", row=3, col=1)
    fig.update_xaxes(title_text=xtitle, row=3, col=1)
    summ = b.load(run, "summary").iloc[0] if b.has(run, "summary") else None
    caption = ("Per block: accounts liquidated and eligible; collateral seized and debt repaid (USD at the oracle "
               "price) so far; debt written off to the protocol's deficit so far and the debt the eligible "
               "accounts owe above their collateral (bad debt if nobody liquidates them).")
    if summ is not None and "bad_debt_usd" in summ:
        caption += f" Bad debt at the end of the run (summary table): ${summ['bad_debt_usd']:,.0f}."
    return View("liquidations", "Liquidations and bad debt over time", _finish(fig, 760),
                (Source("steps", run.run_id, run.kind),) + ((Source("summary", run.run_id, run.kind),) if summ is not None else ()),
                caption)


# ------------------------------------------------------------------ Monte Carlo
_PATH_UNITS = {"_usd": ("USD", True), "_s": ("seconds", False)}
_MC_METRICS = ("collateral_seized_usd", "debt_repaid_usd", "accounts_liquidated", "amplification", "time_to_clear_s")


def _unit(col: str) -> tuple[str, bool]:
    """(unit, is money) of a path metric from its name."""
    for suffix, u in _PATH_UNITS.items():
        if col.endswith(suffix):
            return u
    if col.startswith("accounts"):
        return "accounts", False
    return "final drop / initial drop" if col == "amplification" else "value", False


def _money(x: float) -> str:
    return f"${x:,.0f}" if np.isfinite(x) else ("inf" if x > 0 else "-inf" if x < 0 else "-")


def _level_label(level: float) -> str:
    pct = level * 100 if level <= 1 else level
    return f"{pct:g}%"


def _risk_rows(b: Bundle, metric_prefix: str) -> pd.DataFrame:
    if not b.has(b.target, "risk"):
        return pd.DataFrame()
    r = b.load(b.target, "risk")
    if not {"metric", "statistic", "estimate"} <= set(r.columns):
        return pd.DataFrame()
    return r[r["metric"].astype(str).str.startswith(metric_prefix)]


def montecarlo_view(b: Bundle) -> View | None:
    """Distribution of bad debt over the paths, with VaR and CVaR (expected shortfall) and
    their confidence intervals from the ``risk`` table."""
    t = b.target
    if not b.has(t, "paths"):
        return None
    p = b.load(t, "paths")
    if "bad_debt_usd" not in p.columns or not len(p):
        return None
    v = _arr(p["bad_debt_usd"])
    v = v[np.isfinite(v)]
    counts, edges = np.histogram(v, bins=HIST_BINS)
    fig = _subplots(1, 1, ("Bad debt over the Monte Carlo paths",))
    fig.add_bar(x=(edges[:-1] + edges[1:]) / 2, y=counts, width=np.diff(edges), name="paths per bin",
                marker_color="#95a5a6", row=1, col=1)
    risk = _risk_rows(b, "bad_debt")
    top = float(counts.max()) if counts.size else 1.0
    marks = risk[risk["statistic"].isin(["var", "es"]) & np.isfinite(risk["estimate"].astype(float))] if len(risk) else risk
    for i, row in enumerate(marks.itertuples(index=False)):
        name = f"{'VaR' if row.statistic == 'var' else 'CVaR'} {_level_label(float(row.level))}"
        est = float(row.estimate)
        lo, hi = float(getattr(row, "lo", np.nan)), float(getattr(row, "hi", np.nan))
        # an interval with no finite end (too few paths beyond the level) gets no bar on that side
        plus = hi - est if np.isfinite(hi) else 0.0
        minus = est - lo if np.isfinite(lo) else 0.0
        fig.add_scatter(
            x=[est], y=[top * (1.05 + 0.07 * i)], name=name, mode="markers+text", text=[name],
            textposition="middle right", marker=dict(size=9, symbol="diamond" if row.statistic == "var" else "square"),
            hovertext=[f"{name}: ${est:,.0f}, interval [{_money(lo)}, {_money(hi)}]"], hoverinfo="text",
            error_x=dict(type="data", symmetric=False, visible=bool(plus > 0 or minus > 0),
                         array=[max(plus, 0.0)], arrayminus=[max(minus, 0.0)]),
            row=1, col=1,
        )
        fig.add_vline(x=float(row.estimate), line=dict(color="#555", dash="dot", width=1))
    fig.update_xaxes(title_text="Bad debt per path (USD)", tickprefix="$")
    fig.update_yaxes(title_text="Paths (count)")
    sources = (Source("paths", t.run_id, t.kind),) + ((Source("risk", t.run_id, t.kind),) if len(risk) else ())
    caption = (f"{len(v):,} paths. Markers: value-at-risk (VaR, a quantile of bad debt) and conditional VaR "
               "(expected shortfall: the mean beyond it) at each level, with their confidence intervals as bars "
               "(an interval with no finite upper end, too few paths beyond the level, has no bar on that side; "
               "the table gives it as inf).")
    if len(v) and not np.any(v > 0):
        caption += " No path left any bad debt."
    table = _risk_rows(b, "") if b.has(t, "risk") else None
    return View("montecarlo", "Bad-debt distribution", _finish(fig, 460), sources, caption,
                table if table is not None and len(table) else None)


def mc_metrics_view(b: Bundle) -> View | None:
    """Histograms of the other per-path metrics (liquidated volume, amplification, time to clear)."""
    t = b.target
    if not b.has(t, "paths"):
        return None
    p = b.load(t, "paths")
    cols = [c for c in _MC_METRICS if c in p.columns and np.isfinite(_arr(p[c])).any()]
    if not cols:
        return None
    ncol = min(3, len(cols))
    nrow = math.ceil(len(cols) / ncol)
    fig = _subplots(nrow, ncol, tuple(c.replace("_", " ") for c in cols), horizontal_spacing=0.08, vertical_spacing=0.18)
    for i, c in enumerate(cols):
        v = _arr(p[c])
        v = v[np.isfinite(v)]
        counts, edges = np.histogram(v, bins=min(HIST_BINS, max(5, len(np.unique(v)))))
        r, k = divmod(i, ncol)
        fig.add_bar(x=(edges[:-1] + edges[1:]) / 2, y=counts, width=np.diff(edges), name=c, row=r + 1, col=k + 1)
        unit, money = _unit(c)
        fig.update_xaxes(title_text=f"{c.replace('_', ' ')} ({unit})", tickprefix="$" if money else None,
                         row=r + 1, col=k + 1)
        fig.update_yaxes(title_text="Paths (count)", row=r + 1, col=k + 1)
    fig.update_layout(showlegend=False)
    caption = "Per-path distributions (paths with no value, e.g. a cascade that never cleared, are left out)."
    return View("mc_metrics", "Other Monte Carlo metrics", _finish(fig, 320 * nrow + 80), (Source("paths", t.run_id, t.kind),),
                caption)


def exceedance(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The empirical tail of ``v``: each distinct positive value ``x`` and the share of the
    values strictly above it, P(X > x) = #{v > x} / n (n counts every finite value, zeros
    too). The largest value, with nothing above it, is left out (P = 0 has no place on a log
    axis)."""
    v = np.sort(v[np.isfinite(v)])
    n = v.size
    x = np.unique(v[v > 0])
    p = (n - np.searchsorted(v, x, side="right")) / n if n else np.zeros(0)
    keep = p > 0
    return x[keep], p[keep]


def exceedance_view(b: Bundle) -> View | None:
    """P(bad debt > x) over the paths on log axes, with the VaR levels: the tail the
    histogram's first bin hides."""
    t = b.target
    if not b.has(t, "paths"):
        return None
    p = b.load(t, "paths")
    if "bad_debt_usd" not in p.columns or not len(p):
        return None
    v = _arr(p["bad_debt_usd"])
    v = v[np.isfinite(v)]
    x, prob = exceedance(v)
    if not x.size:
        return None
    fig = _subplots(1, 1, ("Probability that bad debt exceeds x",))
    fig.add_scatter(x=x, y=prob, name="P(bad debt > x), paths", mode="lines+markers", marker=dict(size=4),
                    line=dict(color="#2c3e50", shape="hv"),
                    hovertemplate="P(bad debt > $%{x:,.0f}) = %{y:.3%}<extra></extra>")
    risk = _risk_rows(b, "bad_debt")
    sources = [Source("paths", t.run_id, t.kind)]
    if len(risk):
        var = risk[(risk["statistic"] == "var") & np.isfinite(risk["estimate"].astype(float))
                   & (risk["estimate"].astype(float) > 0)]
        for row in var.itertuples(index=False):
            tail = 1.0 - float(row.level) if float(row.level) <= 1 else 1.0 - float(row.level) / 100
            name = f"VaR {_level_label(float(row.level))}"
            fig.add_scatter(x=[float(row.estimate)] * 2, y=[max(tail, prob.min()) / 3, 1.0], name=name, mode="lines",
                            line=dict(color="#c0392b", dash="dot", width=1),
                            hovertext=f"{name}: ${float(row.estimate):,.0f} (tail {tail:.2%})", hoverinfo="text")
        if len(var):
            sources.append(Source("risk", t.run_id, t.kind))
    fig.update_xaxes(type="log", title_text="Bad debt x (USD, log scale)", tickprefix="$")
    fig.update_yaxes(type="log", title_text="Share of paths with bad debt above x (%, log scale)", tickformat=".2~%")
    zero = int(np.sum(v <= 0))
    caption = (f"Of {v.size:,} paths, {v.size - zero:,} ({(v.size - zero) / v.size:.1%}) left bad debt; for each "
               "bad-debt level x, the share of all paths that left more than x (a step at every path's value; the "
               "largest path, with no path above it, is not drawn). Dotted: the value-at-risk estimates of the risk "
               "table (VaR q: the bad debt exceeded by a share 1 - q of the paths).")
    return View("exceedance", "Bad-debt tail (exceedance)", _finish(fig, 460), tuple(sources), caption)


# ------------------------------------------------------------------ calibration
CALIBRATION_TABLE = "candidates"
"""Expected table of a calibration run (kind ``calibration``): one row per candidate value.

Columns: ``value`` (the candidate parameter value; a column named after the parameter also
works), ``estimate`` (the metric at that value, e.g. the 99 % VaR of bad debt, in the metric's
unit), ``lo``/``hi`` (its confidence interval) and ``within_budget`` (bool). Any other table of
the run with the columns :data:`CALIBRATION_COLUMNS` is read the same way."""
CALIBRATION_COLUMNS = ("estimate", "lo", "hi", "within_budget")
CALIBRATION_SUMMARY = ("param", "asset", "metric", "budget", "chosen")
"""Expected one-row ``summary`` of a calibration (the run's meta may hold them instead):
``param`` (e.g. ``liquidation_threshold``), ``asset``, ``metric`` (a ``paths`` column, e.g.
``bad_debt_usd``; its suffix gives the unit), ``budget`` (same unit) and ``chosen`` (the value
kept; NaN/absent when none is within budget)."""
_CAND_COLUMNS = set(CALIBRATION_COLUMNS)
_CHOSEN_KEYS = ("chosen", "chosen_value", "best_value")


def _candidates_table(b: Bundle) -> str | None:
    """The target's table of (candidate value, estimate, lo, hi, within_budget): ``candidates``
    first, else any table with those columns."""
    import pyarrow.parquet as pq

    names = b.tables(b.target)
    for name in sorted(names, key=lambda n: n != CALIBRATION_TABLE):
        if name in ("summary", "paths", "risk", "steps", "events", "accounts", "rounds", "assets", "market_paths",
                    "market_risk"):
            continue
        where = b.store.path(b.target.run_id, name)
        if where.is_dir():  # a table stored in parts (Monte Carlo paths): never a candidates table
            continue
        cols = set(pq.read_schema(where).names)
        if _CAND_COLUMNS <= cols:
            return name
    return None


def _calibration_facts(b: Bundle, cand: pd.DataFrame) -> dict[str, Any]:
    """Parameter column, chosen value, budget and metric name, from the summary table or meta."""
    facts: dict[str, Any] = dict(b.target.meta)
    if b.has(b.target, "summary"):
        facts.update(b.load(b.target, "summary").iloc[0].to_dict())
    numeric = [c for c in cand.columns if c not in _CAND_COLUMNS and pd.api.types.is_numeric_dtype(cand[c])]
    param = facts.get("param") or facts.get("parameter")
    col = param if param in cand.columns else next((c for c in ("value", "candidate", "param_value") if c in cand.columns),
                                                    numeric[0] if numeric else None)
    chosen = next((_num(facts[k]) for k in _CHOSEN_KEYS if _num(facts.get(k)) is not None), None)
    metric = facts.get("metric") or (str(cand["metric"].iloc[0]) if "metric" in cand.columns else "metric")
    # liqcascade.execution.calibrate names the metric "<statistic>_<loss>" and stores both, and the level
    loss = facts.get("loss") if isinstance(facts.get("loss"), str) else None
    stat = facts.get("statistic") if isinstance(facts.get("statistic"), str) else None
    conf = facts.get("confidence")
    label = str(metric)
    if loss and stat:
        name = {"var": "VaR", "cvar": "CVaR", "es": "CVaR", "mean": "mean"}.get(stat, stat)
        level = f" {_level_label(_num(conf))}" if _num(conf) is not None and stat != "mean" else ""
        label = f"{name}{level} of {loss}"
    market = facts.get("market") if isinstance(facts.get("market"), str) else None
    if market is not None:  # a system's calibration: one market's parameter, the budget on whose loss
        on = facts.get("budget_on")
        label += " of the system" if on == "system" else f" of market {on}" if isinstance(on, str) else ""
    return {"column": col, "param": str(param or col), "market": market, "chosen": chosen, "metric": str(loss or metric),
            "budget": _num(facts.get("budget")), "label": label, "current": _num(facts.get("current"))}


def _num(x: Any) -> float | None:
    """``x`` as a float when it is a finite real number (not a bool), else None."""
    if isinstance(x, (bool, np.bool_)) or not isinstance(x, (int, float, np.number)):
        return None
    return float(x) if np.isfinite(x) else None


def calibration_view(b: Bundle) -> View | None:
    """The metric estimate (with its interval) at each candidate value, the budget and the chosen value."""
    name = _candidates_table(b)
    if name is None:
        return None
    cand = b.load(b.target, name)
    f = _calibration_facts(b, cand)
    if f["column"] is None or not len(cand):
        return None
    cand = cand.sort_values(f["column"])
    unit, money = ("%", False) if f["metric"] == "slippage" else _unit(f["metric"])
    where = "" if f["market"] is None else f" in market {f['market']}"
    fig = _subplots(1, 1, (f"{f['label']} against {f['param']}{where}",))
    ok = cand["within_budget"].astype(bool)
    for mask, label, color in ((ok, "within budget", "#27ae60"), (~ok, "over budget", "#c0392b")):
        g = cand[mask]
        if not len(g):
            continue
        fig.add_scatter(
            x=_arr(g[f["column"]]), y=_arr(g["estimate"]), name=label, mode="markers", marker=dict(color=color, size=8),
            error_y=dict(type="data", symmetric=False, array=_finite(_arr(g["hi"] - g["estimate"])),
                         arrayminus=_finite(_arr(g["estimate"] - g["lo"]))),
        )
    fig.add_scatter(x=_arr(cand[f["column"]]), y=_arr(cand["estimate"]), name="estimate", mode="lines",
                    line=dict(color="#7f8c8d", width=1), showlegend=False)
    if f["budget"] is not None:
        x = _arr(cand[f["column"]])
        fig.add_scatter(x=[x.min(), x.max()], y=[f["budget"]] * 2, name="budget", mode="lines",
                        line=dict(color="#555", dash="dash"))
    budget = np.array([np.nan if f["budget"] is None else f["budget"]])
    ys = np.concatenate([_arr(cand[c]) for c in ("lo", "estimate", "hi")] + [budget])
    ys = ys[np.isfinite(ys)]
    lo, hi = (float(ys.min()), float(ys.max())) if ys.size else (0.0, 1.0)
    if f["chosen"] is not None:
        fig.add_scatter(x=[f["chosen"]] * 2, y=[lo, hi], name=f"chosen value ({f['chosen']:g})", mode="lines",
                        line=dict(color="#2c3e50", width=2))
    if f["current"] is not None:
        fig.add_scatter(x=[f["current"]] * 2, y=[lo, hi], name=f"current value ({f['current']:g})", mode="lines",
                        line=dict(color="#95a5a6", width=1.5, dash="dot"))
    xunit = _param_unit(f["param"])
    fig.update_xaxes(title_text=f"{f['param']} ({xunit}, candidate value)",
                     tickformat=".1%" if xunit == "%" else None, tickprefix="$" if xunit == "USD" else None)
    fig.update_yaxes(title_text=f"{f['label']} ({unit})", tickprefix="$" if money else None,
                     tickformat=".1%" if unit == "%" else None)
    caption = ("Each candidate value the search explored, with the metric's estimate and its confidence interval "
               "(green: within budget, red: over it, as the calibration judged); the dashed line is the budget, "
               "the solid vertical line the value kept and the dotted one the scenario's current value.")
    if f["chosen"] is None:
        caption += " No candidate was within budget."
    sources = (Source(name, b.target.run_id, b.target.kind),)
    if b.has(b.target, "summary"):
        sources += (Source("summary", b.target.run_id, b.target.kind),)
    return View("calibration", "Calibration", _finish(fig, 460), sources, caption)


def _finite(a: np.ndarray) -> np.ndarray:
    """Error-bar lengths with no bar where an interval end is not finite."""
    return np.where(np.isfinite(a), np.maximum(a, 0.0), 0.0)


def _param_unit(param: str) -> str:
    """Unit of a calibrated parameter from its name: shares (thresholds, bonuses, LTVs,
    factors) in %, ``*_usd`` in USD, caps and ceilings in tokens."""
    p = param.lower()
    if p.endswith("_usd"):
        return "USD"
    if any(k in p for k in ("threshold", "bonus", "ltv", "factor", "fraction", "penalty")):
        return "%"
    if any(k in p for k in ("cap", "ceiling")):
        return "tokens"
    return "value"


# ------------------------------------------------------------------ compare
_COMPARE = (("bad_debt_usd", "Bad debt", "USD"), ("collateral_seized_usd", "Collateral liquidated", "USD"),
            ("amplification", "Amplification", "final drop / initial drop"))


def compare_view(b: Bundle) -> View | None:
    """Bad debt, collateral liquidated and amplification per protocol (one bar each) of a
    ``compare`` run: the same book and crash under each protocol's rules."""
    t = b.target
    if not b.has(t, "comparison"):
        return None
    c = b.load(t, "comparison")
    cols = [(k, label, unit) for k, label, unit in _COMPARE if k in c.columns]
    if not len(c) or "protocol" not in c.columns or not cols:
        return None
    fig = _subplots(1, len(cols), tuple(label for _, label, _ in cols), horizontal_spacing=0.1)
    names = [str(x) for x in c["protocol"]]
    for i, (k, label, unit) in enumerate(cols, start=1):
        fig.add_bar(x=names, y=_arr(c[k]), name=label, marker_color="#5c7cfa" if unit == "USD" else "#868e96",
                    row=1, col=i)
        fig.update_xaxes(title_text="Liquidation rules (protocol name)", row=1, col=i)
        if unit == "USD":
            _usd_axis(fig, label, row=1, col=i)
        else:
            fig.update_yaxes(title_text=f"{label} ({unit})", row=1, col=i)
    fig.update_layout(showlegend=False)
    driver = f" of {c['driver'].iloc[0]}" if "driver" in c.columns else ""
    caption = (f"One book and one crash under each protocol's liquidation rules: bad debt left to the protocol, "
               f"collateral seized (USD) and the amplification{driver}'s drop (final drop over the initial shock).")
    return View("compare", "Protocols compared", _finish(fig, 440), (Source("comparison", t.run_id, t.kind),),
                caption, c)


# ------------------------------------------------------------------ sweep
_SWEEP_Y = (("bad_debt_usd", "Bad debt"), ("collateral_seized_usd", "Collateral liquidated"),
            ("amplification", "Amplification"))


def _sweep_y(s: pd.DataFrame) -> list[tuple[str, str]]:
    """The sweep table's headline columns: static/simulate summary numbers, else the Monte
    Carlo risk estimates of bad debt (``bad_debt_usd_<statistic>[_<level>]``)."""
    ys = [(c, label) for c, label in _SWEEP_Y if c in s.columns and pd.api.types.is_numeric_dtype(s[c])]
    if ys:
        return ys
    return [(c, c.replace("bad_debt_usd_", "bad debt ").replace("_", " ")) for c in s.columns
            if c.startswith("bad_debt_usd_") and pd.api.types.is_numeric_dtype(s[c])][:3]


def sweep_view(b: Bundle) -> View | None:
    """The sweep's headline numbers against its first factor, one line per combination of
    the other factors."""
    t = b.target
    if not b.has(t, "sweep"):
        return None
    s = b.load(t, "sweep")
    factors = [f for f in t.meta.get("factors", []) if f in s.columns]
    ys = _sweep_y(s)
    if not len(s) or not factors or not ys:
        return None
    first, rest = factors[0], factors[1:]
    numeric = pd.api.types.is_numeric_dtype(s[first])
    fig = _subplots(1, len(ys), tuple(label for _, label in ys), horizontal_spacing=0.08)
    groups = s.groupby(rest, sort=True) if rest else [((), s)]
    for j, (key, g) in enumerate(groups):
        key = key if isinstance(key, tuple) else (key,)
        name = ", ".join(f"{f} = {v}" for f, v in zip(rest, key)) or first
        g = g.sort_values(first) if numeric else g
        x = _arr(g[first]) if numeric else [str(v) for v in g[first]]
        for i, (col, label) in enumerate(ys, start=1):
            fig.add_scatter(x=x, y=_arr(g[col]), name=name, legendgroup=name, showlegend=i == 1,
                            mode="lines+markers", line=dict(color=_PALETTE[j % len(_PALETTE)]), row=1, col=i)
    for i, (col, label) in enumerate(ys, start=1):
        xunit = "%" if numeric and s[first].between(0, 1).all() and not first.endswith("_usd") else "value"
        fig.update_xaxes(title_text=f"{first} ({xunit})", tickformat=".0%" if xunit == "%" else None, row=1, col=i)
        if col == "amplification":
            fig.update_yaxes(title_text=f"{label} (final drop / initial drop)", row=1, col=i)
        else:
            _usd_axis(fig, label, row=1, col=i)
    caption = (f"One stored run per combination ({len(s)} in all); x: {first}"
               + (f", one line per value of {', '.join(rest)}" if rest else "") + ".")
    return View("sweep", "Sweep", _finish(fig, 440), (Source("sweep", t.run_id, t.kind),), caption, s)


# ------------------------------------------------------------------ Maker replay
_MAKER_STEPS = {"time", "pool_price", "osm_price", "bites"}


def maker_prices_view(b: Bundle) -> View | None:
    """A Maker replay's day: the pool price, the OSM price the Cat acted on (one hour late)
    and the simulated bites per step, on UTC time."""
    t = b.target
    if t.kind != "maker_replay" or not b.has(t, "steps"):
        return None
    s = b.load(t, "steps")
    if not len(s) or not _MAKER_STEPS <= set(s.columns):
        return None
    s = s.sort_values("time")
    x = [ts.isoformat() for ts in pd.to_datetime(s["time"], utc=True).dt.tz_localize(None)]
    eth = asset_color("ETH")
    fig = _subplots(2, 1, ("ETH price", "Bites simulated per step"), shared_xaxes=True, vertical_spacing=0.1,
                    row_heights=[0.65, 0.35])
    fig.add_scatter(x=x, y=_arr(s["pool_price"]), name="ETH pool price (Uniswap v2)", mode="lines",
                    line=dict(color=eth, width=2), meta={"asset": "ETH"}, row=1, col=1)
    fig.add_scatter(x=x, y=_arr(s["osm_price"]), name="ETH OSM price (Maker's oracle)", mode="lines",
                    line=dict(color=eth, dash="dash", width=1.5, shape="hv"), meta={"asset": "ETH"}, row=1, col=1)
    fig.add_bar(x=x, y=_arr(s["bites"]), name="ETH-B bites simulated", marker_color=eth, meta={"asset": "ETH"},
                row=2, col=1)
    fig.update_yaxes(title_text="ETH price (USD)", tickprefix="$", row=1, col=1)
    fig.update_yaxes(title_text="Bites (count)", row=2, col=1)
    fig.update_xaxes(title_text="Time (UTC)", row=2, col=1)
    caption = ("The Uniswap v2 ETH/DAI pool price of each step (solid), the OSM price the Cat reads (dashed, one "
               "hop behind) and the bites the replay made in each step.")
    return View("maker_prices", "Maker replay: prices and bites", _finish(fig, 560), (Source("steps", t.run_id, t.kind),),
                caption)


def maker_vaults_view(b: Bundle) -> View | None:
    """Simulated against recorded collateral bitten per vault, coloured by outcome
    (TP: both, FP: simulated only, FN: recorded only)."""
    t = b.target
    if t.kind != "maker_replay" or not b.has(t, "vaults"):
        return None
    v = b.load(t, "vaults")
    need = {"vault", "outcome", "sim_collateral_eth", "actual_collateral_eth"}
    if not len(v) or not need <= set(v.columns):
        return None
    hit = v[v["outcome"].astype(str) != "TN"]
    counts = v["outcome"].astype(str).value_counts()
    fig = _subplots(1, 2, ("Vaults by outcome", "Collateral bitten per vault"), horizontal_spacing=0.12)
    order = ["TP", "FP", "FN", "TN"]
    colors = {"TP": "#2b8a3e", "FP": "#e8590c", "FN": "#c92a2a", "TN": "#adb5bd"}
    fig.add_bar(x=order, y=[int(counts.get(o, 0)) for o in order], marker_color=[colors[o] for o in order],
                name="vaults", showlegend=False, row=1, col=1)
    for o in order[:3]:
        g = hit[hit["outcome"].astype(str) == o]
        if len(g):
            fig.add_scatter(x=_arr(g["actual_collateral_eth"]), y=_arr(g["sim_collateral_eth"]), name=o, mode="markers",
                            marker=dict(color=colors[o], size=8), text=[f"vault {x}" for x in g["vault"]],
                            hovertemplate="%{text}: recorded %{x:,.1f} ETH, simulated %{y:,.1f} ETH<extra></extra>",
                            row=1, col=2)
    top = float(max(hit["actual_collateral_eth"].max(), hit["sim_collateral_eth"].max())) if len(hit) else 1.0
    fig.add_scatter(x=[0, top], y=[0, top], name="simulated = recorded", mode="lines",
                    line=dict(color="#868e96", dash="dot", width=1), row=1, col=2)
    fig.update_xaxes(title_text="Vault outcome (outcome class)", row=1, col=1)
    fig.update_yaxes(title_text="Vaults (count)", row=1, col=1)
    fig.update_xaxes(title_text="Recorded collateral bitten (ETH)", row=1, col=2)
    fig.update_yaxes(title_text="Simulated collateral bitten (ETH)", row=1, col=2)
    caption = ("TP: a vault bitten in the replay and on chain; FP: in the replay only; FN: on chain only; TN: "
               "neither. Right: each bitten vault's collateral, recorded against simulated. The table lists the "
               "bitten vaults.")
    cols = [c for c in ("vault", "outcome", "sim_bites", "actual_bites", "sim_collateral_eth", "actual_collateral_eth",
                        "timing_diff_s", "user_events") if c in v.columns]
    return View("maker_vaults", "Maker replay: vaults", _finish(fig, 440), (Source("vaults", t.run_id, t.kind),),
                caption, hit[cols].reset_index(drop=True))


def backtest_view(b: Bundle) -> View | None:
    """A backtest: accounts liquidated per hour, simulated against recorded, with the scores."""
    t = b.target
    if t.kind != "backtest" or not b.has(t, "hourly") or not b.has(t, "score"):
        return None
    h = b.load(t, "hourly")
    if not len(h) or not {"hour", "simulated", "recorded"} <= set(h.columns):
        return None
    x = [ts.isoformat() for ts in pd.to_datetime(h["hour"], unit="s")]
    fig = _subplots(1, 1, ("Accounts liquidated per hour",))
    fig.add_bar(x=x, y=_arr(h["recorded"]), name="recorded", marker_color="#495057")
    fig.add_bar(x=x, y=_arr(h["simulated"]), name="simulated", marker_color="#e8590c")
    fig.update_layout(barmode="group")
    fig.update_yaxes(title_text="Accounts liquidated (count)")
    fig.update_xaxes(title_text="Hour (UTC)")
    score = b.load(t, "score")
    cols = [c for c in ("recorded_accounts", "simulated_accounts", "precision", "recall", "collateral_error",
                        "debt_error", "hourly_correlation", "daily_correlation", "recorded_peak_hour",
                        "simulated_peak_hour", "impact_on_path") if c in score.columns]
    caption = ("Accounts liquidated in each hour by the replay and on chain (each account once per hour). Below: "
               "account precision and recall, collateral and debt error (simulated / recorded - 1), the "
               "correlations of the hourly and daily counts and each side's peak hour.")
    sources, table = (Source("hourly", t.run_id, t.kind), Source("score", t.run_id, t.kind)), score[cols]
    if b.has(t, "band"):  # a run with --price-band: the scores under the oracle's three prices
        band = b.load(t, "band")
        table = band[[c for c in ("oracle_shift", "simulated_accounts", "precision", "recall",
                                  "simulated_collateral", "collateral_error") if c in band.columns]]
        sources += (Source("band", t.run_id, t.kind),)
        caption = caption.split(" Below:")[0] + (" Below: precision, recall and collateral error with the oracle "
                                                 "reading the path's price shifted by each oracle_shift (--price-band).")
    if b.has(t, "ledger_errors"):  # accounts whose record the protocol would refuse: not scored
        le = b.load(t, "ledger_errors")
        sources += (Source("ledger_errors", t.run_id, t.kind),)
        caption += (" Left out of the replay and the score as ledger errors (their recorded actions reach a "
                    "state the protocol refuses at any price): " + (", ".join(le["account"].astype(str)) or "none")
                    + ".")
    return View("backtest", "Backtest: simulated against recorded", _finish(fig, 440), sources, caption,
                table.reset_index(drop=True))


# ------------------------------------------------------------------ all views
from liqcascade.report.system_views import (  # noqa: E402  (they draw with the helpers above)
    contagion_curve_view,
    contagion_view,
    market_risk_view,
    markets_view,
    network_view,
    sweep_markets_view,
)
from liqcascade.report.perp_views import liqmap_view, perp_minutes_view, perp_risk_view  # noqa: E402
from liqcascade.report.system_perps_views import perps_lending_view  # noqa: E402

BUILDERS: tuple[Callable[[Bundle], View | None], ...] = (
    markets_view, contagion_curve_view, contagion_view, network_view,
    compare_view, sweep_view, sweep_markets_view, maker_prices_view, maker_vaults_view, backtest_view, curve_view,
    walls_view, rounds_view, prices_view, liquidations_view, exceedance_view, montecarlo_view, market_risk_view,
    mc_metrics_view, calibration_view, perp_minutes_view, liqmap_view, perps_lending_view, perp_risk_view,
)
VIEW_KEYS = ("markets", "contagion_curve", "contagion", "network",
             "compare", "sweep", "sweep_markets", "maker_prices", "maker_vaults", "backtest", "curve", "walls", "rounds",
             "prices", "liquidations", "exceedance", "montecarlo", "market_risk", "mc_metrics", "calibration",
             "perp_minutes", "liqmap", "perps_lending", "perp_risk")


def views_for(b: Bundle) -> list[View]:
    """Every view the bundle's stored tables support, in report order."""
    return [v for v in (build(b) for build in BUILDERS) if v is not None]


def view(b: Bundle, key: str) -> View | None:
    """One view by key (None when the bundle cannot draw it)."""
    return BUILDERS[VIEW_KEYS.index(key)](b) if key in VIEW_KEYS else None


# ------------------------------------------------------------------ headline numbers
def format_value(col: str, v: Any) -> str:
    """A summary value as people read it: USD with separators, shares as %, counts with commas."""
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if isinstance(v, (int, np.integer)):
        return f"{int(v):,}"
    if isinstance(v, (float, np.floating)):
        if np.isnan(v):
            return "-"
        if np.isinf(v):
            return "inf" if v > 0 else "-inf"
        if col.endswith("_usd"):
            return f"${v:,.0f}"
        if col.endswith(("_drop", "_fraction")) or col.startswith("shock_"):
            return f"{v:.2%}"
        if col.endswith("_s"):
            return f"{v:,.0f} s"
        return f"{v:,.0f}" if abs(v) >= 1e4 else f"{v:,.4g}"
    return str(v)


def headline(b: Bundle, run: RunInfo | None = None) -> list[tuple[str, str]]:
    """The ``summary`` table's first row of ``run`` (default the target), formatted; then, for
    a run with a ``risk`` table (Monte Carlo), its bad-debt rows as ``estimate [lo, hi]`` (see
    :func:`headline_source`)."""
    run = run or b.target
    out: list[tuple[str, str]] = []
    if b.has(run, "summary"):
        row = b.load(run, "summary").iloc[0]
        out = [(c, format_value(c, v)) for c, v in row.items() if not (isinstance(v, str) and v == "")]
    return out + _risk_headline(b, run, {k for k, _ in out})


def _risk_headline(b: Bundle, run: RunInfo, have: set[str]) -> list[tuple[str, str]]:
    if not b.has(run, "risk"):
        return []
    r = b.load(run, "risk")
    if not {"metric", "statistic", "level", "estimate", "lo", "hi"} <= set(r.columns):
        return []
    out = []
    if "n_paths" in r and len(r) and "paths" not in have:
        out.append(("paths", format_value("paths", int(r["n_paths"].max()))))
    for row in r[r["metric"] == "bad_debt_usd"].itertuples(index=False):
        lvl = "" if not np.isfinite(float(row.level)) else f" {_level_label(float(row.level))}"
        name = {"var": "VaR", "es": "CVaR"}.get(row.statistic, str(row.statistic))
        col = "bad_debt_usd" if row.statistic in ("mean", "var", "es") else "p_fraction"
        out.append((f"bad debt {name}{lvl}",
                    f"{format_value(col, float(row.estimate))}  [{format_value(col, float(row.lo))}, "
                    f"{format_value(col, float(row.hi))}]"))
    return out


def headline_source(b: Bundle, run: RunInfo | None = None) -> str | None:
    """The tables :func:`headline` read: ``summary``, ``risk``, ``summary, risk`` or None."""
    run = run or b.target
    names = [t for t in ("summary", "risk") if b.has(run, t)]
    if "risk" in names and not _risk_headline(b, run, set()):
        names.remove("risk")
    return ", ".join(names) or None
