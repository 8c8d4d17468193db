"""Auto-deleveraging (ADL): who closes, how much, when the insurance fund cannot cover a deficit.

Every policy has the perp engine's hook signature ``policy(book, deficit, mark) -> AdlOutcome``:
``deficit`` per account is the negative equity the fund left uncovered (quote, ≥ 0), ``book``
holds the bankrupt accounts' positions as they went bankrupt, ``mark`` the price ADL uses
(Hyperliquid: the previous oracle / mark price).

**The model.** A bankrupt account's deficit ``D`` is split over its positions by notional. In
each market, the bankrupt positions of one side (total size ``Q``, deficit ``D``) are closed
against positions of the opposite side at the bankruptcy price ``mark ± D / Q``: an opposite
position closing ``c`` units *against* the bankrupt ones gives up ``c · D / Q`` relative to the
mark (Binance: "closed out at the bankruptcy price", www.binance.com/en/support/faq/360033525471;
dYdX v4 deleverages at the bankruptcy price). ``Q`` units matched cover ``D`` exactly.

**The policies** choose the ``c`` per opposite position:

- :func:`queue` (production): rank the opposite side by a score (:func:`cex_score`, Binance's
  PnL % × effective leverage; or :func:`hyperliquid_score`) and close positions *fully*, in rank
  order, until ``Q`` units are matched. The last one closed is usually larger than what was
  left to match: its excess closes at the mark, giving up nothing but the position. That
  excess, in notional at the mark, is the **overshoot**.
- :func:`pro_rata`: every opposite position closes ``Q`` × its share of the side's size.
- :func:`risk_aware`: pro-rata with weights leverage × unrealised profit (positions not in
  profit are not touched), capped at each position's size (the capped share goes to the rest).

What no opposite position can match (the side is smaller than ``Q``, or no one is in profit
for :func:`risk_aware`) is **socialised**: left for the venue to spread by other means.
Conservation (tested): ``Σ deficit = Σ given_up + Σ socialised``; accounts with a deficit, or
with equity ≤ 0, are never counterparties.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from liqcascade._jit import jit_functions
from liqcascade._typing import FloatArray, IntArray
from liqcascade.errors import ConfigError, DataError
from liqcascade.model.perps import PerpBook
from liqcascade.protocols.perps_base import AdlCloses, AdlPolicy
from liqcascade.protocols import perps_adl_kernels_python as _py

__all__ = ["AdlOutcome", "POLICIES", "POLICY_NAMES", "as_closes", "cex_score", "hyperliquid_score", "policy", "pro_rata",
           "queue", "rank", "risk_aware"]

_K = jit_functions(_py.FUNCTIONS)
_LOW32 = np.uint64(0xFFFFFFFF)

Score = Callable[[PerpBook, FloatArray], FloatArray]


@dataclass(frozen=True)
class AdlOutcome:
    """One ADL round.

    Per position: ``close`` (signed base traded, opposite to the size; 0 untouched), ``price``
    (average execution price, nan untouched), ``given_up`` (quote, ≥ 0, the PnL conceded
    against the mark). Per account: ``covered`` and ``socialised`` (their sum is the deficit).
    ``overshoot``: notional at the mark closed beyond what the bankrupt sizes needed.
    ``borne`` per owner: quote given up; ``closed_notional`` per owner: notional closed."""

    close: FloatArray
    price: FloatArray
    given_up: FloatArray
    covered: FloatArray
    socialised: FloatArray
    overshoot: float
    borne: FloatArray
    closed_notional: FloatArray


# ---------------------------------------------------------------------- scores
def cex_score(book: PerpBook, mark: FloatArray) -> FloatArray:
    """Binance's ranking per position: PnL % × effective leverage when in profit, PnL % ÷
    effective leverage otherwise; PnL % = unrealised PnL / entry notional, effective leverage =
    notional / account equity (www.binance.com/en/support/faq/360033525471)."""
    m = np.asarray(mark, dtype=np.float64)
    pnl = book.unrealised_pnl(m)
    equity = book.equity(m)[book.account]
    with np.errstate(divide="ignore", invalid="ignore"):  # a closed position (size 0) scores NaN: never ranked
        pct = pnl / (np.abs(book.size) * book.entry_price)
        lev = book.notional(m) / equity
    return np.where(pct > 0, pct * lev, pct / lev)


def hyperliquid_score(book: PerpBook, mark: FloatArray) -> FloatArray:
    """Hyperliquid's sorting index ``(mark / entry) · (notional / account value)``
    (hyperliquid.gitbook.io/hyperliquid-docs/trading/auto-deleveraging). The page states the
    long's form; for a short the price ratio is ``entry / mark``, so profit ranks first on
    both sides."""
    m = np.asarray(mark, dtype=np.float64)
    ratio = (m[book.market] / book.entry_price) ** np.sign(book.size)
    with np.errstate(divide="ignore", invalid="ignore"):
        return ratio * book.notional(m) / book.equity(m)[book.account]


def rank(score: FloatArray) -> IntArray:
    """Indices of ``score`` from highest to lowest (scores compared at float32 precision,
    ties by index, NaN last): a packed-key sort (see :mod:`.perps_adl_kernels_python`)."""
    score = np.ascontiguousarray(score, dtype=np.float64)
    if score.shape[0] >= 1 << 32:
        raise DataError("<adl>", None, "rank: at most 2**32 positions")
    keys = np.empty(score.shape[0], dtype=np.uint64)
    _K["pack_rank_keys"](score, keys)
    keys.sort()
    return (keys & _LOW32).astype(np.int64)


# ---------------------------------------------------------------------- policies
def queue(book: PerpBook, deficit: FloatArray, mark: FloatArray, score: Score = cex_score) -> AdlOutcome:
    """Rank and close fully, in order, until the bankrupt size is matched."""
    return _deleverage(book, deficit, mark, _queue_closes(book, mark, score))


def pro_rata(book: PerpBook, deficit: FloatArray, mark: FloatArray) -> AdlOutcome:
    """Every opposite position by its share of the side's size."""
    def closes(eligible: IntArray, need: float) -> tuple[FloatArray, IntArray]:
        size = np.abs(book.size[eligible])
        return _capped_shares(size, size, need), np.arange(eligible.shape[0])

    return _deleverage(book, deficit, mark, closes)


