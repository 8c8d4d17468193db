"""Aave's fixed-point primitives, on Python ints, with Aave's rounding and revert rules.

Each function computes exactly what its Solidity namesake returns for every ``uint256``
input, and raises :class:`FixedPointRevert` where the Solidity version reverts (division
by zero, or an intermediate product above ``2**256 - 1``). Python ints never overflow, so
the overflow guards are restated from the source rather than inherited.

Sources (aave-dao/aave-v3-origin@fd1fbd91, v3.7.0):

- ``src/contracts/protocol/libraries/math/PercentageMath.sol``: ``percentMul``/``percentDiv``
  round half up; ``percentMulFloor``/``percentMulCeil``/``percentDivFloor``/``percentDivCeil``
  were added for the v3.5/v3.7 directional rounding.
- ``src/contracts/protocol/libraries/math/WadRayMath.sol``: ``wadMul``/``wadDiv``/``rayMul``/
  ``rayDiv`` round half up; ``rayMulFloor``/``rayMulCeil``/``rayDivFloor``/``rayDivCeil`` are
  the v3.5 directional forms that ``helpers/TokenMath.sol`` builds balances from.
- ``src/contracts/protocol/libraries/math/MathUtils.sol``: ``mulDivCeil`` (base values of
  debt from v3.5).

Half-up division is ``(x + d // 2) // d``: for the percentage and wad/ray factors (even
constants) that is exact half-up; for ``percentDiv``/``wadDiv``/``rayDiv`` Aave adds
``divisor // 2``, which for an odd divisor rounds a remainder of exactly ``d // 2`` down.
We keep that quirk because it is what the chain computes.
"""

from __future__ import annotations

from liqcascade.errors import LiqcascadeError

UINT256_MAX = 2**256 - 1
WAD = 10**18
HALF_WAD = WAD // 2
RAY = 10**27
HALF_RAY = RAY // 2
WAD_RAY_RATIO = 10**9
PERCENTAGE_FACTOR = 10**4
HALF_PERCENTAGE_FACTOR = PERCENTAGE_FACTOR // 2


class FixedPointRevert(LiqcascadeError):
    """A fixed-point operation that reverts on chain (division by zero or uint256 overflow)."""


def _check(a: int, b: int) -> None:
    if a < 0 or b < 0 or a > UINT256_MAX or b > UINT256_MAX:
        raise FixedPointRevert(f"operands must be uint256, got {a}, {b}")


def _mul_guard(a: int, b: int, add: int, name: str) -> None:
    # Solidity: revert unless b == 0 or a <= (max - add) / b, i.e. a*b + add fits in uint256.
    if b != 0 and a > (UINT256_MAX - add) // b:
        raise FixedPointRevert(f"{name}({a}, {b}): uint256 overflow")


def _div_guard(a: int, b: int, factor: int, add: int, name: str) -> None:
    if b == 0:
        raise FixedPointRevert(f"{name}({a}, 0): division by zero")
    if a > (UINT256_MAX - add) // factor:
        raise FixedPointRevert(f"{name}({a}, {b}): uint256 overflow")


