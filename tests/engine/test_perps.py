"""The perp engine loop: the compiled margin check and its twin agree, the screen never
misses a liquidatable account, hand cases, conservation of money and determinism."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liqcascade.engine import perps as P
from liqcascade.engine import perps_kernels, perps_kernels_python
from liqcascade.engine.perps_screen import MarginScreen, value_accounts
from liqcascade.markets.orderbook import DepthCurve, OrderBookVenue
from liqcascade.model.perps import AccountColumns, PerpBook, PositionColumns
from liqcascade.protocols.dydx_v4.rules import DydxV4Rules, Tier

RULES = DydxV4Rules(default_tier=Tier(0.05, 0.6))  # IMF 5 %, MMF 3 %


def random_book(n: int, seed: int, markets=("BTC", "ETH"), prices=(50_000.0, 3_000.0), isolated_share=0.5) -> PerpBook:
    """Accounts at 2x to 19x leverage, long or short, one or two markets."""
    rng = np.random.default_rng(seed)
    iso = rng.random(n) < isolated_share
    acc, mkt, size, entry = [], [], [], []
    coll = np.zeros(n)
    for a in range(n):
        ks = [int(rng.integers(len(markets)))] if iso[a] else list(range(len(markets)))[: 1 + int(rng.integers(len(markets)))]
        notional = 0.0
        for k in ks:
            units = float(rng.uniform(1e3, 1e5)) / prices[k]
            s = units if rng.random() < 0.5 else -units
            e = prices[k] * float(rng.uniform(0.97, 1.03))
            acc.append(a), mkt.append(k), size.append(s), entry.append(e)
            notional += units * e
        coll[a] = notional / float(rng.uniform(2.0, 19.0))
    return PerpBook.from_rows(
        AccountColumns(ids=np.arange(n), collateral=coll, isolated=iso),
        PositionColumns(account=np.array(acc), market=np.array(mkt), size=np.array(size), entry_price=np.array(entry)),
        markets=list(markets),
    )


def venue(asset: str, price: float, depth: float) -> OrderBookVenue:
    """A book with ``depth`` USD within 1 % of mid and 10·depth within 10 %, both sides."""
    curve = DepthCurve((0.01, 0.1), (depth, 10.0 * depth))
    return OrderBookVenue(asset, price, curve, curve)


def test_compiled_margin_check_matches_its_plain_twin():
    book = random_book(500, seed=1)
    accounts = np.arange(book.n_accounts, dtype=np.int64)
    mark, funding = np.array([47_000.0, 3_100.0]), np.array([3.0, -0.2])
    rate = RULES.maintenance_rate(book.markets)
    a = value_accounts(book, accounts, mark, funding, rate, kernel=perps_kernels.account_slack)
    b = value_accounts(book, accounts, mark, funding, rate, kernel=perps_kernels_python.account_slack)
    np.testing.assert_allclose(a.equity, b.equity, rtol=1e-14)
    np.testing.assert_allclose(a.maintenance, b.maintenance, rtol=1e-14)
    # and both are the margin engine's numbers
    ms = RULES.margin(book, mark, funding)
    np.testing.assert_allclose(a.equity, ms.equity, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(a.maintenance, ms.maintenance, rtol=1e-12)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.lists(st.tuples(st.floats(-0.08, 0.08), st.floats(-0.08, 0.08)), min_size=1, max_size=12))
def test_the_screen_finds_every_account_the_full_check_finds(seed, moves):
    book = random_book(300, seed=seed)
    base = np.array([50_000.0, 3_000.0])
    screen = MarginScreen(book, RULES.maintenance_rate(book.markets), base, np.zeros(2), refresh_fraction=0.5)
    for dm in moves:
        mark = base * (1.0 + np.array(dm))
        funding = np.array(dm) * 10.0
        found = screen.below_maintenance(book, mark, funding).accounts
        full = np.flatnonzero(RULES.liquidatable(book, RULES.margin(book, mark, funding)))
        assert np.array_equal(found, full)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.floats(0.01, 0.5),
       st.lists(st.tuples(st.floats(-0.08, 0.08), st.floats(-0.08, 0.08), st.integers(0, 2**31)), min_size=1,
                max_size=15))
def test_the_screen_finds_every_account_after_the_steps_change_accounts(seed, fraction, moves):
    """As the engine uses it: after each step some accounts' positions and collateral change and
    are touched (re-ranked at the refresh marks, extra rows, merges and refreshes with a small
    ``refresh_fraction``); the screen still finds exactly what valuing every account finds."""
    book = random_book(300, seed=seed)
    base = np.array([50_000.0, 3_000.0])
    rate = RULES.maintenance_rate(book.markets)
    screen = MarginScreen(book, rate, base, np.zeros(2), refresh_fraction=fraction)
    for dm0, dm1, draw in moves:
        mark = base * (1.0 + np.array([dm0, dm1]))
        funding = np.array([dm0, dm1]) * 10.0
        found = screen.below_maintenance(book, mark, funding).accounts
        full = np.flatnonzero(RULES.liquidatable(book, RULES.margin(book, mark, funding)))
        assert np.array_equal(found, full)
        rng = np.random.default_rng(draw)
        changed = np.unique(np.concatenate((found[: rng.integers(0, found.size + 1)],
                                            rng.integers(0, book.n_accounts, rng.integers(0, 40)))))
        _, pos = book.subset(changed)
        book.size[pos] *= rng.uniform(0.0, 1.5, pos.size)  # partly closed, or grown
        book.collateral[changed] *= rng.uniform(0.5, 1.2, changed.size)
        screen.touch(changed)


def _one_account(collateral: float, size: float, entry: float) -> PerpBook:
    return PerpBook.from_rows(
        AccountColumns(ids=["a", "mm"], collateral=[collateral, 1e9], isolated=[True, False]),
        PositionColumns(account=["a", "mm"], market=[0, 0], size=[size, -size], entry_price=[entry, entry]),
        markets=["BTC"],
    )


def test_hand_case_a_long_is_liquidated_on_a_deep_book_and_pays_the_fee():
    # 1 BTC long from $50,000 with $5,000: at $46,000 equity $1,000 < MMR 3 % · 46,000 = $1,380;
    # bankruptcy price $45,000, worst price 46,000 − (1 − 1,000/1,380)·0.1·1,380 = $45,962.05
    book = _one_account(5_000.0, 1.0, 50_000.0)
    mark = np.array([46_000.0])
    deep = venue("BTC", 46_000.0, 1e12)  # 1 BTC moves this book by ~5e-10
    state = P.start(book, RULES, mark, [deep], fund=0.0)
    rec = P.step(RULES, state, mark, None, RULES.deleveraging(0))
    assert rec.accounts_liquidated == 1 and rec.negative_equity_accounts == 0
    assert rec.liquidated_notional == pytest.approx(46_000.0)
    a = 0
    assert state.book.size[state.book.offsets[a]] == 0.0
    # sold at ~$46,000: equity $1,000 left; the fee is min(0.5 % · 46,000 = 230, 1,000) = $230
    assert rec.fund_balance == pytest.approx(230.0, rel=1e-6)
    assert state.book.collateral[a] == pytest.approx(1_000.0 - 230.0, rel=1e-6)


def test_hand_case_the_fund_covers_a_sale_below_bankruptcy():
    # 1 BTC long from $50,000 with $5,000 at $44,900: equity −$100; bankruptcy price $45,000.
    # Sold at ~$44,900 on a deep book, the fund pays the $100 it has $1,000 for.
    book = _one_account(5_000.0, 1.0, 50_000.0)
    mark = np.array([44_900.0])
    state = P.start(book, RULES, mark, [venue("BTC", 44_900.0, 1e12)], fund=1_000.0)
    rec = P.step(RULES, state, mark, None, RULES.deleveraging(0))
    assert rec.negative_equity_accounts == 1 and rec.adl_notional == 0.0
    assert rec.fund_balance == pytest.approx(900.0, rel=1e-6)
    assert state.book.collateral[0] == pytest.approx(0.0, abs=1e-3)


def test_hand_case_an_empty_fund_deleverages_at_the_bankruptcy_price():
    # as above with no fund: the sale is refused and the short ("mm") takes the long over at
    # $45,000, losing $100 against the mark; the long ends at zero, nothing is socialised
    book = _one_account(5_000.0, 1.0, 50_000.0)
    mark = np.array([44_900.0])
    state = P.start(book, RULES, mark, [venue("BTC", 44_900.0, 1e12)], fund=0.0)
    before = state.book.equity(mark).copy()
    rec = P.step(RULES, state, mark, None, RULES.deleveraging(0))
    assert rec.adl_notional == pytest.approx(44_900.0) and rec.liquidated_notional == 0.0
    after = state.book.equity(mark)
    assert after[0] == pytest.approx(0.0, abs=1e-6)
    assert after[1] - before[1] == pytest.approx(-100.0)
    assert np.all(state.book.size == 0.0) and rec.socialised == 0.0


def _conserved(state: P.PerpState, mark, run_step) -> None:
    eq0 = state.book.equity(mark, state.funding).sum()
    fund0, out0, soc0 = state.fund, state.outside, state.socialised
    run_step()
    eq1 = state.book.equity(mark, state.funding).sum()
    total = (eq1 - eq0) + (state.fund - fund0) + (state.outside - out0) - (state.socialised - soc0)
    assert total == pytest.approx(0.0, abs=1e-9 * max(1.0, abs(eq0)))


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10_000), st.floats(0.0, 5e4), st.floats(1e4, 1e7))
def test_money_is_conserved_through_liquidation_fund_and_deleveraging(seed, fund, depth):
    book = random_book(200, seed=seed)
    base = np.array([50_000.0, 3_000.0])
    state = P.start(book, RULES, base, [venue("BTC", base[0], depth), venue("ETH", base[1], depth / 10)], fund=fund)
    policy = RULES.deleveraging(seed)
    for t, shock in enumerate((0.0, -0.04, -0.08, -0.12, 0.06, 0.15)):
        mark = base * (1.0 + shock)
        funding = np.array([5.0 * t, 0.3 * t])
        state.funding = funding  # the step sets it too; conservation is measured at the new index
        _conserved(state, mark, lambda: P.step(RULES, state, mark, funding, policy,
                                               recentre=lambda v, m: v.with_mid_price(m)))


class _PerOrder:
    """An order-book venue seen only through ``sell``/``buy``/``mid_price``: the engine walks it
    trade by trade (``_fill_one``), as any venue without a depth profile."""

    def __init__(self, venue: OrderBookVenue) -> None:
        self.venue = venue

    def sell(self, amount: float):
        cash, after = self.venue.sell(amount)
        return cash, _PerOrder(after)

    def buy(self, amount: float):
        cash, after = self.venue.buy(amount)
        return cash, _PerOrder(after)

    def mid_price(self) -> float:
        return self.venue.mid_price()


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 10_000), st.floats(0.0, 5e4), st.floats(1e4, 1e7))
def test_the_compiled_walk_and_the_trade_by_trade_walk_run_the_same_and_conserve_money(seed, fund, depth):
    """The same run with the venue walked by the compiled kernel and trade by trade: money is
    conserved by both, and they close the same notional to 1e-6 (the slivers the kernel does not
    take are far smaller)."""
    book = random_book(150, seed=seed)
    base = np.array([50_000.0, 3_000.0])
    runs = []
    for per_order in (False, True):
        venues = [venue("BTC", base[0], depth), venue("ETH", base[1], depth / 10)]
        state = P.start(book, RULES, base, [_PerOrder(v) for v in venues] if per_order else venues, fund=fund)
        policy = RULES.deleveraging(seed)
        records = []
        for shock in (0.0, -0.05, -0.1, -0.14, -0.1):
            mark = base * (1.0 + shock)

            def recentre(v, m):
                return _PerOrder(v.venue.with_mid_price(m)) if per_order else v.with_mid_price(m)

            def one_step():
                records.append(P.step(RULES, state, mark, None, policy, recentre))

            _conserved(state, mark, one_step)
        runs.append((records, state))
    (ra, _), (rb, _) = runs
    assert sum(r.accounts_liquidated for r in ra) > 0
    # a sliver can tip a discrete rule (an account refused for a deficit the fund cannot cover
    # is deleveraged instead): the two walks close the same notional, on the venue or by ADL
    for x, y in zip(ra, rb):
        assert x.accounts_liquidated == y.accounts_liquidated
        closed = x.liquidated_notional + x.adl_notional
        assert closed == pytest.approx(y.liquidated_notional + y.adl_notional, rel=1e-6, abs=1e-3)


def test_runs_are_deterministic_and_record_every_step():
    book = random_book(400, seed=7)
    path = np.array([[50_000.0 * (1 - 0.01 * t), 3_000.0 * (1 - 0.012 * t)] for t in range(15)])
    venues = [venue("BTC", 50_000.0, 2e5), venue("ETH", 3_000.0, 2e4)]
    kw = dict(fund=1e4, seed=3, recentre=lambda v, m: v.with_mid_price(m))
    a = P.run(RULES, book, path, venues, **kw).table()
    b = P.run(RULES, book, path, venues, **kw).table()
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    assert len(a["step"]) == 15 and a["accounts_liquidated"].sum() > 0
    assert np.all(book.size != 0.0)  # the run worked on its own copy of the book


@pytest.mark.parametrize("name", ["queue", "pro_rata", "risk_aware"])
def test_the_adl_policies_of_perps_adl_plug_into_the_hook_and_conserve_money(name):
    from liqcascade.protocols import perps_adl

    book = _one_account(5_000.0, 1.0, 50_000.0)
    mark = np.array([44_900.0])
    state = P.start(book, RULES, mark, [venue("BTC", 44_900.0, 1e12)], fund=0.0)
    policy = getattr(perps_adl, name)
    _conserved(state, mark, lambda: P.step(RULES, state, mark, None, policy))
    assert state.book.size[0] == 0.0  # the deficit position was closed outside the venue


def test_a_counterparty_overshoot_never_flips_the_bankrupt_side():
    """A queue answering with counterparty closes only (2 BTC bankrupt long; shorts of 1 and
    3 BTC both closed in full: 2 BTC of overshoot): the bankrupt long closes exactly its 2 BTC,
    the shorts' closes are cut to 2 BTC in all, and per market Σ close = 0."""
    from types import SimpleNamespace

    from liqcascade.engine.perps import as_closes
    from liqcascade.model.perps import AccountColumns, PerpBook, PositionColumns

    book = PerpBook.from_rows(
        AccountColumns(["bust", "s1", "s3"], [0.0, 10_000.0, 30_000.0], np.array([False, False, False])),
        PositionColumns(["bust", "s1", "s3"], [0, 0, 0], [2.0, -1.0, -3.0], [50_000.0] * 3),
        ("BTC-USD",),
    )
    deficit = np.array([500.0, 0.0, 0.0])
    raw = SimpleNamespace(close=np.array([0.0, 1.0, 3.0]), price=np.array([np.nan, 45_000.0, 45_000.0]))
    c = as_closes(raw, book, deficit)
    by_pos = {int(p): float(x) for p, x in zip(c.position, c.close)}
    assert by_pos[0] == -2.0
    assert by_pos[1] + by_pos[2] == 2.0 and by_pos[1] == 0.5 and by_pos[2] == 1.5
    assert float(c.close.sum()) == 0.0
