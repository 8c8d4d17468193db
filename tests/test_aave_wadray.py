"""Aave fixed-point primitives: the protocol's literal cases and rounding properties.

The literal cases of PercentageMath.t.sol / WadRayMath.t.sol also run as conformance
vectors (data/conformance/aave_v3/math.yaml); here they are spot-checked directly, and the
rounding relations are checked by Hypothesis against the definitions in the Solidity
comments (aave-dao/aave-v3-origin@fd1fbd91, src/contracts/protocol/libraries/math/).
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liqcascade.errors import LiqcascadeError
from liqcascade.protocols.aave_v3 import wadray as wr

U = 2**256 - 1


def test_a10_percent_math():
    # shared reference A10 = PercentageMath.t.sol::test_percentMul / test_percentDiv
    assert wr.percent_mul(14_2515 * 10**14, 74_42) == 10_605966300000000000
    assert wr.percent_div(14_2515 * 10**14, 74_42) == 19150094060736361193
    assert wr.percent_div(9087312 * 10**27, 13_33) == 68171882970742685671417854463615904


def test_literal_cases_from_solidity_tests():
    assert wr.percent_div_floor(5, 3) == 16666
    assert wr.percent_div_ceil(5, 3) == 16667
    assert wr.percent_mul_ceil(1, 1) == 1 and wr.percent_mul_floor(1, 1) == 0
    assert wr.wad_div(8745 * 10**15, 67 * 10**16) == 13_052238805970149254
    assert wr.ray_div(8745 * 10**24, 67 * 10**25) == 13_052238805970149253731343284
    assert wr.ray_div_ceil(5, 3) == 1666666666666666666666666667
    assert wr.ray_div_floor(5, 3) == 1666666666666666666666666666
    assert wr.ray_mul_ceil(3, 5) == 1 and wr.ray_mul_floor(3, 5) == 0


@pytest.mark.parametrize(
    "fn,args",
    [
        (wr.percent_mul, (U, 2)),
        (wr.percent_div, (10**18, 0)),
        (wr.percent_div, (U, 1)),
        (wr.percent_div_ceil, (U, 1)),
        (wr.wad_mul, (U, 2)),
        (wr.ray_div, (10**27, 0)),
        (wr.ray_mul_floor, (U, 2)),
        (wr.wad_to_ray, (U,)),
        (wr.mul_div_ceil, (1, 1, 0)),
    ],
)
def test_reverts_are_liqcascade_errors(fn, args):
    with pytest.raises(wr.FixedPointRevert) as exc:
        fn(*args)
    assert isinstance(exc.value, LiqcascadeError)


def test_percent_mul_guard_is_exactly_the_solidity_bound():
    # value <= (max - HALF_PERCENTAGE_FACTOR) / percentage passes, one more reverts
    p = 7442
    edge = (U - 5000) // p
    assert wr.percent_mul(edge, p) == (edge * p + 5000) // 10**4
    with pytest.raises(wr.FixedPointRevert):
        wr.percent_mul(edge + 1, p)


small = st.integers(min_value=0, max_value=2**120)
pos = st.integers(min_value=1, max_value=2**120)


@settings(max_examples=200, deadline=None)
@given(a=small, b=pos)
def test_directional_rounding_brackets_half_up(a, b):
    for floor, half, ceil, exact_num, exact_den in (
        (wr.percent_mul_floor, wr.percent_mul, wr.percent_mul_ceil, a * (b % 10**4), 10**4),
        (wr.ray_mul_floor, wr.ray_mul, wr.ray_mul_ceil, a * b, 10**27),
    ):
        x = b % 10**4 if floor is wr.percent_mul_floor else b
        lo, mid, hi = floor(a, x), half(a, x), ceil(a, x)
        assert lo <= mid <= hi and hi - lo <= 1
        assert lo == exact_num // exact_den
        assert hi * exact_den >= exact_num
    lo, mid, hi = wr.ray_div_floor(a, b), wr.ray_div(a, b), wr.ray_div_ceil(a, b)
    assert lo <= mid <= hi and hi - lo <= 1 and lo == a * 10**27 // b
    assert (hi == lo) == (a * 10**27 % b == 0)


@settings(max_examples=200, deadline=None)
@given(a=small, b=pos)
def test_half_up_matches_the_fuzz_reference(a, b):
    # PercentageMath.t.sol / WadRayMath.t.sol fuzz tests state the formulas below
    pct = b % 10**5 + 1
    assert wr.percent_mul(a, pct) == (a * pct + 5000) // 10**4
    assert wr.percent_div(a, pct) == (a * 10**4 + pct // 2) // pct
    assert wr.wad_mul(a, b) == (a * b + 10**18 // 2) // 10**18
    assert wr.wad_div(a, b) == (a * 10**18 + b // 2) // b
    r = wr.ray_to_wad(a)
    assert r == a // 10**9 + (1 if a % 10**9 >= 5 * 10**8 else 0)
