"""Order-book depth that moves in time, fitted to Binance BTCUSDT ``bookDepth`` of 2025-10-10.

**The model.** The book at time ``t`` is the calm profile scaled uniformly by ``exp(-x(t))``:
``N_k(t) = N_k^calm · exp(-x(t))`` for every distance ``k`` from mid and both sides. ``x`` is the
*depth stress* (0 calm; ``x = ln 10`` is a book ten times thinner). Per one-minute bar

    x_next = a · x + κ · |r|          (r: the bar's log return; a = 2^(-60 s / half_life))

so depth collapses when the price moves and recovers geometrically with ``half_life`` when it
stops. For a step of ``dt`` seconds the decay is ``2^(-dt / half_life)`` and the jump ``κ·|r|``
with ``r`` the step's log return (``|r|`` adds sub-linearly over sub-steps, so the fit holds at
one minute; finer steps see slightly less collapse for the same path).

**The data and its one flaw.** The ``bookDepth`` feed gives cumulative notional within ±1…5 % of
a reference mid every ~30 s. From 14:52 UTC on 2025-10-10 one bid of 17.65 BTC at 121 363.66 USDT
(2 142 547 USDT) stays in every snapshot while the price trades below it — a bid above the mid,
which a live book cannot hold (its weighted price, 121 364, is above the mid all evening). The
feed then measures both sides from the mid of that stale bid and the true best ask,
``m_b = (121 363.66 + m) / 2``, not from the true mid ``m``. Read naively the bid side shows
2.14 M USDT within 1 % all evening (the ">100× collapse"): that is the stale bid alone.
:func:`clean_book_depth` undoes it: it subtracts the stale bid and re-maps each bucket to its true
distance from ``m`` (bid ``1 − m_b(1 − k)/m``, ask ``m_b(1 + k)/m − 1``), then interpolates the
cumulative curve at 1…5 % (linear from zero, as :class:`~liqcascade.markets.orderbook.DepthCurve`
does; a distance beyond the deepest re-mapped bucket is unobserved, NaN). The true mid ``m`` is
the Binance COIN-M BTCUSD perpetual 1-minute price kline interpolated to the snapshot (a
different contract; their basis is far below the 1 % grid). Evidence for the reading: the cleaned
bid depth within 1 % is continuous across 14:52 where the contamination starts (see
docs/perps.md).

Shipped fit: ``liqcascade/data/depth/btcusdt_dynamics_2025-10-10.json`` (see
``ATTRIBUTION-markets.md``), rebuilt by ``python -m liqcascade.markets.perp_depth DEPTH PRICE``.
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from liqcascade._typing import FloatArray
from liqcascade.errors import ConfigError, DataError
from liqcascade.markets.orderbook import DepthCurve

__all__ = [
    "FRACTIONS",
    "STALE_BID",
    "StaleBid",
    "CleanDepth",
    "DepthDynamics",
    "DepthFit",
    "DepthScore",
    "score_depth_dynamics",
    "clean_book_depth",
    "depth_stress",
    "fit_depth_dynamics",
    "stress_path",
    "shipped_dynamics",
    "load_dynamics",
    "write_dynamics",
]

FRACTIONS = (0.01, 0.02, 0.03, 0.04, 0.05)
"""Distances from mid of the ``bookDepth`` buckets (±1…5 %)."""

CALM_END = "2025-10-10 16:00"
"""The calm window is every snapshot before this time (UTC), as for the shipped 'calm' depth."""


@dataclass(frozen=True)
class StaleBid:
    """A bid the feed keeps while the price trades below it (see the module docstring)."""

    price: float
    notional_usd: float


STALE_BID = StaleBid(price=121363.66, notional_usd=2142547.0931)
"""The 2025-10-10 stale bid: 17.654 BTC whose notional is 2 142 547.0931 USDT in 440 snapshots
(2 142 311.3113 for 17.652 BTC in 512 more), i.e. 121 363.66 USDT per BTC."""


@dataclass(frozen=True)
class CleanDepth:
    """Cleaned cumulative depth per snapshot (rows) at :data:`FRACTIONS` (columns), USDT; NaN unobserved."""

    times: np.ndarray
    """Unix seconds (int64) of each snapshot."""
    mid: FloatArray
    """The true mid used (USD)."""
    bid: FloatArray
    ask: FloatArray
    contaminated: np.ndarray
    """True where the stale bid was in the snapshot (see :func:`_stale_runs`)."""


@dataclass(frozen=True)
class DepthFit:
    """The fitted depth dynamics and how well they fit (one-minute bars)."""

    dynamics: "DepthDynamics"
    rmse: float
    """Root mean square error of the prediction of ``x`` over ``horizon_min`` minutes."""
    r2_change: float
    """Share of the variance of the change of ``x`` over ``horizon_min`` minutes the model explains."""
    shape_rms: float
    """Median over snapshots of the RMS of ``ln(N_k / N_k^calm) + x`` over observed buckets: how far
    the book's shape departs from uniform scaling (log units)."""
    n_minutes: int
    """Number of horizons fitted (one starting at each minute where both ends are observed)."""
    horizon_min: int
    crash_stress: float
    """Median ``x`` over 20:50–21:30 UTC (the shipped 'crash' window)."""
    max_stress: float
    max_stress_time: int
    """Unix seconds of the snapshot with the largest ``x``."""


