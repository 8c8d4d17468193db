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

The call rule is Aave v2's (``LiquidationLogic`` in aave/protocol-v2): one call repays at most
``close_factor`` (50 %) of the account's debt in the debt asset; it seizes the repaid value
times ``1 + bonus`` in collateral at the protocol's prices; when that is more collateral than
the account holds, it seizes all of it and repays only what that collateral covers. The
account is liquidatable while its health factor ``HF = C·LT / D`` (USD values, summed over the
account's assets) is below 1. Aave v3's protocol fee (a share of the bonus the treasury
keeps) is :attr:`CallRule.protocol_fee`; it is 0 in v2.

Amounts are tokens (debt tokens repaid, collateral tokens seized), values USD. Profit is
what selling the seized collateral brings (the venue's quote for the whole amount in one
sale, after the calls; at the protocol's collateral price when there is no venue) minus the
debt repaid at the protocol's debt price minus gas per call. Everything is at fixed prices:
the strategies plan one block's calls.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from liqcascade._typing import Fraction, TokenAmount, Usd
from liqcascade.errors import ConfigError
from liqcascade.markets.base import Venue
from liqcascade.markets.cpmm import ConstantProductPool

__all__ = [
    "KEEP_LIQUIDATABLE_HF", "STRATEGIES", "Call", "CallRule", "Exit", "Plan", "Position", "keep_liquidatable_repay",
    "max_close", "plan", "profit_max", "two_step",
]

KEEP_LIQUIDATABLE_HF = 1.0 - 1e-9
"""Health factor :func:`two_step` leaves after its first call: just below 1, so the account is
still liquidatable when the protocol (and the engine, in float64) reads it again."""
BISECTION_STEPS = 200
"""Most halvings :func:`profit_max` makes on a venue without a closed form (it stops earlier
when the bracket is down to a few ulps)."""


def _check(key: str, ok: bool, expected: str, got: object) -> None:
    if not ok:
        raise ConfigError("<python>", key, expected, got)


@dataclass(frozen=True)
class Position:
    """One account's liquidated pair -- the collateral seized and the debt repaid (tokens) at
    the protocol's prices (USD per token) -- and the rest of the account, which counts in its
    health factor only."""

    collateral: TokenAmount
    debt: TokenAmount
    collateral_price: Usd
    debt_price: Usd
    liquidation_threshold: Fraction
    """Of the seized collateral."""
    other_collateral_usd: Usd = 0.0
    """The account's other collateral, each weighted by its liquidation threshold (USD)."""
    other_debt_usd: Usd = 0.0
    """The account's other debt (USD)."""

    def __post_init__(self) -> None:
        for key in ("collateral", "debt"):
            v = getattr(self, key)
            _check(f"Position.{key}", v >= 0 and math.isfinite(v), "a finite amount >= 0", v)
        for key in ("collateral_price", "debt_price"):
            v = getattr(self, key)
            _check(f"Position.{key}", v > 0 and math.isfinite(v), "a finite price > 0", v)
        lt = self.liquidation_threshold
        _check("Position.liquidation_threshold", 0 < lt <= 1, "a fraction in (0, 1]", lt)
        for key in ("other_collateral_usd", "other_debt_usd"):
            v = getattr(self, key)
            _check(f"Position.{key}", v >= 0 and math.isfinite(v), "a finite value >= 0", v)

    @property
    def collateral_usd(self) -> Usd:
        return self.collateral * self.collateral_price

    @property
    def debt_usd(self) -> Usd:
        return self.debt * self.debt_price

    @property
    def weighted_collateral_usd(self) -> Usd:
        """``C·LT`` over the account: the pair's collateral and the rest."""
        return self.collateral_usd * self.liquidation_threshold + self.other_collateral_usd

    @property
    def total_debt_usd(self) -> Usd:
        return self.debt_usd + self.other_debt_usd

    @property
    def health_factor(self) -> float:
        """``C·LT / D`` over the account; inf without debt."""
        d = self.total_debt_usd
        return math.inf if d <= 0 else self.weighted_collateral_usd / d

    @property
    def liquidatable(self) -> bool:
        return self.debt > 0 and self.collateral > 0 and self.health_factor < 1.0


@dataclass(frozen=True)
class Call:
    """One liquidation call: debt tokens repaid, collateral tokens seized (the protocol's fee
    included) and the protocol's fee (collateral tokens it keeps)."""

    repay: TokenAmount
    seize: TokenAmount
    fee: TokenAmount = 0.0

    @property
    def received(self) -> TokenAmount:
        """Collateral tokens the liquidator receives."""
        return self.seize - self.fee


@dataclass(frozen=True)
class CallRule:
    """A fixed-spread call rule (Aave v2): the close factor and the bonus."""

    close_factor: Fraction = 0.5
    """Share of the account's debt one call may repay (Aave v2: 50 %)."""
    bonus: Fraction = 0.05
    """Collateral seized per unit of debt value repaid, above 1 (0.05: 105 %)."""
    protocol_fee: Fraction = 0.0
    """Share of the bonus part of the seized collateral the protocol keeps (Aave v3)."""

    def __post_init__(self) -> None:
        cf, b, f = self.close_factor, self.bonus, self.protocol_fee
        _check("CallRule.close_factor", 0 < cf <= 1, "a fraction in (0, 1]", cf)
        _check("CallRule.bonus", 0 <= b < 1, "a fraction in [0, 1)", b)
        _check("CallRule.protocol_fee", 0 <= f <= 1, "a fraction in [0, 1]", f)

    def seize_per_repay(self, pos: Position) -> float:
        """Collateral tokens seized per debt token repaid: ``(1 + bonus)·p_debt / p_coll``."""
        return (1.0 + self.bonus) * pos.debt_price / pos.collateral_price

    def received_per_repay(self, pos: Position) -> float:
        """Collateral tokens the liquidator receives per debt token repaid: the seized ones less
        the protocol's share of the bonus."""
        return self.seize_per_repay(pos) * (1.0 - self.protocol_fee * self.bonus / (1.0 + self.bonus))

    def cap(self, pos: Position) -> TokenAmount:
        """The most debt (tokens) one call may repay: the close factor's share of the debt, or
        what the whole collateral covers at the bonus if that is less; 0 when not liquidatable."""
        if not pos.liquidatable:
            return 0.0
        return min(self.close_factor * pos.debt, pos.collateral / self.seize_per_repay(pos))

    def call(self, pos: Position, repay: TokenAmount) -> tuple[Call, Position]:
        """Repay ``repay`` debt tokens (at most :meth:`cap`): the call and the position after it."""
        cap = self.cap(pos)
        _check("repay", 0 <= repay <= cap * (1 + 1e-12), f"an amount in [0, {cap}] (the rule's cap)", repay)
        repay = min(repay, cap)
        seize = min(repay * self.seize_per_repay(pos), pos.collateral)
        fee = (seize - seize / (1.0 + self.bonus)) * self.protocol_fee
        after = replace(pos, collateral=max(pos.collateral - seize, 0.0), debt=max(pos.debt - repay, 0.0))
        return Call(repay, seize, fee), after


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
        _check("Exit.gas_usd", self.gas_usd >= 0 and math.isfinite(self.gas_usd), "a finite cost >= 0",
               self.gas_usd)
        if self.price is not None:
            _check("Exit.price", self.price > 0 and math.isfinite(self.price), "a finite price > 0", self.price)

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


def _priced(pos: Position, calls: tuple[Call, ...], exit: Exit) -> Plan:
    calls = tuple(c for c in calls if c.repay > 0)
    if not calls:
        return NO_CALL
    received = sum(c.received for c in calls)
    paid = sum(c.repay for c in calls) * pos.debt_price
    return Plan(calls, exit.proceeds(pos, received), paid, exit.gas_usd * len(calls))


def max_close(pos: Position, rule: CallRule, exit: Exit) -> Plan:
    """One call repaying :meth:`CallRule.cap` (no call when the account is not liquidatable).
    Whether it is worth making is the caller's choice (the engine's ``min_profit_usd``)."""
    cap = rule.cap(pos)
    if cap <= 0:
        return NO_CALL
    call, _ = rule.call(pos, cap)
    return _priced(pos, (call,), exit)


def keep_liquidatable_repay(pos: Position, rule: CallRule, target_hf: float = KEEP_LIQUIDATABLE_HF) -> TokenAmount:
    """The debt (tokens) a call may repay and leave the account at health ``target_hf`` (< 1);
    inf when no repayment lifts it that far, 0 when it is already there.

    Repaying ``r`` (USD) removes ``r`` of debt and ``r·(1+b)`` of the seized collateral, so the
    health after is ``(C·LT − r·k) / (D − r)`` with ``k = LT·(1+b)`` (``C·LT`` and ``D`` over
    the whole account, ``LT`` the seized collateral's). Setting it to ``h`` gives
    ``r = (h·D − C·LT) / (h − k)``: a positive repay when ``HF < h`` and ``k < h`` (each call
    raises the health factor); when ``k ≥ h`` no call ever lifts the account to ``h``."""
    h = target_hf
    k = pos.liquidation_threshold * (1.0 + rule.bonus)
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
    if rule.close_factor >= 1.0:
        return max_close(pos, rule, exit)
    first, after = rule.call(pos, min(cap, keep_liquidatable_repay(pos, rule, target_hf)))
    if first.repay <= 0:
        return max_close(pos, rule, exit)
    cap2 = rule.cap(after)
    if cap2 <= 0:
        return _priced(pos, (first,), exit)
    second, _ = rule.call(after, cap2)
    return _priced(pos, (first, second), exit)


def _cpmm_optimal_repay(pool: ConstantProductPool, s: float, debt_price: Usd) -> TokenAmount:
    """The repay ``r ≥ 0`` maximising ``quote_sell(s·r) − p_d·r`` on a constant-product pool
    (``s`` collateral tokens received per debt token repaid).

    ``quote_sell(a) = y·γa / (x + γa)`` is concave with slope ``γxy / (x + γa)²``; the slope
    equals the cost of a collateral token, ``p_d / s``, at ``a* = (√(γxy·s/p_d) − x) / γ``."""
    x, y, g = pool.reserve_asset, pool.reserve_numeraire, pool.gamma
    a = (math.sqrt(g * x * y * s / debt_price) - x) / g
    return max(a, 0.0) / s


def _bisect_optimal_repay(venue: Venue, s: float, debt_price: Usd, cap: TokenAmount) -> TokenAmount:
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
    call's gas. Closed form on a constant-product pool (:func:`_cpmm_optimal_repay`, clipped to
    the cap: the objective is concave); on other venues bisection on the slope of their quotes
    (their proceeds are concave: the marginal sale price falls as one sells); without a venue
    the profit is linear in the repay, so the cap."""
    cap = rule.cap(pos)
    if cap <= 0:
        return NO_CALL
    s = rule.received_per_repay(pos)
    if exit.venue is None:
        repay = cap
    elif isinstance(exit.venue, ConstantProductPool):
        repay = min(_cpmm_optimal_repay(exit.venue, s, pos.debt_price), cap)
    else:
        repay = _bisect_optimal_repay(exit.venue, s, pos.debt_price, cap)
    if repay <= 0:
        return NO_CALL
    call, _ = rule.call(pos, repay)
    best = _priced(pos, (call,), exit)
    return best if best.profit_usd > 0 else NO_CALL


STRATEGIES = {"max_close": max_close, "two_step": two_step, "profit_max": profit_max}
"""The strategies by the name a scenario gives them (``[simulation.liquidators] strategy``)."""


def plan(strategy: str, pos: Position, rule: CallRule, exit: Exit) -> Plan:
    """The plan of the strategy named ``strategy`` (a key of :data:`STRATEGIES`)."""
    _check("strategy", strategy in STRATEGIES, f"one of {sorted(STRATEGIES)}", strategy)
    return STRATEGIES[strategy](pos, rule, exit)
