"""A perp scenario run end to end: the perp engine along the mark path, the tables, the store.

Each step (:func:`liqcascade.engine.perps.step`) holds the path's mark; before it, the perp's
order book refills the depth the liquidations consumed and re-sizes to the depth stress the
fitted law gives for the path's move over the step (``PerpOrderBookVenue.evolve``), centred at
the new mark with what is still consumed. Liquidation orders walk that book down to their worst
prices; what they cannot sell there goes to the insurance fund and then to deleveraging. The
mark is the path's: on a historical path the path already contains the real selling, so the
simulated sales move the fills (and the venue's mid) but not the mark -- as the lending replays
do.

Tables (``liqcascade show RUN --table NAME``):

- ``summary``: one row of totals;
- ``steps``: per step, the mark, the book's mid and depth stress, liquidated and ADL notional,
  the fund, the accounts in negative equity (below −$0.000001) at the step's end, the accounts liquidated and the
  deficits written off so far;
- ``minutes``: the steps per minute (notional summed; fund, written-off and accounts at the
  minute's last step);
- ``liquidations``: one row per position and step closed on the venue (or by the backstop);
- ``adl``: per owner, the notional deleveraged as a counterparty and what it gave up against the
  mark, and the notional closed as the bankrupt side;
- ``liqmap``: the liquidation map of the book at the start (notional per price bin, longs and
  shorts; engine/liqmap.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from liqcascade import __version__
from liqcascade.engine import perps as P
from liqcascade.engine.liqmap import liquidation_map
from liqcascade.engine.result import Result
from liqcascade.io.perp_scenario import PerpScenario, load_perp_scenario
from liqcascade.io.store import ResultsStore, run_id as _run_id
from liqcascade.protocols.perps_adl import policy as adl_policy
from liqcascade.protocols.perps_base import AdlCloses, AdlPolicy

__all__ = ["KIND", "perp_montecarlo", "perp_run", "run_perp_scenario"]

KIND = "perps"
_DUST = 1e-6
"""USD: an account closed at its bankruptcy price keeps float dust of about 1e-10; below −$0.000001
its equity counts as negative."""


_DUST_TRADE_USD = 1.0
"""A trade worth less than this at the mid is priced at the mid: the book's walk takes the
difference of two large integrals, which loses the cost of a dust amount (an average price of
0), and the engine's bisection toward the worst price would accept that dust fill."""


class _DustSafe:
    """The perp's order book as the engine trades on it: dust trades priced at the mid, and the
    book after a trade built only when the engine uses it (its bisection toward the worst price
    asks for many trades' cash and keeps one book; ``quote_sell`` is ``sell``'s cash exactly).

    The book's depth profile is passed through (``depth_segments``, ``with_net_sold``) with the
    dust bound (``dust_trade_usd``), so the engine walks it in one compiled walk per market that
    applies the same rule (``engine/perps_kernels_python.walk_orders``): the fills are this
    wrapper's trade-by-trade ones bit for bit, except that an order whose first unit is already
    at or past its worst price fills nothing (tests/execution/test_perps.py)."""

    __slots__ = ("_base", "_pending", "_real")

    dust_trade_usd = _DUST_TRADE_USD

    def __init__(self, base, pending: tuple[str, float] | None = None) -> None:
        self._base, self._pending, self._real = base, pending, None

    @property
    def inner(self):
        """The book itself (the pending trade applied)."""
        if self._real is None:
            side, amount = self._pending if self._pending is not None else ("", 0.0)
            self._real = getattr(self._base, side)(amount)[1] if side else self._base
        return self._real

    def mid_price(self) -> float:
        return self.inner.mid_price()

    def _trade(self, amount: float, side: str) -> tuple[float, "_DustSafe"]:
        v = self.inner
        if amount * v.reference_price < _DUST_TRADE_USD:  # the reference is within the book's range of the mid
            return amount * v.mid_price(), self
        cash = v.quote_sell(amount) if side == "sell" else v.quote_buy(amount)
        return cash, _DustSafe(v, (side, amount))

    def sell(self, amount: float) -> tuple[float, "_DustSafe"]:
        return self._trade(amount, "sell")

    def depth_segments(self):
        """The book's profile and state, for the engine's compiled walk."""
        return self.inner.depth_segments()

    def with_net_sold(self, net_sold: float) -> "_DustSafe":
        """The book with ``net_sold`` tokens consumed since centring (after a compiled walk)."""
        return _DustSafe(self.inner.with_net_sold(net_sold))

    def buy(self, amount: float) -> tuple[float, "_DustSafe"]:
        return self._trade(amount, "buy")


