"""EVM fixed-point helpers the LLAMMA contracts use: ``wad_exp``, ``wad_ln``, truncating division.

The AMM places its band grid with ``math._wad_exp`` and the Controller finds a loan's top
band with ``math._wad_ln`` (snekmate ``src/snekmate/utils/math.vy``, imported by
curvefi/curve-stablecoin@cf1d05fb ``curve_stablecoin/AMM.vy`` and ``controller.vy``). Both
are Remco Bloemen's rational approximations (https://xn--2-umb.com/22/exp-ln): range
reduction by powers of two, a fixed-coefficient rational function in 2**96 fixed point, and
one final scaling shift. The coefficients are numbers of the approximation, not code, and
must be the same to the bit for the band edges to come out wei-exact; the evaluation below
is written for Python integers (EVM ``sdiv`` truncates toward zero, ``sar`` floors).
"""

from __future__ import annotations

from liqcascade.errors import LiqcascadeError

WAD = 10**18
_MASK256 = 2**256 - 1

# exp: below this the result is < 1 wei; at or above it the result overflows int256
_EXP_MIN = -41_446_531_673_892_822_313
_EXP_MAX = 135_305_999_368_893_231_589
_LN2_Q96 = 54_916_777_467_707_473_351_141_471_128  # ln(2) * 2**96


class WadMathError(LiqcascadeError):
    """``wad_exp`` overflow or ``wad_ln`` of a negative number (the contract reverts)."""


def sdiv(a: int, b: int) -> int:
    """EVM signed division: truncates toward zero (Python's ``//`` floors)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def wad_exp(x: int) -> int:
    """``math._wad_exp``: ⌊e**(x/1e18)·1e18⌋ up to the approximation's last-digit error."""
    if x <= _EXP_MIN:
        return 0
    if x >= _EXP_MAX:
        raise WadMathError(f"wad_exp overflow for {x}")
    x = sdiv(x << 78, 5**18)  # 1e18 base -> 2**96 base
    k = (sdiv(x << 96, _LN2_Q96) + 2**95) >> 96  # round(x / ln 2)
    x -= k * _LN2_Q96
    y = (
        ((x + 1_346_386_616_545_796_478_920_950_773_328) * x) >> 96
    ) + 57_155_421_227_552_351_082_224_309_758_442
    p = (
        ((y + x - 94_201_549_194_550_492_254_356_042_504_812) * y) >> 96
    ) + 28_719_021_644_029_726_153_956_944_680_412_240
    p = p * x + (4_385_272_521_454_847_904_659_076_985_693_276 << 96)
    q = (
        ((x - 2_855_989_394_907_223_263_936_484_059_900) * x) >> 96
    ) + 50_020_603_652_535_783_019_961_831_881_945
    q = ((q * x) >> 96) - 533_845_033_583_426_703_283_633_433_725_380
    q = ((q * x) >> 96) + 3_604_857_256_930_695_427_073_651_918_091_429
    q = ((q * x) >> 96) - 14_423_608_567_350_463_180_887_372_962_807_573
    q = ((q * x) >> 96) + 26_449_188_498_355_588_339_934_803_723_976_023
    r = sdiv(p, q)
    return ((r * 3_822_833_074_963_236_453_042_738_258_902_158_003_155_416_615_667) & _MASK256) >> (195 - k)


def wad_ln(x: int) -> int:
    """``math._wad_ln``: ln(x/1e18)·1e18 (0 for x = 0; a negative x reverts)."""
    if x < 0:
        raise WadMathError(f"wad_ln undefined for {x}")
    if x == 0:
        return 0
    k = x.bit_length() - 1 - 96  # floor(log2 x) - 96
    x = ((x << (159 - k)) & _MASK256) >> 159  # x / 2**k, in [1, 2) * 2**96
    p = (
        ((x + 3_273_285_459_638_523_848_632_254_066_296) * x) >> 96
    ) + 24_828_157_081_833_163_892_658_089_445_524
    p = ((p * x) >> 96) + 43_456_485_725_739_037_958_740_375_743_393
    p = ((p * x) >> 96) - 11_111_509_109_440_967_052_023_855_526_967
    p = ((p * x) >> 96) - 45_023_709_667_254_063_763_336_534_515_857
    p = ((p * x) >> 96) - 14_706_773_417_378_608_786_704_636_184_526
    p = p * x - (795_164_235_651_350_426_258_249_787_498 << 96)
    q = (
        ((x + 5_573_035_233_440_673_466_300_451_813_936) * x) >> 96
    ) + 71_694_874_799_317_883_764_090_561_454_958
    q = ((q * x) >> 96) + 283_447_036_172_924_575_727_196_451_306_956
    q = ((q * x) >> 96) + 401_686_690_394_027_663_651_624_208_769_553
    q = ((q * x) >> 96) + 204_048_457_590_392_012_362_485_061_816_622
    q = ((q * x) >> 96) + 31_853_899_698_501_571_402_653_359_427_138
    q = ((q * x) >> 96) + 909_429_971_244_387_300_277_376_558_375
    r = sdiv(p, q)
    return (
        r * 1_677_202_110_996_718_588_342_820_967_067_443_963_516_166
        + k * 16_597_577_552_685_614_221_487_285_958_193_947_469_193_820_559_219_878_177_908_093_499_208_371
        + 600_920_179_829_731_861_736_702_779_321_621_459_595_472_258_049_074_101_567_377_883_020_018_308
    ) >> 174
