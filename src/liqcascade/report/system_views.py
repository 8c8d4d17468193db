"""Figures of a system of markets: each market together and alone, the contagion matrix,
the exposure network and the contagion curve. Each reads only stored tables (``markets``,
``contagion``, ``network_nodes``/``network_edges``, a curve's ``curve``)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from liqcascade.report.bundle import Bundle
from liqcascade.report.views import Source, View, _arr, _finish, _subplots, _usd_axis, asset_color

TOGETHER, ALONE = "#c92a2a", "#868e96"
_MARKET_BARS = (("collateral_seized_usd", "Collateral liquidated"), ("bad_debt_usd", "Bad debt"))


def markets_view(b: Bundle) -> View | None:
    """Per market: collateral liquidated and bad debt in the system and alone (two bars each)."""
    t = b.target
    if not b.has(t, "markets"):
        return None
    m = b.load(t, "markets")
    if not len(m) or "alone_bad_debt_usd" not in m.columns:
        return None
    fig = _subplots(1, 2, tuple(label for _, label in _MARKET_BARS), horizontal_spacing=0.12)
    names = [str(x) for x in m["market"]]
    for i, (col, label) in enumerate(_MARKET_BARS, start=1):
        fig.add_bar(x=names, y=_arr(m[col]), name="in the system", marker_color=TOGETHER, legendgroup="together",
                    showlegend=i == 1, row=1, col=i)
        fig.add_bar(x=names, y=_arr(m[f"alone_{col}"]), name="alone", marker_color=ALONE, legendgroup="alone",
                    showlegend=i == 1, row=1, col=i)
        fig.update_xaxes(title_text="Market (name)", row=1, col=i)
        _usd_axis(fig, label, row=1, col=i)
    fig.update_layout(barmode="group")
    caption = ("Each market in the system (all markets selling into the shared venues at once) and alone (the same "
               "shock and venues, no other market). The difference is the contagion: what the other markets' "
               "selling did to this one.")
    table = m[["market", "protocol", "accounts_liquidated", "alone_accounts_liquidated", "contagion_accounts_liquidated",
               "contagion_collateral_seized_usd", "contagion_bad_debt_usd"]]
    return View("markets", "Markets together and alone", _finish(fig, 440), (Source("markets", t.run_id, t.kind),),
                caption, table)


def contagion_view(b: Bundle) -> View | None:
    """The leave-one-out matrix as two heat maps: what the source market's presence changes
    in the target's collateral liquidated and bad debt (USD)."""
    t = b.target
    if not b.has(t, "contagion"):
        return None
    c = b.load(t, "contagion")
    if not len(c):
        return None
    names = sorted(set(c["source"]) | set(c["target"]))
    fig = _subplots(1, 2, ("Collateral liquidated added", "Bad debt added"), horizontal_spacing=0.15)
    for i, col in enumerate(("delta_collateral_seized_usd", "delta_bad_debt_usd"), start=1):
        z = c.pivot(index="target", columns="source", values=col).reindex(index=names, columns=names)
        fig.add_heatmap(z=z.to_numpy(dtype=float), x=names, y=names, coloraxis="coloraxis", name=col,
                        hovertemplate="source %{x} -> target %{y}: $%{z:,.0f}<extra></extra>", row=1, col=i)
        fig.update_xaxes(title_text="Source market (left out)", row=1, col=i)
        fig.update_yaxes(title_text="Target market", row=1, col=i)
    # diverging around 0: red where the source's presence adds, blue where it takes away
    fig.update_layout(coloraxis=dict(colorscale="RdBu", reversescale=True, cmid=0.0, colorbar=dict(title="USD")))
    caption = ("Leave-one-out contagion: cell (source, target) is the target's number with every market present "
               "minus the same without the source market. Empty diagonal: a market is not its own source.")
    return View("contagion", "Contagion matrix", _finish(fig, 460), (Source("contagion", t.run_id, t.kind),),
                caption, b.load(t, "importance") if b.has(t, "importance") else None)


_COLUMN = {"owners": -0.5, "market": 0.0, "venue": 0.5, "asset": 1.0}
_EDGE_COLOR = {"collateral": "#2b8a3e", "debt": "#1971c2", "sold": TOGETHER, "impact": "#495057", "owns": "#9c36b5"}