@dataclass
class _AdlLedger:
    """Wraps the ADL policy and keeps, per position, what deleveraging did to it."""

    inner: AdlPolicy
    counter_notional: np.ndarray
    given_up: np.ndarray
    bankrupt_notional: np.ndarray
    close: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.close = np.zeros_like(self.given_up)

    def __call__(self, book, deficit, mark) -> AdlCloses:
        out = self.inner(book, deficit, mark)
        if out.position.size:
            pos = out.position
            m = np.asarray(mark, dtype=np.float64)[book.market[pos]]
            counter = np.asarray(deficit)[book.account[pos]] <= 0.0
            notional = np.abs(out.close) * m
            np.add.at(self.counter_notional, pos[counter], notional[counter])
            # a counterparty's loss against the mark: −Δequity = close · (price − mark)
            np.add.at(self.given_up, pos[counter], (out.close * (out.price - m))[counter])
            np.add.at(self.bankrupt_notional, pos[~counter], notional[~counter])
            np.add.at(self.close, pos, out.close)
        return out


def _policy(ps: PerpScenario) -> AdlPolicy:
    p = ps.config.perps
    if p.adl == "dydx":
        from liqcascade.protocols.dydx_v4.rules import DydxDeleveraging

        return DydxDeleveraging(ps.engine, p.adl_seed)
    return adl_policy(p.adl, ps.source, "perps.adl")


def _liqmap(ps: PerpScenario) -> pd.DataFrame:
    c = ps.config.perps.liquidation_map
    m0 = float(ps.marks[0])
    lm = liquidation_map(ps.book, ps.engine, np.array([m0]), ps.config.perps.market, c.low * m0, c.high * m0, c.levels)
    return pd.DataFrame({"price_low": lm.edges[:-1], "price_high": lm.edges[1:], "long_usd": lm.long,
                         "short_usd": lm.short})


def _step_rows(ps: PerpScenario, ledger: _AdlLedger, progress=None) -> tuple[pd.DataFrame, pd.DataFrame, P.PerpState]:
    """Run the steps; per step a row, and the positions closed on the venue."""
    dt = float(ps.config.perps.step_seconds)
    state = P.start(ps.book, ps.engine, ps.marks[:1], [_DustSafe(ps.venue)], ps.config.perps.fund_usd,
                    step_seconds=dt)
    rows, closed = [], []
    n = len(ps.marks)
    for t in range(n):
        mark = ps.marks[t: t + 1]
        if t:
            v = state.venues[0].inner.evolve(dt, float(np.log(ps.marks[t] / ps.marks[t - 1])))
            state.venues = [_DustSafe(replace(v, reference_price=float(mark[0])))]  # keeps what is still consumed
        before = state.book.size.copy()
        adl_before = ledger.close.copy()
        took_before = 0.0 if state.fund_took is None else state.fund_took.copy()
        rec = P.step(ps.engine, state, mark, None, ledger)
        took = 0.0 if state.fund_took is None else state.fund_took - took_before  # to the fund, not the venue
        venue_close = (state.book.size - before) - (ledger.close - adl_before) + took
        hit = np.flatnonzero(np.abs(venue_close) > 1e-12 * np.maximum(np.abs(before), 1e-300))
        if hit.size:
            closed.append(pd.DataFrame({"step": t, "time": ps.times[t], "position": hit,
                                        "closed": venue_close[hit], "notional_usd": np.abs(venue_close[hit]) * mark[0]}))
        rows.append({"step": t, "time": ps.times[t], "mark": float(mark[0]), "venue_mid": state.venues[0].mid_price(),
                     "depth_stress": state.venues[0].inner.stress, "liquidated_usd": rec.liquidated_notional,
                     "adl_usd": rec.adl_notional, "fund_usd": rec.fund_balance,
                     "negative_equity_accounts": int(np.count_nonzero(state.book.equity(mark) < -_DUST)),
                     "accounts_liquidated": rec.accounts_liquidated, "written_off_usd": rec.socialised,
                     "fund_taken_usd": rec.fund_taken_notional, "fund_unwound_usd": rec.fund_unwound_notional,
                     "fund_position_usd": rec.fund_position_notional, "fund_unrealised_usd": rec.fund_unrealised})
        if progress is not None:
            progress(t + 1, n)
    steps = pd.DataFrame(rows)
    steps["time"] = pd.to_datetime(steps["time"], unit="s", utc=True)
    liq = pd.concat(closed, ignore_index=True) if closed else pd.DataFrame(
        {"step": [], "time": [], "position": [], "closed": [], "notional_usd": []})
    return steps, liq, state


