"""Liquidator strategies on one account (engine/strategies.py) against hand cases and closed forms.

The hand account used throughout: 10 WETH at $2000 against 16,600 USDC at $1, LT 0.825, Aave v2's
50 % close factor and 5 % bonus: HF = 20,000 · 0.825 / 16,600 = 0.99398, k = LT·(1+b) = 0.86625."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from liqcascade.engine.strategies import (
    KEEP_LIQUIDATABLE_HF, STRATEGIES, Exit, FixedSpread, Position, keep_liquidatable_repay, max_close, plan,
    profit_max, two_step,
)
from liqcascade.errors import ConfigError
from liqcascade.markets.cpmm import ConstantProductPool
from liqcascade.markets.impact import PowerLawImpact

AAVE_V2 = FixedSpread(close_factor=0.5, bonus=0.05)
HAND = Position(collateral=10.0, debt=16_600.0, collateral_price=2000.0, debt_price=1.0, liquidation_threshold=0.825)


class Hidden:
    """A venue that shows only ``quote_sell``: forces profit_max onto its numerical path."""

    def __init__(self, venue):
        self._venue = venue

    def quote_sell(self, amount: float) -> float:
        return self._venue.quote_sell(amount)


# ------------------------------------------------------------------------- max_close


def test_max_close_hand_case():
    p = max_close(HAND, AAVE_V2, Exit())
    # half the debt; 8300 · 1.05 / 2000 WETH seized; earns the bonus on what it repays
    assert len(p.calls) == 1
    assert p.calls[0].repay == pytest.approx(8300.0, rel=1e-15)
    assert p.calls[0].seize == pytest.approx(4.3575, rel=1e-15)
    assert p.profit_usd == pytest.approx(415.0, rel=1e-12)


def test_max_close_is_capped_by_the_collateral():
    # half the debt (1500 USDC) would seize 1575 of collateral; the account holds $1400
    pos = Position(0.7, 3000.0, 2000.0, 1.0, 0.9)  # which covers 1400 / 1.05 = 1333.33 of debt
    p = max_close(pos, AAVE_V2, Exit())
    assert p.calls[0].repay == pytest.approx(1400.0 / 1.05, rel=1e-15)
    assert p.calls[0].seize == pytest.approx(0.7, rel=1e-15)


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_no_call_on_a_healthy_account(name):
    healthy = Position(10.0, 16_000.0, 2000.0, 1.0, 0.825)  # HF 16,500 / 16,000 > 1
    assert plan(name, healthy, AAVE_V2, Exit()).calls == ()


# ------------------------------------------------------------------------- two_step


def test_two_step_hand_case_is_the_paper_expression():
    h = KEEP_LIQUIDATABLE_HF
    k = 0.825 * 1.05
    # first call: the repay r1 that leaves HF = h: (16,500 - 1.05 r1 · 0.825) / (16,600 - r1) = h
    r1 = (h * 16_600.0 - 16_500.0) / (h - k)
    assert r1 == pytest.approx(100.0 / 0.13375, rel=1e-6)  # 747.66, the h = 1 limit
    p = two_step(HAND, AAVE_V2, Exit())
    assert [c.repay for c in p.calls] == pytest.approx([r1, 0.5 * (16_600.0 - r1)], rel=1e-12)
    # the paper's gain over one up-to-close-factor call: bonus · (1 - CF) · r1
    assert p.profit_usd == pytest.approx(0.05 * (0.5 * 16_600.0 + 0.5 * r1), rel=1e-12)
    assert p.profit_usd - max_close(HAND, AAVE_V2, Exit()).profit_usd == pytest.approx(0.05 * 0.5 * r1, rel=1e-9)


def test_two_step_first_call_leaves_the_account_just_liquidatable():
    first = two_step(HAND, AAVE_V2, Exit()).calls[0]
    _, after = AAVE_V2.call(HAND, first.repay)
    assert after.liquidatable
    assert after.health_factor == pytest.approx(KEEP_LIQUIDATABLE_HF, abs=1e-12)
    # one part in a million more and the account would be healthy: no second call possible
    _, more = AAVE_V2.call(HAND, first.repay * (1 + 1e-6))
    assert not more.liquidatable


def test_two_step_when_calls_lower_health_is_two_max_closes():
    # LT 0.97, bonus 5 %: k = 1.0185 >= 1, every call lowers HF, max close keeps it liquidatable
    pos = Position(10.0, 19_800.0, 2000.0, 1.0, 0.97)
    p = two_step(pos, AAVE_V2, Exit())
    assert [c.repay for c in p.calls] == pytest.approx([9900.0, 4950.0], rel=1e-15)
    assert p.profit_usd == pytest.approx(0.05 * 14_850.0, rel=1e-12)


def test_two_step_just_below_the_target_is_max_close():
    # HF between the target and 1: no first call can keep the account below the target
    pos = Position(10.0, 16_500.0 / (1 - 1e-12), 2000.0, 1.0, 0.825)
    assert keep_liquidatable_repay(pos, AAVE_V2) == 0.0
    assert two_step(pos, AAVE_V2, Exit()) == max_close(pos, AAVE_V2, Exit())


def test_two_step_counts_the_rest_of_the_account():
    # $1000 of other LT-weighted collateral and $1200 of other debt: HF = 17,500 / 17,800
    pos = Position(10.0, 16_600.0, 2000.0, 1.0, 0.825, other_collateral_usd=1000.0, other_debt_usd=1200.0)
    h, k = KEEP_LIQUIDATABLE_HF, 0.825 * 1.05
    r1 = (h * 17_800.0 - 17_500.0) / (h - k)  # 2243.0 for h = 1
    p = two_step(pos, AAVE_V2, Exit())
    assert p.calls[0].repay == pytest.approx(r1, rel=1e-12)
    _, after = AAVE_V2.call(pos, r1)
    assert after.health_factor == pytest.approx(h, abs=1e-12)
    # the close factor is on the repaid asset's debt (Aave v2): half of 16,600 - r1
    assert p.calls[1].repay == pytest.approx(0.5 * (16_600.0 - r1), rel=1e-12)


def test_two_step_with_a_full_close_factor_is_max_close():
    rule = FixedSpread(close_factor=1.0, bonus=0.05)  # both calls would repay D whatever the first
    assert two_step(HAND, rule, Exit()) == max_close(HAND, rule, Exit())


def test_protocol_fee_is_kept_from_what_the_liquidator_receives():
    rule = FixedSpread(close_factor=0.5, bonus=0.05, protocol_fee=0.1)
    c = max_close(HAND, rule, Exit()).calls[0]
    # 4.3575 WETH seized, of which the bonus part 4.3575 - 4.15 = 0.2075; the protocol keeps 10 %
    assert c.fee == pytest.approx(0.02075, rel=1e-12)
    assert max_close(HAND, rule, Exit()).profit_usd == pytest.approx((4.3575 - 0.02075) * 2000.0 - 8300.0, rel=1e-12)


positions = st.builds(
    Position,
    collateral=st.floats(0.01, 1e5),
    debt=st.floats(1.0, 1e8),
    collateral_price=st.floats(0.1, 1e4),
    debt_price=st.floats(0.5, 2.0),
    liquidation_threshold=st.floats(0.3, 0.98),
)
rules = st.builds(FixedSpread, close_factor=st.floats(0.05, 1.0), bonus=st.floats(0.0, 0.2))


@given(positions, rules, st.floats(0.0, 1.0))
def test_two_step_repays_at_least_any_other_feasible_two_calls(pos, rule, share):
    """Optimality (the paper's claim): no first call that keeps the account liquidatable,
    followed by a max close, repays more in total than two_step's two calls."""
    if not pos.liquidatable:
        return
    best = two_step(pos, rule, Exit()).repaid
    r1 = share * rule.cap(pos)
    c1, after = rule.call(pos, r1)
    other = c1.repay + (rule.cap(after) if after.health_factor < KEEP_LIQUIDATABLE_HF else 0.0)
    assert other <= best * (1 + 1e-9)
    assert best >= max_close(pos, rule, Exit()).repaid * (1 - 1e-12)


@given(positions, rules, st.sampled_from(sorted(STRATEGIES)), st.floats(1e3, 1e9), st.floats(0.0, 0.01))
def test_no_call_repays_above_the_rule_cap(pos, rule, name, depth, fee):
    venue = ConstantProductPool.from_price_depth("WETH", pos.collateral_price, depth, fee)
    p = plan(name, pos, rule, Exit(venue, gas_usd=1.0))
    state = pos
    for c in p.calls:
        assert 0 < c.repay <= rule.close_factor * state.debt * (1 + 1e-12)
        assert c.seize <= state.collateral * (1 + 1e-12)
        # the seize is the bonus on the repaid value at the protocol's prices
        assert c.seize == pytest.approx(c.repay * state.debt_price * (1 + rule.bonus) / state.collateral_price,
                                        rel=1e-9)
        assert state.liquidatable
        _, state = rule.call(state, c.repay)


# ------------------------------------------------------------------------- profit_max

# Hand CPMM case: a fee-free pool at the oracle price, 1000 WETH / $2,000,000; bonus 10.25 %.
# Selling a WETH brings 2e6·a/(1000 + a); a WETH costs 2000 / 1.1025 of repaid debt, so the
# first-order condition 2e9 / (1000 + a)² = 2000 / 1.1025 gives 1000 + a = 1000·√1.1025 = 1050:
# the optimum sells 50 WETH, repaying 50 · 2000 / 1.1025 = 90,702.95 USDC, for a profit of
# 2e6 · 50 / 1050 − 90,702.95 = 95,238.10 − 90,702.95 = 4535.15.
POOL = ConstantProductPool("WETH", 1000.0, 2_000_000.0, fee=0.0)
RULE_CPMM = FixedSpread(close_factor=0.5, bonus=0.1025)
BIG = Position(250.0, 400_000.0, 2000.0, 1.0, 0.79)  # HF 0.9875; cap 200,000 USDC
A_STAR = 50.0
R_STAR = 50.0 * 2000.0 / 1.1025
PROFIT_STAR = 2e6 * 50.0 / 1050.0 - R_STAR


def test_profit_max_on_a_cpmm_is_the_analytic_optimum():
    p = profit_max(BIG, RULE_CPMM, Exit(POOL))
    assert p.calls[0].seize == pytest.approx(A_STAR, rel=1e-12)
    assert p.calls[0].repay == pytest.approx(R_STAR, rel=1e-12)
    assert p.profit_usd == pytest.approx(PROFIT_STAR, rel=1e-12)
    # beats repaying the cap into the same pool: 200,000 repaid seize 110.25 WETH
    assert max_close(BIG, RULE_CPMM, Exit(POOL)).profit_usd == pytest.approx(
        2e6 * 110.25 / 1110.25 - 200_000.0, rel=1e-12)


def test_profit_max_numerical_path_matches_the_cpmm_closed_form():
    p = profit_max(BIG, RULE_CPMM, Exit(Hidden(POOL)))
    assert p.calls[0].repay == pytest.approx(R_STAR, rel=1e-8)
    assert p.profit_usd == pytest.approx(PROFIT_STAR, rel=1e-12)


def test_profit_max_on_the_square_root_law_is_its_analytic_optimum():
    # I(q) = (q·2000 / 1e7)^0.5; the marginal execution price 2000·(1 − √(q·2000/1e7)) equals
    # a WETH's cost 2000 / 1.25 = 1600 at √(q/5000) = 0.2: q = 200 WETH, repaying 200·1600 = 320,000
    venue = PowerLawImpact("WETH", 2000.0, 1e7)
    rule = FixedSpread(close_factor=0.5, bonus=0.25)
    pos = Position(500.0, 900_000.0, 2000.0, 1.0, 0.8)  # HF 0.889, cap 450,000
    p = profit_max(pos, rule, Exit(venue))
    assert p.calls[0].seize == pytest.approx(200.0, rel=1e-8)
    # proceeds 2000·(200 − (2000/1e7)^0.5 · 200^1.5 / 1.5) = 2000 · (200 − 0.2·200/1.5) = 346,666.67
    assert p.profit_usd == pytest.approx(2000.0 * (200.0 - 40.0 / 1.5) - 320_000.0, rel=1e-12)


def test_gas_above_the_profit_means_no_call():
    assert profit_max(BIG, RULE_CPMM, Exit(POOL, gas_usd=PROFIT_STAR + 1.0)).calls == ()
    p = profit_max(BIG, RULE_CPMM, Exit(POOL, gas_usd=PROFIT_STAR - 1.0))
    assert p.profit_usd == pytest.approx(1.0, rel=1e-6)


def test_no_call_when_the_pool_pays_less_than_the_debt():
    # the pool's marginal price 1800 is below a WETH's cost 2000 / 1.05: every sale loses
    pool = ConstantProductPool("WETH", 1000.0, 1_800_000.0, fee=0.0)
    assert profit_max(HAND, AAVE_V2, Exit(pool)).calls == ()
    assert max_close(HAND, AAVE_V2, Exit(pool)).profit_usd < 0


@given(positions, rules, st.floats(1e3, 1e9), st.floats(0.0, 0.01), st.floats(0.0, 1e3), st.booleans())
def test_profit_max_earns_at_least_max_close(pos, rule, depth, fee, gas, hidden):
    pool = ConstantProductPool.from_price_depth("WETH", pos.collateral_price, depth, fee)
    venue = Hidden(pool) if hidden else pool
    best = profit_max(pos, rule, Exit(venue, gas_usd=gas))
    other = max_close(pos, rule, Exit(venue, gas_usd=gas))
    scale = max(1.0, pos.debt_usd)
    assert best.profit_usd >= other.profit_usd - 1e-12 * scale
    assert best.profit_usd >= 0.0


@given(positions, rules, st.floats(1e4, 1e9), st.floats(0.0, 0.01))
def test_profit_max_numerical_and_closed_form_agree(pos, rule, depth, fee):
    pool = ConstantProductPool.from_price_depth("WETH", pos.collateral_price * 0.97, depth, fee)
    exact = profit_max(pos, rule, Exit(pool))
    numeric = profit_max(pos, rule, Exit(Hidden(pool)))
    assert numeric.profit_usd == pytest.approx(exact.profit_usd, rel=1e-9, abs=1e-9 * max(1.0, pos.debt_usd))


# ------------------------------------------------------------------------- bad input


def test_bad_inputs_name_their_key():
    with pytest.raises(ConfigError, match="strategy"):
        plan("greedy", HAND, AAVE_V2, Exit())
    with pytest.raises(ConfigError, match="Position.debt"):
        Position(1.0, -1.0, 1.0, 1.0, 0.8)
    with pytest.raises(ConfigError, match="CallRule.close_factor"):
        FixedSpread(close_factor=0.0)
    with pytest.raises(ConfigError, match="Exit.gas_usd"):
        Exit(gas_usd=math.nan)
    with pytest.raises(ConfigError, match="repay"):
        AAVE_V2.call(HAND, 9000.0)  # above the 8300 cap


def test_profit_max_optimises_what_the_liquidator_receives():
    # a 10 % protocol fee on the bonus: 1.1025 · (1 - 0.1 · 0.1025 / 1.1025) = 1.09225 WETH-units received
    # per 2000 USDC; the optimum sells where 2e9 / (1000 + a)² = 2000 / 1.09225: 1000 + a = 1000·√1.09225
    rule = FixedSpread(close_factor=0.5, bonus=0.1025, protocol_fee=0.1)
    p = profit_max(BIG, rule, Exit(POOL))
    a = 1000.0 * math.sqrt(1.09225) - 1000.0
    assert p.calls[0].received == pytest.approx(a, rel=1e-12)
    assert p.profit_usd == pytest.approx(2e6 * a / (1000.0 + a) - a * 2000.0 / 1.09225, rel=1e-12)


# ------------------------------------------------------------------------- every protocol's rule

from liqcascade.protocols.calls import HealthDiscount, PositionFraction  # noqa: E402

COMPOUND_V2 = FixedSpread(close_factor=0.5, bonus=0.08, protocol_fee=0.028, fee_on_seized=True, protocol="compound_v2")
AAVE_V3_0 = FixedSpread(close_factor=0.5, bonus=0.05, protocol_fee=0.1, full_close_hf=0.95)
AAVE_V3_3 = FixedSpread(close_factor=0.5, bonus=0.05, protocol_fee=0.1, full_close_hf=0.95, min_close_factor_usd=2000.0,
                        min_leftover_usd=1000.0)
MORPHO = FixedSpread(close_factor=1.0, bonus=1.0 / 0.958 - 1.0, protocol="morpho_blue")
EULER = HealthDiscount(max_discount=0.15)
CRVUSD = PositionFraction()
EVERY_RULE = [AAVE_V2, AAVE_V3_0, AAVE_V3_3, COMPOUND_V2, MORPHO, EULER, CRVUSD]


def test_two_step_on_compound_v2_closed_form():
    # 10 WETH (collateral factor 0.825) against 16,600 USDC, incentive 1.08: k = 0.825 · 1.08 = 0.891.
    # r1 = (h·16,600 − 16,500) / (h − 0.891) = 917.43 at h = 1, then half of the 15,682.57 left:
    # 8758.72 repaid in all against max close's 8300, and (as Qin et al. say, CF < 1 and r1 > 0) more seized
    h = KEEP_LIQUIDATABLE_HF
    r1 = (h * 16_600.0 - 16_500.0) / (h - 0.891)
    p = two_step(HAND, COMPOUND_V2, Exit())
    assert [c.repay for c in p.calls] == pytest.approx([r1, 0.5 * (16_600.0 - r1)], rel=1e-12)
    assert p.repaid == pytest.approx(8758.72, abs=0.01)
    assert p.seized == pytest.approx(p.repaid * 1.08 / 2000.0, rel=1e-12)
    assert p.seized > max_close(HAND, COMPOUND_V2, Exit()).seized
    # the reserves keep 2.8 % of every seized token: profit = 0.972 · 1.08 · repaid − repaid at the oracle
    assert p.profit_usd == pytest.approx((0.972 * 1.08 - 1.0) * p.repaid, rel=1e-12)


def test_two_step_on_aave_v3_only_above_the_full_close_health():
    # HF 0.99398 > 0.95: the 50 % close factor, so the two calls of Aave v2's hand case
    h = KEEP_LIQUIDATABLE_HF
    r1 = (h * 16_600.0 - 16_500.0) / (h - 0.86625)
    assert two_step(HAND, AAVE_V3_0, Exit()).repaid == pytest.approx(r1 + 0.5 * (16_600.0 - r1), rel=1e-12)
    # HF 0.93 <= 0.95: one call may repay everything, so a second gains nothing: max close
    deep = Position(10.0, 17_741.94, 2000.0, 1.0, 0.825)
    assert deep.health_factor < 0.95
    assert two_step(deep, AAVE_V3_0, Exit()) == max_close(deep, AAVE_V3_0, Exit())
    assert max_close(deep, AAVE_V3_0, Exit()).repaid == pytest.approx(17_741.94, rel=1e-15)


@pytest.mark.parametrize("rule", [MORPHO, EULER, CRVUSD], ids=["morpho_blue", "euler_v2", "crvusd"])
def test_two_step_is_max_close_without_a_close_factor(rule):
    pos = Position(10.0, 17_500.0, 2000.0, 1.0, 0.86)
    assert two_step(pos, rule, Exit()) == max_close(pos, rule, Exit())
    assert max_close(pos, rule, Exit()).repaid == 17_500.0


def test_two_step_under_the_dust_rule_leaves_no_dust():
    # Aave v3.3: 1.02 WETH (LT 0.96) against 2000 USDC, HF 0.9792. The first call keeping HF below 1
    # would be (h·2000 − 1958.4) / (h − 1.008) < 0 -> k > h: a call lowers HF, so the first call is the
    # cap (1000) cut to what leaves $1000 of collateral, 990.48; the second call: the whole pair is now
    # under $2000, so all the 1009.52 of debt left, or what the 0.52 WETH left cover, 990.48
    pos = Position(1.02, 2000.0, 2000.0, 1.0, 0.96)
    p = two_step(pos, AAVE_V3_3, Exit())
    first = 1040.0 / 1.05 * (1 - 1e-12)
    assert p.calls[0].repay == pytest.approx(first, rel=1e-12)
    assert p.calls[1].repay == pytest.approx(min(2000.0 - first, (2040.0 - first * 1.05) / 1.05), rel=1e-9)
    assert p.seized == pytest.approx(1.02, rel=1e-9)


def _grid_argmax(pos, rule, venue, n=20_001):
    """The repay on a fine grid over [0, cap] (every allowed amount) with the highest profit."""
    cap = rule.cap(pos)
    best, best_r = -math.inf, 0.0
    for i in range(n):
        r = rule.allowed(pos, cap * i / (n - 1))
        if r <= 0:
            continue
        call, _ = rule.call(pos, r)
        profit = venue.quote_sell(call.received) - r * rule.paid_per_repay(pos)
        if profit > best:
            best, best_r = profit, r
    return best_r, best


@pytest.mark.parametrize("rule", EVERY_RULE, ids=["aave_v2", "aave_v3.0", "aave_v3.3", "compound_v2", "morpho_blue",
                                                  "euler_v2", "crvusd"])
def test_profit_max_is_the_grid_argmax_on_a_cpmm_exit(rule):
    # 250 WETH against 400,000 USDC (HF 0.9875 at LT 0.79), sold into a 1000 WETH / $2M pool with a 0.3 % fee
    pool = ConstantProductPool("WETH", 1000.0, 2_000_000.0, fee=0.003)
    r_grid, best = _grid_argmax(BIG, rule, pool)
    p = profit_max(BIG, rule, Exit(pool))
    assert p.profit_usd >= best - 1e-9 * abs(best)
    # the grid's step is cap / 20,000: the optimum lies within a step of the grid's best
    assert p.repaid == pytest.approx(r_grid, abs=rule.cap(BIG) / 20_000.0)


st_rules = st.one_of(
    rules,
    st.builds(FixedSpread, close_factor=st.floats(0.05, 0.9), bonus=st.floats(0.0, 0.2),
              protocol_fee=st.floats(0.0, 0.1), fee_on_seized=st.just(True)),
    st.builds(FixedSpread, close_factor=st.just(0.5), bonus=st.floats(0.0, 0.2), protocol_fee=st.floats(0.0, 0.5),
              full_close_hf=st.just(0.95), min_close_factor_usd=st.sampled_from([0.0, 2000.0]),
              min_leftover_usd=st.sampled_from([0.0, 1000.0])),
    st.builds(HealthDiscount, max_discount=st.floats(0.0, 0.5)),
    st.just(CRVUSD),
)


@given(positions, st_rules, st.sampled_from(sorted(STRATEGIES)), st.floats(1e3, 1e9), st.floats(0.0, 0.01))
def test_every_rule_no_call_above_what_it_allows_and_nothing_lost(pos, rule, name, depth, fee):
    """Whatever the protocol's rule: each call repays no more than the rule allows on the account
    as the previous call left it, and debt and collateral are conserved between the account and
    the liquidator (what leaves the account is what the calls repaid and seized)."""
    venue = ConstantProductPool.from_price_depth("WETH", pos.collateral_price, depth, fee)
    p = plan(name, pos, rule, Exit(venue, gas_usd=1.0))
    state = pos
    for c in p.calls:
        assert state.liquidatable
        assert 0 < c.repay <= rule.allowed(state, rule.cap(state)) * (1 + 1e-12)
        assert rule.allowed(state, c.repay) == pytest.approx(c.repay, rel=1e-12)
        assert 0 <= c.fee <= c.seize <= state.collateral * (1 + 1e-12)
        _, state = rule.call(state, c.repay)
    assert state.debt == pytest.approx(pos.debt - p.repaid, rel=1e-9, abs=1e-9 * pos.debt)
    assert state.collateral == pytest.approx(pos.collateral - p.seized, rel=1e-9, abs=1e-9 * pos.collateral)
    assert p.received == pytest.approx(p.seized - sum(c.fee for c in p.calls), rel=1e-12, abs=1e-300)
