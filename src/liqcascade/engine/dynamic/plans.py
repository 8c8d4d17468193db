"""A liquidator strategy's plan for each eligible account of a block (``liquidators.strategy``).

The block-by-block engines price each candidate by the strategy's calls instead of the
protocol's maximum call: :func:`plan_candidates` reads each candidate's pair from the book
(the collateral the protocol's next call seizes and the debt it repays, at the oracle's
prices, the rest of the account counting in its health factor), takes the rule's cap from
the protocol's own next call, and computes the strategy's calls. The protocol's kernel then
makes the calls with each one's repayment capped at the plan's
(:attr:`~liqcascade.protocols.base.LiquidationLimits.call_caps_usd`), so the rule's own
limits (close factor, dust, collateral) always hold.

:func:`plan_candidates` is the closed forms of :mod:`liqcascade.engine.strategies` over
arrays (every candidate at once, each block); :func:`plan_one` is the scalar reference (the
strategies' own functions on one candidate), used for venues without a closed form and tied
to the arrays by a test.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from liqcascade._typing import FloatArray, IntArray
from liqcascade.engine.dynamic.candidates import Candidates
from liqcascade.engine.strategies import (
    KEEP_LIQUIDATABLE_HF,
    CallRule,
    Exit,
    FixedSpread,
    Plan,
    Position,
    PositionFraction,
    bisect_optimal_repay,
    cpmm_optimal_repay,
    plan,
)
from liqcascade.markets.cpmm import ConstantProductPool
from liqcascade.protocols.base import BookArrays

MAX_PLAN_CALLS = 2
"""Calls in the longest plan (two_step)."""
DUST_SHAVE = 1e-12
"""Relative margin under a dust rule's limit (as ``protocols.calls``)."""
WHOLE_CALL = 1e-12
"""A planned first call within this share of the protocol's own next call is that call: its cap is
handed to the kernel as inf (the rule's maximum), since ``cap · price / price`` need not give back
``cap`` in float64 and a hair less than taking all the collateral is a partial call (Aave v3.3+:
one leaving dust, which reverts)."""


@dataclass(frozen=True)
class CandidatePlans:
    """Per candidate (the order of ``Candidates.elig``): what its plan receives and pays over
    its calls, how many calls, and the per-call caps for the protocol's kernel."""

    received: FloatArray
    """Collateral tokens the liquidator receives (net of the protocol's fee)."""
    paid: FloatArray
    """Debt tokens the liquidator repays."""
    calls: IntArray
    """Calls planned (0: no call -- profit_max found none profitable)."""
    caps_usd: FloatArray
    """``(n, MAX_PLAN_CALLS)``: each call's repayment cap (USD; inf: the rule's maximum, 0: no call)."""
    scale: FloatArray
    """Share of the protocol's next call's reward the plan keeps (crvUSD: the share ``frac`` of the
    bands' stablecoin; 1 elsewhere)."""


@dataclass(frozen=True)
class Pairs:
    """Each candidate's pair, as :class:`~liqcascade.engine.strategies.Position` fields over arrays."""

    coll: FloatArray
    debt: FloatArray
    pc: FloatArray
    pd: FloatArray
    lt: FloatArray
    bonus: FloatArray
    fee: FloatArray
    weighted_usd: FloatArray
    """``Σ collateral·price·LT`` over the account."""
    debt_usd: FloatArray
    """``Σ debt·price`` over the account."""
    cf: FloatArray
    """The close factor the protocol's next call applied (its repayment over the pair's debt)."""
    spread: FloatArray
    """USD of collateral a call seizes per USD of debt repaid (``1 + bonus``; Euler: ``1 / df``)."""
    share: FloatArray
    """Share of the seized collateral the protocol keeps."""
    partial: np.ndarray
    """The protocol's rule may cap a call below the whole debt (a close factor under 1): two_step
    can gain only then."""
    debt_asset: np.ndarray
    leftover: FloatArray
    """Aave v3.3+'s dust rule: USD of debt and of collateral a partial call must leave on the pair
    (0: no such rule)."""
    rules: object = None
    """The market's rules (their ``call_rule``), or None: Aave's fixed spread from the book's rows."""


