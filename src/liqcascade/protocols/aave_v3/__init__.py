"""Aave v3 liquidation rules: integer-exact (``exact``) and float64 (``fast``)."""

from liqcascade.protocols.aave_v3.versions import NAMES, V3_0, V3_3, V3_5, V3_6, V3_7, VERSIONS, parse_version

__all__ = ["NAMES", "V3_0", "V3_3", "V3_5", "V3_6", "V3_7", "VERSIONS", "parse_version"]
