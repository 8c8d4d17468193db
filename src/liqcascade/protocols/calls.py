"""What one liquidator call may repay and what it seizes: the call rules a protocol declares
when its liquidator chooses the amount (``call_rule`` of its rules, with
``capabilities.capped_calls``).

A rule works on one account's liquidated pair (:class:`Position`: the collateral seized and
the debt repaid, at the protocol's prices, and the rest of the account, which counts in its
health factor only). It says the most one call may repay (:meth:`CallRule.cap`), which smaller
amounts are allowed (:meth:`CallRule.allowed`: Aave v3.3+'s dust rule forbids some), and what a
call repaying ``r`` seizes (:meth:`CallRule.call`). The liquidator strategies
(``engine/strategies.py``) plan with these and nothing else.

- :class:`FixedSpread`: the call seizes the repaid value times ``1 + bonus`` in collateral, at
  most the close factor's share of the debt per call. Aave v2 (50 %), Aave v3 (50 % above HF
  0.95, all below; v3.3+ also all when the pair's debt or collateral is under $2000, 50 % of the
  account's *total* debt otherwise, and a partial call must leave $1000 of both), Compound v2
  (the Comptroller's close factor; the protocol keeps a share of *all* seized tokens), Morpho
  Blue (no close factor: the whole debt; ``bonus`` = LIF - 1).
- :class:`HealthDiscount`: Euler v2 -- any amount up to the whole debt; the seized value is the
  repaid value over ``df = max(HF, 1 - max_discount)`` (the discount grows as health falls).
- :class:`PositionFraction`: crvUSD's ``liquidate_extended(frac)`` -- a call takes the share
  ``frac`` of everything the loan's bands hold and repays that share of its debt.

Each rule's first-call arithmetic is the one its protocol's ``fast.py`` runs (tests tie them).
Amounts are tokens, values USD, and everything is at fixed prices (one block's calls).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from liqcascade._typing import FloatArray, Fraction, TokenAmount, Usd
from liqcascade.errors import ConfigError

__all__ = ["Call", "CallRule", "FixedSpread", "HealthDiscount", "Position", "PositionFraction"]

DUST_SHAVE = 1e-12
"""Relative margin under the dust rule's limit (as the Aave kernel's ``largest_allowed_cover``)."""


def check(key: str, ok: bool, expected: str, got: object) -> None:
    """A :class:`ConfigError` naming ``key`` unless ``ok``."""
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
            check(f"Position.{key}", v >= 0 and math.isfinite(v), "a finite amount >= 0", v)
        for key in ("collateral_price", "debt_price"):
            v = getattr(self, key)
            check(f"Position.{key}", v > 0 and math.isfinite(v), "a finite price > 0", v)
        lt = self.liquidation_threshold
        check("Position.liquidation_threshold", 0 < lt <= 1, "a fraction in (0, 1]", lt)
        for key in ("other_collateral_usd", "other_debt_usd"):
            v = getattr(self, key)
            check(f"Position.{key}", v >= 0 and math.isfinite(v), "a finite value >= 0", v)

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


class CallRule:
    """The part common to every call rule: a call repays ``r`` debt tokens and seizes
    ``r·seize_per_repay`` collateral tokens (all of it, and only the repay that covers, when
    that is more than the pair holds); the protocol keeps ``fee_share`` of what is seized.
    Subclasses give :meth:`max_repay` (the close factor), :meth:`value_seized_per_repay` and,
    where the protocol forbids some amounts, :meth:`allowed`."""

    protocol: str = ""

    def max_repay(self, pos: Position) -> TokenAmount:
        """The most debt one call may repay before the collateral's limit (tokens)."""
        raise NotImplementedError

    def value_seized_per_repay(self, pos: Position) -> float:
        """USD of collateral seized per USD of debt repaid (``1 + bonus``)."""
        raise NotImplementedError

    def fee_share(self, pos: Position) -> Fraction:
        """Share of the seized collateral the protocol keeps."""
        return 0.0

    def spread_over(self, hf: FloatArray) -> tuple[FloatArray, float]:
        """Over many accounts of this rule's pair at health ``hf``: USD seized per USD repaid
        and the share of it the protocol keeps (the engines' arrays; the scalars' values)."""
        raise NotImplementedError

    @property
    def close_factor_below_one(self) -> bool:
        """Whether a call may ever be capped below the whole debt by the rule (not only by the
        collateral): two_step can gain only then."""
        return False

    def seize_per_repay(self, pos: Position) -> float:
        """Collateral tokens seized per debt token repaid."""
        return self.value_seized_per_repay(pos) * pos.debt_price / pos.collateral_price

    def paid_per_repay(self, pos: Position) -> Usd:
        """USD the liquidator pays per debt token repaid (the debt's price, unless the protocol
        applies some of the account's own funds to the debt)."""
        return pos.debt_price

    def received_per_repay(self, pos: Position) -> float:
        """Collateral tokens the liquidator receives per debt token repaid."""
        return self.seize_per_repay(pos) * (1.0 - self.fee_share(pos))

    def cap(self, pos: Position) -> TokenAmount:
        """The most debt (tokens) one call may repay: :meth:`max_repay`, or what the whole
        collateral covers if that is less; 0 when not liquidatable."""
        if not pos.liquidatable:
            return 0.0
        return min(self.max_repay(pos), pos.collateral / self.seize_per_repay(pos))

    def allowed(self, pos: Position, repay: TokenAmount) -> TokenAmount:
        """The largest repay the protocol accepts that is at most ``repay`` (itself, unless a
        rule forbids some amounts below the cap)."""
        return min(repay, self.cap(pos))

    def call(self, pos: Position, repay: TokenAmount) -> tuple[Call, Position]:
        """Repay ``repay`` debt tokens (at most :meth:`cap`): the call and the position after it."""
        cap = self.cap(pos)
        check("repay", 0 <= repay <= cap * (1 + 1e-12), f"an amount in [0, {cap}] (the rule's cap)", repay)
        repay = min(repay, cap)
        seize = min(repay * self.seize_per_repay(pos), pos.collateral)
        fee = self.fee_of(pos, seize)
        after = replace(pos, collateral=max(pos.collateral - seize, 0.0), debt=max(pos.debt - repay, 0.0))
        return Call(repay, seize, fee), after

    def fee_of(self, pos: Position, seize: TokenAmount) -> TokenAmount:
        return seize * self.fee_share(pos)


