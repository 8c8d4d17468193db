"""The ``impact`` venue kind: a power-law impact law's scenario table and builder."""

from __future__ import annotations

from typing import Literal, cast

from pydantic import Field

from liqcascade.markets.impact import PowerLawImpact
from liqcascade.markets.registry import Settings, VenueContext, VenueSpec


class ImpactVenueConfig(Settings):
    """A power-law price-impact law: I(Q) = coefficient * (Q * p / depth_usd) ** exponent."""

    kind: Literal["impact"] = Field(description="Venue kind.")
    asset: str = Field(description="Asset sold into the venue.")
    depth_usd: float = Field(gt=0, description="Depth scale D in USD (the notional whose sale moves the price by `coefficient`).")
    exponent: float = Field(0.5, gt=0, le=2, description="Exponent of the law (0.5 = square-root impact).")
    coefficient: float = Field(1.0, gt=0, description="Impact at Q * p = D.")
    permanent_fraction: float = Field(1.0, ge=0, le=1, description="Share of the impact that stays in the price.")


def build(ctx: VenueContext) -> PowerLawImpact:
    s = cast(ImpactVenueConfig, ctx.settings)  # the registry validated the table with this model
    return PowerLawImpact(asset=s.asset, price=ctx.price, depth_usd=s.depth_usd, coefficient=s.coefficient,
                          exponent=s.exponent, permanent=s.permanent_fraction)


SPEC = VenueSpec("impact", "power-law impact", ImpactVenueConfig, build)
