"""Liquidator strategies on one account: how much debt to repay, in how many calls.

Three strategies, as pure functions of one (collateral, debt) pair, the protocol's call
rule and the liquidator's exit (the venue the seized collateral is sold into, and gas):

- :func:`max_close` -- one call repaying the most the rule allows (what the engines do today).
- :func:`two_step` -- the optimal fixed-spread liquidation of Qin, Zhou, Gamito, Jovanovic and
  Gervais, "An Empirical Study of DeFi Liquidations: Incentives, Risks, and Instabilities"
  (ACM IMC 2021, arXiv:2106.06389), section "Optimal Fixed Spread Liquidation Strategy": a
  first call small enough that the account stays liquidatable, then a second call at the
  close factor of the debt that is left.
- :func:`profit_max` -- one call repaying the amount that maximises the proceeds of selling
  the seized collateral minus the debt paid minus gas; no call when nothing is profitable.

The call rule is the protocol's own (:mod:`liqcascade.protocols.calls`, declared by each
protocol whose liquidator chooses the amount: ``call_rule`` of its rules): the most one call may
repay (the close factor, or the whole debt), which smaller amounts it accepts (Aave v3.3+'s
dust rule), and what a call seizes (a fixed bonus, Euler's health-scaled discount, or crvUSD's
share of the whole loan). The account is liquidatable while its health factor
``HF = C·LT / D`` (USD values, summed over the account's assets) is below 1.

Amounts are tokens (debt tokens repaid, collateral tokens seized), values USD. Profit is
what selling the seized collateral brings (the venue's quote for the whole amount in one
sale, after the calls; at the protocol's collateral price when there is no venue) minus the
debt repaid at the protocol's debt price minus gas per call. Everything is at fixed prices:
the strategies plan one block's calls.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from liqcascade._typing import TokenAmount, Usd
from liqcascade.markets.base import Venue
from liqcascade.markets.cpmm import ConstantProductPool
from liqcascade.protocols.calls import Call, CallRule, FixedSpread, HealthDiscount, Position, PositionFraction, check

__all__ = [
    "KEEP_LIQUIDATABLE_HF", "STRATEGIES", "Call", "CallRule", "Exit", "FixedSpread", "HealthDiscount", "Plan",
    "Position", "PositionFraction", "bisect_optimal_repay", "cpmm_optimal_repay", "keep_liquidatable_repay",
    "max_close", "plan", "profit_max", "two_step",
]

KEEP_LIQUIDATABLE_HF = 1.0 - 1e-9
"""Health factor :func:`two_step` leaves after its first call: just below 1, so the account is
still liquidatable when the protocol (and the engine, in float64) reads it again."""
BISECTION_STEPS = 200
"""Most halvings :func:`profit_max` makes on a venue without a closed form (it stops earlier
when the bracket is down to a few ulps)."""


@dataclass(frozen=True)
class Exit:
    """How the liquidator turns seized collateral into money, and what a call costs."""

    venue: Venue | None = None
    """Where the seized collateral is sold (its ``quote_sell``); None: at the position's
    collateral price, without slippage."""
    gas_usd: Usd = 0.0
    """Gas of one call (USD)."""
    price: Usd | None = None
    """Without a venue: the price the collateral sells at (None: the position's)."""

    def __post_init__(self) -> None:
        check("Exit.gas_usd", self.gas_usd >= 0 and math.isfinite(self.gas_usd), "a finite cost >= 0",
               self.gas_usd)
        if self.price is not None:
            check("Exit.price", self.price > 0 and math.isfinite(self.price), "a finite price > 0", self.price)

    def proceeds(self, pos: Position, amount: TokenAmount) -> Usd:
        """USD from selling ``amount`` collateral tokens in one sale."""
        if amount <= 0:
            return 0.0
        if self.venue is not None:
            return self.venue.quote_sell(amount)
        return amount * (self.price if self.price is not None else pos.collateral_price)


@dataclass(frozen=True)
class Plan:
    """A strategy's calls on one account, in order, and what they earn."""

    calls: tuple[Call, ...]
    proceeds_usd: Usd
    """USD from selling everything received (one sale after the calls)."""
    paid_usd: Usd
    """Debt repaid, at the protocol's debt price."""
    gas_usd: Usd

    @property
    def repaid(self) -> TokenAmount:
        return sum(c.repay for c in self.calls)

    @property
    def seized(self) -> TokenAmount:
        return sum(c.seize for c in self.calls)

    @property
    def received(self) -> TokenAmount:
        return sum(c.received for c in self.calls)

    @property
    def profit_usd(self) -> Usd:
        return self.proceeds_usd - self.paid_usd - self.gas_usd


NO_CALL = Plan((), 0.0, 0.0, 0.0)


def _priced(pos: Position, rule: CallRule, calls: tuple[Call, ...], exit: Exit) -> Plan:
    calls = tuple(c for c in calls if c.repay > 0)
    if not calls:
        return NO_CALL
    received = sum(c.received for c in calls)
    # the debt's price, or less where the protocol applies the account's own stablecoin (crvUSD,
    # whose calls scale the whole loan: the same per repaid token on every call)
    paid = sum(c.repay for c in calls) * rule.paid_per_repay(pos)
    return Plan(calls, exit.proceeds(pos, received), paid, exit.gas_usd * len(calls))


def max_close(pos: Position, rule: CallRule, exit: Exit) -> Plan:
    """One call repaying :meth:`CallRule.cap` (no call when the account is not liquidatable).
    Whether it is worth making is the caller's choice (the engine's ``min_profit_usd``)."""
    cap = rule.allowed(pos, rule.cap(pos))
    if cap <= 0:
        return NO_CALL
    call, _ = rule.call(pos, cap)
    return _priced(pos, rule, (call,), exit)


def keep_liquidatable_repay(pos: Position, rule: CallRule, target_hf: float = KEEP_LIQUIDATABLE_HF) -> TokenAmount:
    """The debt (tokens) a call may repay and leave the account at health ``target_hf`` (< 1);
    inf when no repayment lifts it that far, 0 when it is already there.

    Repaying ``r`` (USD) removes ``r`` of debt and ``r·(1+b)`` of the seized collateral, so the
    health after is ``(C·LT − r·k) / (D − r)`` with ``k = LT·(1+b)`` (``C·LT`` and ``D`` over
    the whole account, ``LT`` the seized collateral's). Setting it to ``h`` gives
    ``r = (h·D − C·LT) / (h − k)``: a positive repay when ``HF < h`` and ``k < h`` (each call
    raises the health factor); when ``k ≥ h`` no call ever lifts the account to ``h``. ``1 + b`` is
    the rule's :meth:`~liqcascade.protocols.calls.CallRule.value_seized_per_repay` (Euler: ``1/df``
    at the health before the call)."""
    h = target_hf
    k = pos.liquidation_threshold * rule.value_seized_per_repay(pos)
    gap = h * pos.total_debt_usd - pos.weighted_collateral_usd
    if gap <= 0:
        return 0.0
    if k >= h:
        return math.inf
    return gap / (h - k) / pos.debt_price


def two_step(pos: Position, rule: CallRule, exit: Exit, target_hf: float = KEEP_LIQUIDATABLE_HF) -> Plan:
    """Qin et al.'s optimal fixed-spread liquidation (IMC 2021, "Optimal Fixed Spread
    Liquidation Strategy"): two calls whose total repayment is the largest the rule allows.

    Derivation (ours, from the Aave v2 rule; the citation is to the paper's result). With
    debt ``D`` (USD), close factor ``CF`` and a first call repaying ``r₁``, the second call may
    repay ``CF·(D − r₁)`` if the account is still liquidatable, so both repay
    ``R(r₁) = CF·D + (1 − CF)·r₁``: increasing in ``r₁`` when ``CF < 1``. The first call is thus
    as large as the rule allows and the account stays liquidatable after it:
    ``r₁ = min(cap, r_keep)`` with ``r_keep`` from :func:`keep_liquidatable_repay` (health
    ``target_hf``, just below 1, after it). At the protocol's prices each call earns
    ``bonus × repaid``, so two_step earns ``bonus·(CF·D + (1 − CF)·r₁)`` against max_close's
    ``bonus·CF·D``: more by ``bonus·(1 − CF)·r₁`` (minus one more call's gas). When max close
    already leaves the account liquidatable (``r_keep ≥ cap``) the two calls are two max
    closes; when the account sits between ``target_hf`` and 1, or when the close factor is
    100 % (``R`` is then ``D`` whatever ``r₁``), the plan is max close alone. The second call is
    made on the account as the first left it, at the same prices.
    """
    cap = rule.cap(pos)
    if cap <= 0:
        return NO_CALL
    if not rule.close_factor_below_one or rule.max_repay(pos) >= pos.debt:
        return max_close(pos, rule, exit)
    first, after = rule.call(pos, rule.allowed(pos, min(cap, keep_liquidatable_repay(pos, rule, target_hf))))
    if first.repay <= 0:
        return max_close(pos, rule, exit)
    cap2 = rule.cap(after)
    if cap2 <= 0:
        return _priced(pos, rule, (first,), exit)
    second, _ = rule.call(after, rule.allowed(after, cap2))
    return _priced(pos, rule, (first, second), exit)


def cpmm_optimal_repay(pool: ConstantProductPool, s: float, debt_price: Usd) -> TokenAmount:
    """The repay ``r ≥ 0`` maximising ``quote_sell(s·r) − p_d·r`` on a constant-product pool
    (``s`` collateral tokens received per debt token repaid, ``p_d`` the USD paid per debt token).

    ``quote_sell(a) = y·γa / (x + γa)`` is concave with slope ``γxy / (x + γa)²``; the slope
    equals the cost of a collateral token, ``p_d / s``, at ``a* = (√(γxy·s/p_d) − x) / γ``."""
    x, y, g = pool.reserve_asset, pool.reserve_numeraire, pool.gamma
    a = (math.sqrt(g * x * y * s / debt_price) - x) / g
    return max(a, 0.0) / s


def bisect_optimal_repay(venue: Venue, s: float, debt_price: Usd, cap: TokenAmount) -> TokenAmount:
    """The repay in ``[0, cap]`` maximising ``venue.quote_sell(s·r) − p_d·r`` for a venue whose
    proceeds are concave in the amount sold: bisection on the sign of the slope (monotone
    falling), read as the secant of the venue's quotes ``1e-6·cap`` either side: wide enough
    that the quotes' rounding does not blur the sign near the flat optimum, narrow enough that
    the secant's zero sits within that width of the optimum (exactly on it for a quadratic)."""
    def rising(r: float, half: float) -> bool:
        lo, hi = max(r - half, 0.0), r + half
        return venue.quote_sell(s * hi) - venue.quote_sell(s * lo) > debt_price * (hi - lo)

    lo, hi = 0.0, cap
    half = cap * 1e-6
    if rising(cap - half, half):
        return cap
    if not rising(half, half):
        return 0.0
    for _ in range(BISECTION_STEPS):
        mid = 0.5 * (lo + hi)
        if not (lo < mid < hi):
            break
        if rising(mid, half):
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def profit_max(pos: Position, rule: CallRule, exit: Exit) -> Plan:
    """One call repaying the amount in ``[0, cap]`` that maximises the proceeds of selling the
    seized collateral minus the debt paid; no call when that best profit does not cover the
    call's gas. Closed form on a constant-product pool (:func:`cpmm_optimal_repay`, clipped to
    the cap: the objective is concave); on other venues bisection on the slope of their quotes
    (their proceeds are concave: the marginal sale price falls as one sells); without a venue
    the profit is linear in the repay, so the cap."""
    cap = rule.cap(pos)
    if cap <= 0:
        return NO_CALL
    s, cost = rule.received_per_repay(pos), rule.paid_per_repay(pos)
    if exit.venue is None:
        repay = cap
    elif isinstance(exit.venue, ConstantProductPool):
        repay = min(cpmm_optimal_repay(exit.venue, s, cost), cap)
    else:
        repay = bisect_optimal_repay(exit.venue, s, cost, cap)
    allowed = rule.allowed(pos, repay)
    # a rule that forbids some amounts (Aave v3.3+'s dust) leaves two candidates: the largest
    # allowed below the optimum (the objective is concave) and the whole cap, if allowed
    tries = [allowed] + ([cap] if allowed < repay and rule.allowed(pos, cap) >= cap else [])
    best = NO_CALL
    for r in tries:
        if r > 0:
            call, _ = rule.call(pos, r)
            p = _priced(pos, rule, (call,), exit)
            if p.profit_usd > best.profit_usd:
                best = p
    return best if best.profit_usd > 0 else NO_CALL


STRATEGIES = {"max_close": max_close, "two_step": two_step, "profit_max": profit_max}
"""The strategies by the name a scenario gives them (``[simulation.liquidators] strategy``)."""


def plan(strategy: str, pos: Position, rule: CallRule, exit: Exit) -> Plan:
    """The plan of the strategy named ``strategy`` (a key of :data:`STRATEGIES`)."""
    check("strategy", strategy in STRATEGIES, f"one of {sorted(STRATEGIES)}", strategy)
    return STRATEGIES[strategy](pos, rule, exit)