@dataclass(frozen=True)
class DepthDynamics:
    """Calm profile, stress decay and stress per unit absolute log return."""

    bids: DepthCurve
    asks: DepthCurve
    half_life_s: float
    kappa: float
    crash_stress: float = 0.0
    """The stress of the crash regime (for :meth:`profile` of ``"crash"``)."""

    def __post_init__(self) -> None:
        for name in ("half_life_s", "kappa", "crash_stress"):
            v = getattr(self, name)
            ok = math.isfinite(v) and (v > 0.0 if name == "half_life_s" else v >= 0.0)
            if not ok:
                raise ConfigError("<python>", f"DepthDynamics.{name}", "finite, > 0 (half-life) or >= 0", v)

    def profile(self, stress: float) -> tuple[DepthCurve, DepthCurve]:
        """(bids, asks) at depth stress ``stress`` (calm scaled by ``exp(-stress)``)."""
        s = _check_stress(stress)
        if s == 0.0:
            return self.bids, self.asks
        f = math.exp(-s)
        return self.bids.scaled(f), self.asks.scaled(f)

    def step(self, stress: float, dt_s: float, log_return: float) -> float:
        """Stress after ``dt_s`` seconds in which the price moved by ``log_return``."""
        s = _check_stress(stress)
        if not (dt_s >= 0.0 and math.isfinite(dt_s)):
            raise ConfigError("<python>", "dt_s", "a finite time step >= 0 (seconds)", dt_s)
        if not math.isfinite(log_return):
            raise ConfigError("<python>", "log_return", "a finite log return", log_return)
        return s * 2.0 ** (-dt_s / self.half_life_s) + self.kappa * abs(log_return)


def _check_stress(stress: float) -> float:
    s = float(stress)
    if not (s >= 0.0 and math.isfinite(s)):
        raise ConfigError("<python>", "stress", "a finite depth stress >= 0", s)
    return s


def stress_path(dyn: DepthDynamics, times: FloatArray, prices: FloatArray, x0: float = 0.0) -> FloatArray:
    """Stress at each of ``times`` (seconds, increasing) driven by ``prices`` (> 0), from ``x0``."""
    t = np.asarray(times, dtype=float)
    p = np.asarray(prices, dtype=float)
    if t.shape != p.shape or t.ndim != 1 or len(t) == 0:
        raise ConfigError("<python>", "times/prices", "two 1-d arrays of the same length >= 1", (t.shape, p.shape))
    if not (np.all(p > 0) and np.all(np.isfinite(p))):
        raise ConfigError("<python>", "prices", "finite prices > 0", None)
    if np.any(np.diff(t) < 0):
        raise ConfigError("<python>", "times", "non-decreasing", None)
    out = np.empty(len(t))
    x = _check_stress(x0)
    out[0] = x
    for i in range(1, len(t)):
        x = dyn.step(x, float(t[i] - t[i - 1]), math.log(p[i] / p[i - 1]))
        out[i] = x
    return out


# ---------------------------------------------------------------------- cleaning and fit


