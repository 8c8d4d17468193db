"""What holds an issued stablecoin near its peg: Maker's Peg Stability Module and Liquity's
redemptions, and the coin's supply as a number of its own.

Each mechanism is declared per coin in the scenario (``[stablecoins.X.psm]``,
``[stablecoins.X.redemptions]``, ``[stablecoins.X] supply``) and runs after the issuer's
purchases of the coin, once per static round (:class:`~liqcascade.engine.system.IssuedPurchases`)
or per block (:func:`~liqcascade.engine.system_dynamic.buy_issued`), as an arbitrageur's trade on
the coin's venue:

- **PSM** (dss-psm ``DssPsm``): ``sellGem`` takes ``g`` of the gem (USDC, valued at $1) and mints
  ``g·(1 − tin)`` of the coin; ``buyGem`` pays out ``g`` of the gem for ``g·(1 + tout)`` of the
  coin, which is burnt. An arbitrageur mints and sells on the venue while the venue's sale price
  is above ``1 / (1 − tin)``, and buys on the venue and swaps while its purchase price is below
  ``1 / (1 + tout)``: the venue is brought back to the band's edge, as far as the PSM's gem
  balance (``buyGem``) or the room left under its debt ceiling (``sellGem``) allows.
- **Redemptions** (liquity/dev ``TroveManager.redeemCollateral``): the coin is redeemed for
  collateral at the collateral's price, $1 of debt per coin, against the troves of lowest
  collateral ratio at or above the MCR (each down to its 200-coin gas compensation, when the
  trove is closed and that compensation burnt too; a partial redemption that would leave less
  than the minimum net debt is not made, and the redemption stops there); none while the
  system's TCR is below the MCR. The fee is ``baseRate + 0.5 %`` (at most 100 %) of the
  collateral drawn, with ``baseRate`` first raised by half the redeemed share of the supply and
  decaying by the contract's minute factor (12 h half-life) between redemptions (in
  ``simulate``; the static cascade is one instant). An
  arbitrageur redeems when the venue's purchase price is below ``1 − fee``: the amount is the
  one after which the venue's purchase price is ``1 − fee`` of that same amount (a root found by
  bisection: the price rises and the target falls with the amount), capped by what the troves
  can take.

The supply falls by the debt the issuer's liquidations repay in the coin, by redemptions (the
coins redeemed and the gas compensation of troves closed) and by ``buyGem``, and rises by
``sellGem``. The redeemer keeps the collateral (it is not sold into a venue).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

REDEMPTION_FEE_FLOOR = 0.005
"""``LiquityBase.REDEMPTION_FEE_FLOOR``: 0.5 %."""
BETA = 2.0
"""``TroveManager.BETA``: the base rate rises by the redeemed share of the supply over 2."""
MINUTE_DECAY_FACTOR = 0.999037758833783
"""``TroveManager.MINUTE_DECAY_FACTOR`` (1e18-scaled in the contract): a 12-hour half-life."""
SECONDS_IN_ONE_MINUTE = 60
MIN_NET_DEBT = 1800.0
"""``LiquityBase.MIN_NET_DEBT``: a trove's debt less its gas compensation is at least this."""


@dataclass(frozen=True)
class Psm:
    """A Peg Stability Module for a coin: ``gem_balance`` is the gem (USD) it holds and can pay
    out; ``mint_room`` the gem it may still take in before its debt ceiling (inf: none)."""

    gem_balance: float
    tin: float = 0.0
    tout: float = 0.0
    mint_room: float = math.inf

    @property
    def band(self) -> tuple[float, float]:
        """The venue prices outside which a PSM swap pays: ``1/(1 + tout)``, ``1/(1 − tin)``."""
        return 1.0 / (1.0 + self.tout), 1.0 / (1.0 - self.tin)


@dataclass(frozen=True)
class Redemptions:
    """Liquity redemptions of a coin against its issuer's troves, from ``base_rate``."""

    base_rate: float = 0.0
    gas_compensation: float = 200.0
    """The coins of a trove's debt held in the gas pool (``LUSD_GAS_COMPENSATION``)."""


PEG_ROUND_COLUMNS = ("round", "asset", "price_before", "price_after", "supply", "psm_minted", "psm_burnt", "psm_gem",
                     "redeemed", "redemption_debt_cancelled", "base_rate")
"""The static cascade's ``stablecoin_rounds``: per round and pegged coin, its arbitrage at the
round's start and the totals after it (supply, the PSM's gem, redemptions' base rate)."""