def network_view(b: Bundle) -> View | None:
    """The exposure network: markets (left), venues (middle), assets (right); edge width by USD."""
    t = b.target
    if not (b.has(t, "network_nodes") and b.has(t, "network_edges")):
        return None
    nodes, edges = b.load(t, "network_nodes"), b.load(t, "network_edges")
    if not len(nodes):
        return None
    pos = _layout(nodes)
    fig = _subplots(1, 1, ("Markets, venues and assets",))
    top = float(np.nanmax(edges["usd"])) if edges["usd"].notna().any() else 1.0
    for kind, g in edges.groupby("kind", sort=True):
        for e in g.itertuples(index=False):
            (x0, y0), (x1, y1) = pos[e.source], pos[e.target]
            usd = e.usd if e.usd == e.usd else None
            width = 1.0 if usd is None or top <= 0 else 1.0 + 9.0 * usd / top
            label = f"{kind}: ${usd:,.0f}" if usd is not None else f"{kind}: {e.impact:.2%} beyond the shock"
            fig.add_scatter(x=[x0, x1], y=[y0, y1], mode="lines", line=dict(width=width, color=_EDGE_COLOR.get(kind)),
                            name=kind, legendgroup=kind, showlegend=False, hovertext=label, hoverinfo="text")
        fig.add_scatter(x=[None], y=[None], mode="lines", line=dict(color=_EDGE_COLOR.get(kind)), name=f"{kind} edge",
                        legendgroup=kind)
    for kind, g in nodes.groupby("kind", sort=True):
        xs = [pos[n][0] for n in g["id"]]
        ys = [pos[n][1] for n in g["id"]]
        colors = [asset_color(lbl) if kind == "asset" else "#343a40" for lbl in g["label"]]
        fig.add_scatter(x=xs, y=ys, mode="markers+text", text=list(g["label"]), textposition="top center",
                        marker=dict(size=16, color=colors, symbol={"market": "square", "venue": "diamond"}.get(kind, "circle")),
                        name=kind if kind.endswith("s") else f"{kind}s")
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    caption = ("Edges: collateral (market -> asset) and debt (asset -> market) at reference prices; sold (market -> "
               "venue): what the market's liquidators received for their sales there; impact (venue -> asset): the "
               "final drop beyond the initial shock. Width grows with USD.")
    sources = (Source("network_nodes", t.run_id, t.kind), Source("network_edges", t.run_id, t.kind))
    owners = None
    if b.has(t, "owners"):
        # the owners whose liquidations cost them most, beside the groups drawn on the left
        owners = b.load(t, "owners").sort_values("loss_usd", ascending=False, kind="stable").head(20)
        sources += (Source("owners", t.run_id, t.kind),)
        caption += (" Owners (left): one node per set of markets some owners' accounts span; owns edges carry their "
                    "collateral there. The table lists the owners who lost most to liquidation (seized - repaid).")
    return View("network", "Exposure network", _finish(fig, 520), sources, caption, owners)


def _layout(nodes: pd.DataFrame) -> dict[str, tuple[float, float]]:
    pos = {}
    for kind, g in nodes.groupby("kind", sort=True):
        n = len(g)
        for i, node in enumerate(g["id"]):
            pos[node] = (_COLUMN.get(kind, 0.25), 1.0 - (i + 1) / (n + 1))
    return pos


def contagion_curve_view(b: Bundle) -> View | None:
    """A system's curve: its collateral liquidated and bad debt beside the sum over its
    markets run alone, per initial shock."""
    run = b.target if b.has(b.target, "curve") else b.curve
    if run is None or not b.has(run, "curve"):
        return None
    c = b.load(run, "curve").sort_values("shock")
    if "alone_bad_debt_usd" not in c.columns or not len(c):
        return None
    fig = _subplots(1, 2, ("Collateral liquidated", "Bad debt"), horizontal_spacing=0.12)
    x = _arr(c["shock"])
    for i, col in enumerate(("collateral_seized_usd", "bad_debt_usd"), start=1):
        fig.add_scatter(x=x, y=_arr(c[col]), name="system", mode="lines+markers", line=dict(color=TOGETHER),
                        legendgroup="system", showlegend=i == 1, row=1, col=i)
        fig.add_scatter(x=x, y=_arr(c[f"alone_{col}"]), name="sum of the markets alone", mode="lines+markers",
                        line=dict(color=ALONE, dash="dash"), legendgroup="alone", showlegend=i == 1, row=1, col=i)
        fig.update_xaxes(title_text=f"Initial shock of {c['asset'].iloc[0]} (%)", tickformat=".0%", row=1, col=i)
        _usd_axis(fig, "USD", row=1, col=i)
    caption = ("The contagion curve: for each initial shock, the system's totals (every market selling into the "
               "shared venues) against the sum of the markets run alone. The gap is the contagion.")
    return View("contagion_curve", "Contagion curve", _finish(fig, 440), (Source("curve", run.run_id, run.kind),),
                caption)