def _declared(rules, arrays: BookArrays, rc: IntArray, debt_asset: IntArray, hf: FloatArray):
    """``spread``, ``share``, ``partial`` and ``leftover`` per candidate from the protocol's own call rule
    (``rules.call_rule``), asked once per distinct (bonus, fee, debt asset)."""
    n = rc.shape[0]
    spread, share, partial, leftover = np.empty(n), np.empty(n), np.zeros(n, dtype=np.bool_), np.zeros(n)
    keys = np.stack([arrays.params.bonus_of(rc), arrays.params.fee_of(rc), debt_asset.astype(np.float64)], axis=1)
    uniq, inv = np.unique(keys, axis=0, return_inverse=True)
    inv = inv.reshape(-1)
    symbols = rules.params.symbols
    for g, (b, f, d) in enumerate(uniq):
        rule = rules.call_rule(float(b), float(f), symbols[int(d)])
        j = np.flatnonzero(inv == g)
        spread[j], share[j] = rule.spread_over(hf[j])
        partial[j] = rule.close_factor_below_one
        leftover[j] = getattr(rule, "min_leftover_usd", 0.0)
    return spread, share, partial, leftover


def pairs(arrays: BookArrays, cand: Candidates, prices: FloatArray, rules=None) -> Pairs:
    """The candidates' pairs read from the book (rows of an account are contiguous), with the
    spread of the protocol's call rule (``rules``; None: Aave's, from the rows' bonus and fee)."""
    acc = cand.elig
    starts, ends = arrays.offsets[acc], arrays.offsets[acc + 1]
    counts = ends - starts
    owner = np.repeat(np.arange(acc.size), counts)
    rows = np.repeat(starts - np.cumsum(counts) + counts, counts) + np.arange(int(counts.sum()))
    a, lt = arrays.asset[rows], arrays.params.lt_of(rows)
    p = prices[a]
    weighted = np.bincount(owner, weights=arrays.coll[rows] * p * np.where(lt > 0, lt, 0.0), minlength=acc.size)
    debt_usd = np.bincount(owner, weights=arrays.debt[rows] * p, minlength=acc.size)
    # one row per (account, asset): the pair's rows are the ones holding its assets
    rc = np.zeros(acc.size, dtype=np.int64)
    rd = np.zeros(acc.size, dtype=np.int64)
    hit_c = (a == cand.coll_asset[owner]) & (lt > 0)
    hit_d = a == cand.debt_asset[owner]
    rc[owner[hit_c]] = rows[hit_c]
    rd[owner[hit_d]] = rows[hit_d]
    debt = arrays.debt[rd]
    cf = np.minimum(np.maximum(np.divide(cand.repaid, debt, out=np.zeros(acc.size), where=debt > 0), 1e-12), 1.0)
    bonus, fee = arrays.params.bonus_of(rc), arrays.params.fee_of(rc)
    if rules is None:
        spread, share, partial = 1.0 + bonus, fee * bonus / (1.0 + bonus), np.ones(acc.size, dtype=np.bool_)
        leftover = np.zeros(acc.size)
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            hf = np.where(debt_usd > 0, weighted / debt_usd, np.inf)
        spread, share, partial, leftover = _declared(rules, arrays, rc, cand.debt_asset, hf)
    return Pairs(arrays.coll[rc], debt, prices[cand.coll_asset], prices[cand.debt_asset],
                 np.minimum(arrays.params.lt_of(rc), 1.0),
                 bonus, fee, weighted, debt_usd, cf, spread, share, partial, cand.debt_asset, leftover, rules)


