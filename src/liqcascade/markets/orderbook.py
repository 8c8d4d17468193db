"""Order-book depth as a venue, and its calibration from Binance ``bookDepth`` snapshots.

A :class:`DepthCurve` is one side of a book, as exchanges publish it: the cumulative
numeraire notional resting within a fraction ``f`` of the mid (``f = 0.01`` is 1 %), given
at knots ``f_1 < … < f_K`` and linear in ``f`` between them (``N(0) = 0``).

**Extrapolation** beyond the last knot: the last segment's density ``dN/df`` continues
unchanged (down to price zero on the bid side, without bound on the ask side). If the last
segment is flat the curve's average density ``N_K / f_K`` is used instead, so a curve never
ends in a wall of zero liquidity.

**Walking the book.** On the bid side the price at depth ``f`` is ``p_ref·(1 − f)``; a
segment with density ``s = dN/df`` holds ``dq = dN / p = s·df / (p_ref·(1 − f))`` tokens, so

    tokens to reach f within a segment:   q = (s / p_ref) · ln((1 − f_a) / (1 − f))
    proceeds (notional consumed):          N(f) − N(f_a) = s · (f − f_a)

which is exactly the integral of price over the tokens sold. The ask side is the mirror,
``p = p_ref·(1 + g)`` and ``q = (a / p_ref) · ln((1 + g) / (1 + g_a))``. A flat segment
(``s = 0``) holds no tokens: the price gaps through it.

**State.** :class:`OrderBookVenue` treats the two curves as one static liquidity profile
around the reference mid ``p_ref``; its state is ``net_sold``, the tokens sold into the
profile since it was centred (negative after net buying). Trades move along the profile, so
the venue is path-independent (selling in two chunks equals selling at once), has no
spread, and buying back what was sold restores the price at the same cost. Consumed bids
do not refill over time; :meth:`OrderBookVenue.with_mid_price` re-centres the whole
profile at the new price (market makers re-quote the same depth, in numeraire, around it).

**Scale.** Depth is in numeraire notional and the curve is relative to mid, so a curve
measured on BTC applies to any asset; ``scale`` multiplies every notional (e.g. 0.1 for an
asset with a tenth of BTC's book).

Shipped calibrations (``src/liqcascade/data/depth/``): ``"calm"`` (2025-10-10 00:00–16:00
UTC) and ``"crash"`` (20:50–21:30 UTC), medians of Binance USDⓈ-M BTCUSDT ``bookDepth``
snapshots, via aaronwu2017/TheGlory @929fd9c (see ``ATTRIBUTION-markets.md``).
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import ClassVar

import numpy as np

from liqcascade._typing import FloatArray
from liqcascade.errors import ConfigError, DataError
from liqcascade.markets.base import VenueCapabilities

__all__ = [
    "DepthCurve",
    "DepthSegments",
    "OrderBookVenue",
    "median_book_depth",
    "load_depth_file",
    "write_depth_file",
    "shipped_depth",
    "SHIPPED_DEPTH",
]

SHIPPED_DEPTH = ("calm", "crash")
"""Names of the calibrations shipped in ``liqcascade/data/depth/btcusdt_<name>.csv``."""


def _check_amount(amount: float) -> float:
    amount = float(amount)
    if not (amount >= 0.0 and math.isfinite(amount)):
        raise ConfigError("<python>", "amount", "a finite amount >= 0", amount)
    return amount


@dataclass(frozen=True)
class DepthCurve:
    """Cumulative notional (numeraire) within ``fractions`` of mid, one side of a book.

    ``fractions`` strictly increasing in (0, 1) (bid side needs < 1), ``notional``
    non-decreasing and ≥ 0, both of the same length ≥ 1.
    """

    fractions: tuple[float, ...]
    notional: tuple[float, ...]

    def __post_init__(self) -> None:
        f = tuple(float(v) for v in self.fractions)
        n = tuple(float(v) for v in self.notional)
        object.__setattr__(self, "fractions", f)
        object.__setattr__(self, "notional", n)
        if len(f) == 0 or len(f) != len(n):
            raise ConfigError("<python>", "DepthCurve", "fractions and notional of equal length >= 1", (f, n))
        prev_f, prev_n = 0.0, 0.0
        for i, (fi, ni) in enumerate(zip(f, n)):
            if not (prev_f < fi < 1.0):
                raise ConfigError("<python>", f"DepthCurve.fractions[{i}]", "strictly increasing in (0, 1)", fi)
            if not (ni >= prev_n and math.isfinite(ni)):
                raise ConfigError("<python>", f"DepthCurve.notional[{i}]", "finite, non-decreasing, >= 0", ni)
            prev_f, prev_n = fi, ni
        if n[-1] <= 0.0:
            raise ConfigError("<python>", "DepthCurve.notional", "some depth > 0", n)

    def scaled(self, factor: float) -> "DepthCurve":
        """The same shape with every notional multiplied by ``factor`` (> 0)."""
        if not (factor > 0.0 and math.isfinite(factor)):
            raise ConfigError("<python>", "scale", "a finite factor > 0", factor)
        return DepthCurve(self.fractions, tuple(v * factor for v in self.notional))

    def tail_density(self) -> float:
        """``dN/df`` beyond the last knot (see the module docstring)."""
        f, n = self.fractions, self.notional
        if len(f) >= 2 and n[-1] > n[-2]:
            return (n[-1] - n[-2]) / (f[-1] - f[-2])
        return n[-1] / f[-1]

    def notional_within(self, fraction: float) -> float:
        """Cumulative notional within ``fraction`` of mid (interpolated/extrapolated)."""
        fr = float(fraction)
        if fr <= 0.0:
            return 0.0
        f, n = self.fractions, self.notional
        if fr >= f[-1]:
            return n[-1] + self.tail_density() * (fr - f[-1])
        return float(np.interp(fr, (0.0,) + f, (0.0,) + n))

    def segments(self) -> tuple[tuple[float, float, float], ...]:
        """``(f_start, n_start, density)`` per segment, the tail last (open-ended); computed
        once per curve (every quote walks them, and the perp engine quotes thousands per step)."""
        cached = self.__dict__.get("_segments")
        if cached is None:
            cached = tuple(self._build_segments())
            object.__setattr__(self, "_segments", cached)
        return cached

    def _build_segments(self) -> list[tuple[float, float, float]]:
        f = (0.0,) + self.fractions
        n = (0.0,) + self.notional
        segs = [(f[i], n[i], (n[i + 1] - n[i]) / (f[i + 1] - f[i])) for i in range(len(f) - 1)]
        segs.append((f[-1], n[-1], self.tail_density()))
        return segs


# ---------------------------------------------------------------------- profile walks
# Bid side: q(f) = tokens sold from p_ref down to p_ref(1-f); c(f) = notional received.
# Ask side: r(g) = tokens bought from p_ref up to p_ref(1+g); c(g) = notional paid.


def _bid_from_tokens(curve: DepthCurve, p_ref: float, q: float) -> tuple[float, float]:
    """(price / p_ref, notional) after selling ``q`` ≥ 0 tokens down from p_ref.

    The price ratio ``1 − f`` is computed as a product (not ``1 − f``) so that it keeps
    its relative precision deep in the tail.
    """
    segs = curve.segments()
    q_a = 0.0
    for i, (f_a, n_a, s) in enumerate(segs):
        last = i == len(segs) - 1
        if s == 0.0:
            continue
        f_b = 1.0 if last else segs[i + 1][0]
        seg_q = math.inf if last else (s / p_ref) * math.log((1.0 - f_a) / (1.0 - f_b))
        if q <= q_a + seg_q:
            u = (q - q_a) * p_ref / s
            rel = (1.0 - f_a) * math.exp(-u)
            return rel, n_a - s * (1.0 - f_a) * math.expm1(-u)
        q_a += seg_q
    raise AssertionError("unreachable: the tail segment is unbounded")  # pragma: no cover


def _segment_end(curve: DepthCurve, f_a: float) -> float:
    for f in curve.fractions:
        if f > f_a:
            return f
    return math.inf


def _bid_tokens(curve: DepthCurve, p_ref: float, rel: float) -> float:
    """Tokens to walk the bid side from p_ref down to ``rel·p_ref`` (0 < rel ≤ 1)."""
    fraction = 1.0 - rel
    q = 0.0
    for f_a, _, s in curve.segments():
        if fraction <= f_a:
            break
        end = _segment_end(curve, f_a)
        if s > 0.0:
            log_b = math.log(rel) if fraction <= end else math.log1p(-end)
            q += (s / p_ref) * (math.log1p(-f_a) - log_b)
    return q


def _ask_from_tokens(curve: DepthCurve, p_ref: float, r: float) -> tuple[float, float]:
    """(price / p_ref, notional) after buying ``r`` ≥ 0 tokens up from p_ref (inf on overflow)."""
    segs = curve.segments()
    r_a = 0.0
    for i, (g_a, n_a, a) in enumerate(segs):
        last = i == len(segs) - 1
        if a == 0.0:
            continue
        g_b = math.inf if last else segs[i + 1][0]
        seg_r = math.inf if last else (a / p_ref) * math.log((1.0 + g_b) / (1.0 + g_a))
        if r <= r_a + seg_r:
            u = (r - r_a) * p_ref / a
            try:
                return (1.0 + g_a) * math.exp(u), n_a + a * (1.0 + g_a) * math.expm1(u)
            except OverflowError:
                return math.inf, math.inf
        r_a += seg_r
    raise AssertionError("unreachable: the tail segment is unbounded")  # pragma: no cover


def _ask_tokens(curve: DepthCurve, p_ref: float, rel: float) -> float:
    """Tokens to walk the ask side from p_ref up to ``rel·p_ref`` (rel ≥ 1)."""
    fraction = rel - 1.0
    r = 0.0
    for g_a, _, a in curve.segments():
        if fraction <= g_a:
            break
        end = _segment_end(curve, g_a)
        if a > 0.0:
            log_b = math.log(rel) if fraction <= end else math.log1p(end)
            r += (a / p_ref) * (log_b - math.log1p(g_a))
    return r


@dataclass(frozen=True)
class DepthSegments:
    """An :class:`OrderBookVenue`'s state as arrays, for compiled walks
    (``engine/perps_kernels_python.py``): per side, :meth:`DepthCurve.segments` of the scaled
    curve as start fraction, cumulative notional at the start and density ``dN/df``, the
    open-ended tail last; the reference mid and the tokens ``net_sold`` since centring."""

    reference_price: float
    net_sold: float
    bid_start: FloatArray
    bid_notional: FloatArray
    bid_density: FloatArray
    ask_start: FloatArray
    ask_notional: FloatArray
    ask_density: FloatArray


def _segment_arrays(curve: DepthCurve) -> tuple[FloatArray, FloatArray, FloatArray]:
    start, notional, density = zip(*curve.segments())
    return np.array(start), np.array(notional), np.array(density)


@dataclass(frozen=True)
class OrderBookVenue:
    """A static depth profile (bids below, asks above ``reference_price``) as a venue.

    ``net_sold`` is the state: tokens sold into the profile since it was centred at
    ``reference_price`` (negative after net buying). ``scale`` multiplies both curves'
    notional. ``asks`` defaults to the mirror image of ``bids``.
    """

    capabilities: ClassVar[VenueCapabilities] = VenueCapabilities(quotes_buy=True, requotes=True)

    asset: str
    reference_price: float
    bids: DepthCurve
    asks: DepthCurve | None = None
    scale: float = 1.0
    net_sold: float = 0.0

    def __post_init__(self) -> None:
        if not (self.reference_price > 0.0 and math.isfinite(self.reference_price)):
            raise ConfigError("<python>", "OrderBookVenue.reference_price", "a finite price > 0",
                              self.reference_price)
        if not (self.scale > 0.0 and math.isfinite(self.scale)):
            raise ConfigError("<python>", "OrderBookVenue.scale", "a finite factor > 0", self.scale)
        if self.asks is None:
            object.__setattr__(self, "asks", self.bids)
        object.__setattr__(self, "_bid", self.bids.scaled(self.scale) if self.scale != 1.0 else self.bids)
        asks = self.asks if self.asks is not None else self.bids
        object.__setattr__(self, "_ask", asks.scaled(self.scale) if self.scale != 1.0 else asks)

    # ----------------------------------------------------------------- constructors
    @classmethod
    def from_calibration(
        cls, name: str, asset: str, price: float, scale: float = 1.0
    ) -> "OrderBookVenue":
        """A venue with a shipped BTCUSDT calibration (``"calm"`` or ``"crash"``) centred at ``price``."""
        bids, asks = shipped_depth(name)
        return cls(asset, float(price), bids, asks, scale)

    # ----------------------------------------------------------------- profile coordinate
    def _state_at(self, q: float) -> tuple[float, float]:
        """(price, cash) at profile coordinate ``q``; cash = notional received since centring."""
        p0 = self.reference_price
        if q >= 0.0:
            rel, c = _bid_from_tokens(self._bid, p0, q)
            return p0 * rel, c
        rel, c = _ask_from_tokens(self._ask, p0, -q)
        return p0 * rel, -c

    def _q_at_price(self, price: float) -> float:
        """Profile coordinate at which the marginal price is ``price``."""
        p0 = self.reference_price
        if price <= 0.0:
            return math.inf
        if price <= p0:
            return _bid_tokens(self._bid, p0, price / p0)
        return -_ask_tokens(self._ask, p0, price / p0)

    # ----------------------------------------------------------------- Venue
    def mid_price(self) -> float:
        """Marginal price at the current state (the reference mid when ``net_sold == 0``)."""
        return self._state_at(self.net_sold)[0]

    def quote_sell(self, amount: float) -> float:
        """Notional received for selling ``amount`` tokens down the bid profile."""
        a = _check_amount(amount)
        if a == 0.0:
            return 0.0
        return self._state_at(self.net_sold + a)[1] - self._state_at(self.net_sold)[1]

    def sell(self, amount: float) -> tuple[float, "OrderBookVenue"]:
        proceeds = self.quote_sell(amount)
        if amount == 0.0:
            return 0.0, self
        return proceeds, replace(self, net_sold=self.net_sold + float(amount))

    def quote_buy(self, amount: float) -> float:
        """Notional paid to buy ``amount`` tokens up the profile (inf on overflow)."""
        a = _check_amount(amount)
        if a == 0.0:
            return 0.0
        return self._state_at(self.net_sold)[1] - self._state_at(self.net_sold - a)[1]

    def buy(self, amount: float) -> tuple[float, "OrderBookVenue"]:
        cost = self.quote_buy(amount)
        if amount == 0.0:
            return 0.0, self
        return cost, replace(self, net_sold=self.net_sold - float(amount))

    def amount_to_price(self, price: float) -> float:
        """Tokens to sell until the marginal price is ``price`` (closed form per segment)."""
        p = float(price)
        if p >= self.mid_price():
            return 0.0
        return max(self._q_at_price(p) - self.net_sold, 0.0)

    def buy_price(self) -> float:
        """Marginal purchase price: the same as ``mid_price()`` (no spread in the profile)."""
        return self.mid_price()

    def amount_to_buy_price(self, price: float) -> float:
        """Tokens to buy until the marginal price is ``price`` (0 if already at or above)."""
        p = float(price)
        if p <= self.mid_price():
            return 0.0
        if math.isinf(p):
            return math.inf
        return max(self.net_sold - self._q_at_price(p), 0.0)

    def depth_segments(self) -> DepthSegments:
        """The profile and state as arrays (see :class:`DepthSegments`)."""
        return DepthSegments(self.reference_price, self.net_sold, *_segment_arrays(self._bid),
                             *_segment_arrays(self._ask))

    def with_net_sold(self, net_sold: float) -> "OrderBookVenue":
        """The same profile with ``net_sold`` tokens sold into it since centring (what selling
        or buying the difference gives: the venue is path-independent)."""
        return replace(self, net_sold=float(net_sold))

    def with_mid_price(self, price: float) -> "OrderBookVenue":
        """The full profile re-centred at ``price`` (fresh depth, ``net_sold = 0``)."""
        p = float(price)
        if not (p > 0.0 and math.isfinite(p)):
            raise ConfigError("<python>", "price", "a finite price > 0", p)
        return replace(self, reference_price=p, net_sold=0.0)


# ---------------------------------------------------------------------- calibration
_BOOKDEPTH_COLUMNS = ("timestamp", "percentage", "depth", "notional")


def median_book_depth(
    path: str | Path, start: str | None = None, end: str | None = None
) -> tuple[DepthCurve, DepthCurve]:
    """Median (bid, ask) depth curves of a Binance ``bookDepth`` CSV over ``[start, end)``.

    The file has one row per (snapshot, percentage) with ``percentage`` in −5…−1 (bids)
    and 1…5 (asks) and ``notional`` the cumulative USDT within that percentage of mid.
    ``start``/``end`` are timestamps comparable to the file's (``"2025-10-10 16:00"``); the
    median is taken per percentage over the snapshots in the window. Medians of curves
    that are each non-decreasing are themselves non-decreasing, so the result is a valid
    curve. Raises :class:`DataError` naming the row and column of a bad value.
    """
    import pandas as pd

    path = Path(path)
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError) as e:
        raise DataError(str(path), None, f"cannot read as CSV: {e}") from e
    missing = [c for c in _BOOKDEPTH_COLUMNS if c not in df.columns]
    if missing:
        raise DataError(str(path), None, f"missing column(s) {missing}; expected {list(_BOOKDEPTH_COLUMNS)}")
    ts = pd.to_datetime(df["timestamp"].str.strip(), errors="coerce", format="mixed")
    bad = ts.isna().to_numpy()
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(str(path), i + 1, f"column 'timestamp': not a timestamp: {df['timestamp'].iloc[i]!r}")
    cols = {}
    for c in ("percentage", "notional"):
        v = pd.to_numeric(df[c], errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(v) | ((v < 0) if c == "notional" else (v == 0))
        if bad.any():
            i = int(np.argmax(bad))
            raise DataError(str(path), i + 1, f"column {c!r}: bad value {df[c].iloc[i]!r}")
        cols[c] = v
    keep = np.ones(len(df), dtype=bool)
    if start is not None:
        keep &= (ts >= pd.Timestamp(start)).to_numpy()
    if end is not None:
        keep &= (ts < pd.Timestamp(end)).to_numpy()
    if not keep.any():
        raise DataError(str(path), None, f"no snapshot in the window [{start}, {end})")
    sub = pd.DataFrame({"pct": cols["percentage"][keep], "notional": cols["notional"][keep]})
    med = sub.groupby("pct")["notional"].median()
    bid = med[med.index < 0].sort_index(ascending=False)
    ask = med[med.index > 0].sort_index()
    if bid.empty or ask.empty:
        raise DataError(str(path), None, "need both bid (percentage < 0) and ask (> 0) rows")
    return (
        DepthCurve(tuple(-bid.index.to_numpy() / 100.0), tuple(bid.to_numpy())),
        DepthCurve(tuple(ask.index.to_numpy() / 100.0), tuple(ask.to_numpy())),
    )


_DEPTH_FILE_COLUMNS = ("side", "fraction", "notional_usd")


def write_depth_file(
    path: str | Path, bids: DepthCurve, asks: DepthCurve, comments: tuple[str, ...] = ()
) -> None:
    """Write a depth file: ``# comment`` lines, then ``side,fraction,notional_usd`` rows."""
    with open(path, "w", newline="") as fh:
        for line in comments:
            fh.write(f"# {line}\n")
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(_DEPTH_FILE_COLUMNS)
        for side, curve in (("bid", bids), ("ask", asks)):
            for f, n in zip(curve.fractions, curve.notional):
                w.writerow([side, repr(f), repr(n)])


