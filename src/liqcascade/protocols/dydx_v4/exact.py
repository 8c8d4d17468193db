"""dYdX v4's margin and liquidation rules, integer-exact in quote quantums.

Read in dydxprotocol/v4-chain @ 84d4664b (``protocol/``):

- ``lib/quantums.go::BaseToQuoteQuantums`` -- notional, truncated towards zero;
- ``x/perpetuals/types/liquidity_tier.go`` -- the initial margin fraction (IMF) scaled up by
  open interest between the tier's caps, ``IMR = ⌈notional·IMF⌉``;
- ``x/perpetuals/lib/lib.go::GetMarginRequirementsInQuoteQuantums`` -- ``MMR =
  ⌈⌈notional·baseIMF⌉·maintenanceFraction⌉`` (never OI-scaled);
- ``lib/margin/risk.go::IsLiquidatable`` -- ``MMR > 0`` and ``TNC < TMMR``;
- ``x/clob/keeper/liquidations.go`` -- ``GetBankruptcyPriceInQuoteQuantums``
  (``−ΔNNV − ⌊TNC·|ΔMMR|/TMMR⌋``), ``GetFillablePrice`` (``(PNNV − ABR·SMMR·PMMR)/PS``, an
  exact rational in quote quantums per base quantum) and ``GetLiquidationInsuranceFundDelta``
  (quote received minus the bankruptcy quote, a positive delta capped at
  ``MaxLiquidationFeePpm·|quote|``);
- ``x/clob/keeper/deleveraging.go::OffsetSubaccountPerpetualPosition`` -- a deficit position is
  closed at the liquidated account's bankruptcy price against opposite-side subaccounts, in
  list order from a pseudo-random start, with no ranking.

Go's ``big.Int.Div`` is Euclidean (floor for a positive divisor, like Python's ``//``);
``Quo`` truncates towards zero. Scalar and slow on purpose: this is the reference the
vectorised float engine (:mod:`.rules`) is tested against.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from fractions import Fraction

from liqcascade.errors import LiqcascadeError

__all__ = [
    "LiquidityTier", "Perpetual", "Position", "Subaccount", "Risk", "InvalidDelta",
    "base_to_quote_quantums", "adjusted_imf_ppm", "initial_margin", "maintenance_margin_ppm",
    "position_risk", "subaccount_risk", "is_liquidatable", "bankruptcy_quote", "fillable_price",
    "fill_amount_to_quote_quantums", "insurance_fund_delta", "DeleverageFill", "deleverage",
]

ONE_MILLION = 1_000_000
QUOTE_ATOMIC_RESOLUTION = -6
"""USDC quote quantums: 1e6 per dollar (``lib.QuoteCurrencyAtomicResolution``)."""


class InvalidDelta(LiqcascadeError):
    """A close that is zero, of the position's own sign, or larger than the position
    (``types.ErrInvalidPerpetualPositionSizeDelta``)."""


@dataclass(frozen=True)
class LiquidityTier:
    """A perpetual's liquidity tier (ppm; caps in quote quantums; upper cap 0: no OI scaling)."""

    initial_margin_ppm: int
    maintenance_fraction_ppm: int
    open_interest_lower_cap: int = 0
    open_interest_upper_cap: int = 0


@dataclass(frozen=True)
class Perpetual:
    """A market: base quantum size ``10^atomic_resolution``, oracle ``price·10^exponent`` USD,
    its tier and its open interest in base quantums."""

    atomic_resolution: int
    price: int
    exponent: int
    tier: LiquidityTier
    open_interest: int = 0


@dataclass(frozen=True)
class Position:
    perpetual: Perpetual
    quantums: int
    """Signed base quantums (long > 0)."""


@dataclass(frozen=True)
class Subaccount:
    quote_balance: int
    """The USDC asset position, signed quote quantums."""
    positions: tuple[Position, ...]


@dataclass(frozen=True)
class Risk:
    """Net collateral, initial and maintenance requirements, quote quantums."""

    nc: int
    imr: int
    mmr: int


