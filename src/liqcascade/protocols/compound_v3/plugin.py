"""Compound v3 (Comet) in the protocol registry: settings ``[market.compound_v3]``."""

from __future__ import annotations

from pydantic import Field

from liqcascade.protocols.registry import BuildContext, ProtocolSpec, Settings


class StoreFrontConfig(Settings):
    """Comet's store front over time (dynamic engine)."""

    reserves_usd: float = Field(40e6, allow_inf_nan=False, description="Reserves at the start (USD).")
    target_reserves_usd: float = Field(20e6, ge=0, allow_inf_nan=False, description="targetReserves: collateral is sold only while reserves are below.")
    buyer_margin: float = Field(0.005, ge=0, lt=1, description="Buyers' required margin over the store-front price on their exit.")


class CompoundV3Config(Settings):
    """Comet's settings (liquidation_threshold = liquidateCollateralFactor, liquidation_bonus = 1 - liquidationFactor)."""

    base: str = Field("USDC", description="The base asset every account borrows.")
    store_front_factor: float = Field(0.5, ge=0, le=1, description="storeFrontPriceFactor: share of the liquidation penalty given to buyers.")
    resale: bool = Field(True, description="Absorbed collateral is sold on at once (reserves below target) or kept.")
    storefront: StoreFrontConfig | None = Field(
        None, description="Dynamic engine: keep absorbed collateral and sell it over time through buyCollateral."
    )


def build(ctx: BuildContext):
    from liqcascade.protocols.compound_v3.rules import CometRules
    from liqcascade.protocols.compound_v3.storefront import StoreFrontSettings

    c = ctx.settings_or(CompoundV3Config)
    sf = None if c.storefront is None else StoreFrontSettings(**c.storefront.model_dump())
    return CometRules(ctx.params, c.base, c.store_front_factor, c.resale, sf)


SPEC = ProtocolSpec("compound_v3", "Compound v3 (Comet)", build, "compound_v3", CompoundV3Config,
                    "Comet settings (protocol = compound_v3).")
