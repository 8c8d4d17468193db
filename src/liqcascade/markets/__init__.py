"""Venues and price impact. Knows nothing of protocols."""

from liqcascade.markets.base import QuotesBuy, Requotes, Venue, VenueCapabilities
from liqcascade.markets.cpmm import ConstantProductPool
from liqcascade.markets.impact import PowerLawImpact
from liqcascade.markets.orderbook import (
    DepthCurve,
    OrderBookVenue,
    load_depth_file,
    median_book_depth,
    shipped_depth,
)
from liqcascade.markets.oracle import ChainlinkPush, Instant, MakerOSM, Oracle, OracleTrace, Twap
from liqcascade.markets.router import RouteResult, Router
from liqcascade.markets.univ3 import UniswapV3Venue, V3PoolState, ethwbtc_pool

__all__ = [
    "Venue",
    "VenueCapabilities",
    "QuotesBuy",
    "Requotes",
    "ConstantProductPool",
    "PowerLawImpact",
    "DepthCurve",
    "OrderBookVenue",
    "median_book_depth",
    "load_depth_file",
    "shipped_depth",
    "Router",
    "RouteResult",
    "V3PoolState",
    "UniswapV3Venue",
    "ethwbtc_pool",
    "Oracle",
    "OracleTrace",
    "Instant",
    "ChainlinkPush",
    "Twap",
    "MakerOSM",
]
