"""Liquity v1 in the protocol registry: settings ``[market.liquity]`` (shared with Liquity v2)."""

from __future__ import annotations

from pydantic import Field

from liqcascade.errors import ConfigError
from liqcascade.protocols.registry import BuildContext, ProtocolSpec, Settings


class LiquityConfig(Settings):
    """Liquity's settings (the MCR is the protocol's, not the parameter file's)."""

    collateral: str = Field("WETH", description="The collateral asset of the troves (the branch for v2).")
    debt_asset: str = Field("DAI", description="A $1 asset of the market standing for LUSD/BOLD.")
    stability_pool_share: float = Field(0.5, ge=0, allow_inf_nan=False, description="Stability Pool deposits as a share of all troves' debt.")
    sp_sell_fraction: float = Field(1.0, ge=0, le=1, description="Share of their collateral gains SP depositors sell at once.")


HELP = "Liquity settings (protocol = liquity_v1 or liquity_v2)."


def liquity_rules(ctx: BuildContext, cls):
    """Liquity v1 or v2 rules (``cls``) for the context; the Stability Pool is a share of the
    book's debt in ``debt_asset``."""
    c = ctx.settings_or(LiquityConfig)
    symbols = ctx.params.symbols
    if c.debt_asset not in symbols:
        raise ConfigError(ctx.source, "market.liquity.debt_asset", f"an asset of the market {list(symbols)}", c.debt_asset)
    book = ctx.book
    total_debt = 0.0 if book is None else float(book.debt[book.asset == symbols.index(c.debt_asset)].sum())
    return cls(ctx.params, collateral=c.collateral, debt_asset=c.debt_asset,
               stability_pool=c.stability_pool_share * total_debt, sp_sell_fraction=c.sp_sell_fraction)


def build(ctx: BuildContext):
    from liqcascade.protocols.liquity_v1.rules import LiquityV1Rules

    return liquity_rules(ctx, LiquityV1Rules)


SPEC = ProtocolSpec("liquity_v1", "Liquity v1", build, "liquity", LiquityConfig, HELP)
