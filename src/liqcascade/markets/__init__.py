"""Venues and price impact. Knows nothing of protocols."""

from liqcascade.markets.base import Venue

__all__ = ["Venue"]