@dataclass(frozen=True)
class FixedSpread(CallRule):
    """A fixed-spread call: at most ``close_factor`` of the pair's debt, seizing the repaid value
    times ``1 + bonus``. The defaults are Aave v2's (50 %, 5 %). Aave v3's refinements are
    switched on by ``full_close_hf`` (0.95), ``min_close_factor_usd`` and ``min_leftover_usd``
    (v3.3+: $2000 and $1000)."""

    close_factor: Fraction = 0.5
    """Share of the debt one call may repay (Aave v2: 50 %)."""
    bonus: Fraction = 0.05
    """Collateral seized per unit of debt value repaid, above 1 (0.05: 105 %)."""
    protocol_fee: Fraction = 0.0
    """Aave v3: share of the *bonus* part of the seized collateral the protocol keeps; with
    ``fee_on_seized``, Compound v2's share of *all* seized tokens (``protocolSeizeShare``)."""
    fee_on_seized: bool = False
    full_close_hf: float = 0.0
    """At or below this HF one call may repay the whole pair's debt (Aave v3: 0.95; 0: never)."""
    min_close_factor_usd: Usd = 0.0
    """Aave v3.3+ (``MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD``): the close factor applies only when the
    pair's debt and collateral are both worth at least this ($2000), and is then a share of the
    account's total debt. 0: the close factor is of the pair's debt, whatever its size."""
    min_leftover_usd: Usd = 0.0
    """Aave v3.3+ (``MIN_LEFTOVER_BASE``, $1000): a call that leaves debt and collateral on the
    pair must leave at least this of each. 0: no dust rule."""
    protocol: str = "aave_v3"

    def __post_init__(self) -> None:
        cf, b, f = self.close_factor, self.bonus, self.protocol_fee
        check("CallRule.close_factor", 0 < cf <= 1, "a fraction in (0, 1]", cf)
        check("CallRule.bonus", 0 <= b < 1, "a fraction in [0, 1)", b)
        check("CallRule.protocol_fee", 0 <= f <= 1, "a fraction in [0, 1]", f)

    @property
    def close_factor_below_one(self) -> bool:
        return self.close_factor < 1.0

    def value_seized_per_repay(self, pos: Position) -> float:
        return 1.0 + self.bonus

    def seize_per_repay(self, pos: Position) -> float:
        """``(1 + bonus)·p_debt / p_coll`` (in this order: the engines' arithmetic)."""
        return (1.0 + self.bonus) * pos.debt_price / pos.collateral_price

    def fee_share(self, pos: Position) -> Fraction:
        if self.fee_on_seized:
            return self.protocol_fee
        return self.protocol_fee * self.bonus / (1.0 + self.bonus)

    def spread_over(self, hf: FloatArray) -> tuple[FloatArray, float]:
        share = self.fee_share(Position(1.0, 1.0, 1.0, 1.0, 1.0))  # a fixed spread's share is the same everywhere
        return np.full(np.shape(hf), 1.0 + self.bonus), share

    def fee_of(self, pos: Position, seize: TokenAmount) -> TokenAmount:
        if self.fee_on_seized:
            return seize * self.protocol_fee
        return (seize - seize / (1.0 + self.bonus)) * self.protocol_fee

    def max_repay(self, pos: Position) -> TokenAmount:
        if pos.health_factor <= self.full_close_hf:
            return pos.debt
        if self.min_close_factor_usd <= 0:
            return self.close_factor * pos.debt
        small = min(pos.collateral_usd, pos.debt_usd) < self.min_close_factor_usd
        if small:
            return pos.debt
        return min(pos.debt, self.close_factor * pos.total_debt_usd / pos.debt_price)

    def allowed(self, pos: Position, repay: TokenAmount) -> TokenAmount:
        """Aave v3.3+: a call that leaves both debt and collateral on the pair must leave $1000 of
        each; the largest such repay is taken when ``repay`` would leave less (the kernel's
        ``largest_allowed_cover``), unless ``repay`` takes all the debt or all the collateral."""
        cap = self.cap(pos)
        r = min(repay, cap)
        if self.min_leftover_usd <= 0 or r <= 0:
            return r
        seize = r * self.seize_per_repay(pos)
        # a call that takes all the debt or all the collateral (up to the rounding of the cap's
        # division) leaves nothing to be dust
        if r >= pos.debt or seize >= pos.collateral * (1.0 - DUST_SHAVE):
            return r
        left_debt = (pos.debt - r) * pos.debt_price
        left_coll = (pos.collateral - seize) * pos.collateral_price
        if left_debt >= self.min_leftover_usd and left_coll >= self.min_leftover_usd:
            return r
        by_debt = (pos.debt_usd - self.min_leftover_usd) / pos.debt_price
        by_coll = (pos.collateral_usd - self.min_leftover_usd) / (pos.debt_price * (1.0 + self.bonus))
        return max(min(r, by_debt, by_coll) * (1.0 - DUST_SHAVE), 0.0)