def plan_one(strategy: str, pr: Pairs, j: int, market_price: float, venue, gas_usd: float) -> Plan:
    """Candidate ``j``'s plan by the strategies' scalar functions (the reference)."""
    pc, pd, lt = float(pr.pc[j]), float(pr.pd[j]), float(pr.lt[j])
    coll, debt = float(pr.coll[j]), float(pr.debt[j])
    pos = Position(coll, debt, pc, pd, lt, other_collateral_usd=max(float(pr.weighted_usd[j]) - coll * pc * lt, 0.0),
                   other_debt_usd=max(float(pr.debt_usd[j]) - debt * pd, 0.0))
    return plan(strategy, pos, candidate_rule(pr, j), Exit(venue, gas_usd=gas_usd, price=market_price))


def candidate_rule(pr: Pairs, j: int) -> CallRule:
    """Candidate ``j``'s call rule: the protocol's own (``call_rule``), with a fixed spread's close
    factor the one the protocol's next call applied (its kernel has read the thresholds: Aave
    v3's HF 0.95 and pair size, a deprecated Compound market)."""
    bonus, fee = float(pr.bonus[j]), float(pr.fee[j])
    if pr.rules is None:
        return FixedSpread(close_factor=float(pr.cf[j]), bonus=bonus, protocol_fee=fee)
    rule = pr.rules.call_rule(bonus, fee, pr.rules.params.symbols[int(pr.debt_asset[j])])
    if isinstance(rule, FixedSpread):
        return replace(rule, close_factor=float(pr.cf[j]), full_close_hf=0.0, min_close_factor_usd=0.0)
    return rule


def _subset(pr: Pairs, j: IntArray) -> Pairs:
    """The pairs of candidates ``j``."""
    return Pairs(**{f: (v[j] if isinstance(v, np.ndarray) else v) for f, v in vars(pr).items()})


def _allowed(pr: Pairs, r: FloatArray, s_seize: FloatArray) -> FloatArray:
    """:meth:`~liqcascade.protocols.calls.FixedSpread.allowed` over arrays: a repay that would
    leave less than ``leftover`` USD of debt or collateral on the pair (and take neither whole)
    cut to the largest that leaves that much."""
    if not np.any(pr.leftover > 0):
        return r
    seize = r * s_seize
    whole = (r >= pr.debt) | (seize >= pr.coll * (1.0 - DUST_SHAVE))
    dust = ((pr.debt - r) * pr.pd < pr.leftover) | ((pr.coll - seize) * pr.pc < pr.leftover)
    cut = (pr.leftover > 0) & (r > 0) & ~whole & dust
    by_debt = (pr.debt * pr.pd - pr.leftover) / pr.pd
    by_coll = (pr.coll * pr.pc - pr.leftover) / (pr.pd * pr.spread)
    return np.where(cut, np.maximum(np.minimum(np.minimum(r, by_debt), by_coll) * (1.0 - DUST_SHAVE), 0.0), r)


def _max_close(pr: Pairs, cap: FloatArray, out: CandidatePlans, s_recv: FloatArray) -> None:
    out.received[:], out.paid[:], out.calls[:] = cap * s_recv, cap, 1
    out.caps_usd[:, 0] = cap * pr.pd


def _two_step(pr: Pairs, cap: FloatArray, out: CandidatePlans, s_seize: FloatArray, s_recv: FloatArray) -> None:
    """:func:`~liqcascade.engine.strategies.two_step` over arrays (its docstring has the derivation)."""
    h = KEEP_LIQUIDATABLE_HF
    k = pr.lt * pr.spread
    gap = h * pr.debt_usd - pr.weighted_usd
    with np.errstate(divide="ignore", invalid="ignore"):
        keep = np.where(gap <= 0, 0.0, np.where(k >= h, np.inf, gap / (h - k) / pr.pd))
    single = (pr.cf >= 1.0) | (keep <= 0) | ~pr.partial
    r1 = np.where(single, cap, _allowed(pr, np.minimum(cap, keep), s_seize))
    seized = np.minimum(r1 * s_seize, pr.coll)
    coll1, debt1 = np.maximum(pr.coll - seized, 0.0), np.maximum(pr.debt - r1, 0.0)
    # the account after the first call, at the same prices
    w1 = pr.weighted_usd - seized * pr.pc * pr.lt
    d1 = pr.debt_usd - r1 * pr.pd
    again = ~single & (debt1 > 0) & (coll1 > 0) & (w1 < d1)
    r2 = np.where(again, np.minimum(pr.cf * debt1, coll1 / s_seize), 0.0)
    r2 = np.where(again, _allowed(replace(pr, coll=coll1, debt=debt1), r2, s_seize), 0.0)
    again &= r2 > 0
    out.received[:], out.paid[:] = (r1 + r2) * s_recv, r1 + r2
    out.calls[:] = 1 + again
    out.caps_usd[:, 0] = r1 * pr.pd
    out.caps_usd[:, 1] = np.where(again, np.inf, 0.0)


