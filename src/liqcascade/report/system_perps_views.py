"""The view of a system with perp markets (run kind ``system_perps``, engine/system_perps_run.py):
per lending block, the perps' liquidations and the arbitrage's spot legs beside the spot price.

Drawn from the run's stored tables only (``perp_steps``, ``arbitrage``), like every view of
:mod:`liqcascade.report.views`, whose helpers it uses.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from liqcascade.report.bundle import Bundle
from liqcascade.report.views import Source, View, _arr, _finish, _subplots, _usd_axis

__all__ = ["perps_lending_view"]


def _per_block(steps: pd.DataFrame, flows: pd.DataFrame) -> pd.DataFrame:
    """Per block: liquidated and ADL notional summed over the perps' sub-steps and markets, the
    arbitrage's spot sales and purchases (USD), the first perp market's index and book mid at the
    block's last sub-step."""
    g = steps.groupby("block")
    out = pd.DataFrame({"liquidated_usd": g["liquidated_usd"].sum(), "adl_usd": g["adl_usd"].sum()})
    first = steps[steps["perp_market"] == steps["perp_market"].iloc[0]].groupby("block")
    out["index_price"] = first["index_price"].last()
    out["venue_mid"] = first["venue_mid"].last()
    sold = flows[~flows["perp_sold"].astype(bool)].groupby("block")["sell_proceeds_usd"].sum()
    bought = flows[flows["perp_sold"].astype(bool)].groupby("block")["buy_cost_usd"].sum()
    out["spot_sold_usd"] = sold.reindex(out.index, fill_value=0.0)
    out["spot_bought_usd"] = bought.reindex(out.index, fill_value=0.0)
    return out.reset_index()


def perps_lending_view(b: Bundle) -> View | None:
    """Per block: the perps' liquidated notional and the arbitrage's spot legs; below, the spot
    price (the perp's index) and the perp's book mid."""
    t = b.target
    if t.kind != "system_perps" or not (b.has(t, "perp_steps") and b.has(t, "arbitrage")):
        return None
    steps, flows = b.load(t, "perp_steps"), b.load(t, "arbitrage")
    if not len(steps):
        return None
    d = _per_block(steps, flows)
    x = _arr(d["block"])
    fig = _subplots(2, 1, ("Perp liquidations and the arbitrage's spot legs per block",
                           "Spot price (the perp's index) and the perp's book"), shared_xaxes=True, vertical_spacing=0.12)
    fig.add_bar(x=x, y=_arr(d["liquidated_usd"]), name="perp liquidated on its book", marker_color="#c0392b",
                row=1, col=1)
    fig.add_bar(x=x, y=_arr(d["adl_usd"]), name="perp deleveraged (ADL)", marker_color="#7f8c8d", row=1, col=1)
    fig.add_bar(x=x, y=-_arr(d["spot_sold_usd"]), name="arbitrage sold on spot", marker_color="#e67e22", row=1, col=1)
    fig.add_bar(x=x, y=_arr(d["spot_bought_usd"]), name="arbitrage bought on spot", marker_color="#2c7fb8",
                row=1, col=1)
    fig.add_scatter(x=x, y=_arr(d["index_price"]), name="spot (index)", mode="lines", line=dict(color="#34495e"),
                    row=2, col=1)
    fig.add_scatter(x=x, y=_arr(d["venue_mid"]), name="perp book mid", mode="lines", line=dict(color="#c0392b"),
                    row=2, col=1)
    fig.update_layout(barmode="relative")
    _usd_axis(fig, "Notional", row=1, col=1)
    _usd_axis(fig, "Price", row=2, col=1)
    fig.update_xaxes(title_text="Block", row=2, col=1)
    total_sold = float(np.sum(d["spot_sold_usd"]))
    caption = ("Per lending block, summed over the perp sub-steps after it: the notional the perp markets liquidated "
               "on their books and deleveraged, at the mark (the index); below zero, what the basis arbitrageur sold "
               "on the spot venue after buying the perp's discount (every lending market's oracle reads that venue); "
               "above, what it bought there. Below: the spot price and the first perp market's book mid at the "
               f"block's last sub-step (arbitrage's spot sales over the run ${total_sold:,.0f}).")
    return View("perps_lending", "Perps and lending", _finish(fig, 560),
                (Source("perp_steps", t.run_id, t.kind), Source("arbitrage", t.run_id, t.kind)), caption)
