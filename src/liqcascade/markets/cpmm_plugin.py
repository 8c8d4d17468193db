"""The ``cpmm`` venue kind: a constant-product pool's scenario table and builder."""

from __future__ import annotations

from typing import Literal, cast

from pydantic import Field

from liqcascade.markets.cpmm import ConstantProductPool
from liqcascade.markets.registry import Settings, VenueContext, VenueSpec


class CpmmVenueConfig(Settings):
    """A constant-product pool (Uniswap v2 math) against a USD stablecoin."""

    kind: Literal["cpmm"] = Field(description="Venue kind.")
    asset: str = Field(description="Asset sold into the venue.")
    reserve_usd: float = Field(gt=0, description="Value of each side of the pool at the reference price, USD.")
    fee: float = Field(0.003, ge=0, lt=0.1, description="Swap fee as a fraction of the input.")


def build(ctx: VenueContext) -> ConstantProductPool:
    s = cast(CpmmVenueConfig, ctx.settings)  # the registry validated the table with this model
    return ConstantProductPool.from_price_depth(s.asset, ctx.price, s.reserve_usd, s.fee)


SPEC = VenueSpec("cpmm", "constant-product pool", CpmmVenueConfig, build)