def _read_price_kline(path: Path) -> tuple[FloatArray, FloatArray]:
    """(times s, prices) of a Binance kline: each minute's open at its start and close at its end."""
    import pandas as pd

    try:
        k = pd.read_csv(path)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError) as e:
        raise DataError(str(path), None, f"cannot read as CSV: {e}") from e
    for c in ("open_time", "open", "close"):
        if c not in k.columns:
            raise DataError(str(path), None, f"missing column {c!r}; expected a Binance kline with open_time (ms)")
    t0 = pd.to_numeric(k["open_time"], errors="coerce").to_numpy(float) / 1000.0
    o = pd.to_numeric(k["open"], errors="coerce").to_numpy(float)
    c = pd.to_numeric(k["close"], errors="coerce").to_numpy(float)
    bad = ~(np.isfinite(t0) & (o > 0) & (c > 0))
    if bad.any():
        raise DataError(str(path), int(np.argmax(bad)) + 1, "open_time, open and close must be numbers, prices > 0")
    if np.any(np.diff(t0) <= 0):
        raise DataError(str(path), int(np.argmax(np.diff(t0) <= 0)) + 2, "open_time must increase")
    times = np.column_stack([t0, t0 + 60.0]).ravel()
    return times, np.column_stack([o, c]).ravel()


def _pivot_depth(path: Path):
    import pandas as pd

    try:
        df = pd.read_csv(path)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError) as e:
        raise DataError(str(path), None, f"cannot read as CSV: {e}") from e
    for c in ("timestamp", "percentage", "depth", "notional"):
        if c not in df.columns:
            raise DataError(str(path), None, f"missing column {c!r}; expected a Binance bookDepth file")
    ts = pd.to_datetime(df["timestamp"].astype(str).str.strip(), errors="coerce", format="mixed")
    if ts.isna().any():
        raise DataError(str(path), int(np.argmax(ts.isna().to_numpy())) + 1, "column 'timestamp': not a timestamp")
    df = df.assign(timestamp=ts)
    piv = df.pivot_table(index="timestamp", columns="percentage", values="notional", aggfunc="first")
    tokens = df.pivot_table(index="timestamp", columns="percentage", values="depth", aggfunc="first")
    want = [-100 * f for f in FRACTIONS] + [100 * f for f in FRACTIONS]
    missing = [p for p in want if p not in piv.columns]
    if missing:
        raise DataError(str(path), None, f"no rows with percentage {missing}; expected -5..-1 and 1..5")
    piv = piv[want]
    if piv.isna().any().any():
        when = piv.index[piv.isna().any(axis=1).to_numpy()][0]
        raise DataError(str(path), None, f"snapshot {when} lacks some of the percentages -5..-1, 1..5")
    times = piv.index.to_numpy().astype("datetime64[s]").astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        vwap_1 = (piv[want[0]] / tokens[want[0]]).to_numpy(float)  # average price of the bids within 1 %
    return times, piv.to_numpy(float), vwap_1


def _remap(fr: FloatArray, notional: FloatArray) -> FloatArray:
    """Cumulative depth at FRACTIONS from buckets re-mapped to true distances ``fr`` (NaN beyond)."""
    f = np.asarray(FRACTIONS)
    ok = fr > 0.0
    xs = np.r_[0.0, fr[ok]]
    ys = np.r_[0.0, np.maximum.accumulate(np.maximum(notional[ok], 0.0))]
    return np.where(f <= xs[-1], np.interp(f, xs, ys), np.nan)


def _stale_runs(below: np.ndarray, crossed: np.ndarray) -> np.ndarray:
    """Snapshots holding the stale bid: each maximal run of snapshots with the mid below its price
    that contains a *crossed* one (bids within 1 % averaging above the mid, which no live bid can).
    The whole run, because the feed's reference shifts as soon as the price falls below the stale
    bid, before the bid dominates its bucket (on 2025-10-10 the run starts at 14:52:02, the first
    crossed snapshot is at 15:24:33)."""
    out = np.zeros(len(below), dtype=bool)
    edges = np.flatnonzero(np.diff(np.r_[0, below.astype(np.int8), 0]))
    for start, stop in zip(edges[::2], edges[1::2]):
        if crossed[start:stop].any():
            out[start:stop] = True
    return out


