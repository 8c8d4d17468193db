"""The Aave liquidation rule sets (see shared reference §1 and ``docs/engine.md``): v2 and v3.

Aave v2 (aave/protocol-v2, ``LendingPoolCollateralManager``) is the rule set ``"2"`` of this
folder rather than a protocol of its own: its book (per-row collateral and debt, per-asset LT
and bonus) and its liquidation (seize collateral at a bonus, repay debt) are v3.0's, and the
engines run the same kernels. What differs is a fixed 50 % close factor at any HF below 1,
no protocol fee and no e-mode (``rules.AaveV3Rules`` refuses parameters that have either),
plus integer details that only the exact form sees (``exact_v2.py``: ETH-based oracle,
stable debt, the order of rounding in the seize amount).

Aave v3 is not one rule set: the close factor, dust rule and bad-debt burn changed in v3.3,
rounding in v3.5 and v3.7, and which collateral counts in v3.6. Every Aave market in a
scenario names one of these, with no default.

The shared reference names four sets: ``3.0-3.2``, ``3.3-3.4``, ``3.5-3.6`` and ``3.7``.
v3.5 and v3.6 are not quite one rule set: v3.6 (aave-dao/aave-v3-origin tag v3.6.0,
``GenericLogic.calculateUserAccountData`` and ``ValidationLogic.validateLiquidationCall``)
stops requiring a reserve liquidation threshold above 0 for collateral, so an asset that is
collateral only inside an e-mode counts there at the e-mode LT, and enabled collateral with
LT 0 can be seized. So there are five codes, and the names ``"3.5"`` and ``"3.6"`` pick one.
The reference's group name ``"3.5-3.6"`` is accepted for a market whose parameters cannot tell
the two apart (no asset with LT 0 in an e-mode category, :func:`emode_only_collateral`), and
refused, naming the assets, for one whose parameters can; it runs as ``V3_5`` (the same
numbers as ``V3_6`` on such a market).
"""

from __future__ import annotations

from typing import Any

from liqcascade.errors import ConfigError

V2 = 20  # Aave v2: 50 % close factor at any HF < 1, no protocol fee, no e-mode, no dust rule, no burn
V3_0 = 30  # v3.0-3.2 (and SparkLend): per-reserve 50 % close factor above HF 0.95, no dust rule, no burn
V3_3 = 33  # v3.3-3.4: whole-position close factor thresholds, dust leftovers, bad-debt burn to deficit
V3_5 = 35  # v3.5: as 3.3 with directional rounding of balances and base values
V3_6 = 36  # v3.6: as 3.5, and collateral no longer needs a reserve LT > 0 (e-mode-only collateral)
V3_7 = 37  # v3.7: as 3.6 with floor/ceil rounding in seize math and scaled-consumption bad-debt check

VERSIONS: dict[str, int] = {"2": V2, "3.0-3.2": V3_0, "3.3-3.4": V3_3, "3.5": V3_5, "3.6": V3_6, "3.7": V3_7}
NAMES: dict[int, str] = {v: k for k, v in VERSIONS.items()}

GROUP_3_5_6 = "3.5-3.6"
"""The shared reference's name for v3.5 and v3.6 together (see the module docstring)."""

ACCEPTED_NAMES: tuple[str, ...] = ("2", "3.0-3.2", "3.3-3.4", GROUP_3_5_6, "3.5", "3.6", "3.7")
"""Every name ``market.version`` accepts."""

V2_CLOSE_FACTOR = 0.5  # LendingPoolCollateralManager.LIQUIDATION_CLOSE_FACTOR_PERCENT = 5000
CLOSE_FACTOR_HF_THRESHOLD = 0.95
DEFAULT_LIQUIDATION_CLOSE_FACTOR = 0.5
MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD_USD = 2000.0  # 2000e8 in the oracle's base unit
MIN_LEFTOVER_BASE_USD = 1000.0  # 1000e8


def emode_only_collateral(params: Any) -> list[str]:
    """Assets of ``params`` (a :class:`~liqcascade.model.RiskParams`) whose reserve LT is 0 but
    which an e-mode category with LT > 0 holds: collateral from v3.6 only.

    Membership is the category's asset set when given, else the asset's own category (as in
    ``rules.AaveV3Rules.param_table``).
    """
    out = []
    for i, sym in enumerate(params.symbols):
        if params.liquidation_threshold[i] > 0:
            continue
        for cat in params.emodes:
            member = sym in cat.assets if cat.assets else int(params.emode_category[i]) == cat.id
            if member and cat.liquidation_threshold > 0:
                out.append(sym)
                break
    return out


def parse_version(text: str, file: str = "<config>", key: str = "version", params: Any = None) -> int:
    """Map a version name to its code: ``"2"`` (Aave v2), ``"3.0-3.2"``, ``"3.3-3.4"``, ``"3.5"``, ``"3.6"``,
    ``"3.7"``, or ``"3.5-3.6"`` given the market's ``params`` when they cannot tell v3.5 from
    v3.6 (then ``V3_5``; see the module docstring)."""
    t = str(text).strip().replace("–", "-")
    if t in VERSIONS:
        return VERSIONS[t]
    if t == GROUP_3_5_6:
        if params is None:
            raise ConfigError(file, key, "'3.5' or '3.6' ('3.5-3.6' needs the market's parameters to be resolved)", text)
        split = emode_only_collateral(params)
        if split:
            raise ConfigError(
                file, key,
                f"'3.5' or '3.6': these parameters have assets with LT 0 in an e-mode ({', '.join(split)}), "
                "collateral there from v3.6 only",
                text,
            )  # fmt: skip
        return V3_5
    raise ConfigError(file, key, f"one of {list(ACCEPTED_NAMES)}", text)
