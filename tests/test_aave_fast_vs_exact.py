"""Property tests tying the float64 rule (fast.py) to the integer rule (exact.py).

Random realistic positions: collateral and debt assets with 6, 8 or 18 decimals, oracle
prices from $0.01 to $100k (1e8-scaled), indexes in [1e27, 3e27], collateral from $0.10 to
$5M, health factor drawn from [0.5, 0.999], optionally a second debt reserve so the v3.3
"50 % of the whole position" rule binds, and a cover of either max or a share of the debt.

Agreement asserted: debt repaid, collateral seized (incl. fee) and protocol fee agree within
``REL = 1e-9`` relative plus ``ABS_WEI = 4`` wei of the token (the integer rule rounds at
most a few times by one wei; base values are integers of 1e-8 USD, under 1e-11 of any
position that reaches the $1000/$2000 thresholds); for collateral amounts, plus ``ABS_WEI``
wei of the debt token converted at the oracle prices and bonus, because the integer rule
rounds the repaid amount (e.g. ``percentMul(debt, 50 %)`` half up) before converting it.
Both rules must agree on whether the call reverts with MustNotLeaveDust.

Skipped (measure-zero in the float rule, rounding-decided in the integer rule): draws where
a quantity the rules branch on lies within ``MARGIN = 1e-6`` relative of its threshold:
HF vs 0.95, reserve collateral/debt value vs $2000, reserve debt vs half the total debt,
seized-at-max vs the collateral balance, cover vs the close-factor cap, leftovers vs $1000,
and repaid vs the whole reserve debt.
"""

from __future__ import annotations

import math

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from liqcascade.protocols.aave_v3 import fast
from liqcascade.protocols.aave_v3.exact import (
    AaveRevert,
    MustNotLeaveDust,
    ReserveState,
    UserReserve,
    a_token_balance,
    liquidation_call,
    user_account_data,
    v_token_balance,
)
from liqcascade.protocols.aave_v3.versions import V3_0, V3_3, V3_5, V3_7

RAY = 10**27
MAX = 2**256 - 1
REL = 1e-9
ABS_WEI = 4
MARGIN = 1e-6


def _log_uniform(lo: float, hi: float):
    return st.floats(min_value=math.log(lo), max_value=math.log(hi)).map(math.exp)


