"""The Binance-like centralised-exchange margin engine in the perp registry."""

from __future__ import annotations

from liqcascade.protocols.perps_registry import PerpSpec


def build(settings):
    from liqcascade.protocols.cex_perp.rules import CexEngine, CexSettings

    return CexEngine(settings if settings is not None else CexSettings())


PERP_SPEC = PerpSpec("cex_perp", "Centralised exchange (Binance-like)", build)