def _profit_max_cpmm(pool: ConstantProductPool, pr: Pairs, j: IntArray, cap: FloatArray, s_recv: FloatArray,
                     gas_usd: float, out: CandidatePlans) -> None:
    """:func:`~liqcascade.engine.strategies.profit_max` on a constant-product pool, for the
    candidates ``j`` whose collateral sells there."""
    x, y, g = pool.reserve_asset, pool.reserve_numeraire, pool.gamma
    s, pd = s_recv[j], pr.pd[j]
    a = (np.sqrt(g * x * y * s / pd) - x) / g
    r = np.minimum(np.maximum(a, 0.0) / s, cap[j])

    def gain(r):
        ga = g * r * s
        return y * ga / (x + ga) - r * pd - gas_usd

    cut = _allowed(_subset(pr, j), r, (pr.spread * pr.pd / pr.pc)[j])
    # a rule that forbids some amounts (dust): the largest allowed below the optimum, or the cap
    r = np.where((cut < r) & (gain(cap[j]) > gain(cut)), cap[j], cut)
    received = r * s
    profit = gain(r)
    ok = (r > 0) & (profit > 0)
    out.received[j] = np.where(ok, received, 0.0)
    out.paid[j] = np.where(ok, r, 0.0)
    out.calls[j] = ok
    out.caps_usd[j, 0] = np.where(ok, r * pd, 0.0)


def _profit_max(pr: Pairs, cap: FloatArray, out: CandidatePlans, s_recv: FloatArray, coll_asset: IntArray,
                market: FloatArray, venues: dict, gas_usd: float) -> None:
    for i in np.unique(coll_asset):
        j = np.flatnonzero(coll_asset == i)
        venue = venues.get(int(i))
        if venue is None:  # profit linear in the repay: the cap, if it pays its gas
            profit = cap[j] * s_recv[j] * market[i] - cap[j] * pr.pd[j] - gas_usd
            ok = profit > 0
            out.received[j], out.paid[j] = np.where(ok, cap[j] * s_recv[j], 0.0), np.where(ok, cap[j], 0.0)
            out.calls[j], out.caps_usd[j, 0] = ok, np.where(ok, cap[j] * pr.pd[j], 0.0)
        elif isinstance(venue, ConstantProductPool):
            _profit_max_cpmm(venue, pr, j, cap, s_recv, gas_usd, out)
        else:  # bisection on the venue's quotes, one candidate at a time
            for jj in j:
                p = plan_one("profit_max", pr, int(jj), float(market[i]), venue, gas_usd)
                out.received[jj], out.paid[jj], out.calls[jj] = p.received, p.repaid, len(p.calls)
                out.caps_usd[jj, 0] = p.repaid * pr.pd[jj] if p.calls else 0.0


