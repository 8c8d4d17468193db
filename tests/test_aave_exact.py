"""Hand-computed cases for the integer Aave v3 rule (exact.py).

Every expected number is worked out in the comments from the formulas in
LiquidationLogic / GenericLogic (aave-dao/aave-v3-origin tags v3.3.0, v3.5.0, fd1fbd91;
aave/aave-v3-core@782f5191 for v3.0). Positions use two or three 18-decimal assets priced
$1 (1e8), so 1e18 wei = $1 = 1e8 base units.
"""

from __future__ import annotations

import pytest

from liqcascade.errors import LiqcascadeError
from liqcascade.protocols.aave_v3.exact import (
    CollateralCannotBeLiquidated,
    HealthFactorNotBelowThreshold,
    MustNotLeaveDust,
    ReserveState,
    SpecifiedCurrencyNotBorrowedByUser,
    UserReserve,
    liquidation_call,
    user_account_data,
)
from liqcascade.protocols.aave_v3.versions import V3_0, V3_3, V3_5, V3_7

E18 = 10**18
MAX = 2**256 - 1
ALL = (V3_0, V3_3, V3_5, V3_7)


def market(lt=8000, lb=10500, lpf=0):
    r = ReserveState(decimals=18, price_1e8=10**8, lt_bps=lt, lb_bps=lb, lpf_bps=lpf)
    return {"X": r, "Y": r, "Z": r}


def pos(coll_x, debt_y, debt_z=0):
    u = {"X": UserReserve(scaled_collateral=coll_x), "Y": UserReserve(scaled_debt=debt_y, collateral_enabled=False)}
    if debt_z:
        u["Z"] = UserReserve(scaled_debt=debt_z, collateral_enabled=False)
    return u


def test_must_not_leave_dust_is_a_liqcascade_error():
    assert issubclass(MustNotLeaveDust, LiqcascadeError)


# --- close factor 50 % vs 100 % around HF 0.95 (v3.0: per reserve) -------------------------------


def test_v30_close_factor_switches_at_hf_095():
    m = market(lt=5000, lb=10100)
    # debt 526.3: HF = wadDiv(percentMul(1000e8, 5000), 526.3e8) = 5e28 / 52630000000
    #            = 950028500855025650 remainder 40500000000 (> b/2) -> rounds up to ...651 > 0.95e18
    hi = liquidation_call(V3_0, m, pos(1000 * E18, 5263 * 10**17), "X", "Y", MAX)
    assert hi.health_factor_before == 950028500855025651
    # 50 %: percentMul(526.3e18, 5000) = 263.15e18; seized = percentMul(263.15e18, 10100) = 265.7815e18
    assert hi.debt_repaid == 26315 * 10**16
    assert hi.collateral_seized == 2657815 * 10**14
    # debt 526.4: HF = 5e28 / 5.264e10 = 0.949848...e18 <= 0.95 -> 100 %
    lo = liquidation_call(V3_0, m, pos(1000 * E18, 5264 * 10**17), "X", "Y", MAX)
    assert lo.health_factor_before < 95 * 10**16
    assert lo.debt_repaid == 5264 * 10**17
    assert lo.collateral_seized == 531664 * 10**15  # 526.4 * 1.01


# --- v3.3 whole-position thresholds around $2000 ------------------------------------------------


@pytest.mark.parametrize("version", (V3_3, V3_5, V3_7))
def test_v33_fifty_percent_above_2000_and_hf_above_095(version):
    # coll $2400 at LT 80 %, debt $2010: HF = 1920/2010 = 0.9552 > 0.95; both >= $2000;
    # D_res = sumD > sumD/2 -> max = percentMul(2010e8, 5000) * 1e18 / 1e8 = 1005e18
    o = liquidation_call(version, market(), pos(2400 * E18, 2010 * E18), "X", "Y", MAX)
    assert o.debt_repaid == 1005 * E18
    assert o.collateral_seized == 105525 * 10**16  # 1005 * 1.05 = 1055.25
    # leftover $1005 debt and $1344.75 collateral: above $1000, no dust revert


@pytest.mark.parametrize("version", (V3_3, V3_5, V3_7))
def test_v33_full_close_factor_when_reserve_debt_below_2000(version):
    # coll $2400, debt $1990: HF = 1920/1990 = 0.9648 > 0.95 but debt < $2000 -> 100 %
    o = liquidation_call(version, market(), pos(2400 * E18, 1990 * E18), "X", "Y", MAX)
    assert o.debt_repaid == 1990 * E18
    assert o.collateral_seized == 20895 * 10**17  # 1990 * 1.05


@pytest.mark.parametrize("version", (V3_3, V3_5, V3_7))
def test_v33_exactly_2000_is_at_threshold(version):
    # debt exactly $2000 (>= threshold, inclusive): HF 0.96 -> 50 % = 1000e18; leftover debt
    # exactly $1000 = MIN_LEFTOVER_BASE passes (>=)
    o = liquidation_call(version, market(), pos(2400 * E18, 2000 * E18), "X", "Y", MAX)
    assert o.debt_repaid == 1000 * E18


def test_debt_base_rounding_moves_the_2000_threshold_between_versions():
    # debt 2000e18 - 1 wei: v3.3 floors its base value to 199999999999 < 2000e8 -> 100 %;
    # v3.5 rounds debt base up (mulDivCeil) to 2000e8 -> 50 % of sumD (also 2000e8) = 1000e18
    u = pos(2400 * E18, 2000 * E18 - 1)
    assert liquidation_call(V3_3, market(), u, "X", "Y", MAX).debt_repaid == 2000 * E18 - 1
    assert liquidation_call(V3_5, market(), u, "X", "Y", MAX).debt_repaid == 1000 * E18


