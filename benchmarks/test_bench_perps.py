"""Perp speed targets (issue 13), judged by ``judge.py``:

- the margin check alone: 1,000,000 perp accounts x 7,200 one-second steps < 30 s (the
  compiled screen of ``engine/perps_screen.py`` that every step runs), >= 5x a naive
  per-account, per-step Python loop on a smaller book (ratio per account-step);
- the full loop (``engine/perps.run``: screen, funding, orders, execution on the venue,
  settlement, deleveraging) on a crash path: 1,000,000 accounts x 7,200 steps < 30 s, >= 3x
  the same engine walking the venue trade by trade (as any venue without a depth profile,
  and as the engine did before the compiled walk) on a smaller book (ratio per account-step)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from judge import judge_speedup

from liqcascade.engine import perps as perps_engine
from liqcascade.engine.perps_screen import MarginScreen
from liqcascade.markets.orderbook import OrderBookVenue
from liqcascade.model.perps import AccountColumns, PerpBook, PositionColumns
from liqcascade.protocols.dydx_v4.rules import DydxV4Rules

N_ACCOUNTS = 1_000_000
N_STEPS = 7_200
N_NAIVE_ACCOUNTS = 2_000
N_NAIVE_STEPS = 300
PRICES = np.array([60_000.0, 3_000.0])


def perp_book(n: int, seed: int = 0) -> PerpBook:
    """70 % isolated one-market accounts, 30 % cross accounts in both markets; lognormal
    notional (median ~$3,000), 1.5x to 25x leverage, entries within 0.2 % of the mark."""
    rng = np.random.default_rng(seed)
    cross = rng.random(n) < 0.3
    first = rng.integers(0, 2, n)
    acc = np.concatenate([np.arange(n), np.flatnonzero(cross)])
    mkt = np.concatenate([first, 1 - first[cross]])
    notional = rng.lognormal(8, 1.5, acc.size)
    side = np.where(rng.random(acc.size) < 0.55, 1.0, -1.0)
    entry = PRICES[mkt] * rng.uniform(0.998, 1.002, acc.size)
    coll = np.bincount(acc, weights=notional, minlength=n) / rng.uniform(1.5, 25.0, n)
    return PerpBook.from_rows(AccountColumns(np.arange(n), coll, ~cross),
                              PositionColumns(acc, mkt, side * notional / entry, entry), ["BTC-USD", "ETH-USD"])


def day_path(steps: int, seed: int = 2) -> np.ndarray:
    """One day of one-second marks: 90 % annualised volatility, down 8 % over the day."""
    rng = np.random.default_rng(seed)
    ret = rng.normal(-0.08 / steps, 0.9 / np.sqrt(365 * 86_400), (steps, 2))
    return PRICES * np.exp(np.cumsum(ret, axis=0))


def screen_day(book: PerpBook, path: np.ndarray, rate: np.ndarray) -> int:
    """Every step's margin check as the engine runs it. A found account is closed (sizes set
    to 0, as a full liquidation leaves it) and touched, as the engine does."""
    book = replace(book, size=book.size.copy())
    screen = MarginScreen(book, rate, path[0], np.zeros(2))
    found = 0
    for t in range(path.shape[0]):
        below = screen.below_maintenance(book, path[t], np.zeros(2)).accounts
        if below.size:
            _, pos = book.subset(below)
            book.size[pos] = 0.0
            screen.touch(below)
            found += int(below.size)
    return found


@pytest.fixture(scope="module")
def setup():
    return perp_book(N_ACCOUNTS), day_path(N_STEPS), DydxV4Rules().maintenance_rate(("BTC-USD", "ETH-USD"))


def test_perp_margin_check_1m_accounts_one_day(benchmark, setup, record, target):
    book, path, rate = setup
    screen_day(perp_book(1_000), path[:50], rate)  # compile
    found = benchmark.pedantic(screen_day, args=(book, path, rate), rounds=1, iterations=1)
    record("perp_margin_check_1M_x_7200", benchmark, N_ACCOUNTS * N_STEPS)
    benchmark.extra_info["accounts_found"] = found
    assert found > 0
    target.at_most("perp margin check, 1M accounts x 7,200 steps", benchmark.stats.stats.median, 30.0)


def naive_margin_check(accounts, path, rate):
    """Baseline: one dict per account, every account valued every step."""
    found = 0
    for marks in path:
        for acc in accounts:
            equity = acc["collateral"]
            maint = 0.0
            for k, size, entry in acc["positions"]:
                equity += size * (marks[k] - entry)
                maint += abs(size) * marks[k] * rate[k]
            if maint > 0 and equity < maint:
                found += 1
    return found


def test_perp_margin_check_naive_python(benchmark, setup, record, target):
    _, path, rate = setup
    book = perp_book(N_NAIVE_ACCOUNTS, seed=1)
    accounts = [{"collateral": float(book.collateral[a]),
                 "positions": [(int(book.market[j]), float(book.size[j]), float(book.entry_price[j]))
                               for j in range(book.offsets[a], book.offsets[a + 1])]}
                for a in range(book.n_accounts)]
    marks, rates = path[:N_NAIVE_STEPS].tolist(), rate.tolist()
    benchmark.pedantic(naive_margin_check, args=(accounts, marks, rates), rounds=2, iterations=1)
    record("perp_margin_check_naive_python", benchmark, N_NAIVE_ACCOUNTS * N_NAIVE_STEPS)
    judge_speedup(target, "perp margin check per account-step", "perp_margin_check_1M_x_7200",
                  "perp_margin_check_naive_python", 5.0)


# ---------------------------------------------------------------------- the full loop
N_LOOP_NAIVE = 20_000


def crash_path(steps: int, seed: int = 3) -> np.ndarray:
    """:func:`day_path` with a crash in the middle: 12 % down over ten minutes from step
    steps/2, half of it recovered over the next hour (as 2025-10-10's BTC move, roughly)."""
    path = day_path(steps, seed)
    t = np.arange(steps)
    mid = steps // 2
    drop = np.clip((t - mid) / 600.0, 0.0, 1.0) * np.log(0.88)
    back = np.clip((t - mid - 600) / 3_600.0, 0.0, 1.0) * (-0.5 * np.log(0.88))
    return path * np.exp(drop + back)[:, None]


def full_loop(book: PerpBook, path: np.ndarray):
    """The whole perp engine (:func:`liqcascade.engine.perps.run`): screen, funding, orders,
    execution on each market's crash-calibrated book re-centred at the mark every step,
    settlement and deleveraging."""
    venues = [OrderBookVenue.from_calibration("crash", m, float(p)) for m, p in zip(book.markets, path[0])]
    return perps_engine.run(DydxV4Rules(), book, path, venues, fund=1e6,
                            recentre=lambda v, m: v.with_mid_price(m))


class PerOrderVenue:
    """An order-book venue seen only through ``sell``/``buy``/``mid_price``: the engine walks it
    trade by trade, bisecting each order toward its bound (``engine.perps._fill_one``)."""

    def __init__(self, venue: OrderBookVenue) -> None:
        self.venue = venue

    def sell(self, amount: float):
        cash, after = self.venue.sell(amount)
        return cash, PerOrderVenue(after)

    def buy(self, amount: float):
        cash, after = self.venue.buy(amount)
        return cash, PerOrderVenue(after)

    def mid_price(self) -> float:
        return self.venue.mid_price()


def per_order_loop(book: PerpBook, path: np.ndarray):
    """:func:`full_loop` with the venues walked trade by trade (the naive baseline)."""
    venues = [PerOrderVenue(OrderBookVenue.from_calibration("crash", m, float(p)))
              for m, p in zip(book.markets, path[0])]
    return perps_engine.run(DydxV4Rules(), book, path, venues, fund=1e6,
                            recentre=lambda v, m: PerOrderVenue(v.venue.with_mid_price(m)))


def _loop_bench(benchmark, record, n: int, name: str, loop=full_loop, rounds: int = 1):
    path = crash_path(N_STEPS)
    book = perp_book(n)
    loop(perp_book(1_000), path[:50])  # compile
    out = benchmark.pedantic(loop, args=(book, path), rounds=rounds, iterations=1)
    record(name, benchmark, n * N_STEPS)
    table = out.table()
    benchmark.extra_info["accounts_liquidated"] = int(table["accounts_liquidated"].sum())
    benchmark.extra_info["liquidated_usd"] = float(table["liquidated_notional"].sum())
    benchmark.extra_info["adl_usd"] = float(table["adl_notional"].sum())
    return table


def test_perp_full_loop_1m_accounts_one_day(benchmark, record, target):
    """Issue 13's target for the whole loop, on a crash: 1M accounts x 7,200 steps < 30 s."""
    table = _loop_bench(benchmark, record, N_ACCOUNTS, "perp_full_loop_1M_x_7200")
    # the crash leaves tens of thousands of accounts below maintenance at once (docs/perps.md)
    assert table["accounts_liquidated"].max() > 10_000 and table["adl_notional"].sum() > 0
    target.at_most("perp full loop with a crash, 1M accounts x 7,200 steps", benchmark.stats.stats.median,
                   30.0)


def test_perp_full_loop_per_order_walk(benchmark, record, target):
    """The naive baseline, on a 20,000-account book (the same crash): the venue walked trade by
    trade. Judged per account-step against the 1M run."""
    table = _loop_bench(benchmark, record, N_LOOP_NAIVE, "perp_full_loop_per_order_walk", per_order_loop)
    assert table["accounts_liquidated"].sum() > 0
    judge_speedup(target, "perp full loop per account-step", "perp_full_loop_1M_x_7200",
                  "perp_full_loop_per_order_walk", 3.0)
