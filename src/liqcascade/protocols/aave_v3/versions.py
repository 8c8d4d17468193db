"""The four Aave v3 liquidation rule sets (see shared reference §1).

Aave v3 is not one rule set: rounding and close-factor rules changed in v3.3, v3.5 and
v3.7. Every Aave market in a scenario names one of these, with no default.
"""

from __future__ import annotations

from liqcascade.errors import ConfigError

V3_0 = 30  # v3.0-3.2 (and SparkLend): per-reserve 50 % close factor above HF 0.95, no dust rule, no burn
V3_3 = 33  # v3.3-3.4: whole-position close factor thresholds, dust leftovers, bad-debt burn to deficit
V3_5 = 35  # v3.5-3.6: as 3.3 with directional rounding of balances and base values
V3_7 = 37  # v3.7: as 3.5 with floor/ceil rounding in seize math and scaled-consumption bad-debt check

VERSIONS: dict[str, int] = {"3.0-3.2": V3_0, "3.3-3.4": V3_3, "3.5-3.6": V3_5, "3.7": V3_7}
NAMES: dict[int, str] = {v: k for k, v in VERSIONS.items()}

CLOSE_FACTOR_HF_THRESHOLD = 0.95
DEFAULT_LIQUIDATION_CLOSE_FACTOR = 0.5
MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD_USD = 2000.0  # 2000e8 in the oracle's base unit
MIN_LEFTOVER_BASE_USD = 1000.0  # 1000e8


def parse_version(text: str, file: str = "<config>", key: str = "version") -> int:
    """Map a version name ("3.0-3.2", "3.3-3.4", "3.5-3.6", "3.7") to its code."""
    t = str(text).strip().replace("–", "-")
    if t in VERSIONS:
        return VERSIONS[t]
    raise ConfigError(file, key, f"one of {list(VERSIONS)}", text)
