"""Liquity v2 in the protocol registry: the settings table ``[market.liquity]`` of Liquity v1."""

from __future__ import annotations

from liqcascade.protocols.liquity_v1.plugin import HELP, LiquityConfig, liquity_rules
from liqcascade.protocols.registry import BuildContext, ProtocolSpec


def build(ctx: BuildContext):
    from liqcascade.protocols.liquity_v2.rules import LiquityV2Rules

    return liquity_rules(ctx, LiquityV2Rules)


SPEC = ProtocolSpec("liquity_v2", "Liquity v2", build, "liquity", LiquityConfig, HELP)
