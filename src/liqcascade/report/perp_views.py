"""The views of a perp run (``execution/perps.py``): the liquidation map and the minutes; and of
a perp Monte Carlo (``execution/perp_montecarlo.py``): its risk estimates.

Each is drawn from the run's stored tables only (``liqmap``, ``minutes``, ``risk``), like every
view of :mod:`liqcascade.report.views`, whose helpers they use.
"""

from __future__ import annotations

import numpy as np

from liqcascade.report.bundle import Bundle
from liqcascade.report.views import Source, View, _arr, _finish, _subplots, _usd_axis

__all__ = ["PERP_RISK_LABELS", "liqmap_view", "perp_minutes_view", "perp_risk_view"]

LONG_COLOR, SHORT_COLOR = "#c0392b", "#2c7fb8"


def liqmap_view(b: Bundle) -> View | None:
    """Notional liquidated at each price level, longs below the mark and shorts above."""
    t = b.target
    if not b.has(t, "liqmap"):
        return None
    m = b.load(t, "liqmap")
    low, high = _arr(m["price_low"]), _arr(m["price_high"])
    mid = 0.5 * (low + high)
    width = float(np.median(high - low)) * 0.95
    fig = _subplots(1, 1, ("Liquidation map at the start",))
    fig.add_bar(x=mid, y=_arr(m["long_usd"]), width=width, name="longs liquidated", marker_color=LONG_COLOR)
    fig.add_bar(x=mid, y=_arr(m["short_usd"]), width=width, name="shorts liquidated", marker_color=SHORT_COLOR)
    fig.update_layout(barmode="stack")
    market = str(t.config.get("perps", {}).get("market", "")) if isinstance(t.config.get("perps"), dict) else ""
    fig.update_xaxes(title_text=f"{market} price (USD)".strip(), tickprefix="$")
    _usd_axis(fig, "Notional liquidated at this price")
    caption = ("For each price bin of the market (the other prices held), the notional of the positions whose "
               "account reaches its maintenance requirement there, at that price: longs liquidate as the price "
               "falls, shorts as it rises. From the book at the start, before any step runs "
               f"(total longs ${m['long_usd'].sum():,.0f}, shorts ${m['short_usd'].sum():,.0f} within the map).")
    return View("liqmap", "Liquidation map", _finish(fig, 420), (Source("liqmap", t.run_id, t.kind),), caption)


def perp_minutes_view(b: Bundle) -> View | None:
    """Per minute: liquidated and ADL notional, the mark, the insurance fund."""
    t = b.target
    if not b.has(t, "minutes") or t.kind != "perps":
        return None
    m = b.load(t, "minutes")
    x = m["minute"].astype(str).to_numpy()
    fig = _subplots(2, 1, ("Liquidated and deleveraged per minute", "Mark and insurance fund"), shared_xaxes=True,
                    vertical_spacing=0.12, specs=[[{}], [{"secondary_y": True}]])
    fig.add_bar(x=x, y=_arr(m["liquidated_usd"]), name="liquidated on the book", marker_color=LONG_COLOR, row=1, col=1)
    fig.add_bar(x=x, y=_arr(m["adl_usd"]), name="deleveraged (ADL)", marker_color="#7f8c8d", row=1, col=1)
    fig.add_scatter(x=x, y=_arr(m["mark"]), name="mark", mode="lines", line=dict(color="#34495e"), row=2, col=1)
    fig.add_scatter(x=x, y=_arr(m["fund_usd"]), name="insurance fund", mode="lines", line=dict(color="#0ca678"),
                    row=2, col=1, secondary_y=True)
    fig.update_layout(barmode="stack")
    _usd_axis(fig, "Notional", row=1, col=1)
    _usd_axis(fig, "Mark", row=2, col=1, secondary_y=False)
    _usd_axis(fig, "Fund", row=2, col=1, secondary_y=True)
    fig.update_xaxes(title_text="Minute (UTC)", row=2, col=1)
    caption = ("Per minute of the run: the notional closed on the perp's order book by liquidation orders and the "
               "notional of the bankrupt positions closed by deleveraging (ADL), both at the mark; below, the mark "
               "and the insurance fund at the minute's end.")
    return View("perp_minutes", "Perp liquidations per minute", _finish(fig, 560), (Source("minutes", t.run_id, t.kind),),
                caption)


PERP_RISK_LABELS = {"fund_depletion_usd": "fund depletion", "adl_usd": "ADL notional",
                    "written_off_usd": "losses socialised", "p_adl": "P(ADL)", "p_fund_exhausted": "P(fund exhausted)",
                    "p_socialised": "P(socialised)"}
"""How the perp risk view names each metric of a ``risk`` table (:mod:`liqcascade.risk.perps`)."""


def perp_risk_view(b: Bundle) -> View | None:
    """A perp Monte Carlo's risk: VaR and ES of the fund's depletion, the ADL notional and the
    losses socialised at each level, and the probabilities with their intervals."""
    t = b.target
    if t.kind != "perps_montecarlo" or not b.has(t, "risk"):
        return None
    r = b.load(t, "risk")
    tail = r[r["statistic"].isin(["var", "es"])]
    prob = r[r["statistic"] == "probability"]
    fig = _subplots(1, 2, ("Tail of each loss over the paths", "Probabilities (95 % Clopper-Pearson intervals)"),
                    column_widths=[0.62, 0.38])
    for (stat, level), g in tail.groupby(["statistic", "level"], sort=False):
        fig.add_bar(x=[PERP_RISK_LABELS[m] for m in g["metric"]], y=_arr(g["estimate"]),
                    name=f"{stat.upper()} {level:.3g}", row=1, col=1)
    est = _arr(prob["estimate"])
    fig.add_bar(x=[PERP_RISK_LABELS[m] for m in prob["metric"]], y=est, name="probability", marker_color="#7f8c8d",
                error_y=dict(type="data", array=_arr(prob["hi"]) - est, arrayminus=est - _arr(prob["lo"])), row=1, col=2)
    fig.update_layout(barmode="group")
    _usd_axis(fig, "Over the paths", row=1, col=1)
    fig.update_yaxes(title_text="Share of paths", range=[0, 1], row=1, col=2)
    n = int(r["n_paths"].iloc[0])
    caption = (f"Over {n:,} mark paths resampled from the scenario's own: the value at risk and expected shortfall of "
               "the insurance fund's depletion (its start less its lowest balance on the path), of the notional "
               "deleveraged and of the losses written off beyond the fund (socialised), and the share of paths with "
               "deleveraging, an exhausted fund or socialised losses.")
    table = r.assign(metric=r["metric"].map(PERP_RISK_LABELS))[["metric", "statistic", "level", "estimate", "lo", "hi"]]
    return View("perp_risk", "Perp Monte Carlo risk", _finish(fig, 460), (Source("risk", t.run_id, t.kind),), caption,
                table.reset_index(drop=True))
