"""The ``orderbook`` venue kind: an order book's scenario table and builder."""

from __future__ import annotations

from typing import Literal, cast

from pydantic import Field

from liqcascade.markets.orderbook import SHIPPED_DEPTH, OrderBookVenue, load_depth_file
from liqcascade.markets.registry import Settings, VenueContext, VenueSpec


class OrderBookVenueConfig(Settings):
    """An order book described by cumulative depth within x % of mid."""

    kind: Literal["orderbook"] = Field(description="Venue kind.")
    asset: str = Field(description="Asset sold into the venue.")
    calibration: str = Field(
        "calm",
        description="'calm' or 'crash' (Binance BTCUSDT perp depth on 2025-10-10, medians of 00:00-16:00 and 20:50-21:30) "
        "or a path to a depth CSV.",
    )
    scale: float = Field(1.0, gt=0, description="Multiplier on the calibrated notional depth (to fit another asset).")


def build(ctx: VenueContext) -> OrderBookVenue:
    s = cast(OrderBookVenueConfig, ctx.settings)  # the registry validated the table with this model
    if s.calibration in SHIPPED_DEPTH:
        return OrderBookVenue.from_calibration(s.calibration, s.asset, ctx.price, s.scale)
    bids, asks = load_depth_file(ctx.resolve(s.calibration, "calibration"))
    return OrderBookVenue(s.asset, ctx.price, bids, asks, s.scale)


def files(settings: Settings) -> dict[str, str]:
    """``calibration`` when it is a depth file rather than a shipped calibration."""
    cal = cast(OrderBookVenueConfig, settings).calibration
    return {} if cal in SHIPPED_DEPTH else {"calibration": cal}


SPEC = VenueSpec("orderbook", "order book", OrderBookVenueConfig, build, files)