def clean_book_depth(depth_path: str | Path, price_path: str | Path, stale: StaleBid = STALE_BID) -> CleanDepth:
    """The ``bookDepth`` file cleaned of ``stale`` (see the module docstring), mids from ``price_path``."""
    times, raw, vwap_1 = _pivot_depth(Path(depth_path))
    kt, kp = _read_price_kline(Path(price_path))
    if times[0] < kt[0] or times[-1] > kt[-1]:
        raise DataError(str(price_path), None, "the price kline does not cover the depth file's snapshots")
    mid = np.interp(times.astype(float), kt, kp)
    cont = _stale_runs(mid < stale.price, vwap_1 > mid)
    mb = np.where(cont, 0.5 * (stale.price + mid), mid)
    f = np.asarray(FRACTIONS)
    bid = np.empty((len(times), len(f)))
    ask = np.empty_like(bid)
    for i in range(len(times)):
        nb = raw[i, : len(f)] - (stale.notional_usd if cont[i] else 0.0)
        bid[i] = _remap(1.0 - mb[i] * (1.0 - f) / mid[i], nb)
        ask[i] = _remap(mb[i] * (1.0 + f) / mid[i] - 1.0, raw[i, len(f):])
    return CleanDepth(times, mid, bid, ask, cont)


def _calm_curves(clean: CleanDepth, calm_end: int) -> tuple[DepthCurve, DepthCurve]:
    calm = clean.times < calm_end
    b = np.nanmedian(clean.bid[calm], axis=0)
    a = np.nanmedian(clean.ask[calm], axis=0)
    bids = DepthCurve(FRACTIONS, tuple(np.maximum.accumulate(b)))
    return bids, DepthCurve(FRACTIONS, tuple(np.maximum.accumulate(a)))


def depth_stress(clean: CleanDepth, bids: DepthCurve, asks: DepthCurve) -> tuple[FloatArray, FloatArray]:
    """(x, shape RMS) per snapshot: the least-squares uniform scaling against the calm curves."""
    y = np.hstack([np.log(clean.bid / np.asarray(bids.notional)), np.log(clean.ask / np.asarray(asks.notional))])
    with np.errstate(invalid="ignore", divide="ignore"):
        y = np.where(np.isfinite(y), y, np.nan)
    seen = np.isfinite(y).any(axis=1)
    x = np.full(len(y), np.nan)
    x[seen] = -np.nanmean(y[seen], axis=1)
    rms = np.full(len(y), np.nan)
    rms[seen] = np.sqrt(np.nanmean((y[seen] + x[seen, None]) ** 2, axis=1))
    return x, rms


def _minute_median(times: np.ndarray, values: FloatArray) -> tuple[np.ndarray, FloatArray]:
    minute = times // 60 * 60
    keys = np.unique(minute)
    out = np.array([np.nanmedian(values[minute == k]) if np.isfinite(values[minute == k]).any() else np.nan
                    for k in keys])
    return keys, out


def _horizon_fit(
    xm: FloatArray, r: FloatArray, horizon: int, a: float, use: np.ndarray, kappa: float | None = None
) -> tuple[float, FloatArray, FloatArray, FloatArray]:
    """κ (least squares unless given) for decay ``a`` per minute over ``horizon`` minutes, over the
    horizons whose start ``use`` marks: (κ, x_start, x_end, prediction)."""
    n = len(xm) - horizon
    # jumps[i] = sum over j = 1..H of a^(H-j) |r[i+j]|: the jumps of the horizon, decayed to its end
    jumps = np.convolve(np.abs(r[1:]), a ** np.arange(horizon), "valid")[:n]
    xs, xe = xm[:n], xm[horizon: horizon + n]
    ok = np.isfinite(xs) & np.isfinite(xe) & use[:n]
    xs, xe, jumps = xs[ok], xe[ok], jumps[ok]
    if kappa is None:
        z = xe - a**horizon * xs
        kappa = float(max(jumps @ z / (jumps @ jumps), 0.0))
    return kappa, xs, xe, a**horizon * xs + kappa * jumps


@dataclass(frozen=True)
class _MinuteStress:
    clean: CleanDepth
    x: FloatArray
    """Stress per snapshot."""
    rms: FloatArray
    minutes: np.ndarray
    xm: FloatArray
    """Median stress per minute."""
    r: FloatArray
    """Log return of each minute (its open to its close)."""