@st.composite
def scenarios(draw):
    version = draw(st.sampled_from((V3_0, V3_3, V3_5, V3_7)))
    dec_c, dec_d, dec_z = (draw(st.sampled_from((6, 8, 18))) for _ in range(3))
    price_c = max(1, int(draw(_log_uniform(0.01, 1e5)) * 1e8))
    price_d = max(1, int(draw(_log_uniform(0.01, 1e5)) * 1e8))
    lt = draw(st.integers(5000, 9000))
    lb = draw(st.integers(10100, 11500))
    lpf = draw(st.sampled_from((0, 1000, 2000, 10000)))
    li_c = draw(st.integers(RAY, 3 * RAY))
    bi_d = draw(st.integers(RAY, 3 * RAY))
    coll_usd = draw(_log_uniform(0.1, 5e6))
    hf = draw(st.floats(0.5, 0.999))
    z_share = draw(st.sampled_from((0.0, 0.0, 0.3, 0.6)))
    total_debt_usd = coll_usd * lt / 1e4 / hf
    debt_usd = total_debt_usd * (1 - z_share)
    scaled_c = int(coll_usd / (price_c / 1e8) * 10**dec_c * RAY // li_c)
    scaled_d = int(debt_usd / (price_d / 1e8) * 10**dec_d * RAY // bi_d)
    reserves = {
        "C": ReserveState(dec_c, price_c, li_c, RAY, lt, lb, lpf),
        "D": ReserveState(dec_d, price_d, RAY, bi_d, 8000, 10500, 1000),
        "Z": ReserveState(dec_z, 10**8, RAY, RAY, 8000, 10500, 1000),
    }
    user = {"C": UserReserve(scaled_collateral=scaled_c), "D": UserReserve(scaled_debt=scaled_d, collateral_enabled=False)}
    if z_share:
        user["Z"] = UserReserve(scaled_debt=int(total_debt_usd * z_share * 10**dec_z), collateral_enabled=False)
    cover_share = draw(st.sampled_from((None, None, 0.1, 0.3, 0.5, 0.7, 1.2)))
    return version, reserves, user, cover_share


def _near(x: float, threshold: float) -> bool:
    return abs(x - threshold) <= MARGIN * max(abs(threshold), 1e-300)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
@given(scenarios())
def test_fast_agrees_with_exact(s):
    version, reserves, user, cover_share = s
    rc, rd = reserves["C"], reserves["D"]
    assume(user["C"].scaled_collateral > 0 and user["D"].scaled_debt > 0)
    acct = user_account_data(version, reserves, user)
    assume(acct.health_factor < 10**18)
    coll_wei = a_token_balance(version, user["C"].scaled_collateral, rc.liquidity_index)
    debt_wei = v_token_balance(version, user["D"].scaled_debt, rd.borrow_index)
    cover_wei = MAX if cover_share is None else int(debt_wei * cover_share)
    assume(cover_wei > 0)

    hf = acct.health_factor / 1e18
    pc, pd = rc.price_1e8 / 1e8, rd.price_1e8 / 1e8
    coll, debt = coll_wei / 10**rc.decimals, debt_wei / 10**rd.decimals
    total_usd = acct.total_debt_base / 1e8
    lbf = rc.lb_bps / 1e4
    cover = math.inf if cover_wei == MAX else cover_wei / 10**rd.decimals

    # skip draws that sit on a branch boundary (see module docstring)
    assume(not _near(hf, 0.95))
    if version >= V3_3:
        assume(not _near(coll * pc, 2000.0) and not _near(debt * pd, 2000.0))
        assume(not _near(debt * pd, total_usd / 2))
    max_debt = fast.max_liquidatable_debt(version, hf, coll, pc, debt, pd, total_usd)
    assume(cover == math.inf or not _near(cover, max_debt))
    actual = min(cover, max_debt)
    assume(not _near(actual * pd / pc * lbf, coll))
    assume(not _near(actual, debt))
    if actual * pd / pc * lbf < coll and actual < debt:
        assume(not _near((debt - actual) * pd, 1000.0))
        assume(not _near((coll - actual * pd / pc * lbf) * pc, 1000.0))

    f_repaid, f_seized, f_fee, f_revert = fast.liquidation_call(
        version, hf, coll, pc, debt, pd, total_usd, lbf - 1.0, rc.lpf_bps / 1e4, cover
    )
    try:
        o = liquidation_call(version, reserves, user, "C", "D", cover_wei)
    except MustNotLeaveDust:
        assert f_revert == fast.REVERT_DUST, "exact reverts MustNotLeaveDust, fast does not"
        return
    except AaveRevert:
        assume(False)  # zero-scaled burns of dust-sized amounts: outside the float model
        return
    assert f_revert == fast.REVERT_NONE, f"fast reverts for dust, exact repays {o.debt_repaid}"

    # a wei of rounding in the debt amount moves the collateral by pd/pc*LB of a debt-token wei
    debt_wei_in_coll = ABS_WEI / 10**rd.decimals * pd / pc * lbf

    def close(f: float, wei: int, dec: int, extra: float = 0.0) -> bool:
        exact = wei / 10**dec
        return abs(f - exact) <= REL * abs(exact) + ABS_WEI / 10**dec + extra

    assert close(f_repaid, o.debt_repaid, rd.decimals), (f_repaid, o.debt_repaid)
    assert close(f_seized, o.collateral_seized, rc.decimals, debt_wei_in_coll), (f_seized, o.collateral_seized)
    assert close(f_fee, o.protocol_fee, rc.decimals, debt_wei_in_coll), (f_fee, o.protocol_fee)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
@given(scenarios())
def test_exact_conserves_collateral_and_debt(s):
    version, reserves, user, cover_share = s
    rc, rd = reserves["C"], reserves["D"]
    assume(user["C"].scaled_collateral > 0 and user["D"].scaled_debt > 0)
    assume(user_account_data(version, reserves, user).health_factor < 10**18)
    debt_wei = v_token_balance(version, user["D"].scaled_debt, rd.borrow_index)
    cover_wei = MAX if cover_share is None else max(1, int(debt_wei * cover_share))
    try:
        o = liquidation_call(version, reserves, user, "C", "D", cover_wei)
    except AaveRevert:
        return
    before, after = user["C"], o.user_after["C"]
    # scaled units are conserved exactly: what left the borrower went to liquidator (burn) and treasury
    assert before.scaled_collateral - after.scaled_collateral == o.scaled_collateral_burned + o.scaled_fee_transferred
    # in underlying, the difference is only the per-operation index rounding
    removed = a_token_balance(version, before.scaled_collateral, rc.liquidity_index) - a_token_balance(
        version, after.scaled_collateral, rc.liquidity_index
    )
    slack = 3 * (rc.liquidity_index // RAY + 1)
    assert abs(removed - o.collateral_seized) <= slack
    if version >= V3_5:
        assert removed >= o.collateral_to_liquidator  # burns round up: never pays out more than it removes
    # debt removed = repaid + burned to deficit
    assert o.debt_burned["D"] == o.debt_repaid + o.deficit.get("D", 0)
    assert o.debt_repaid <= debt_wei
    for name, u in o.user_after.items():
        assert u.scaled_collateral >= 0 and u.scaled_debt >= 0, name
    assert o.collateral_to_liquidator >= 0 and o.protocol_fee >= 0
    if o.deficit:
        assert version >= V3_3 and o.has_no_collateral_left
        assert all(o.user_after[a].scaled_debt == 0 for a in o.deficit)
