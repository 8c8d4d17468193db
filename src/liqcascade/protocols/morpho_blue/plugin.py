"""Morpho Blue in the protocol registry: no settings table (each asset's LLTV is its liquidation_threshold)."""

from __future__ import annotations

from liqcascade.protocols.registry import BuildContext, ProtocolSpec


def build(ctx: BuildContext):
    from liqcascade.protocols.morpho_blue.rules import MorphoBlueRules

    return MorphoBlueRules(ctx.params)


SPEC = ProtocolSpec("morpho_blue", "Morpho Blue", build)
