"""The core benchmark's market on a synthetic Aave book: its shock and its venues (deep or thin).

Apart from ``test_bench_core`` so that a process that only builds and runs a solver
(``rss_static.py``, whose peak RSS is judged) loads what the engine's static run loads and no
more: not pytest, not pandas (the engine's static solver imports pandas only for its tables).
"""

from __future__ import annotations

from liqcascade.engine.static import MarketModel
from liqcascade.markets.cpmm import ConstantProductPool
from liqcascade.markets.impact import PowerLawImpact
from liqcascade.markets.orderbook import OrderBookVenue
from liqcascade.markets.router import Router
from liqcascade.protocols.aave_v3 import V3_3
from liqcascade.protocols.aave_v3.rules import AaveV3Rules

SHOCK = {"WETH": 0.3, "wstETH": 0.3, "rETH": 0.3, "cbETH": 0.3}


def core_model(snap, book, deep: bool) -> MarketModel:
    params, prices = snap.params, snap.price_array
    px = {s: float(prices[params.index(s)]) for s in params.symbols}
    if deep:
        # depth commensurate with a $11B book: a CEX-like book (the BTCUSDT-perp calm
        # profile, ~$300M within 1 %) plus a $200M-a-side pool for WETH; LSTs arbitraged
        # against ETH (square-root law, $5B volume scale); WBTC half the BTC book.
        venues = {
            "WETH": Router.of([
                OrderBookVenue.from_calibration("calm", "WETH", px["WETH"], 1.0),
                ConstantProductPool.from_price_depth("WETH", px["WETH"], 200e6),
            ]),
            "wstETH": PowerLawImpact("wstETH", px["wstETH"], 5e9, coefficient=0.2, permanent=0.5),
            "WBTC": OrderBookVenue.from_calibration("calm", "WBTC", px["WBTC"], 0.5),
        }
    else:
        # thin: a $60M pool for WETH, $30M for wstETH, $40M for WBTC -- the cascade
        # sells everything it can (the heaviest case for the engine)
        venues = {
            "WETH": ConstantProductPool.from_price_depth("WETH", px["WETH"], 60e6),
            "wstETH": ConstantProductPool.from_price_depth("wstETH", px["wstETH"], 30e6),
            "WBTC": ConstantProductPool.from_price_depth("WBTC", px["WBTC"], 40e6),
        }
    return MarketModel(book, AaveV3Rules(params, V3_3), prices, venues)