def load_depth_file(path: str | Path) -> tuple[DepthCurve, DepthCurve]:
    """Read a depth file written by :func:`write_depth_file` → (bids, asks).

    Lines starting with ``#`` are comments. Rows: ``side`` (``bid``/``ask``), ``fraction``
    (of mid, in (0, 1), increasing within a side) and ``notional_usd`` (cumulative,
    non-decreasing). Any bad row raises :class:`DataError` with its 1-based data-row number
    and column.
    """
    path_s = str(path)
    try:
        text = Path(path).read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(path_s, None, f"cannot read: {e}") from e
    return _parse_depth_text(text, path_s)


def _parse_depth_text(text: str, path_s: str) -> tuple[DepthCurve, DepthCurve]:
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        raise DataError(path_s, None, "empty depth file")
    rows = list(csv.reader(lines))
    header = [h.strip() for h in rows[0]]
    if tuple(header) != _DEPTH_FILE_COLUMNS:
        raise DataError(path_s, None, f"header {header}; expected {list(_DEPTH_FILE_COLUMNS)}")
    sides: dict[str, tuple[list[float], list[float]]] = {"bid": ([], []), "ask": ([], [])}
    for i, row in enumerate(rows[1:], start=1):
        if len(row) != 3:
            raise DataError(path_s, i, f"expected 3 columns {list(_DEPTH_FILE_COLUMNS)}, got {len(row)}")
        side = row[0].strip()
        if side not in sides:
            raise DataError(path_s, i, f"column 'side': expected 'bid' or 'ask', got {side!r}")
        fr_list, n_list = sides[side]
        try:
            fr = float(row[1])
        except ValueError:
            raise DataError(path_s, i, f"column 'fraction': not a number: {row[1]!r}") from None
        try:
            n = float(row[2])
        except ValueError:
            raise DataError(path_s, i, f"column 'notional_usd': not a number: {row[2]!r}") from None
        prev_f = fr_list[-1] if fr_list else 0.0
        if not (prev_f < fr < 1.0):
            raise DataError(path_s, i, f"column 'fraction': {fr} must be in ({prev_f}, 1) for side {side}")
        prev_n = n_list[-1] if n_list else 0.0
        if not (math.isfinite(n) and n >= prev_n):
            raise DataError(path_s, i, f"column 'notional_usd': {n} must be finite and >= {prev_n} "
                            f"(cumulative depth) for side {side}")
        fr_list.append(fr)
        n_list.append(n)
    for side, (fr_list, n_list) in sides.items():
        if not fr_list or n_list[-1] <= 0.0:
            raise DataError(path_s, None, f"side {side!r}: needs at least one row with notional_usd > 0")
    return (
        DepthCurve(tuple(sides["bid"][0]), tuple(sides["bid"][1])),
        DepthCurve(tuple(sides["ask"][0]), tuple(sides["ask"][1])),
    )


def shipped_depth(name: str) -> tuple[DepthCurve, DepthCurve]:
    """The shipped BTCUSDT calibration ``name`` (``"calm"`` or ``"crash"``) → (bids, asks)."""
    if name not in SHIPPED_DEPTH:
        raise ConfigError("<python>", "depth", f"one of {list(SHIPPED_DEPTH)}", name)
    res = resources.files("liqcascade").joinpath("data", "depth", f"btcusdt_{name}.csv")
    return _parse_depth_text(res.read_text(), f"liqcascade/data/depth/btcusdt_{name}.csv")
