"""Hyperliquid in the perp registry."""

from __future__ import annotations

from liqcascade.protocols.perps_registry import PerpSpec


def build(settings):
    from liqcascade.protocols.hyperliquid.rules import HyperliquidEngine, HyperliquidSettings

    return HyperliquidEngine(settings if settings is not None else HyperliquidSettings())


PERP_SPEC = PerpSpec("hyperliquid", "Hyperliquid", build)
