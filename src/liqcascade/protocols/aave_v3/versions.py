"""The Aave v3 liquidation rule sets (see shared reference §1 and ``docs/engine.md``).

Aave v3 is not one rule set: the close factor, dust rule and bad-debt burn changed in v3.3,
rounding in v3.5 and v3.7, and which collateral counts in v3.6. Every Aave market in a
scenario names one of these, with no default.

v3.5 and v3.6 are separate rule sets although the shared reference groups them: v3.6
(aave-dao/aave-v3-origin tag v3.6.0, ``GenericLogic.calculateUserAccountData`` and
``ValidationLogic.validateLiquidationCall``) stops requiring a reserve liquidation threshold
above 0 for collateral, so an asset that is collateral only inside an e-mode counts there, and
enabled collateral with LT 0 can be seized. The old name ``"3.5-3.6"`` is refused with that
reason, so no market silently gets the wrong one.
"""

from __future__ import annotations

from liqcascade.errors import ConfigError

V3_0 = 30  # v3.0-3.2 (and SparkLend): per-reserve 50 % close factor above HF 0.95, no dust rule, no burn
V3_3 = 33  # v3.3-3.4: whole-position close factor thresholds, dust leftovers, bad-debt burn to deficit
V3_5 = 35  # v3.5: as 3.3 with directional rounding of balances and base values
V3_6 = 36  # v3.6: as 3.5, and collateral no longer needs a reserve LT > 0 (e-mode-only collateral)
V3_7 = 37  # v3.7: as 3.6 with floor/ceil rounding in seize math and scaled-consumption bad-debt check

VERSIONS: dict[str, int] = {"3.0-3.2": V3_0, "3.3-3.4": V3_3, "3.5": V3_5, "3.6": V3_6, "3.7": V3_7}
NAMES: dict[int, str] = {v: k for k, v in VERSIONS.items()}

SPLIT_NAMES: dict[str, str] = {
    "3.5-3.6": "'3.5' or '3.6' (v3.6 counts collateral whose reserve LT is 0, e.g. e-mode-only collateral)"
}
"""Former names that covered rule sets which differ; naming one is a config error."""

CLOSE_FACTOR_HF_THRESHOLD = 0.95
DEFAULT_LIQUIDATION_CLOSE_FACTOR = 0.5
MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD_USD = 2000.0  # 2000e8 in the oracle's base unit
MIN_LEFTOVER_BASE_USD = 1000.0  # 1000e8


def parse_version(text: str, file: str = "<config>", key: str = "version") -> int:
    """Map a version name ("3.0-3.2", "3.3-3.4", "3.5", "3.6", "3.7") to its code."""
    t = str(text).strip().replace("–", "-")
    if t in VERSIONS:
        return VERSIONS[t]
    if t in SPLIT_NAMES:
        raise ConfigError(file, key, SPLIT_NAMES[t], text)
    raise ConfigError(file, key, f"one of {list(VERSIONS)}", text)