def risk_aware(book: PerpBook, deficit: FloatArray, mark: FloatArray) -> AdlOutcome:
    """Pro-rata by leverage × unrealised profit, capped at each position's size."""
    m = np.asarray(mark, dtype=np.float64)
    profit = np.maximum(book.unrealised_pnl(m), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        lev = book.notional(m) / book.equity(m)[book.account]
    weight = np.where(profit > 0, lev * profit, 0.0)

    def closes(eligible: IntArray, need: float) -> tuple[FloatArray, IntArray]:
        return _capped_shares(weight[eligible], np.abs(book.size[eligible]), need), np.arange(eligible.shape[0])

    return _deleverage(book, deficit, mark, closes)


POLICIES: dict[str, Callable[..., AdlOutcome]] = {"queue": queue, "pro_rata": pro_rata, "risk_aware": risk_aware}
"""The policies by the name a scenario gives them."""


POLICY_NAMES = ("queue", "queue_hyperliquid", "pro_rata", "risk_aware")
"""What :func:`policy` accepts: the three policies, and the queue ranked by Hyperliquid's index."""


def as_closes(book: PerpBook, deficit: FloatArray, mark: FloatArray, out: AdlOutcome) -> AdlCloses:
    """The perp engine's :class:`~liqcascade.protocols.perps_base.AdlCloses` of an outcome.

    The outcome lists the counterparties' closes; the bankrupt side closes what they matched,
    at each position's own bankruptcy price ``mark + sign · d / |size|`` (``d`` its share of
    the account's deficit, by notional), which brings the part matched back to zero equity:
    per (market, side) the bankrupt receive ``share · D`` against the mark and the
    counterparties give up the same."""
    m = np.asarray(mark, dtype=np.float64)
    d = np.asarray(deficit, dtype=np.float64)
    notional = book.notional(m)
    acct_notional = book.per_account(notional)
    side = np.sign(book.size)
    bankrupt = (d[book.account] > 0) & (side != 0)
    share = np.zeros(book.n_positions)
    for k in range(len(book.markets)):
        for s in (1.0, -1.0):
            bank = bankrupt & (book.market == k) & (side == s)
            if not bank.any():
                continue
            need = float(np.abs(book.size[bank]).sum())
            # counterparties of a bankrupt side s close with sign s (opposite to their -s sizes)
            took = float(np.abs(out.close[(book.market == k) & (np.sign(out.close) == s) & ~bankrupt]).sum())
            share[bank] = min(took, need) / need
    b = np.flatnonzero(share > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        d_pos = d[book.account[b]] * notional[b] / acct_notional[book.account[b]]
    b_close = -book.size[b] * share[b]
    b_price = m[book.market[b]] + side[b] * d_pos / np.abs(book.size[b])
    c = np.flatnonzero(out.close != 0)
    return AdlCloses(np.concatenate([b, c]).astype(np.int64), np.concatenate([b_close, out.close[c]]),
                     np.concatenate([b_price, out.price[c]]))


def policy(name: str, source: str = "<python>", key: str = "perps.adl") -> AdlPolicy:
    """The policy ``name`` (one of :data:`POLICY_NAMES`) as the perp engine's hook
    ``(book, deficit, mark) -> AdlCloses``; a ConfigError naming ``source`` and ``key`` else."""
    if name not in POLICY_NAMES:
        raise ConfigError(source, key, f"one of {list(POLICY_NAMES)}", name)
    if name == "queue_hyperliquid":
        def chosen(book, deficit, mark):
            return queue(book, deficit, mark, hyperliquid_score)
    else:
        chosen = POLICIES[name]

    def hook(book: PerpBook, deficit: FloatArray, mark: FloatArray) -> AdlCloses:
        return as_closes(book, deficit, mark, chosen(book, deficit, mark))

    hook.__name__ = f"adl_{name}"
    return hook


def _queue_closes(book: PerpBook, mark: FloatArray, score: Score):
    scores = score(book, np.asarray(mark, dtype=np.float64))

    def closes(eligible: IntArray, need: float) -> tuple[FloatArray, IntArray]:
        order = rank(scores[eligible])
        size = np.abs(book.size[eligible])[order]
        before = np.cumsum(size) - size
        out = np.zeros(eligible.shape[0])
        out[order] = np.where(before < need, size, 0.0)  # whole positions while any need is left
        return out, order

    return closes


def _capped_shares(weight: FloatArray, cap: FloatArray, need: float) -> FloatArray:
    """``need`` spread in proportion to ``weight``, no one above its ``cap``: a capped share's
    excess goes to the others in the same proportion (water filling; each pass caps at least
    one position, so it ends within len(weight) passes)."""
    out = np.zeros(weight.shape[0])
    free = weight > 0
    left = need
    while left > 1e-15 * need and free.any():
        share = left * weight / weight[free].sum()
        over = free & (out + share >= cap)
        if not over.any():
            out[free] += share[free]
            break
        left -= (cap[over] - out[over]).sum()
        out[over] = cap[over]
        free &= ~over
    return out


def _deleverage(book: PerpBook, deficit: FloatArray, mark: FloatArray, closes) -> AdlOutcome:
    """Run a policy's ``closes(eligible positions, units needed) -> (units per position, the
    order they match in)`` over each (market, bankrupt side) and account for it."""
    m = np.asarray(mark, dtype=np.float64)
    deficit = _check_deficit(book, deficit)
    n_pos, n_acc = book.n_positions, book.n_accounts
    notional = book.notional(m)
    acct_notional = book.per_account(notional)
    bankrupt_pos = deficit[book.account] > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        pos_deficit = np.where(bankrupt_pos, deficit[book.account] * notional / acct_notional[book.account], 0.0)
    can_be_counterparty = (deficit == 0) & (book.equity(m) > 0)
    close = np.zeros(n_pos)
    given = np.zeros(n_pos)
    price = np.full(n_pos, np.nan)
    matched_share = np.zeros(n_pos)  # per bankrupt position: the fraction of its size matched
    overshoot = 0.0
    for k in range(len(book.markets)):
        for side in (1.0, -1.0):
            bank = np.flatnonzero(bankrupt_pos & (book.market == k) & (np.sign(book.size) == side))
            if bank.size == 0:
                continue
            need = float(np.abs(book.size[bank]).sum())
            d = float(pos_deficit[bank].sum())
            eligible = np.flatnonzero((book.market == k) & (np.sign(book.size) == -side)
                                      & can_be_counterparty[book.account])
            units, order = closes(eligible, need) if eligible.size else (np.zeros(0), np.zeros(0, dtype=np.int64))
            matched = np.zeros(units.shape[0])
            matched[order] = _matched(units[order], need)
            unit_loss = d / need
            close[eligible] = side * units  # opposite to the counterparties' sizes
            given[eligible] = matched * unit_loss
            with np.errstate(divide="ignore", invalid="ignore"):
                price[eligible] = np.where(units > 0, m[k] + side * unit_loss * matched / units, np.nan)
            overshoot += float((units.sum() - matched.sum()) * m[k])
            matched_share[bank] = matched.sum() / need
    covered = book.per_account(pos_deficit * matched_share)
    covered = np.minimum(covered, deficit)
    n_own = book.owner_ids.shape[0]
    borne = np.bincount(book.owner[book.account], weights=given, minlength=n_own)
    closed = np.bincount(book.owner[book.account], weights=np.abs(close) * m[book.market], minlength=n_own)
    return AdlOutcome(close, price, given, covered, deficit - covered, overshoot, borne, closed)


def _matched(units: FloatArray, need: float) -> FloatArray:
    """The part of each position's close that matches the bankrupt size, in order, up to ``need``."""
    before = np.cumsum(units) - units
    return np.clip(need - before, 0.0, units)


def _check_deficit(book: PerpBook, deficit: FloatArray) -> FloatArray:
    d = np.asarray(deficit, dtype=np.float64)
    if d.shape != (book.n_accounts,):
        raise DataError("<adl>", None, f"deficit: expected one amount per account ({book.n_accounts}), got {d.shape}")
    bad = np.flatnonzero(~np.isfinite(d) | (d < 0))
    if bad.size:
        raise DataError("<adl>", int(bad[0]) + 1, f"deficit: expected a finite amount ≥ 0, got {d[bad[0]]!r}")
    return d
