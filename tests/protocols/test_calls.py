"""The call rules each protocol declares (protocols/calls.py, ``call_rule`` of its rules): hand
cases, and each rule's maximum call tied to the float rule its protocol's engines run
(``fast.py``), so the strategies plan with exactly what the kernels will do."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from liqcascade.errors import ConfigError
from liqcascade.model import AssetParams, RiskParams
from liqcascade.protocols.aave_v3.versions import V2, V3_0, V3_3
from liqcascade.protocols.aave_v3 import fast as aave
from liqcascade.protocols.aave_v3.rules import AaveV3Rules
from liqcascade.protocols.calls import FixedSpread, HealthDiscount, Position, PositionFraction
from liqcascade.protocols.crvusd.rules import CrvUsdRules
from liqcascade.protocols.compound_v2 import fast as compound
from liqcascade.protocols.compound_v2.rules import CompoundV2Rules
from liqcascade.protocols.euler_v2 import fast as euler
from liqcascade.protocols.euler_v2.rules import EulerV2Rules
from liqcascade.protocols.morpho_blue import fast as morpho
from liqcascade.protocols.morpho_blue.rules import MorphoBlueRules

PARAMS = RiskParams.from_assets([AssetParams("WETH", 18, 0.80, 0.86, 0.08, 0.0), AssetParams("USDC", 6)])


def pos(coll, debt, lt, pc=2000.0, pd=1.0, **rest):
    return Position(coll, debt, pc, pd, lt, **rest)


# ------------------------------------------------------------------------- the declarations


def test_each_choosing_protocol_declares_its_rule():
    assert AaveV3Rules(PARAMS, V2).call_rule(0.05, 0.0, "USDC") == FixedSpread(0.5, 0.05, 0.0, protocol="aave_v3")
    v30 = AaveV3Rules(PARAMS, V3_0).call_rule(0.05, 0.1, "USDC")
    assert (v30.close_factor, v30.full_close_hf, v30.min_close_factor_usd, v30.min_leftover_usd) == (0.5, 0.95, 0, 0)
    v33 = AaveV3Rules(PARAMS, V3_3).call_rule(0.05, 0.1, "USDC")
    assert (v33.min_close_factor_usd, v33.min_leftover_usd, v33.protocol_fee) == (2000.0, 1000.0, 0.1)
    comp = CompoundV2Rules(PARAMS, deprecated_markets=("USDC",))
    assert comp.call_rule(0.08, 0.0, "WETH").close_factor == 0.5
    assert comp.call_rule(0.08, 0.0, "USDC").close_factor == 1.0  # a deprecated market: the whole borrow
    assert comp.call_rule(0.08, 0.0, "WETH").fee_on_seized
    assert MorphoBlueRules(PARAMS).call_rule(0.04, 0.0, "USDC").close_factor == 1.0
    assert EulerV2Rules(PARAMS, max_discount=0.2).call_rule(0.0, 0.0, "USDC") == HealthDiscount(0.2)
    crv = CrvUsdRules(PARAMS, collateral="WETH", debt_asset="USDC")
    assert isinstance(crv.call_rule(0.0, 0.0, "USDC"), PositionFraction)
    for rules in (AaveV3Rules(PARAMS, V3_0), comp, MorphoBlueRules(PARAMS), EulerV2Rules(PARAMS), crv):
        assert rules.capabilities.capped_calls


def test_crvusd_fraction_hand_case():
    # bands holding 10 WETH ($20,000; LT = 1 - liquidation_discount 0.06) and $500 of stablecoin against
    # 20,000 crvUSD: HF = (18,800 + 500) / 20,000 = 0.965. Repaying 5000 is frac 0.25: 2.5 WETH and
    # $125 of the stablecoin, so the liquidator pays 5000 - 125 = 4875 (0.975 per crvUSD repaid)
    rule = PositionFraction()
    p = pos(10.0, 20_000.0, 0.94, other_collateral_usd=500.0)
    assert rule.cap(p) == 20_000.0
    call, after = rule.call(p, 5000.0)
    assert (call.repay, call.seize) == (5000.0, 2.5)
    assert rule.paid_per_repay(p) == 0.975
    assert (after.collateral, after.debt, after.other_collateral_usd) == (7.5, 15_000.0, 375.0)
    assert after.health_factor == pytest.approx(p.health_factor, rel=1e-15)


# ------------------------------------------------------------------------- Compound v2

# 10 WETH at $2000 (collateral factor 0.825) against 16,600 USDC: HF = 16,500 / 16,600 = 0.99398.
# One liquidateBorrow repays at most half, 8300, seizing 8300 · 1.08 / 2000 = 4.482 WETH, of
# which 2.8 % (0.125496 WETH) goes to the reserves.
COMP = FixedSpread(close_factor=0.5, bonus=0.08, protocol_fee=0.028, fee_on_seized=True, protocol="compound_v2")


def test_compound_v2_hand_case():
    p = pos(10.0, 16_600.0, 0.825)
    call, after = COMP.call(p, COMP.cap(p))
    assert call.repay == pytest.approx(8300.0, rel=1e-15)
    assert call.seize == pytest.approx(4.482, rel=1e-15)
    assert call.fee == pytest.approx(0.125496, rel=1e-15)
    assert (after.collateral, after.debt) == pytest.approx((5.518, 8300.0), rel=1e-15)


# ------------------------------------------------------------------------- Morpho Blue and Euler v2


def test_morpho_blue_hand_case():
    # LLTV 0.86: LIF = 1 / (0.3·0.86 + 0.7) = 1 / 0.958; 17,500 USDC against 10 WETH (HF 0.98286):
    # the whole debt in one call, seizing 17,500 / 0.958 / 2000 = 9.13361 WETH
    rule = MorphoBlueRules(PARAMS).call_rule(morpho.liquidation_incentive_factor(0.86) - 1.0, 0.0, "USDC")
    p = pos(10.0, 17_500.0, 0.86)
    call, after = rule.call(p, rule.cap(p))
    assert call.repay == 17_500.0
    assert call.seize == pytest.approx(17_500.0 / 0.958 / 2000.0, rel=1e-14)
    assert after.debt == 0.0


def test_euler_v2_hand_case():
    rule = HealthDiscount(max_discount=0.15)
    # HF 0.98286: df = HF, the yield is 17,500 / 0.98286 = $17,805.2 of WETH
    p = pos(10.0, 17_500.0, 0.86)
    call, _ = rule.call(p, rule.cap(p))
    assert call.seize == pytest.approx(17_500.0 / (17_200.0 / 17_500.0) / 2000.0, rel=1e-14)
    # HF 0.8 is under the floor 1 - 0.15: df = 0.85, and 10 WETH cover only 20,000 · 0.85 = 17,000 of the 21,500
    deep = pos(10.0, 21_500.0, 0.86)
    assert rule.discount_factor(deep) == 0.85
    assert rule.cap(deep) == pytest.approx(17_000.0, rel=1e-14)


# ------------------------------------------------------------------------- Aave v3


def test_aave_v3_close_factor_by_health():
    rule = AaveV3Rules(PARAMS, V3_0).call_rule(0.05, 0.0, "USDC")
    assert rule.cap(pos(10.0, 17_500.0, 0.86)) == pytest.approx(8750.0)  # HF 0.98286: half
    assert rule.cap(pos(10.0, 18_200.0, 0.86)) == 18_200.0  # HF 0.94505 <= 0.95: all of it


def test_aave_v3_3_dust_rule_hand_case():
    # 1.02 WETH ($2040, LT 0.96) against 2000 USDC: HF 0.9792. Half the debt, 1000, would seize
    # $1050 and leave $990 of collateral (< $1000): the largest allowed repay leaves exactly $1000,
    # (2040 - 1000) / 1.05 = 990.476, shaved by 1e-12
    rule = AaveV3Rules(PARAMS, V3_3).call_rule(0.05, 0.0, "USDC")
    p = pos(1.02, 2000.0, 0.96)
    assert rule.cap(p) == pytest.approx(1000.0, rel=1e-15)
    assert rule.allowed(p, 1000.0) == pytest.approx(1040.0 / 1.05, rel=1e-11)
    assert rule.allowed(p, 500.0) == 500.0  # leaves $1500 of debt and $1515 of collateral
    # a pair under $2000 ($1800 of WETH at LT 0.9 against 1700 USDC, HF 0.953 > 0.95) may be
    # closed whole, and then no leftover rule applies
    small = pos(0.9, 1700.0, 0.9)
    assert rule.cap(small) == 1700.0 and rule.allowed(small, 1700.0) == 1700.0


single_pairs = st.tuples(
    st.floats(0.01, 1e4),  # collateral WETH
    st.floats(100.0, 2e7),  # debt USDC
    st.floats(0.3, 0.97),  # LT
    st.floats(100.0, 5000.0),  # WETH price
    st.floats(0.0, 0.15),  # bonus
)


@given(single_pairs, st.sampled_from([V2, V3_0, V3_3]))
def test_aave_rule_is_the_kernels_float_rule(case, version):
    coll, debt, lt, pc, bonus = case
    p = pos(coll, debt, lt, pc=pc)
    if not p.liquidatable:
        return
    rule = AaveV3Rules(PARAMS, version).call_rule(bonus, 0.0, "USDC")
    hf = p.health_factor
    cover = aave.largest_allowed_cover(version, hf, coll, pc, debt, 1.0, debt, bonus)
    repaid, seized, _, revert = aave.liquidation_call(version, hf, coll, pc, debt, 1.0, debt, bonus, 0.0, cover)
    assert revert == 0
    call, _ = rule.call(p, rule.allowed(p, rule.cap(p)))
    assert call.repay == pytest.approx(repaid, rel=1e-9)
    assert call.seize == pytest.approx(seized, rel=1e-9)


@given(single_pairs, st.floats(0.05, 0.9), st.floats(0.0, 0.1))
def test_compound_rule_is_the_kernels_float_rule(case, cf, share):
    coll, debt, lt, pc, bonus = case
    p = pos(coll, debt, lt, pc=pc)
    if not p.liquidatable:
        return
    rule = FixedSpread(close_factor=cf, bonus=bonus, protocol_fee=share, fee_on_seized=True)
    repaid, seized, fee = compound.liquidate_call(coll, pc, debt, 1.0, 1.0 + bonus, cf, share, False)
    call, _ = rule.call(p, rule.cap(p))
    assert (call.repay, call.seize, call.fee) == pytest.approx((repaid, seized, fee), rel=1e-12)


@given(single_pairs, st.floats(0.0, 0.5))
def test_morpho_and_euler_rules_are_the_kernels_float_rules(case, max_discount):
    coll, debt, lt, pc, _ = case
    p = pos(coll, debt, lt, pc=pc)
    if not p.liquidatable:
        return
    lif = morpho.liquidation_incentive_factor(lt)
    rule = FixedSpread(close_factor=1.0, bonus=lif - 1.0)
    repaid, seized, _ = morpho.liquidate_all(coll, pc, debt, 1.0, lif)
    call, _ = rule.call(p, rule.cap(p))
    assert (call.repay, call.seize) == pytest.approx((repaid, seized), rel=1e-12)
    e = HealthDiscount(max_discount)
    repaid, seized = euler.liquidate_call(coll, pc, debt, 1.0, euler.discount_factor(p.health_factor, max_discount))
    call, _ = e.call(p, e.cap(p))
    assert (call.repay, call.seize) == pytest.approx((repaid, seized), rel=1e-12)


def test_bad_rules_name_their_key():
    with pytest.raises(ConfigError, match="CallRule.max_discount"):
        HealthDiscount(max_discount=1.0)
    with pytest.raises(ConfigError, match="CallRule.bonus"):
        FixedSpread(bonus=math.nan)
