"""The Binance-like engine against hand cases from Binance's published rules and its BTCUSDT
tier table of 2021-03-18; the insurance fund's conservation over random rounds."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liqcascade.errors import ConfigError, DataError
from liqcascade.model.perps import AccountColumns, PerpBook, PositionColumns
from liqcascade.protocols.cex_perp.rules import BTCUSDT_2021_03_18, CexEngine, CexSettings
from liqcascade.protocols.perps_base import MARKET_ORDER, Fills, LiquidationOrders
from liqcascade.protocols.perps_fund import settle_with_fund

ENGINE = CexEngine()
MARK = np.array([49_190.0])


def _isolated_long(collateral=1_000.0) -> PerpBook:
    return PerpBook.from_rows(AccountColumns(["a"], [collateral], np.array([True])),
                              PositionColumns(["a"], [0], [1.0], [50_000.0]), ("BTCUSDT",))


def test_the_maintenance_amounts_make_the_btcusdt_requirement_continuous():
    # amount(n) = amount(n-1) + floor(n) * (rate(n) - rate(n-1)), worked tier by tier:
    # 50,000*0.1% = 50; +250,000*0.5% = 1,300; +1M*1.5% = 16,300; +10M*2.5% = 266,300;
    # +20M*5% = 1,266,300; +50M*2.5% = 2,516,300; +100M*2.5% = 5,016,300; +200M*10% = 25,016,300;
    # +300M*25% = 100,016,300
    assert BTCUSDT_2021_03_18.deduction == pytest.approx(
        [0, 50, 1_300, 16_300, 266_300, 1_266_300, 2_516_300, 5_016_300, 25_016_300, 100_016_300], abs=1e-6)
    # "250,000 < Position <= 1,000,000" is 1 %: 1M*1% - 1,300 = 8,700 = 1M*2.5% - 16,300
    assert BTCUSDT_2021_03_18.maintenance(np.array([1e6, 60_000.0])) == pytest.approx([8_700.0, 250.0])
    assert BTCUSDT_2021_03_18.initial(np.array([50_000.0, 60_000.0])).tolist() == [400.0, 600.0]


def test_margin_liquidatable_and_liquidation_price_of_an_isolated_50x_long():
    book = _isolated_long()
    # at 49,200: margin balance 200 >= 0.4 % * 49,200 = 196.8
    state = ENGINE.margin(book, np.array([49_200.0]))
    assert state.maintenance == pytest.approx([196.8]) and not ENGINE.liquidatable(book, state)[0]
    # at 49,190: 190 < 196.76
    state = ENGINE.margin(book, MARK)
    assert ENGINE.liquidatable(book, state)[0]
    # liquidation price: 1,000 + (p - 50,000) = 0.004 p -> p = 49,000 / 0.996
    assert ENGINE.liquidation_price(book, state, MARK) == pytest.approx([49_000 / 0.996], rel=1e-12)


def test_orders_close_everything_no_worse_than_the_bankruptcy_price():
    book = _isolated_long()
    orders = ENGINE.orders(book, ENGINE.margin(book, MARK), MARK, np.array([0]))
    # bankruptcy = 49,190 - 190 / 1 = 49,000 = entry - collateral
    assert orders.close.tolist() == [-1.0]
    assert orders.bankruptcy_price.tolist() == [49_000.0] and orders.worst_price.tolist() == [49_000.0]
    assert orders.route.tolist() == [MARKET_ORDER]


def _isolated_short(collateral=1_000.0) -> PerpBook:
    return PerpBook.from_rows(AccountColumns(["s"], [collateral], np.array([True])),
                              PositionColumns(["s"], [0], [-1.0], [50_000.0]), ("BTCUSDT",))


def test_with_a_market_take_bound_orders_go_beyond_the_bankruptcy_price_to_the_bound():
    engine = CexEngine(CexSettings(market_take_bound=0.05))
    long_, short = _isolated_long(), _isolated_short()
    # the long at 49,190: bankruptcy 49,000; the sale may go down to 0.95 · 49,190 = 46,730.5
    o = engine.orders(long_, engine.margin(long_, MARK), MARK, np.array([0]))
    assert o.bankruptcy_price.tolist() == [49_000.0] and o.worst_price == pytest.approx([46_730.5], rel=1e-15)
    # the short at 50,810 (equity 190 < 0.4 % · 50,810 = 203.24): bankruptcy 51,000, the
    # purchase may go up to 1.05 · 50,810 = 53,350.5
    up = np.array([50_810.0])
    state = engine.margin(short, up)
    assert engine.liquidatable(short, state)[0]
    o = engine.orders(short, state, up, np.array([0]))
    assert o.close.tolist() == [1.0] and o.bankruptcy_price.tolist() == [51_000.0]
    assert o.worst_price == pytest.approx([53_350.5], rel=1e-15)
    # a bound nearer the mark than the bankruptcy price leaves the bankruptcy price
    narrow = CexEngine(CexSettings(market_take_bound=0.001))  # 0.999 · 49,190 = 49,140.81 > 49,000
    assert narrow.orders(long_, narrow.margin(long_, MARK), MARK, np.array([0])).worst_price.tolist() == [49_000.0]
    assert engine.capabilities.fund_takeover


def _settle(price, fund=0.0, fee=0.005):
    orders = LiquidationOrders(np.array([0]), np.array([-1.0]), np.array([49_000.0]), np.array([49_000.0]),
                               np.array([MARKET_ORDER], dtype=np.int8))
    engine = CexEngine(CexSettings(clearance_fee_rate=fee))
    return engine.settle_round(_isolated_long(), orders, Fills(np.array([-1.0]), np.array([price])), fund)


def test_the_clearance_fee_goes_to_the_fund_out_of_what_margin_is_left():
    # sold at 49,100: realised -900, 100 left; fee 0.5 % * 49,100 = 245.5, capped at the 100
    r = _settle(49_100.0)
    assert r.fees.tolist() == [100.0] and r.settlement.fund_delta == 100.0
    assert r.settlement.collateral_change.tolist() == [-1_000.0]
    # with a 0.1 % fee (49.1) the trader keeps 50.9
    r = _settle(49_100.0, fee=0.001)
    assert r.settlement.collateral_change == pytest.approx([-949.1]) and r.settlement.fund_delta == pytest.approx(49.1)


def test_a_fill_below_bankruptcy_is_covered_by_the_fund_as_far_as_it_goes():
    # sold at 48,900: 100 below zero; no fee can be taken
    r = _settle(48_900.0, fund=30.0)
    assert r.fees.tolist() == [0.0] and r.covered.tolist() == [30.0]
    assert r.settlement.fund_delta == -30.0 and r.settlement.deficit.tolist() == [70.0]


def _takeover(filled, price, fund):
    orders = LiquidationOrders(np.array([0]), np.array([-1.0]), np.array([46_730.5]), np.array([49_000.0]),
                               np.array([MARKET_ORDER], dtype=np.int8))
    engine = CexEngine(CexSettings(market_take_bound=0.05))
    return engine.settle_round(_isolated_long(), orders, Fills(np.array([filled]), np.array([price])), fund)


def test_the_fund_pays_exactly_the_gap_of_a_sale_below_bankruptcy_and_charges_no_fee():
    # 1 BTC sold at 48,700, 300 below the bankruptcy price 49,000: realised -1,300 on 1,000 of
    # collateral; the fund pays the 300, the account ends at zero, no clearance fee
    r = _takeover(-1.0, 48_700.0, fund=1_000.0)
    assert r.fees.tolist() == [0.0] and r.covered.tolist() == [300.0]
    assert r.settlement.fund_delta == -300.0 and r.settlement.deficit.tolist() == [0.0]
    assert r.settlement.collateral_change.tolist() == [-1_000.0]
    # a fund of 120 pays 120; the 180 it cannot pay is the deficit left for deleveraging
    r = _takeover(-1.0, 48_700.0, fund=120.0)
    assert r.settlement.fund_delta == -120.0 and r.settlement.deficit.tolist() == [180.0]


def test_a_partial_fill_below_bankruptcy_leaves_the_rest_at_its_bankruptcy_price():
    # 0.4 BTC sold at 48,500: realised 0.4 · (48,500 − 50,000) = −600; the fund pays the gap
    # 0.4 · 500 = 200, so the collateral falls by 400 to 600, and the 0.6 BTC left has equity
    # 600 + 0.6 · (p − 50,000), zero at p = 49,000: its bankruptcy price is unchanged
    r = _takeover(-0.4, 48_500.0, fund=1_000.0)
    assert r.covered == pytest.approx([200.0]) and r.fees.tolist() == [0.0]
    assert r.settlement.collateral_change == pytest.approx([-400.0]) and r.settlement.fund_delta == pytest.approx(-200.0)
    assert 1_000.0 - 400.0 + 0.6 * (49_000.0 - 50_000.0) == pytest.approx(0.0)
    # without the takeover (bound 0) the same fill is the account's: no cover, the fee
    # min(0.5 % · 0.4 · 48,500 = 97, 1,000 − 600) = 97 to the fund
    orders = LiquidationOrders(np.array([0]), np.array([-1.0]), np.array([49_000.0]), np.array([49_000.0]),
                               np.array([MARKET_ORDER], dtype=np.int8))
    r = ENGINE.settle_round(_isolated_long(), orders, Fills(np.array([-0.4]), np.array([48_500.0])), 1_000.0)
    assert r.covered.tolist() == [0.0] and r.fees == pytest.approx([97.0])
    assert r.settlement.collateral_change == pytest.approx([-697.0])


def test_bad_fee_rate_and_negative_fund_are_refused():
    with pytest.raises(ConfigError, match="clearance_fee_rate"):
        CexSettings(clearance_fee_rate=-0.1)
    for bad in (-0.01, 1.0, float("nan")):
        with pytest.raises(ConfigError, match="market_take_bound"):
            CexSettings(market_take_bound=bad)
    with pytest.raises(DataError, match="balance"):
        _settle(49_100.0, fund=-1.0)


@st.composite
def _rounds(draw):
    n = draw(st.integers(1, 6))
    collateral = draw(st.lists(st.floats(0, 5_000), min_size=n, max_size=n))
    size = draw(st.lists(st.floats(0.01, 3) | st.floats(-3, -0.01), min_size=n, max_size=n))
    entry = draw(st.lists(st.floats(40_000, 60_000), min_size=n, max_size=n))
    frac = draw(st.lists(st.sampled_from([0.0, 0.5, 1.0]), min_size=n, max_size=n))
    price = draw(st.lists(st.floats(30_000, 70_000), min_size=n, max_size=n))
    route = draw(st.lists(st.sampled_from([0, 1]), min_size=n, max_size=n))
    fund = draw(st.floats(0, 10_000))
    fee = draw(st.floats(0, 0.05))
    return collateral, size, entry, frac, price, route, fund, fee


@st.composite
def _takeover_rounds(draw):
    """Isolated positions with their bankruptcy prices inside the price range, filled in any
    fraction at up to 10 % either side of that price."""
    n = draw(st.integers(1, 6))
    size = np.array(draw(st.lists(st.floats(0.01, 3) | st.floats(-3, -0.01), min_size=n, max_size=n)))
    entry = np.array(draw(st.lists(st.floats(40_000, 60_000), min_size=n, max_size=n)))
    margin = np.array(draw(st.lists(st.floats(0.0, 0.5), min_size=n, max_size=n)))  # collateral / notional
    frac = np.array(draw(st.lists(st.floats(0.0, 1.0), min_size=n, max_size=n)))
    away = np.array(draw(st.lists(st.floats(-0.1, 0.1), min_size=n, max_size=n)))
    fund = draw(st.floats(0, 1e5))
    fee = draw(st.floats(0, 0.05))
    collateral = margin * np.abs(size) * entry
    bankrupt = entry - collateral / size
    return size, entry, collateral, bankrupt, frac, bankrupt * (1.0 + away), fund, fee


@settings(max_examples=100, deadline=None)
@given(_takeover_rounds())
def test_with_the_takeover_a_covered_account_is_left_at_zero_equity_at_its_bankruptcy_price(case):
    # one isolated position per account, its bankruptcy price entry − collateral / size (no
    # funding); the fund pays fills beyond it as far as it goes
    size, entry, collateral, bankrupt, frac, price, fund, fee = case
    n = size.size
    ids = list(range(n))
    book = PerpBook.from_rows(AccountColumns(ids, collateral, np.ones(n, dtype=bool)),
                              PositionColumns(ids, [0] * n, size, entry), ("BTC",))
    filled = -size * frac
    orders = LiquidationOrders(np.arange(n), -size, np.full(n, np.nan), bankrupt, np.zeros(n, dtype=np.int8))
    r = settle_with_fund(book, orders, Fills(filled, price), fund, fee_rate=fee, cover_gaps=True)
    st_ = r.settlement
    assert st_.collateral_change.sum() + st_.fund_delta == pytest.approx((-filled * (price - entry)).sum(), abs=1e-6)
    assert fund + st_.fund_delta >= -1e-6 and np.all(st_.deficit >= 0)
    beyond = filled * (price - bankrupt) > 0
    paid = beyond & (st_.deficit == 0)
    # equity at the bankruptcy price after the round: it was 0, and stays 0 for a covered account
    left_at_b = collateral + st_.collateral_change + (size + filled) * (bankrupt - entry)
    assert np.all(np.abs(left_at_b[paid]) <= 1e-9 * (1.0 + np.abs(size * entry))[paid])
    # the fund pays only for fills beyond the bankruptcy price (a fill at it, closing the position,
    # leaves the rounding of entry - collateral / size: at most 1e-9 of the notional, as above),
    # and leaves a deficit only when empty
    assert np.all(r.covered[~beyond] <= 1e-9 * (1.0 + np.abs(size * entry))[~beyond])
    if st_.deficit.sum() > 1e-9:
        assert fund + st_.fund_delta == pytest.approx(0.0, abs=1e-6)


@settings(max_examples=100, deadline=None)
@given(_rounds())
def test_fees_takeovers_and_cover_only_move_money_between_accounts_and_fund(case):
    collateral, size, entry, frac, price, route, fund, fee = case
    n = len(collateral)
    ids = list(range(n))
    book = PerpBook.from_rows(AccountColumns(ids, collateral, np.ones(n, dtype=bool)),
                              PositionColumns(ids, [0] * n, size, entry), ("BTC",))
    s = book.size
    filled = -s * np.array(frac)
    orders = LiquidationOrders(np.arange(n), -s, np.full(n, np.nan), np.full(n, np.nan), np.array(route, dtype=np.int8))
    r = settle_with_fund(book, orders, Fills(filled, np.array(price)), fund, fee_rate=fee)
    st_ = r.settlement
    gross = -filled * (np.array(price) - book.entry_price)
    # conservation: what the accounts' collateral changes by plus the fund's delta is the PnL realised
    assert st_.collateral_change.sum() + st_.fund_delta == pytest.approx(gross.sum(), abs=1e-6)
    # the fund never goes below zero, deficits are what is left of the negative collateral
    assert fund + st_.fund_delta >= -1e-6
    assert np.all(st_.deficit >= 0) and np.all(r.fees >= 0)
    after = book.collateral + st_.collateral_change
    closed = np.array(frac) == 1.0
    # a closed account's negative collateral is its deficit; an open one has none yet
    np.testing.assert_allclose(np.minimum(after, 0.0)[closed], -st_.deficit[closed], atol=1e-6)
    assert np.all(st_.deficit[~closed] == 0)
    # a deficit is left only when the fund is empty
    if st_.deficit.sum() > 1e-9:
        assert fund + st_.fund_delta == pytest.approx(0.0, abs=1e-6)


def test_the_compiled_margin_pass_agrees_with_numpy_and_its_plain_twin():
    from liqcascade._jit import jit_functions
    from liqcascade.protocols import perps_tiers_kernels_python as plain
    from liqcascade.protocols.perps_tiers import TierTable

    rng = np.random.default_rng(3)
    n = 400
    ids = list(range(n // 2))
    book = PerpBook.from_rows(
        AccountColumns(ids, rng.uniform(0, 1e6, n // 2), np.zeros(n // 2, dtype=bool)),
        PositionColumns([i // 2 for i in range(n)], [i % 2 for i in range(n)], rng.lognormal(3, 2, n) * rng.choice([-1, 1], n),
                        rng.uniform(40_000, 60_000, n), rng.normal(0, 5, n)), ("BTCUSDT", "BTC"))
    mark, funding = np.array([50_000.0, 51_000.0]), np.array([1.0, -2.0])
    tiers = CexSettings().tiers
    state = tiers.margin(book, mark, funding)
    req = tiers.per_position(book.market, book.notional(mark), book.markets)
    np.testing.assert_allclose(state.equity, book.equity(mark, funding), rtol=1e-12)
    np.testing.assert_allclose(state.maintenance, book.per_account(req.maintenance), rtol=1e-12)
    np.testing.assert_allclose(state.initial, book.per_account(req.initial), rtol=1e-12)
    np.testing.assert_allclose(state.notional, book.per_account(book.notional(mark)), rtol=1e-12)
    # the plain twin gives the same numbers as the compiled pass
    compiled = jit_functions(plain.FUNCTIONS, enabled=True)["tiered_margin"]
    t = BTCUSDT_2021_03_18
    args = (book.account, book.market, book.size, book.entry_price, book.funding_index, funding, mark,
            book.collateral, np.array([0, t.floor.size, 2 * t.floor.size]), np.tile(t.floor, 2),
            np.tile(t.maintenance_rate, 2), np.tile(t.deduction, 2), np.tile(t.max_leverage, 2))
    a = [np.empty(n // 2) for _ in range(4)]
    b = [np.empty(n // 2) for _ in range(4)]
    compiled(*args, *a)
    plain.tiered_margin(*args, *b)
    for x, y in zip(a, b):
        np.testing.assert_allclose(x, y, rtol=1e-14)
    assert isinstance(tiers, TierTable)