def _liquidations(ps: PerpScenario, liq: pd.DataFrame) -> pd.DataFrame:
    book = ps.book
    pos = liq["position"].to_numpy(dtype=np.int64)
    acct = book.account[pos]
    return pd.DataFrame({
        "step": liq["step"].to_numpy(dtype=np.int64),
        "time": pd.to_datetime(liq["time"].to_numpy(dtype=np.int64), unit="s", utc=True),
        "account": book.account_ids[acct].astype(str), "owner": book.owner_ids[book.owner[acct]].astype(str),
        "market": np.array(book.markets, dtype=object)[book.market[pos]].astype(str),
        "side": np.where(book.size[pos] > 0, "long", "short"),
        "closed": liq["closed"].to_numpy(dtype=np.float64), "notional_usd": liq["notional_usd"].to_numpy(dtype=np.float64),
    })


def _adl_table(ps: PerpScenario, ledger: _AdlLedger) -> pd.DataFrame:
    book = ps.book
    owner = book.owner[book.account]
    n = book.owner_ids.shape[0]
    cols = {name: np.bincount(owner, weights=getattr(ledger, name), minlength=n)
            for name in ("counter_notional", "given_up", "bankrupt_notional")}
    keep = (cols["counter_notional"] > 0) | (cols["bankrupt_notional"] > 0)
    return pd.DataFrame({"owner": book.owner_ids[keep].astype(str),
                         "deleveraged_usd": cols["counter_notional"][keep], "given_up_usd": cols["given_up"][keep],
                         "bankrupt_closed_usd": cols["bankrupt_notional"][keep]}).sort_values(
        "given_up_usd", ascending=False, ignore_index=True)


def _minutes(steps: pd.DataFrame) -> pd.DataFrame:
    """Per minute (the minute a step's time falls in; a step at hh:mm:00 closes minute hh:mm−1)."""
    minute = (steps["time"] - pd.Timedelta(seconds=1)).dt.floor("min")
    g = steps.groupby(minute)
    out = pd.DataFrame({"liquidated_usd": g["liquidated_usd"].sum(), "adl_usd": g["adl_usd"].sum(),
                        "fund_usd": g["fund_usd"].last(), "negative_equity_accounts": g["negative_equity_accounts"].last(),
                        "written_off_usd": g["written_off_usd"].last(), "mark": g["mark"].last(),
                        "fund_taken_usd": g["fund_taken_usd"].sum(), "fund_unwound_usd": g["fund_unwound_usd"].sum(),
                        "fund_position_usd": g["fund_position_usd"].last(),
                        "fund_unrealised_usd": g["fund_unrealised_usd"].last()})
    return out.rename_axis("minute").reset_index()