def market_risk_view(b: Bundle) -> View | None:
    """A system's Monte Carlo per market: each market's VaR and CVaR of bad debt at every level,
    with their intervals, all markets together on the same paths (``market_risk``)."""
    t = b.target
    if not b.has(t, "market_risk"):
        return None
    r = b.load(t, "market_risk")
    r = r[(r["metric"] == "bad_debt_usd") & r["statistic"].isin(["var", "es"])]
    if not len(r):
        return None
    fig = _subplots(1, 2, ("Value at risk of bad debt", "Expected shortfall (CVaR) of bad debt"),
                    horizontal_spacing=0.12)
    levels = sorted(r["level"].unique())
    for i, stat in enumerate(("var", "es"), start=1):
        for k, lvl in enumerate(levels):
            g = r[(r["statistic"] == stat) & (r["level"] == lvl)]
            est, lo, hi = _arr(g["estimate"]), _arr(g["lo"]), _arr(g["hi"])
            plus = np.where(np.isfinite(hi), np.maximum(hi - est, 0.0), 0.0)  # no bar towards an open end
            minus = np.where(np.isfinite(lo), np.maximum(est - lo, 0.0), 0.0)
            fig.add_bar(x=[str(m) for m in g["market"]], y=est, name=f"{lvl:.1%}", legendgroup=f"{lvl}",
                        showlegend=i == 1, marker_color=_SHADES[k % len(_SHADES)],
                        error_y=dict(type="data", symmetric=False, array=plus, arrayminus=minus), row=1, col=i)
        fig.update_xaxes(title_text="Market (name)", row=1, col=i)
        _usd_axis(fig, "Bad debt", row=1, col=i)
    fig.update_layout(barmode="group", legend_title_text="level")
    caption = ("Each market's own bad debt over the system's Monte Carlo paths, all markets selling into the shared "
               "venues together on every path; bars are the estimates at each level, whiskers their confidence "
               "intervals (no whisker towards an end that is not finite: too few paths beyond the level).")
    return View("market_risk", "Bad-debt risk per market", _finish(fig, 440),
                (Source("market_risk", t.run_id, t.kind),), caption, b.load(t, "market_risk"))


_SHADES = ("#ffa8a8", "#fa5252", "#c92a2a")


def sweep_markets_view(b: Bundle) -> View | None:
    """A system's sweep per market: each market's bad debt (static, simulate) or the 99 % VaR of
    its bad debt (Monte Carlo) against the first factor, one line per market (``sweep_markets``)."""
    t = b.target
    if not b.has(t, "sweep_markets"):
        return None
    s = b.load(t, "sweep_markets")
    factors = [f for f in t.meta.get("factors", []) if f in s.columns]
    y = next((c for c in ("bad_debt_usd", "bad_debt_usd_var_99") if c in s.columns), None)
    if not len(s) or not factors or y is None:
        return None
    first, rest = factors[0], factors[1:]
    fig = _subplots(1, 1, (f"{y.replace('_', ' ')} per market",))
    numeric = pd.api.types.is_numeric_dtype(s[first])
    for j, (key, g) in enumerate(s.groupby(["market"] + rest, sort=False)):
        key = key if isinstance(key, tuple) else (key,)
        name = ", ".join([str(key[0])] + [f"{f} = {v}" for f, v in zip(rest, key[1:])])
        g = g.sort_values(first) if numeric else g
        x = _arr(g[first]) if numeric else [str(v) for v in g[first]]
        fig.add_scatter(x=x, y=_arr(g[y]), name=name, mode="lines+markers")
    fig.update_xaxes(title_text=f"{first} (value)")
    _usd_axis(fig, y.replace("_", " "), row=1, col=1)
    caption = (f"Each market of the system at every combination ({len(s)} rows: combinations x markets); x: {first}; "
               "the system's totals are the sweep table's, the sum of these rows.")
    return View("sweep_markets", "Sweep per market", _finish(fig, 440), (Source("sweep_markets", t.run_id, t.kind),),
                caption, s)