def _minute_stress(depth_path, price_path, bids: DepthCurve | None, asks: DepthCurve | None, calm_end: str):
    import pandas as pd

    clean = clean_book_depth(depth_path, price_path)
    if bids is None or asks is None:
        bids, asks = _calm_curves(clean, int(pd.Timestamp(calm_end).timestamp()))
    x, rms = depth_stress(clean, bids, asks)
    minutes, xm = _minute_median(clean.times, x)
    if np.any(np.diff(minutes) != 60):
        raise DataError(str(depth_path), None, "a minute without any snapshot: the fit needs every minute")
    kt, kp = _read_price_kline(Path(price_path))
    r = np.log(np.interp(minutes + 60.0, kt, kp) / np.interp(minutes.astype(float), kt, kp))
    return bids, asks, _MinuteStress(clean, x, rms, minutes, xm, r)


def _starts(ms: _MinuteStress, horizon: int, start: str | None, end: str | None) -> np.ndarray:
    """Horizons lying wholly in ``[start, end)``."""
    import pandas as pd

    use = np.ones(len(ms.minutes), dtype=bool)
    if start is not None:
        use &= ms.minutes >= int(pd.Timestamp(start).timestamp())
    if end is not None:
        use &= ms.minutes + 60 * horizon < int(pd.Timestamp(end).timestamp())
    return use


def _check_horizon(horizon_min: object) -> None:
    if not (isinstance(horizon_min, int) and horizon_min >= 1):
        raise ConfigError("<python>", "horizon_min", "an integer >= 1 (minutes)", horizon_min)


def fit_depth_dynamics(
    depth_path: str | Path, price_path: str | Path, calm_end: str = CALM_END, horizon_min: int = 15,
    fit_end: str | None = None,
) -> DepthFit:
    """Fit :class:`DepthDynamics` to a ``bookDepth`` file and a 1-minute price kline.

    Calm curves: per-bucket medians of the cleaned depth before ``calm_end``. ``x``: per snapshot,
    then the median per minute. The one-minute model iterated over ``horizon_min`` minutes,
    ``x_{m+H} = a^H·x_m + κ·Σ_j a^(H−j)·|r_{m+j}|``, is fitted by least squares (κ in closed form
    for each ``a``, ``a`` by a fine search over half-lives of 1 to 1000 minutes) over every minute
    ``m`` where both ends are observed (and, with ``fit_end``, the horizon ends before it). Why a
    horizon: the minute-to-minute change of ``x`` is dominated by snapshot noise (its spread equals
    the one-minute error), which biases a one-minute regression toward "no response"; over 15
    minutes the response stands out.
    """
    import pandas as pd

    _check_horizon(horizon_min)
    bids, asks, ms = _minute_stress(depth_path, price_path, None, None, calm_end)
    use = _starts(ms, horizon_min, None, fit_end)
    best = None
    for half_life_min in np.exp(np.linspace(0.0, math.log(1000.0), 1000)):
        a = 2.0 ** (-1.0 / half_life_min)
        kappa, xs, xe, pred = _horizon_fit(ms.xm, ms.r, horizon_min, a, use)
        sse = float(np.sum((xe - pred) ** 2))
        if best is None or sse < best[0]:
            best = (sse, half_life_min, kappa, xs, xe, pred)
    _, half_life_min, kappa, xs, xe, pred = best
    t, x = ms.clean.times, ms.x
    crash = (t >= int(pd.Timestamp("2025-10-10 20:50").timestamp())) & (
        t < int(pd.Timestamp("2025-10-10 21:30").timestamp()))
    crash_x = float(np.nanmedian(x[crash])) if np.isfinite(x[crash]).any() else 0.0
    dyn = DepthDynamics(bids, asks, half_life_s=60.0 * float(half_life_min), kappa=kappa, crash_stress=crash_x)
    i_max = int(np.nanargmax(x))
    return DepthFit(
        dynamics=dyn,
        rmse=float(np.sqrt(np.mean((xe - pred) ** 2))),
        r2_change=float(1.0 - np.var(xe - pred) / np.var(xe - xs)),
        shape_rms=float(np.nanmedian(ms.rms)),
        n_minutes=len(xs),
        horizon_min=horizon_min,
        crash_stress=crash_x,
        max_stress=float(x[i_max]),
        max_stress_time=int(t[i_max]),
    )


@dataclass(frozen=True)
class DepthScore:
    """How a :class:`DepthDynamics` predicts the stress over horizons in a window."""

    rmse: float
    r2_change: float
    n_horizons: int


