"""The liquidation map: isolated longs and shorts at hand-computed prices, a cross account,
the engines' own liquidation prices, and the compiled kernel against its plain twin."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from liqcascade._jit import jit_functions
from liqcascade.engine import liqmap_python as plain
from liqcascade.engine.liqmap import liquidation_map
from liqcascade.errors import ConfigError
from liqcascade.model.perps import AccountColumns, PerpBook, PositionColumns
from liqcascade.protocols.cex_perp.rules import CexEngine
from liqcascade.protocols.hyperliquid.rules import HyperliquidEngine
from liqcascade.protocols.perps_base import PerpCapabilities

HL = HyperliquidEngine()
MARK = np.array([100_000.0, 4_000.0])


def _book() -> PerpBook:
    """l: isolated long 1 BTC on 5,000; s: isolated short 1 BTC on 5,000; c: cross, long 1 BTC
    and short 10 ETH on 10,000; d: isolated long 1 BTC on 200 (already liquidatable: 200 < 1,250)."""
    return PerpBook.from_rows(
        AccountColumns(["c", "d", "l", "s"], [10_000.0, 200.0, 5_000.0, 5_000.0],
                       np.array([False, True, True, True])),
        PositionColumns(["l", "s", "c", "c", "d"], [0, 0, 0, 1, 0], [1.0, -1.0, 1.0, -10.0, 1.0],
                        [100_000.0] * 3 + [4_000.0, 100_000.0]), ("BTC", "ETH"))


def test_isolated_and_cross_positions_land_in_their_hand_computed_bins():
    book = _book()
    lm = liquidation_map(book, HL, MARK, "BTC", 90_000.0, 110_000.0, 20)
    # long: 100,000 - 3,750 / 0.9875 = 96,202.53 (bin 6: 96,000-97,000); short: 100,000 +
    # 3,750 / 1.0125 = 103,703.70 (bin 13); cross long: 90,800 / 0.9875 = 91,949.37 (bin 1)
    long_l, short_s, cross = 100_000 - 3_750 / 0.9875, 100_000 + 3_750 / 1.0125, 90_800 / 0.9875
    expect_long = np.zeros(20)
    expect_long[6] = long_l
    expect_long[1] = cross
    expect_short = np.zeros(20)
    expect_short[13] = short_s
    np.testing.assert_allclose(lm.long, expect_long, rtol=1e-9)
    np.testing.assert_allclose(lm.short, expect_short, rtol=1e-9)
    # d is already liquidatable: its notional at the mark, in no bin
    assert lm.already == pytest.approx(100_000.0) and lm.outside == 0.0
    assert lm.edges[0] == 90_000.0 and lm.edges[-1] == 110_000.0 and lm.edges.size == 21
    # the ETH position is not on this map
    assert np.isnan(lm.liquidation_price[book.market == 1]).all()


def test_the_map_reads_the_engines_own_liquidation_prices():
    book = _book()
    state = HL.margin(book, MARK)
    lm = liquidation_map(book, HL, MARK, "BTC", 50_000.0, 150_000.0, 1_000, state=state)
    own = HL.liquidation_price(book, state, MARK)
    live = (book.market == 0) & (book.account != 1)  # d is already liquidatable
    np.testing.assert_allclose(lm.liquidation_price[live], own[live], rtol=1e-9)
    # Binance-like: isolated long 1 BTC from 50,000 on 1,000 -> 49,000 / 0.996
    cex_book = PerpBook.from_rows(AccountColumns(["a"], [1_000.0], np.array([True])),
                                  PositionColumns(["a"], [0], [1.0], [50_000.0]), ("BTCUSDT",))
    lm = liquidation_map(cex_book, CexEngine(), np.array([50_000.0]), "BTCUSDT", 40_000.0, 60_000.0, 100)
    assert lm.liquidation_price[0] == pytest.approx(49_000 / 0.996, rel=1e-9)
    assert lm.long.sum() == pytest.approx(49_000 / 0.996, rel=1e-9)


@dataclass(frozen=True)
class _Undeclared:
    """The same engine without its declared slope: the map falls back to bumped margin calls."""

    inner: object
    name: str = "undeclared"
    capabilities: PerpCapabilities = PerpCapabilities()

    def margin(self, book, mark, funding=None):
        return self.inner.margin(book, mark, funding)


@pytest.mark.parametrize("engine", [HL, CexEngine()], ids=["hyperliquid", "cex_perp"])
def test_the_declared_slope_and_bumped_margin_calls_draw_the_same_map(engine):
    # a random cross book in which some notionals sit exactly on tier floors
    rng = np.random.default_rng(11)
    n = 300
    markets = ("BTC", "ETH") if engine is HL else ("BTCUSDT", "BTC")
    mark = np.array([100_000.0, 4_000.0]) if engine is HL else np.array([50_000.0, 50_000.0])
    size = rng.lognormal(1, 2, n) * rng.choice([-1.0, 1.0], n)
    size[:10] = np.where(size[:10] > 0, 1.0, -1.0) * (250_000.0 if engine is not HL else 150e6) / mark[0]
    book = PerpBook.from_rows(
        AccountColumns(list(range(n // 2)), rng.uniform(0, 1e6, n // 2), np.zeros(n // 2, dtype=bool)),
        PositionColumns([i % (n // 2) for i in range(n)], [i // (n // 2) for i in range(n)], size,
                        mark[np.arange(n) // (n // 2)] * rng.lognormal(0, 0.1, n)), markets)
    for market in markets:
        a = liquidation_map(book, engine, mark, market, 1.0, 3 * mark.max(), 500)
        b = liquidation_map(book, _Undeclared(engine), mark, market, 1.0, 3 * mark.max(), 500)
        np.testing.assert_allclose(a.liquidation_price, b.liquidation_price, rtol=1e-6, equal_nan=True)
        np.testing.assert_allclose(a.long, b.long, rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(a.short, b.short, rtol=1e-6, atol=1e-6)


def test_prices_outside_the_grid_are_totalled_apart():
    lm = liquidation_map(_book(), HL, MARK, "BTC", 95_000.0, 100_000.0, 5)
    # only l (96,202.53) is inside; the short and the cross long are outside
    assert lm.long.sum() == pytest.approx(100_000 - 3_750 / 0.9875)
    assert lm.outside == pytest.approx(100_000 + 3_750 / 1.0125 + 90_800 / 0.9875)


def test_bad_grid_or_market_is_a_config_error():
    with pytest.raises(ConfigError, match="market"):
        liquidation_map(_book(), HL, MARK, "SOL", 1.0, 2.0, 10)
    with pytest.raises(ConfigError, match="levels"):
        liquidation_map(_book(), HL, MARK, "BTC", 1.0, 2.0, 0)
    with pytest.raises(ConfigError, match="low, high"):
        liquidation_map(_book(), HL, MARK, "BTC", 2.0, 1.0, 10)


def test_the_compiled_kernel_agrees_with_its_plain_twin():
    rng = np.random.default_rng(5)
    n, accounts = 5_000, 3_000
    account = np.sort(rng.integers(0, accounts, n))
    market = rng.integers(0, 2, n)
    size = rng.normal(0, 2, n)
    available = rng.normal(500, 800, accounts)
    slope_long = rng.uniform(0, 0.03, accounts)
    slope_short = rng.uniform(0, 0.03, accounts)
    compiled = jit_functions(plain.FUNCTIONS, enabled=True)["bin_liquidations"]
    outs = []
    for fn in (compiled, plain.bin_liquidations):
        for by_account, sl, ss in ((True, slope_long, slope_short), (False, slope_long[account], slope_short[account])):
            long, short, price = np.zeros(200), np.zeros(200), np.empty(n)
            totals = fn(1, market, account, size, 1_000.0, available, sl, ss, by_account, 500.0, 5.0,
                        long, short, price)
            outs.append((long, short, price, totals))
    # per account or the same slopes per position, compiled or plain: one answer
    for other in outs[1:]:
        for a, b in zip(outs[0], other):
            np.testing.assert_allclose(a, b, rtol=1e-12, equal_nan=True)
    outs = outs[:2]
    for a, b in zip(*outs):
        np.testing.assert_allclose(a, b, rtol=1e-12, equal_nan=True)
    long, short, price, totals = outs[0]
    # positions of market 0 have no price; every market-1 position is binned or totalled apart
    assert np.isnan(price[market == 0]).all() and not np.isnan(price[market == 1]).all()
    assert long.sum() > 0 and short.sum() > 0 and totals[0] > 0
