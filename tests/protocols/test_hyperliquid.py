"""Hyperliquid's margin engine against hand cases from its documented rules (no vectors exist:
the clearinghouse is closed source). Every expected number below is worked out by hand in
the comment beside it."""

from __future__ import annotations

import numpy as np
import pytest

from liqcascade.errors import ConfigError
from liqcascade.model.perps import AccountColumns, PerpBook, PositionColumns
from liqcascade.protocols.hyperliquid.rules import MAINNET_TIERS, HyperliquidEngine, HyperliquidSettings
from liqcascade.protocols.perps_base import BACKSTOP, MARKET_ORDER, Fills, LiquidationOrders

MARKETS = ("BTC", "ETH")
ENGINE = HyperliquidEngine()


def _book(ids, collateral, isolated, pos_account, market, size, entry) -> PerpBook:
    return PerpBook.from_rows(
        AccountColumns(ids=ids, collateral=collateral, isolated=np.array(isolated)),
        PositionColumns(account=pos_account, market=market, size=size, entry_price=entry), MARKETS)


def _isolated_long(size=1.0, collateral=5_000.0) -> PerpBook:
    return _book(["a"], [collateral], [True], ["a"], [0], [size], [100_000.0])


def test_maintenance_is_half_the_initial_margin_at_max_leverage_with_a_continuous_deduction():
    btc = MAINNET_TIERS.tiers["BTC"]
    # 40x -> initial 2.5 %, maintenance 1.25 %; 20x above 150M -> 2.5 %
    assert btc.maintenance_rate.tolist() == [0.0125, 0.025]
    # deduction(1) = 150M * (2.5 % - 1.25 %) = 1,875,000
    assert btc.deduction.tolist() == [0.0, 1_875_000.0]
    # continuous at the floor: 150M * 1.25 % = 1,875,000 = 150M * 2.5 % - 1,875,000
    assert btc.maintenance(np.array([150e6, 200e6])).tolist() == [1_875_000.0, 200e6 * 0.025 - 1_875_000.0]


def test_margin_of_an_isolated_long_and_its_liquidation_trigger():
    book = _isolated_long()
    state = ENGINE.margin(book, np.array([100_000.0, 4_000.0]))
    # notional 100,000: maintenance 1,250 (1.25 %), initial 2,500 (40x)
    assert state.equity.tolist() == [5_000.0]
    assert state.maintenance.tolist() == [1_250.0]
    assert state.initial.tolist() == [2_500.0]
    assert not ENGINE.liquidatable(book, state)[0]
    # at 96,000: equity 1,000 < maintenance 1,200
    state = ENGINE.margin(book, np.array([96_000.0, 4_000.0]))
    assert ENGINE.liquidatable(book, state)[0]


def test_the_documented_liquidation_price_long_short_and_cross():
    mark = np.array([100_000.0, 4_000.0])
    # long: 100,000 - 3,750 / (1 - 0.0125) = 96,202.5316...; short: 100,000 + 3,750 / 1.0125
    book = _book(["l", "s"], [5_000.0, 5_000.0], [True, True], ["l", "s"], [0, 0], [1.0, -1.0],
                 [100_000.0, 100_000.0])
    liq = ENGINE.liquidation_price(book, ENGINE.margin(book, mark), mark)
    assert liq == pytest.approx([100_000 - 3_750 / 0.9875, 100_000 + 3_750 / 1.0125], rel=1e-13)
    # at that price equity equals maintenance: 5,000 + (p - 100,000) = 0.0125 p
    p = liq[0]
    assert 5_000 + p - 100_000 == pytest.approx(0.0125 * p, rel=1e-12)
    # cross: long 1 BTC + short 10 ETH at 4,000 (ETH 25x: 2 %), collateral 10,000; maintenance
    # 1,250 + 800; BTC alone: 10,000 + (p - 100,000) = 0.0125 p + 800 -> p = 90,800 / 0.9875
    cross = _book(["c"], [10_000.0], [False], ["c", "c"], [0, 1], [1.0, -10.0], [100_000.0, 4_000.0])
    liq = ENGINE.liquidation_price(cross, ENGINE.margin(cross, mark), mark)
    # ETH alone: 10,000 - 10 (q - 4,000) = 0.02 * 10 q + 1,250 -> q = 48,750 / 10.2
    assert liq == pytest.approx([90_800 / 0.9875, 48_750 / 10.2], rel=1e-13)


def test_orders_market_backstop_and_bankruptcy_price():
    book = _isolated_long()
    # at 96,000: equity 1,000 >= 2/3 * 1,200 = 800 -> a market order for the whole position
    mark = np.array([96_000.0, 4_000.0])
    orders = ENGINE.orders(book, ENGINE.margin(book, mark), mark, np.array([0]))
    assert orders.close.tolist() == [-1.0] and orders.route.tolist() == [MARKET_ORDER]
    assert np.isnan(orders.worst_price[0])
    # bankruptcy: 96,000 - 1,000 / 1 = 95,000 (= entry - collateral / size)
    assert orders.bankruptcy_price.tolist() == [95_000.0]
    # at 95,500: equity 500 < 2/3 * 1,193.75 = 795.83 -> the vault takes it at the mark
    mark = np.array([95_500.0, 4_000.0])
    orders = ENGINE.orders(book, ENGINE.margin(book, mark), mark, np.array([0]))
    assert orders.route.tolist() == [BACKSTOP] and orders.close.tolist() == [-1.0]
    assert orders.worst_price.tolist() == [95_500.0]