def _ceil_div(n: int, d: int) -> int:
    return -(-n // d)


# --- PercentageMath (bps, 1e4 = 100 %) ---------------------------------------------------


def percent_mul(value: int, percentage: int) -> int:
    """``PercentageMath.percentMul``: ``value * percentage / 1e4``, half up."""
    _check(value, percentage)
    _mul_guard(value, percentage, HALF_PERCENTAGE_FACTOR, "percentMul")
    return (value * percentage + HALF_PERCENTAGE_FACTOR) // PERCENTAGE_FACTOR


def percent_mul_floor(value: int, percentage: int) -> int:
    """``PercentageMath.percentMulFloor``: ``value * percentage / 1e4``, rounded down."""
    _check(value, percentage)
    _mul_guard(value, percentage, 0, "percentMulFloor")
    return value * percentage // PERCENTAGE_FACTOR


def percent_mul_ceil(value: int, percentage: int) -> int:
    """``PercentageMath.percentMulCeil``: ``value * percentage / 1e4``, rounded up."""
    _check(value, percentage)
    _mul_guard(value, percentage, 0, "percentMulCeil")
    return _ceil_div(value * percentage, PERCENTAGE_FACTOR)


def percent_div(value: int, percentage: int) -> int:
    """``PercentageMath.percentDiv``: ``value * 1e4 / percentage``, adding ``percentage // 2``."""
    _check(value, percentage)
    _div_guard(value, percentage, PERCENTAGE_FACTOR, percentage // 2, "percentDiv")
    return (value * PERCENTAGE_FACTOR + percentage // 2) // percentage


def percent_div_floor(value: int, percentage: int) -> int:
    """``PercentageMath.percentDivFloor``: ``value * 1e4 / percentage``, rounded down."""
    _check(value, percentage)
    _div_guard(value, percentage, PERCENTAGE_FACTOR, 0, "percentDivFloor")
    return value * PERCENTAGE_FACTOR // percentage


def percent_div_ceil(value: int, percentage: int) -> int:
    """``PercentageMath.percentDivCeil``: ``value * 1e4 / percentage``, rounded up."""
    _check(value, percentage)
    _div_guard(value, percentage, PERCENTAGE_FACTOR, 0, "percentDivCeil")
    return _ceil_div(value * PERCENTAGE_FACTOR, percentage)


# --- WadRayMath ----------------------------------------------------------------------------


def wad_mul(a: int, b: int) -> int:
    """``WadRayMath.wadMul``: ``a * b / 1e18``, half up."""
    _check(a, b)
    _mul_guard(a, b, HALF_WAD, "wadMul")
    return (a * b + HALF_WAD) // WAD


def wad_div(a: int, b: int) -> int:
    """``WadRayMath.wadDiv``: ``a * 1e18 / b``, adding ``b // 2``."""
    _check(a, b)
    _div_guard(a, b, WAD, b // 2, "wadDiv")
    return (a * WAD + b // 2) // b


def ray_mul(a: int, b: int) -> int:
    """``WadRayMath.rayMul``: ``a * b / 1e27``, half up (balances before v3.5)."""
    _check(a, b)
    _mul_guard(a, b, HALF_RAY, "rayMul")
    return (a * b + HALF_RAY) // RAY


def ray_mul_floor(a: int, b: int) -> int:
    """``WadRayMath.rayMulFloor``: ``a * b / 1e27``, down (aToken balance from v3.5)."""
    _check(a, b)
    _mul_guard(a, b, 0, "rayMulFloor")
    return a * b // RAY


def ray_mul_ceil(a: int, b: int) -> int:
    """``WadRayMath.rayMulCeil``: ``a * b / 1e27``, up (variable debt balance from v3.5)."""
    _check(a, b)
    _mul_guard(a, b, 0, "rayMulCeil")
    return _ceil_div(a * b, RAY)


def ray_div(a: int, b: int) -> int:
    """``WadRayMath.rayDiv``: ``a * 1e27 / b``, adding ``b // 2`` (scaled amounts before v3.5)."""
    _check(a, b)
    _div_guard(a, b, RAY, b // 2, "rayDiv")
    return (a * RAY + b // 2) // b


def ray_div_floor(a: int, b: int) -> int:
    """``WadRayMath.rayDivFloor``: ``a * 1e27 / b``, down (aToken mint, vToken burn from v3.5)."""
    _check(a, b)
    _div_guard(a, b, RAY, 0, "rayDivFloor")
    return a * RAY // b


def ray_div_ceil(a: int, b: int) -> int:
    """``WadRayMath.rayDivCeil``: ``a * 1e27 / b``, up (aToken burn/transfer, vToken mint from v3.5)."""
    _check(a, b)
    _div_guard(a, b, RAY, 0, "rayDivCeil")
    return _ceil_div(a * RAY, b)


def ray_to_wad(a: int) -> int:
    """``WadRayMath.rayToWad``: ``a / 1e9``, half up."""
    _check(a, 0)
    b, rem = divmod(a, WAD_RAY_RATIO)
    return b + 1 if rem >= WAD_RAY_RATIO // 2 else b


def wad_to_ray(a: int) -> int:
    """``WadRayMath.wadToRay``: ``a * 1e9``; reverts when the product leaves uint256."""
    _check(a, 0)
    if a * WAD_RAY_RATIO > UINT256_MAX:
        raise FixedPointRevert(f"wadToRay({a}): uint256 overflow")
    return a * WAD_RAY_RATIO


def mul_div_ceil(a: int, b: int, c: int) -> int:
    """``MathUtils.mulDivCeil``: ``a * b / c`` rounded up; reverts on ``c == 0`` or overflow."""
    _check(a, b)
    if c == 0:
        raise FixedPointRevert(f"mulDivCeil({a}, {b}, 0): division by zero")
    _mul_guard(a, b, 0, "mulDivCeil")
    return _ceil_div(a * b, c)