@dataclass
class PegState:
    """One coin's running numbers over a cascade or a simulation."""

    supply: float
    """Tokens outstanding (NaN when the scenario gives none)."""
    gem: float = 0.0
    room: float = math.inf
    base_rate: float = 0.0
    last_fee_time: int | None = None
    """``lastFeeOperationTime`` (seconds) in a simulation; None in the static cascade (one instant)."""
    minted: float = 0.0
    psm_burnt: float = 0.0
    redeemed: float = 0.0
    debt_cancelled: float = 0.0
    collateral_drawn: float = 0.0
    collateral_fee: float = 0.0
    redemption_cost_usd: float = 0.0
    troves_closed: int = 0
    redemptions: int = 0
    log: list = field(default_factory=list)
    """One record per static round (:data:`PEG_ROUND_COLUMNS`), written by the system cascade."""

    @classmethod
    def start(cls, supply: float | None, psm: Psm | None, red: Redemptions | None) -> "PegState":
        return cls(
            supply=math.nan if supply is None else float(supply),
            gem=0.0 if psm is None else float(psm.gem_balance),
            room=math.inf if psm is None else float(psm.mint_room),
            base_rate=0.0 if red is None else float(red.base_rate),
        )


@dataclass(frozen=True)
class PsmSwap:
    """One arbitrage through the PSM: coins minted (``sellGem``, sold on the venue) or
    burnt (bought on the venue, ``buyGem``), the gem that moved, and the USD of the venue trade."""

    minted: float = 0.0
    burnt: float = 0.0
    gem_in: float = 0.0
    gem_out: float = 0.0
    venue_usd: float = 0.0


def psm_swap(venue, psm: Psm, state: PegState):
    """The PSM arbitrage on ``venue`` from ``state`` (gem and room): (:class:`PsmSwap`, venue
    after). ``state`` is updated (gem, room, supply, minted, burnt)."""
    low, high = psm.band
    if venue.mid_price() > high and state.room > 0.0:
        # the minted coins sold bring the sale price down to 1/(1 - tin), as far as the ceiling allows
        amount = min(venue.amount_to_price(high), state.room * (1.0 - psm.tin))
        # a venue no finite sale brings down to the band (with no ceiling) takes no swap
        if not (amount > 0.0 and math.isfinite(amount)):
            return PsmSwap(), venue
        proceeds, venue = venue.sell(amount)
        gem = amount / (1.0 - psm.tin)
        state.gem += gem
        state.room -= gem
        state.minted += amount
        state.supply += amount
        return PsmSwap(minted=amount, gem_in=gem, venue_usd=proceeds), venue
    if venue.buy_price() < low and state.gem > 0.0:
        amount = min(venue.amount_to_buy_price(low), state.gem * (1.0 + psm.tout))
        if not (amount > 0.0 and math.isfinite(venue.quote_buy(amount))):
            return PsmSwap(), venue
        cost, venue = venue.buy(amount)
        gem = amount / (1.0 + psm.tout)
        state.gem -= gem
        state.psm_burnt += amount
        state.supply -= amount
        return PsmSwap(burnt=amount, gem_out=gem, venue_usd=cost), venue
    return PsmSwap(), venue


def redemption_rate(base_rate: float, amount: float, supply: float) -> tuple[float, float]:
    """(fee rate, base rate after) of redeeming ``amount`` of a ``supply``:
    ``_updateBaseRateFromRedemption`` then ``_calcRedemptionRate``."""
    new_base = min(base_rate + amount / supply / BETA, 1.0)
    return min(REDEMPTION_FEE_FLOOR + new_base, 1.0), new_base


def decayed_base_rate(state: PegState, now: int | None) -> float:
    """``_calcDecayedBaseRate`` at ``now`` (seconds): the base rate times the minute factor to
    the whole minutes since the last fee operation (no decay without a clock)."""
    if now is None or state.last_fee_time is None:
        return state.base_rate
    minutes = (now - state.last_fee_time) // SECONDS_IN_ONE_MINUTE
    return state.base_rate * MINUTE_DECAY_FACTOR ** minutes if minutes > 0 else state.base_rate


def arbitrage_amount(venue, base_rate: float, supply: float) -> float:
    """Coins an arbitrageur buys on ``venue`` to redeem: 0 when its purchase price is at or
    above ``1 − fee`` of a vanishing redemption; else the root of
    ``amount_to_buy_price(1 − fee(R)) = R`` (left side falling in R)."""
    fee0, _ = redemption_rate(base_rate, 0.0, supply)
    hi = venue.amount_to_buy_price(1.0 - fee0)
    if not hi > 0.0:
        return 0.0
    hi = min(hi, supply)
    while not math.isfinite(venue.quote_buy(hi)):  # no more than the venue can sell
        hi *= 0.5
    lo = 0.0
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        fee, _ = redemption_rate(base_rate, mid, supply)
        if venue.amount_to_buy_price(1.0 - fee) > mid:
            lo = mid
        else:
            hi = mid
    return lo


