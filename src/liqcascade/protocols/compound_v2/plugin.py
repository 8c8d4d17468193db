"""Compound v2 in the protocol registry: settings ``[market.compound_v2]``."""

from __future__ import annotations

from pydantic import Field

from liqcascade.protocols.registry import BuildContext, ProtocolSpec, Settings


class CompoundV2Config(Settings):
    """Compound v2's liquidation settings (the collateral factor is each asset's liquidation_threshold,
    the incentive 1 + liquidation_bonus)."""

    close_factor: float = Field(0.5, gt=0, le=1, description="Comptroller closeFactor: share of one borrow a call may repay.")
    protocol_seize_share: float = Field(0.028, ge=0, lt=1, description="Share of the seized collateral kept as reserves.")
    deprecated_markets: list[str] = Field(
        default_factory=list,
        description="Assets whose borrow market is deprecated (isDeprecated): the close factor does not apply, "
        "a call may repay the whole borrow.")


def build(ctx: BuildContext):
    from liqcascade.protocols.compound_v2.rules import CompoundV2Rules

    c = ctx.settings_or(CompoundV2Config)
    return CompoundV2Rules(ctx.params, c.close_factor, c.protocol_seize_share, tuple(c.deprecated_markets))


SPEC = ProtocolSpec("compound_v2", "Compound v2", build, "compound_v2", CompoundV2Config,
                    "Compound v2 settings (used when protocol = compound_v2, or in `liqcascade compare`).")