def score_depth_dynamics(
    dyn: DepthDynamics, depth_path: str | Path, price_path: str | Path,
    start: str | None = None, end: str | None = None, horizon_min: int = 15,
) -> DepthScore:
    """RMSE and share of the variance of the ``horizon_min``-minute change of ``x`` that ``dyn``
    explains over the horizons lying wholly in ``[start, end)`` (``x`` against ``dyn``'s calm book)."""
    _check_horizon(horizon_min)
    _, _, ms = _minute_stress(depth_path, price_path, dyn.bids, dyn.asks, CALM_END)
    a = 2.0 ** (-60.0 / dyn.half_life_s)
    _, xs, xe, pred = _horizon_fit(ms.xm, ms.r, horizon_min, a, _starts(ms, horizon_min, start, end), dyn.kappa)
    if len(xs) == 0:
        raise DataError(str(depth_path), None, f"no {horizon_min}-minute horizon observed in [{start}, {end})")
    return DepthScore(float(np.sqrt(np.mean((xe - pred) ** 2))),
                      float(1.0 - np.var(xe - pred) / np.var(xe - xs)), len(xs))


# ---------------------------------------------------------------------- the shipped file

SHIPPED_DYNAMICS = "btcusdt_dynamics_2025-10-10.json"


def write_dynamics(path: str | Path, fit: DepthFit, source: str) -> None:
    """Write a fit as JSON (the curves, the parameters, the fit's error and its ``source``)."""
    d = fit.dynamics
    doc = {
        "source": source,
        "model": "N_k(t) = N_k_calm * exp(-x(t)); "
                 "per 1-minute bar x <- 2^(-60/half_life_s) * x + kappa * |log return|",
        "bid_fractions": list(d.bids.fractions), "bid_notional_usd": list(d.bids.notional),
        "ask_fractions": list(d.asks.fractions), "ask_notional_usd": list(d.asks.notional),
        "half_life_s": d.half_life_s, "kappa": d.kappa, "crash_stress": d.crash_stress,
        "fit": {"horizon_min": fit.horizon_min, "rmse": fit.rmse, "r2_change": fit.r2_change,
                "shape_rms": fit.shape_rms,
                "n_minutes": fit.n_minutes, "max_stress": fit.max_stress, "max_stress_time": fit.max_stress_time},
    }  # fmt: skip
    Path(path).write_text(json.dumps(doc, indent=1) + "\n")


def _parse_dynamics(text: str, src: str) -> DepthDynamics:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise DataError(src, None, f"not JSON: {e}") from e
    keys = ("bid_fractions", "bid_notional_usd", "ask_fractions", "ask_notional_usd", "half_life_s", "kappa",
            "crash_stress")
    if not isinstance(doc, dict):
        raise DataError(src, None, "expected a JSON object")
    missing = [k for k in keys if k not in doc]
    if missing:
        raise DataError(src, None, f"missing key(s) {missing}")
    try:
        return DepthDynamics(
            DepthCurve(tuple(doc["bid_fractions"]), tuple(doc["bid_notional_usd"])),
            DepthCurve(tuple(doc["ask_fractions"]), tuple(doc["ask_notional_usd"])),
            float(doc["half_life_s"]), float(doc["kappa"]), float(doc["crash_stress"]),
        )
    except (ConfigError, TypeError, ValueError) as e:
        raise DataError(src, None, f"bad depth dynamics: {e}") from e


def load_dynamics(path: str | Path) -> DepthDynamics:
    """Read a file written by :func:`write_dynamics`; a bad one raises DataError naming it."""
    try:
        text = Path(path).read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(str(path), None, f"cannot read: {e}") from e
    return _parse_dynamics(text, str(path))


def shipped_dynamics() -> DepthDynamics:
    """The shipped fit to Binance BTCUSDT on 2025-10-10."""
    res = resources.files("liqcascade").joinpath("data", "depth", SHIPPED_DYNAMICS)
    return _parse_dynamics(res.read_text(), f"liqcascade/data/depth/{SHIPPED_DYNAMICS}")


MINUTE_COLUMNS = ("minute_utc", "mid_usd", "stale_bid", "stress",
                  *(f"bid_{k}pct_usd" for k in range(1, 6)), *(f"ask_{k}pct_usd" for k in range(1, 6)))  # fmt: skip
"""Columns of the per-minute depth table (:func:`write_minute_depth`); empty cells are unobserved."""