@dataclass(frozen=True)
class HealthDiscount(CallRule):
    """Euler v2 (EVK ``Liquidation.sol``): any amount up to the whole debt; the seized value is
    the repaid value over ``df = max(HF, 1 - max_discount)`` at the health before the call (so
    the discount ``1 - df`` grows as health falls)."""

    max_discount: Fraction = 0.15
    protocol: str = "euler_v2"

    def __post_init__(self) -> None:
        check("CallRule.max_discount", 0 <= self.max_discount < 1, "a fraction in [0, 1)", self.max_discount)

    def discount_factor(self, pos: Position) -> float:
        floor = 1.0 - self.max_discount
        hf = pos.health_factor
        return hf if hf > floor else floor

    def value_seized_per_repay(self, pos: Position) -> float:
        return 1.0 / self.discount_factor(pos)

    def spread_over(self, hf: FloatArray) -> tuple[FloatArray, float]:
        return 1.0 / np.maximum(hf, 1.0 - self.max_discount), 0.0

    def max_repay(self, pos: Position) -> TokenAmount:
        return pos.debt


@dataclass(frozen=True)
class PositionFraction(CallRule):
    """crvUSD ``liquidate_extended(frac)``: a call repays the share ``frac`` of the loan's debt
    and takes that share of its bands -- collateral, and the stablecoin soft liquidation left
    there, which the protocol applies to the debt (:attr:`Position.other_collateral_usd` holds it,
    counted at full value, and the pair's ``liquidation_threshold`` is ``1 - liquidation_discount``,
    so ``HF < 1`` is the contract's ``health < 0``). The liquidator pays the repaid debt less the
    stablecoin, so its cost per debt token repaid is ``1 - y/D``; the seized collateral per debt
    token is ``x / D``. Every call scales the whole loan, so its health never changes."""

    protocol: str = "crvusd"

    def max_repay(self, pos: Position) -> TokenAmount:
        return pos.debt

    def value_seized_per_repay(self, pos: Position) -> float:
        return pos.collateral_usd / pos.debt_usd

    def paid_per_repay(self, pos: Position) -> Usd:
        """The debt's price less the bands' stablecoin per debt token (``y / D``, at most all of it)."""
        return pos.debt_price * max(1.0 - pos.other_collateral_usd / pos.debt_usd, 0.0)

    def call(self, pos: Position, repay: TokenAmount) -> tuple[Call, Position]:
        cap = self.cap(pos)
        check("repay", 0 <= repay <= cap * (1 + 1e-12), f"an amount in [0, {cap}] (the rule's cap)", repay)
        frac = min(repay, cap) / pos.debt
        keep = 1.0 - frac
        after = replace(pos, collateral=pos.collateral * keep, debt=pos.debt * keep,
                        other_collateral_usd=pos.other_collateral_usd * keep)
        return Call(frac * pos.debt, frac * pos.collateral), after
