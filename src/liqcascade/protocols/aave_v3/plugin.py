"""Aave v3 in the protocol registry: no settings table; ``[market].version`` picks the rule set."""

from __future__ import annotations

from liqcascade.errors import ConfigError
from liqcascade.protocols.registry import BuildContext, ProtocolSpec


def build(ctx: BuildContext):
    from liqcascade.protocols.aave_v3.rules import AaveV3Rules
    from liqcascade.protocols.aave_v3.versions import parse_version

    if ctx.version is None:
        raise ConfigError(ctx.source, "market.version",
                          "an Aave rule set: one of '2' (Aave v2), '3.0-3.2', '3.3-3.4', '3.5-3.6' ('3.5', '3.6'), '3.7'")
    return AaveV3Rules(ctx.params, parse_version(ctx.version, ctx.source, "market.version", ctx.params), ctx.pair_policy)


SPEC = ProtocolSpec("aave_v3", "Aave v3", build)