# --- dust rule (v3.3+) --------------------------------------------------------------------------


@pytest.mark.parametrize("version", (V3_3, V3_5, V3_7))
def test_dust_revert_and_no_revert(version):
    m, u = market(), pos(2400 * E18, 1990 * E18)  # CF 100 % (see above)
    with pytest.raises(MustNotLeaveDust):
        liquidation_call(version, m, u, "X", "Y", 1000 * E18)  # leaves $990 of debt
    o = liquidation_call(version, m, u, "X", "Y", 990 * E18)  # leaves exactly $1000 debt, $1360.5 collateral
    assert o.debt_repaid == 990 * E18
    assert o.collateral_seized == 10395 * 10**17
    with pytest.raises(MustNotLeaveDust):
        # $1400 collateral, debt $1300 (HF 0.8615): covering $400 seizes $420 and leaves $980 of collateral
        liquidation_call(version, m, pos(1400 * E18, 1300 * E18), "X", "Y", 400 * E18 + 10**16)


def test_v30_has_no_dust_rule():
    # same call as the reverting one: v3.0 applies a 50 % close factor (HF 0.9648 > 0.95)
    o = liquidation_call(V3_0, market(), pos(2400 * E18, 1990 * E18), "X", "Y", 1000 * E18)
    assert o.debt_repaid == 995 * E18


# --- bad debt ------------------------------------------------------------------------------------


def test_bad_debt_burned_into_deficit_from_v33_but_not_v30():
    # coll $1000 (LB 105 %), debts Y $1200 and Z $10: HF = 800/1210. Max cover takes all collateral;
    # debt needed = percentDiv(1000e18, 10500) = 952.380952380952380952(38) -> half up ...952
    m, u = market(), pos(1000 * E18, 1200 * E18, 10 * E18)
    v30 = liquidation_call(V3_0, m, u, "X", "Y", MAX)
    assert v30.debt_repaid == 952380952380952380952
    assert v30.deficit == {}
    assert v30.user_after["Y"].scaled_debt == 1200 * E18 - 952380952380952380952
    assert v30.user_after["Z"].scaled_debt == 10 * E18
    v33 = liquidation_call(V3_3, m, u, "X", "Y", MAX)
    assert v33.debt_repaid == 952380952380952380952
    assert v33.has_no_collateral_left
    assert v33.deficit == {"Y": 1200 * E18 - 952380952380952380952, "Z": 10 * E18}
    assert v33.user_after["Y"].scaled_debt == 0 and v33.user_after["Z"].scaled_debt == 0
    # v3.5+ round the debt needed up (percentDivCeil): ...953
    for version in (V3_5, V3_7):
        o = liquidation_call(version, m, u, "X", "Y", MAX)
        assert o.debt_repaid == 952380952380952380953
        assert o.deficit == {"Y": 247619047619047619047, "Z": 10 * E18}


def test_no_burn_when_other_collateral_remains():
    m = market()
    u = pos(1000 * E18, 1200 * E18)
    u["Z"] = UserReserve(scaled_collateral=100 * E18)  # $100 more collateral elsewhere
    o = liquidation_call(V3_7, m, u, "X", "Y", MAX)
    assert not o.has_no_collateral_left and o.deficit == {}


# --- health factor formulas ---------------------------------------------------------------------


def test_health_factor_formula_per_version():
    # two collaterals with different LT: X $1000 at 80 %, Z $333 at 70 %; debt $1100.
    m = market()
    m["Z"] = ReserveState(decimals=18, price_1e8=10**8, lt_bps=7000, lb_bps=10500)
    u = {
        "X": UserReserve(scaled_collateral=1000 * E18),
        "Z": UserReserve(scaled_collateral=333 * E18),
        "Y": UserReserve(scaled_debt=1100 * E18, collateral_enabled=False),
    }
    # before v3.5: avgLT = floor((1000e8*8000 + 333e8*7000)/1333e8) = floor(7750.18...) = 7750;
    # percentMul(1333e8, 7750) = 103307500000; wadDiv(.., 1100e8) = 0.939159090909090909(09) -> ...909
    assert user_account_data(V3_0, m, u).health_factor == 939159090909090909
    assert user_account_data(V3_3, m, u).health_factor == 939159090909090909
    # from v3.5: wadDiv(1000e8*8000 + 333e8*7000, 1100e8) / 1e4 = 103310000000e4*1e18/1100e8/1e4
    #          = 0.939181818181818181(8) -> floor after the /1e4
    assert user_account_data(V3_5, m, u).health_factor == 939181818181818181
    assert user_account_data(V3_7, m, u).health_factor == 939181818181818181


def test_no_debt_gives_max_health_factor():
    assert user_account_data(V3_7, market(), {"X": UserReserve(scaled_collateral=E18)}).health_factor == MAX


# --- validation reverts ---------------------------------------------------------------------------


@pytest.mark.parametrize("version", ALL)
def test_validation_reverts(version):
    m = market()
    with pytest.raises(HealthFactorNotBelowThreshold):
        liquidation_call(version, m, pos(2000 * E18, 1000 * E18), "X", "Y", MAX)
    with pytest.raises(SpecifiedCurrencyNotBorrowedByUser):
        liquidation_call(version, m, pos(1000 * E18, 1200 * E18), "X", "Z", MAX)
    u = pos(1000 * E18, 1200 * E18)
    u["X"] = UserReserve(scaled_collateral=1000 * E18, collateral_enabled=False)
    with pytest.raises(CollateralCannotBeLiquidated):
        liquidation_call(version, m, u, "X", "Y", MAX)