@dataclass(frozen=True)
class TroveRedemption:
    """Coins redeemed against troves, debt cancelled (redeemed + closed troves' gas
    compensation), collateral drawn from them, and the troves closed."""

    redeemed: float = 0.0
    debt_cancelled: float = 0.0
    collateral_drawn: float = 0.0
    closed: int = 0


@dataclass(frozen=True)
class Troves:
    """An issuer's troves in its book's row arrays (tokens; changed in place by a
    redemption): trove ``t``'s collateral is ``coll[coll_rows[t]]``, its debt ``debt[debt_rows[t]]``."""

    coll: np.ndarray
    debt: np.ndarray
    coll_rows: np.ndarray
    debt_rows: np.ndarray
    mcr: float = 1.1


def redeem_troves(coll: np.ndarray, debt: np.ndarray, price: float, amount: float, mcr: float,
                  gas: float) -> TroveRedemption:
    """``redeemCollateral``'s walk: ``amount`` coins against the troves (``coll``, ``debt``,
    tokens; changed in place) of lowest ratio at or above ``mcr``, at ``price`` USD per unit of
    collateral; nothing when the system's TCR is below ``mcr``."""
    open_ = debt > 0.0
    tot_debt = float(debt[open_].sum())
    if tot_debt <= 0.0 or float(coll[open_].sum()) * price < mcr * tot_debt or amount <= 0.0:
        return TroveRedemption()
    icr = np.where(open_, coll * price / np.where(open_, debt, 1.0), np.inf)
    order = np.argsort(icr, kind="stable")
    left, redeemed, cancelled, drawn, closed = amount, 0.0, 0.0, 0.0, 0
    for t in order[np.searchsorted(icr[order], mcr, side="left"):]:
        if left <= 0.0 or not open_[t]:
            break
        lot = min(left, debt[t] - gas)
        if lot <= 0.0:
            continue
        if lot >= debt[t] - gas:
            # the trove is closed: its gas compensation is burnt, the rest of its collateral
            # is the owner's surplus (out of the system)
            cancelled += debt[t]
            coll[t], debt[t] = 0.0, 0.0
            closed += 1
        else:
            if debt[t] - lot - gas < MIN_NET_DEBT:
                break  # the contract cancels this partial redemption and stops
            debt[t] -= lot
            coll[t] -= lot / price
            cancelled += lot
        redeemed += lot
        drawn += lot / price
        left -= lot
    return TroveRedemption(redeemed, cancelled, drawn, closed)


def redeem(venue, red: Redemptions, state: PegState, troves: Troves, price: float, now: int | None = None):
    """One arbitrage redemption at time ``now`` (None: the static cascade's instant): buy the
    coins on ``venue``, redeem them against ``troves`` at ``price`` (the collateral's);
    (:class:`TroveRedemption`, fee rate, venue after). ``state`` takes the base rate (decayed
    to ``now`` first, ``_updateLastFeeOpTime`` after), supply and totals; ``troves``' arrays
    are written back."""
    base = decayed_base_rate(state, now)
    want = arbitrage_amount(venue, base, state.supply)
    if not want > 0.0:
        return TroveRedemption(), 0.0, venue
    coll, debt = troves.coll[troves.coll_rows], troves.debt[troves.debt_rows]  # copies
    done = redeem_troves(coll, debt, price, want, troves.mcr, red.gas_compensation)
    if not done.redeemed > 0.0:
        return done, 0.0, venue
    fee, state.base_rate = redemption_rate(base, done.redeemed, state.supply)
    if now is not None and (state.last_fee_time is None or now - state.last_fee_time >= SECONDS_IN_ONE_MINUTE):
        state.last_fee_time = now
    cost, venue = venue.buy(done.redeemed)
    troves.coll[troves.coll_rows] = coll
    troves.debt[troves.debt_rows] = debt
    state.supply -= done.debt_cancelled
    state.redeemed += done.redeemed
    state.debt_cancelled += done.debt_cancelled
    state.collateral_drawn += done.collateral_drawn
    state.collateral_fee += done.collateral_drawn * fee
    state.redemption_cost_usd += cost
    state.troves_closed += done.closed
    state.redemptions += 1
    return done, fee, venue