def _summary(ps: PerpScenario, steps: pd.DataFrame, minutes: pd.DataFrame, liq_accounts) -> pd.DataFrame:
    p = ps.config.perps
    long_oi, short_oi = ps.book.open_interest()
    liq = steps["liquidated_usd"].to_numpy()
    total = float(liq.sum())
    peak = int(np.argmax(minutes["liquidated_usd"].to_numpy())) if len(minutes) else 0
    busy = minutes["minute"][minutes["liquidated_usd"] > 0]
    return pd.DataFrame([{
        "engine": p.engine, "adl": p.adl, "market": p.market, "steps": len(steps), "step_seconds": p.step_seconds,
        "accounts": ps.book.n_accounts, "open_interest_long_usd": float(long_oi[0] * ps.marks[0]),
        "open_interest_short_usd": float(short_oi[0] * ps.marks[0]), "accounts_topped_up": ps.topped_up,
        "liquidated_usd": total, "adl_usd": float(steps["adl_usd"].sum()),
        "fund_start_usd": p.fund_usd, "fund_end_usd": float(steps["fund_usd"].iloc[-1]),
        "fund_min_usd": float(min(p.fund_usd, steps["fund_usd"].min())),
        "written_off_usd": float(steps["written_off_usd"].iloc[-1]),
        "fund_taken_usd": float(steps["fund_taken_usd"].sum()), "fund_unwound_usd": float(steps["fund_unwound_usd"].sum()),
        "fund_position_end_usd": float(steps["fund_position_usd"].iloc[-1]),
        "fund_unrealised_end_usd": float(steps["fund_unrealised_usd"].iloc[-1]),
        "max_negative_equity_accounts": int(steps["negative_equity_accounts"].max()),
        "accounts_liquidated": int(len(liq_accounts)),
        "first_liquidation_minute": busy.min() if total > 0 else pd.NaT, "peak_minute": minutes["minute"].iloc[peak] if total > 0 else pd.NaT,
        "peak_minute_liquidated_usd": float(minutes["liquidated_usd"].iloc[peak]) if total > 0 else 0.0,
        "low_mark": float(steps["mark"].min()),
    }])


def run_perp_scenario(ps: PerpScenario, config: dict | None = None, progress=None) -> Result:
    """The run's tables (see the module docstring)."""
    n = ps.book.n_positions
    ledger = _AdlLedger(_policy(ps), np.zeros(n), np.zeros(n), np.zeros(n))
    liqmap = _liqmap(ps)
    steps, liq, _ = _step_rows(ps, ledger, progress)
    minutes = _minutes(steps)
    liquidations = _liquidations(ps, liq)
    summary = _summary(ps, steps, minutes, liquidations["account"].unique())
    tables = {"summary": summary, "steps": steps, "minutes": minutes, "liquidations": liquidations,
              "adl": _adl_table(ps, ledger), "liqmap": liqmap}
    return Result(KIND, tables, config or {})


def perp_run(scenario: str | Path | PerpScenario, store: ResultsStore | str | Path | None, recompute: bool = False,
             progress=None) -> Result:
    """Run (or find stored) the perp scenario; stored as a run of kind ``perps``."""
    from liqcascade.execution.runs import hashed, save, stored

    ps = scenario if isinstance(scenario, PerpScenario) else load_perp_scenario(scenario)
    cfg = ps.resolved()
    rid = _run_id({"kind": KIND, "config": hashed(cfg, ())}, __version__)
    if not recompute and (found := stored(store, rid, KIND)) is not None:
        return found
    res = run_perp_scenario(ps, cfg, progress)
    save(store, rid, KIND, cfg, res, {"source": ps.source})
    return res.with_run_id(rid)


# ---------------------------------------------------------------------- Monte Carlo (issue 13 item 7)
def perp_montecarlo(scenario: str | Path | PerpScenario, paths: int, seed: int = 0,
                    store: ResultsStore | str | Path | None = None, levels=(0.95, 0.99), recompute: bool = False,
                    progress=None, executor="serial", workers: int | None = None,
                    chunk_size: int | None = None) -> Result:
    """The scenario on ``paths`` mark paths resampled from its own
    (:func:`~liqcascade.scenarios.perp_paths.bootstrap_path`), chunked on an executor:
    :func:`liqcascade.execution.perp_montecarlo.perp_montecarlo`."""
    from liqcascade.execution.perp_montecarlo import perp_montecarlo as _run

    return _run(scenario, paths, seed, store, levels, recompute, progress, executor, workers, chunk_size)