def _ceil_div(a: int, b: int) -> int:
    return -((-a) // b)


def _mul_ppm(value: int, ppm: int, round_up: bool) -> int:
    return _ceil_div(value * ppm, ONE_MILLION) if round_up else (value * ppm) // ONE_MILLION


def base_to_quote_quantums(quantums: int, atomic_resolution: int, price: int, exponent: int) -> int:
    """``quantums·price·10^(exponent + atomic_resolution + 6)``, truncated towards zero."""
    num = quantums * price
    e = exponent + atomic_resolution - QUOTE_ATOMIC_RESOLUTION
    if e >= 0:
        return num * 10**e
    q = abs(num) // 10**-e
    return q if num >= 0 else -q


def adjusted_imf_ppm(tier: LiquidityTier, oi_quote: int) -> int:
    """The IMF raised linearly from the base to 100% as open interest (quote) goes from the
    lower to the upper cap (``GetAdjustedInitialMarginPpm``)."""
    lo, hi = tier.open_interest_lower_cap, tier.open_interest_upper_cap
    if hi == 0 or oi_quote <= lo:
        return tier.initial_margin_ppm
    if oi_quote >= hi:
        return ONE_MILLION
    return (ONE_MILLION - tier.initial_margin_ppm) * (oi_quote - lo) // (hi - lo) + tier.initial_margin_ppm


def initial_margin(tier: LiquidityTier, quote: int, oi_quote: int = 0) -> int:
    """``⌈quote·IMF(oi)⌉`` (``GetInitialMarginQuoteQuantums`` without a custom IMF)."""
    return _mul_ppm(quote, adjusted_imf_ppm(tier, oi_quote), True)


def maintenance_margin_ppm(tier: LiquidityTier) -> int:
    """``⌊IMF·maintenanceFraction⌋`` ppm (``GetMaintenanceMarginPpm``, used for funding clamps)."""
    return _mul_ppm(tier.initial_margin_ppm, tier.maintenance_fraction_ppm, False)


def position_risk(perp: Perpetual, quantums: int) -> Risk:
    """NC (signed net notional), IMR (OI-scaled) and MMR (from the base IMR) of one position."""
    nc = base_to_quote_quantums(quantums, perp.atomic_resolution, perp.price, perp.exponent)
    notional = base_to_quote_quantums(abs(quantums), perp.atomic_resolution, perp.price, perp.exponent)
    oi = base_to_quote_quantums(perp.open_interest, perp.atomic_resolution, perp.price, perp.exponent)
    base_imr = initial_margin(perp.tier, notional, 0)
    mmr = _mul_ppm(base_imr, perp.tier.maintenance_fraction_ppm, True)
    return Risk(nc, initial_margin(perp.tier, notional, oi), mmr)


def subaccount_risk(sub: Subaccount) -> Risk:
    """Total net collateral (TNC = quote balance + Σ NC) and total requirements."""
    nc, imr, mmr = sub.quote_balance, 0, 0
    for p in sub.positions:
        r = position_risk(p.perpetual, p.quantums)
        nc, imr, mmr = nc + r.nc, imr + r.imr, mmr + r.mmr
    return Risk(nc, imr, mmr)


def is_liquidatable(risk: Risk) -> bool:
    return risk.mmr > 0 and risk.mmr > risk.nc


def _check_delta(position: Position, delta: int) -> None:
    ps = position.quantums
    if delta == 0 or (ps > 0) == (delta > 0) or abs(delta) > abs(ps):
        raise InvalidDelta(f"position size delta {delta} is invalid for a position of {ps} base quantums")


def bankruptcy_quote(sub: Subaccount, index: int, delta: int) -> int:
    """Quote quantums the account must receive (negative: pay) for closing ``delta`` of
    position ``index`` so that it is left exactly bankrupt: ``−ΔNNV − ⌊TNC·|ΔMMR|/TMMR⌋``."""
    pos = sub.positions[index]
    _check_delta(pos, delta)
    total = subaccount_risk(sub)
    old = position_risk(pos.perpetual, pos.quantums)
    new = position_risk(pos.perpetual, pos.quantums + delta)
    d_mmr = new.mmr - old.mmr
    # floor of the only division, subtracted: the result rounds towards +infinity
    return -(new.nc - old.nc) - (total.nc * abs(d_mmr)) // total.mmr


def fillable_price(sub: Subaccount, index: int, delta: int, bankruptcy_adjustment_ppm: int = ONE_MILLION,
                   spread_to_mmr_ppm: int = 100_000) -> Fraction:
    """The worst price a liquidation may fill at, quote quantums per base quantum:
    ``(PNNV − ABR·SMMR·PMMR)/PS`` with ``ABR = clamp(BA·(1 − TNC/TMMR), 0, 1)``."""
    pos = sub.positions[index]
    _check_delta(pos, delta)
    risk_pos = position_risk(pos.perpetual, pos.quantums)
    total = subaccount_risk(sub)
    abr = (1 - Fraction(total.nc, total.mmr)) * Fraction(bankruptcy_adjustment_ppm, ONE_MILLION)
    abr = min(max(abr, Fraction(0)), Fraction(1))
    spread = Fraction(risk_pos.mmr) * Fraction(spread_to_mmr_ppm, ONE_MILLION)
    return (Fraction(risk_pos.nc) - abr * spread) / pos.quantums


def fill_amount_to_quote_quantums(subticks: int, base_quantums: int, quantum_conversion_exponent: int) -> int:
    """``subticks·base·10^qce`` rounded down (``x/clob/types/quantums.go``)."""
    v = subticks * base_quantums
    return v * 10**quantum_conversion_exponent if quantum_conversion_exponent >= 0 else v // 10**-quantum_conversion_exponent


def insurance_fund_delta(sub: Subaccount, index: int, fill_amount: int, quote: int,
                         max_liquidation_fee_ppm: int = 5_000) -> int:
    """The insurance fund's change when ``fill_amount`` base quantums of position ``index``
    are closed for ``quote`` quote quantums (unsigned): the quote received (a sell) or paid
    (a buy, negative) minus the bankruptcy quote; a positive delta is capped at the fee."""
    if fill_amount <= 0:
        raise InvalidDelta("fill amount is zero")
    is_buy = sub.positions[index].quantums < 0
    delta_q = -fill_amount if not is_buy else fill_amount
    received = -quote if is_buy else quote
    d = received - bankruptcy_quote(sub, index, delta_q)
    if d <= 0:
        return d
    return min(_mul_ppm(abs(received), max_liquidation_fee_ppm, False), d)


@dataclass(frozen=True)
class DeleverageFill:
    """One offset: the candidate's index, base quantums it took over from the deficit
    position (signed as the deficit account's close) and the quote quantums the deficit
    account received for them (the bankruptcy quote)."""

    offsetting: int
    delta: int
    quote: int


def deleverage(sub: Subaccount, index: int, candidates: list[int], start: int) -> tuple[list[DeleverageFill], int]:
    """Close position ``index`` of a deficit account against ``candidates`` (the other
    accounts' signed base quantums in that market), visiting them in list order from
    ``start`` (dYdX draws it pseudo-randomly) and skipping same-side ones. Each offset is
    priced at the bankruptcy quote of the account as it stands after the previous offsets.
    Returns the fills and the base quantums left unclosed."""
    remaining = -sub.positions[index].quantums
    fills: list[DeleverageFill] = []
    n = len(candidates)
    for i in range(n):
        if remaining == 0:
            break
        k = (i + start) % n
        other = candidates[k]
        if other == 0 or (other > 0) != (remaining > 0):
            continue
        delta = other if abs(remaining) > abs(other) else remaining
        quote = bankruptcy_quote(sub, index, delta)
        fills.append(DeleverageFill(k, delta, quote))
        pos = sub.positions[index]
        positions = list(sub.positions)
        positions[index] = replace(pos, quantums=pos.quantums + delta)
        sub = Subaccount(sub.quote_balance + quote, tuple(positions))
        remaining -= delta
    return fills, remaining
