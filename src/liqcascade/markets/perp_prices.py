"""Index, mark and oracle prices of a perpetual, as separate series (functions over arrays).

- **Index**: the median of the spot venues' prices at each time, as dYdX v4's price daemon forms a
  market's index price — the median of the exchanges' latest prices
  (``exchangeToMarketPrices.GetIndexPrice(..., &lib.MedianizerImpl{})`` in
  dydxprotocol/v4-chain @0e8b4c42, ``protocol/daemons/pricefeed/client/price_encoder/price_encoder.go``;
  an even count takes the mean of the two middle prices, ``MedianUint64`` in
  ``protocol/lib/math.go`` @ab381413, there rounded up to an integer price tick). A venue with no
  price at a time (NaN) is left out; a time with fewer than ``min_venues`` prices has no index
  (NaN), as the daemon reports no index below a market's ``MinExchanges``. (Binance's index is a
  volume-weighted mean of spot exchanges instead; with equal venues both are the centre.)
- **Mark** (Binance USDⓈ-M and COIN-M perpetuals, "Mark Price in USDⓈ-M futures",
  https://www.binance.com/en/support/faq/360033525071, and the announcement of 2025-09-16 that
  shortened the basis average to 30 s from 2025-09-18 08:01 UTC): ``mark = median(Price 1,
  Price 2, last price)`` with ``Price 1 = index·(1 + last funding rate·time until funding /
  funding interval)`` and ``Price 2 = index + moving average of (mid-of-book − index)`` over the
  last 30 one-second samples.
- **Oracle**: the price a margin engine reads, updated on its own cadence: at ``t0 + k·cadence``
  it reads the source series and publishes the value ``delay`` seconds later; between updates it
  holds (Hyperliquid publishes its oracle about every 3 s, dYdX with every block).
"""

from __future__ import annotations

import math

import numpy as np

from liqcascade._typing import FloatArray
from liqcascade.errors import ConfigError

__all__ = ["index_price", "binance_mark_price", "basis_moving_average", "oracle_price"]


def _array(x, key: str, ndim: int) -> FloatArray:
    a = np.asarray(x, dtype=float)
    if a.ndim != ndim:
        raise ConfigError("<python>", key, f"a {ndim}-d array", a.shape)
    return a


def index_price(spot_prices, min_venues: int = 1) -> FloatArray:
    """Median over venues (columns) of ``spot_prices`` (times × venues) at each time (row).

    NaN entries are venues without a price then; rows with fewer than ``min_venues`` prices give NaN.
    """
    p = _array(spot_prices, "spot_prices", 2)
    if not (isinstance(min_venues, int) and min_venues >= 1):
        raise ConfigError("<python>", "min_venues", "an integer >= 1", min_venues)
    bad = ~np.isnan(p) & ~(p > 0.0) | np.isinf(p)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise ConfigError("<python>", f"spot_prices[{r}, {c}]", "a finite price > 0 (NaN: no price)", p[r, c])
    have = (~np.isnan(p)).sum(axis=1)
    out = np.full(p.shape[0], np.nan)
    ok = have >= min_venues
    if ok.any():
        out[ok] = np.nanmedian(p[ok], axis=1)
    return out


def basis_moving_average(index, book_mid, window: int = 30) -> FloatArray:
    """Mean of ``book_mid − index`` over the last ``window`` samples, this one included (fewer at
    the start of the series: over those there are)."""
    i = _array(index, "index", 1)
    m = _array(book_mid, "book_mid", 1)
    if i.shape != m.shape:
        raise ConfigError("<python>", "book_mid", f"the shape of index {i.shape}", m.shape)
    if not (isinstance(window, int) and window >= 1):
        raise ConfigError("<python>", "window", "an integer >= 1 (samples)", window)
    c = np.cumsum(np.r_[0.0, m - i])
    n = np.arange(1, len(i) + 1)
    lo = np.maximum(n - window, 0)
    return (c[n] - c[lo]) / (n - lo)


def binance_mark_price(
    index,
    book_mid,
    last_price,
    funding_rate,
    time_to_funding_s,
    funding_interval_s: float = 8 * 3600.0,
    window: int = 30,
) -> FloatArray:
    """Binance's perpetual mark price per sample (one a second): median of Price 1, Price 2 and
    the last price (see the module docstring). ``funding_rate``: the last funding rate per interval
    (0.0001 = 0.01 %); ``time_to_funding_s``: seconds to the next funding, per sample."""
    i = _array(index, "index", 1)
    n = len(i)
    last = _array(np.broadcast_to(last_price, (n,)), "last_price", 1)
    rate = _array(np.broadcast_to(funding_rate, (n,)), "funding_rate", 1)
    ttf = _array(np.broadcast_to(time_to_funding_s, (n,)), "time_to_funding_s", 1)
    if not (funding_interval_s > 0.0 and math.isfinite(funding_interval_s)):
        raise ConfigError("<python>", "funding_interval_s", "a finite interval > 0 (s)", funding_interval_s)
    if np.any((ttf < 0) | (ttf > funding_interval_s)):
        raise ConfigError("<python>", "time_to_funding_s", f"in [0, {funding_interval_s}]", None)
    price_1 = i * (1.0 + rate * ttf / funding_interval_s)
    price_2 = i + basis_moving_average(i, book_mid, window)
    return np.median(np.vstack([price_1, price_2, last]), axis=0)


def oracle_price(times, prices, cadence_s: float, delay_s: float = 0.0, start_s: float | None = None) -> FloatArray:
    """The oracle at each of ``times`` (s, non-decreasing): the source ``prices`` as read at the last
    update ``start_s + k·cadence_s`` whose publication (``delay_s`` later) is at or before the time;
    ``prices[0]`` before the first publication. Reading at an update time takes the last source
    sample at or before it."""
    t = _array(times, "times", 1)
    p = _array(prices, "prices", 1)
    if t.shape != p.shape or len(t) == 0:
        raise ConfigError("<python>", "prices", f"the shape of times {t.shape} (>= 1 sample)", p.shape)
    if np.any(np.diff(t) < 0):
        raise ConfigError("<python>", "times", "non-decreasing", None)
    if not (cadence_s > 0.0 and math.isfinite(cadence_s)):
        raise ConfigError("<python>", "cadence_s", "a finite cadence > 0 (s)", cadence_s)
    if not (delay_s >= 0.0 and math.isfinite(delay_s)):
        raise ConfigError("<python>", "delay_s", "a finite delay >= 0 (s)", delay_s)
    t0 = float(t[0]) if start_s is None else float(start_s)
    # the last update whose publication is visible at each time
    k = np.floor((t - delay_s - t0) / cadence_s + 1e-9)
    read_at = t0 + k * cadence_s
    src = np.searchsorted(t, read_at + 1e-9, side="right") - 1
    visible = (k >= 0) & (src >= 0)
    return np.where(visible, p[np.clip(src, 0, None)], p[0])