def test_positions_above_100k_go_20_percent_at_a_time_then_whole_during_the_cooldown():
    # 2 BTC at 96,000 = 192,000 notional > 100,000; equity 10,000 - 8,000 = 2,000 vs maintenance
    # 2,400 (liquidatable) and 2/3 of it 1,600 (not backstopped)
    book = _isolated_long(size=2.0, collateral=10_000.0)
    mark = np.array([96_000.0, 4_000.0])
    state = ENGINE.margin(book, mark)
    first = ENGINE.orders(book, state, mark, np.array([0]), now=100.0)
    assert first.close.tolist() == [pytest.approx(-0.4)]
    until = ENGINE.next_cooldown(book, first, now=100.0)
    assert until.tolist() == [130.0]
    # 10 s later: still cooling down -> the whole position
    assert ENGINE.orders(book, state, mark, np.array([0]), now=110.0, cooldown_until=until).close.tolist() == [-2.0]
    # at 130 s the cooldown is over -> a slice again
    assert ENGINE.orders(book, state, mark, np.array([0]), now=130.0, cooldown_until=until).close.tolist() == [
        pytest.approx(-0.4)]
    # a whole-position order does not start a cooldown
    whole = ENGINE.orders(book, state, mark, np.array([0]), now=110.0, cooldown_until=until)
    assert ENGINE.next_cooldown(book, whole, now=110.0, cooldown_until=until).tolist() == [130.0]


def test_exactly_100k_is_not_above_the_threshold():
    book = _isolated_long()  # 1 BTC
    mark = np.array([100_000.0, 4_000.0])
    state = ENGINE.margin(book, mark)
    assert ENGINE.orders(book, state, mark, np.array([0])).close.tolist() == [-1.0]


def _one(orders_route, filled, price):
    orders = LiquidationOrders(np.array([0]), np.array([-1.0]), np.array([np.nan]), np.array([95_000.0]),
                               np.array([orders_route], dtype=np.int8))
    return orders, Fills(np.array([filled]), np.array([price]))


def test_settle_a_market_fill_keeps_the_rest_with_the_trader_and_charges_no_fee():
    orders, fills = _one(MARKET_ORDER, -1.0, 95_900.0)
    r = ENGINE.settle_round(_isolated_long(), orders, fills, fund_balance=1_000.0)
    # realised -4,100; 900 stays with the trader; nothing to the vault
    assert r.settlement.collateral_change.tolist() == [-4_100.0]
    assert r.settlement.fund_delta == 0.0 and r.settlement.deficit.tolist() == [0.0]


def test_settle_a_fill_below_bankruptcy_draws_on_the_vault_down_to_zero_and_leaves_the_rest():
    orders, fills = _one(MARKET_ORDER, -1.0, 94_000.0)
    r = ENGINE.settle_round(_isolated_long(), orders, fills, fund_balance=600.0)
    # realised -6,000 on 5,000 of collateral: 1,000 short; the vault has 600
    assert r.settlement.collateral_change.tolist() == [-5_400.0]
    assert r.settlement.fund_delta == -600.0
    assert r.settlement.deficit.tolist() == [400.0]


def test_settle_a_backstop_takeover_keeps_the_maintenance_margin_in_the_vault():
    orders, fills = _one(BACKSTOP, -1.0, 95_500.0)
    r = ENGINE.settle_round(_isolated_long(), orders, fills, fund_balance=0.0)
    # at 95,500 the account is worth 500: the vault takes the position and the 500
    assert r.settlement.collateral_change.tolist() == [-5_000.0]
    assert r.settlement.fund_delta == 500.0 and r.taken.tolist() == [500.0]


def test_a_partial_fill_leaves_no_deficit_while_the_position_is_open():
    book = _isolated_long(size=2.0, collateral=1_000.0)
    orders = LiquidationOrders(np.array([0]), np.array([-0.4]), np.array([np.nan]), np.array([99_500.0]),
                               np.array([MARKET_ORDER], dtype=np.int8))
    r = ENGINE.settle_round(book, orders, Fills(np.array([-0.4]), np.array([90_000.0])), 0.0)
    # realised -4,000 > collateral, but 1.6 BTC is still open: no deficit yet
    assert r.settlement.collateral_change.tolist() == [-4_000.0] and r.settlement.deficit.tolist() == [0.0]


def test_bad_settings_and_a_market_without_tiers_are_config_errors():
    with pytest.raises(ConfigError, match="partial_fraction"):
        HyperliquidSettings(partial_fraction=0.0)
    with pytest.raises(ConfigError, match="backstop_below"):
        HyperliquidSettings(backstop_below=1.5)
    book = PerpBook.from_rows(AccountColumns(["a"], [1.0], np.array([True])),
                              PositionColumns(["a"], [0], [1.0], [1.0]), ("DOGE",))
    with pytest.raises(ConfigError, match=r"tiers\.DOGE"):
        ENGINE.margin(book, np.array([1.0]))
