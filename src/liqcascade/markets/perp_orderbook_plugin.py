"""The ``perp_orderbook`` venue kind: a perp's own book with depth that moves in time."""

from __future__ import annotations

from typing import Literal, cast

from pydantic import Field

from liqcascade.markets.perp_book import PerpOrderBookVenue
from liqcascade.markets.perp_depth import load_dynamics, shipped_dynamics
from liqcascade.markets.registry import Settings, VenueContext, VenueSpec

SHIPPED = "btcusdt-2025-10-10"


class PerpOrderBookVenueConfig(Settings):
    """A perpetual's order book: the calm depth of a fit scaled by exp(-stress), refilling in time."""

    kind: Literal["perp_orderbook"] = Field(description="Venue kind.")
    asset: str = Field(description="Asset sold into the venue (the perp's underlying).")
    dynamics: str = Field(
        SHIPPED,
        description=f"'{SHIPPED}' (Binance BTCUSDT perp depth fitted to 2025-10-10, docs/perps.md) or a path to a "
        "depth-dynamics JSON written by liqcascade.markets.perp_depth.",
    )
    stress: float = Field(
        0.0, ge=0, description="Depth stress at the start: depth is the calm depth times exp(-stress)."
    )
    scale: float = Field(1.0, gt=0, description="Multiplier on the fitted notional depth (to fit another asset).")
    refill_half_life_s: float | None = Field(
        None, gt=0, description="Half-life of consumed depth in seconds; default the fit's depth-recovery half-life."
    )


def build(ctx: VenueContext) -> PerpOrderBookVenue:
    s = cast(PerpOrderBookVenueConfig, ctx.settings)  # the registry validated the table with this model
    dyn = shipped_dynamics() if s.dynamics == SHIPPED else load_dynamics(ctx.resolve(s.dynamics, "dynamics"))
    return PerpOrderBookVenue(s.asset, ctx.price, dyn, s.stress, s.scale, refill_half_life_s=s.refill_half_life_s)


def files(settings: Settings) -> dict[str, str]:
    """``dynamics`` when it is a file rather than the shipped fit."""
    d = cast(PerpOrderBookVenueConfig, settings).dynamics
    return {} if d == SHIPPED else {"dynamics": d}


SPEC = VenueSpec("perp_orderbook", "perp order book", PerpOrderBookVenueConfig, build, files)