def write_minute_depth(
    path: str | Path, depth_path: str | Path, price_path: str | Path, start: str, end: str,
    dyn: DepthDynamics, comments: tuple[str, ...] = (),
) -> None:
    """Per minute in ``[start, end)``: the medians over its snapshots of the mid, the cleaned depth
    (USDT) within 1…5 % and the stress against ``dyn``'s calm curves; ``stale_bid`` 1 when any
    snapshot of the minute held the stale bid. ``#`` comment lines first."""
    import pandas as pd

    clean = clean_book_depth(depth_path, price_path)
    x, _ = depth_stress(clean, dyn.bids, dyn.asks)
    lo, hi = int(pd.Timestamp(start).timestamp()), int(pd.Timestamp(end).timestamp())
    keep = (clean.times >= lo) & (clean.times < hi)
    if not keep.any():
        raise DataError(str(depth_path), None, f"no snapshot in [{start}, {end})")
    t = clean.times[keep]
    minutes, mid = _minute_median(t, clean.mid[keep])
    cols = [_minute_median(t, v)[1] for v in (x[keep], *clean.bid[keep].T, *clean.ask[keep].T)]
    stale = [int(clean.contaminated[keep][t // 60 * 60 == m].any()) for m in minutes]
    with open(path, "w") as fh:
        for line in comments:
            fh.write(f"# {line}\n")
        fh.write(",".join(MINUTE_COLUMNS) + "\n")
        for i, m in enumerate(minutes):
            when = pd.Timestamp(int(m), unit="s").strftime("%Y-%m-%d %H:%M")
            vals = [f"{c[i]:.6g}" if c is cols[0] else f"{c[i]:.0f}" for c in cols]
            vals = ["" if v == "nan" else v for v in vals]
            fh.write(",".join([when, f"{mid[i]:.2f}", str(stale[i]), *vals]) + "\n")


OUT_OF_SAMPLE = "2025-10-10 20:00"
"""The command's out-of-sample check: fit on the horizons ending before, score on those after."""


def main(argv: list[str] | None = None) -> None:
    """``python -m liqcascade.markets.perp_depth DEPTH_CSV PRICE_KLINE_CSV [OUT_JSON]``: fit and print."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) not in (2, 3):
        raise SystemExit("usage: python -m liqcascade.markets.perp_depth DEPTH_CSV PRICE_KLINE_CSV [OUT_JSON]")
    fit = fit_depth_dynamics(args[0], args[1])
    d = fit.dynamics
    print(f"calm depth within 1 %: bid {d.bids.notional[0] / 1e6:.0f} M, ask {d.asks.notional[0] / 1e6:.0f} M USDT")
    print(f"half-life {d.half_life_s / 60:.0f} min, kappa {d.kappa:.2f} per unit |log return|")
    print(f"{fit.horizon_min}-minute rmse {fit.rmse:.3f}, R2 of the change {fit.r2_change:.2f}, "
          f"shape rms {fit.shape_rms:.2f}, "
          f"{fit.n_minutes} horizons")
    print(f"crash stress {fit.crash_stress:.2f} (depth / {math.exp(fit.crash_stress):.1f}), "
          f"max {fit.max_stress:.2f} (depth / {math.exp(fit.max_stress):.1f})")
    train = fit_depth_dynamics(args[0], args[1], fit_end=OUT_OF_SAMPLE)
    score = score_depth_dynamics(train.dynamics, args[0], args[1], start=OUT_OF_SAMPLE)
    print(f"fitted before {OUT_OF_SAMPLE[11:]} only: half-life {train.dynamics.half_life_s / 60:.0f} min, "
          f"kappa {train.dynamics.kappa:.2f}; after it: rmse {score.rmse:.3f}, R2 of the change {score.r2_change:.2f}")
    late = score_depth_dynamics(d, args[0], args[1], start=OUT_OF_SAMPLE)
    print(f"the whole-day fit after {OUT_OF_SAMPLE[11:]}: rmse {late.rmse:.3f}, R2 of the change {late.r2_change:.2f}")
    if len(args) == 3:
        write_dynamics(args[2], fit, "Binance USD-M BTCUSDT bookDepth 2025-10-10 (aaronwu2017/TheGlory @929fd9c), "
                       "mids from the COIN-M BTCUSD_PERP 1-minute price kline; see ATTRIBUTION-markets.md")


if __name__ == "__main__":  # pragma: no cover
    main()
