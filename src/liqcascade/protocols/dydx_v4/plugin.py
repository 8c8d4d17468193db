"""dYdX v4 in the perp registry: ``engine = "dydx_v4"``."""

from __future__ import annotations

from typing import Any

from liqcascade.protocols.perps_registry import PerpSpec


def build(settings: Any):
    """The engine with the genesis liquidation config and dYdX's tiers; ``settings`` may be
    None (defaults) or a mapping of :class:`~liqcascade.protocols.dydx_v4.rules.DydxV4Rules`
    keyword arguments."""
    from liqcascade.protocols.dydx_v4.rules import DydxV4Rules

    return DydxV4Rules(**dict(settings or {}))


PERP_SPEC = PerpSpec("dydx_v4", "dYdX v4", build)
