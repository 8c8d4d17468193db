"""Euler v2 in the protocol registry: settings ``[market.euler_v2]``."""

from __future__ import annotations

from pydantic import Field

from liqcascade.protocols.registry import BuildContext, ProtocolSpec, Settings


class EulerV2Config(Settings):
    """Euler v2's settings (liquidation_threshold = the collateral's liquidation LTV)."""

    max_discount: float = Field(0.15, ge=0, lt=1, description="maxLiquidationDiscount of the controller vault.")


def build(ctx: BuildContext):
    from liqcascade.protocols.euler_v2.rules import EulerV2Rules

    return EulerV2Rules(ctx.params, ctx.settings_or(EulerV2Config).max_discount)


SPEC = ProtocolSpec("euler_v2", "Euler v2", build, "euler_v2", EulerV2Config, "Euler v2 settings (protocol = euler_v2).")