def _whole_loan(strategy: str, cand: Candidates, market: FloatArray, venues: dict, gas_usd: float,
                out: CandidatePlans) -> None:
    """Plans under a :class:`~liqcascade.protocols.calls.PositionFraction` rule (crvUSD's
    ``liquidate_extended``): a call takes the share ``f`` of the protocol's whole-loan call -- of
    the collateral it receives, the debt it pays and the stablecoin it gets back -- so the loan's
    health never changes and a second call gains nothing: max_close and two_step take the whole
    loan (when its bands are worth its debt); profit_max the share that maximises the sale of
    ``f·y`` collateral (``y`` the bands' collateral) less ``f`` times the call's net cost,
    ``debt·p_debt − stablecoin``. On a constant-product pool that is the closed form of
    :func:`~liqcascade.engine.strategies.profit_max` with ``s = y / debt`` collateral and
    ``cost = p_debt − stablecoin / debt`` per debt token."""
    pd = market[cand.debt_asset]
    # the whole loan when the bands are worth its debt (no one takes it at a loss: the protocol's
    # own hard liquidation in the static sweep asks the same)
    frac = np.where(cand.received * market[cand.coll_asset] + cand.reward_usd >= cand.paid * pd, 1.0, 0.0)
    if strategy == "profit_max":
        s = cand.received / cand.paid
        cost = np.maximum(pd - cand.reward_usd / cand.paid, 0.0)
        for i in np.unique(cand.coll_asset):
            j = np.flatnonzero(cand.coll_asset == i)
            venue = venues.get(int(i))
            for jj in j:  # loans are few per block: the scalar optima
                sj, cj, debt = float(s[jj]), float(cost[jj]), float(cand.paid[jj])
                if venue is None or cj <= 0.0:
                    r = debt
                elif isinstance(venue, ConstantProductPool):
                    r = min(cpmm_optimal_repay(venue, sj, cj), debt)
                else:
                    r = bisect_optimal_repay(venue, sj, cj, debt)
                frac[jj] = r / debt
            sale = np.array([venue.quote_sell(float(a)) if venue is not None else float(a) * float(market[i])
                             for a in frac[j] * cand.received[j]])
            profit = sale - frac[j] * cand.paid[j] * cost[j] - gas_usd
            frac[j] = np.where((frac[j] > 0.0) & (profit > 0.0), frac[j], 0.0)
    ok = frac > 0.0
    out.received[:], out.paid[:], out.scale[:] = frac * cand.received, frac * cand.paid, frac
    out.calls[:] = ok
    out.caps_usd[:, 0] = np.where(frac >= 1.0, np.inf, frac * cand.paid * pd)


def plan_candidates(strategy: str, arrays: BookArrays, cand: Candidates, prices: FloatArray, market: FloatArray,
                    venues: dict, gas_usd: float, rules=None) -> CandidatePlans:
    """Each candidate's plan under ``strategy`` at the oracle ``prices``. The close factor is
    the one the protocol's next call applied (so the plan's first call is capped where the
    protocol's is); the collateral sells at ``market`` (the block's slippage is netted by the
    picker, as for max close), except that profit_max sizes its call on the collateral's
    venue, when it has one."""
    n = cand.elig.shape[0]
    out = CandidatePlans(np.zeros(n), np.zeros(n), np.zeros(n, dtype=np.int64), np.zeros((n, MAX_PLAN_CALLS)),
                         np.ones(n))
    if n == 0:
        return out
    if rules is not None and isinstance(rules.call_rule(0.0, 0.0, rules.params.symbols[0]), PositionFraction):
        _whole_loan(strategy, cand, market, venues, gas_usd, out)
        return out
    pr = pairs(arrays, cand, prices, rules)
    s_seize = pr.spread * pr.pd / pr.pc
    s_recv = s_seize * (1.0 - pr.share)
    cap = cand.repaid.astype(np.float64)
    if strategy == "max_close":
        _max_close(pr, cap, out, s_recv)
    elif strategy == "two_step":
        _two_step(pr, cap, out, s_seize, s_recv)
    else:
        _profit_max(pr, cap, out, s_recv, cand.coll_asset, market, venues, gas_usd)
    whole = (out.caps_usd[:, 0] > 0) & (out.caps_usd[:, 0] >= cap * pr.pd * (1.0 - WHOLE_CALL))
    out.caps_usd[whole, 0] = np.inf
    return out

