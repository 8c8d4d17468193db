"""Exogenous price paths on a block grid.

A :class:`PricePath` is what the block-by-block engine consumes: for every block, the reference
(exogenous) price of every asset, before any price impact of the simulated liquidations.

Conventions used throughout this module
--------------------------------------
- **Time.** ``times[i]`` is the *start* of block ``i`` in Unix seconds, UTC (int64). Blocks are
  equally spaced, ``block_seconds`` apart (12 s by default, Ethereum's slot time).
- **Prices.** ``prices[i, j]`` is the price of ``assets[j]`` in the quote currency (USD by default;
  Binance replays are in USDT and say so in ``meta["quote"]``) in force during block ``i``. Every
  price is finite and > 0. Block 0 always carries the initial prices ``p0``.
- **Annualization.** Volatilities, drifts and jump intensities are per year of
  ``SECONDS_PER_YEAR`` = 365 days (crypto markets trade every day), so a block is
  ``dt = block_seconds / SECONDS_PER_YEAR`` years.
- **Randomness.** Every random constructor takes ``seed`` (an int or a
  :class:`numpy.random.SeedSequence`, e.g. one spawned per Monte Carlo path) and builds its own
  ``numpy.random.Generator(PCG64(seed))``: the same seed gives the same path on any machine.
- **Errors.** A bad argument raises :class:`~liqcascade.errors.ConfigError` naming the key
  (``file`` is ``source``, ``"<python>"`` unless the caller read it from a config file); bad data
  in a candle frame raises :class:`~liqcascade.errors.DataError` naming the file and 1-based row.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from liqcascade._typing import FloatArray, IntArray
from liqcascade.errors import ConfigError, DataError

SECONDS_PER_YEAR = 365 * 86_400
"""Seconds in the year used to annualize volatility, drift and jump intensity."""

DEFAULT_BLOCK_SECONDS = 12
"""Ethereum's slot time since the Merge."""

CORR_TOL = 1e-8
"""Tolerance of the correlation checks: symmetry, unit diagonal, smallest eigenvalue >= -tol."""

INTRABAR_RULES = ("ohlc_path", "nearest_extreme", "open_close")

_PY = "<python>"


def _frozen(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


@dataclasses.dataclass(frozen=True, eq=False)
class PricePath:
    """Reference prices of ``assets`` on an equally spaced block grid (see the module docstring).

    ``times`` int64 Unix seconds (start of each block, UTC), strictly increasing by exactly
    ``block_seconds``; ``prices`` float64 ``(n_blocks, n_assets)``, finite and > 0;
    ``gas_gwei`` optional float64 ``(n_blocks,)`` gas price in gwei (finite, >= 0); ``meta`` a
    read-only dict saying where the path came from (``source``, the rule used, seed, files).
    The arrays are copied and made read-only.
    """

    times: IntArray
    assets: tuple[str, ...]
    prices: FloatArray
    block_seconds: int = DEFAULT_BLOCK_SECONDS
    gas_gwei: FloatArray | None = None
    meta: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        bs = self.block_seconds
        if isinstance(bs, bool) or not isinstance(bs, (int, np.integer)) or bs < 1:
            raise ConfigError(_PY, "PricePath.block_seconds", "an integer >= 1", bs)
        t = np.array(self.times, dtype=np.int64, copy=True)
        if t.ndim != 1 or t.size < 1:
            raise ConfigError(_PY, "PricePath.times", "a 1-D array of at least one block time", t.shape)
        if t.size > 1 and not np.all(np.diff(t) == bs):
            i = int(np.flatnonzero(np.diff(t) != bs)[0])
            raise ConfigError(
                _PY,
                "PricePath.times",
                f"block times exactly {bs} s apart",
                f"step {t[i + 1] - t[i]} at block {i + 1}",
            )
        assets = tuple(self.assets)
        if not assets or len(set(assets)) != len(assets) or not all(isinstance(a, str) and a for a in assets):
            raise ConfigError(_PY, "PricePath.assets", "distinct non-empty asset symbols", assets)
        p = np.array(self.prices, dtype=np.float64, copy=True)
        if p.ndim == 1 and len(assets) == 1:
            p = p[:, None]
        if p.shape != (t.size, len(assets)):
            raise ConfigError(_PY, "PricePath.prices", f"shape {(t.size, len(assets))}", p.shape)
        bad = ~(np.isfinite(p) & (p > 0))
        if bad.any():
            i, j = np.argwhere(bad)[0]
            raise ConfigError(
                _PY, f"PricePath.prices[{assets[j]}]", "finite prices > 0", f"{p[i, j]!r} at block {int(i)}"
            )
        g = None
        if self.gas_gwei is not None:
            g = np.array(self.gas_gwei, dtype=np.float64, copy=True)
            if g.shape != (t.size,):
                raise ConfigError(_PY, "PricePath.gas_gwei", f"shape {(t.size,)}", g.shape)
            if not np.all(np.isfinite(g) & (g >= 0)):
                raise ConfigError(_PY, "PricePath.gas_gwei", "finite gas prices >= 0 (gwei)")
            g = _frozen(g)
        object.__setattr__(self, "block_seconds", int(bs))
        object.__setattr__(self, "times", _frozen(t))
        object.__setattr__(self, "assets", assets)
        object.__setattr__(self, "prices", _frozen(p))
        object.__setattr__(self, "gas_gwei", g)
        object.__setattr__(self, "meta", MappingProxyType(dict(self.meta)))

    @property
    def n_blocks(self) -> int:
        return int(self.times.size)

    @property
    def n_assets(self) -> int:
        return len(self.assets)

    def index(self, asset: str) -> int:
        """Column of ``asset`` in ``prices``."""
        try:
            return self.assets.index(asset)
        except ValueError:
            raise ConfigError(_PY, "asset", f"one of {list(self.assets)}", asset) from None

    def __getitem__(self, asset: str) -> FloatArray:
        """The price series of one asset (read-only view)."""
        return self.prices[:, self.index(asset)]

    def log_returns(self) -> FloatArray:
        """Per-block log returns, shape ``(n_blocks - 1, n_assets)``."""
        return np.diff(np.log(self.prices), axis=0)

    def with_gas(self, gas_gwei: FloatArray, rule: str | None = None) -> PricePath:
        """A copy carrying ``gas_gwei`` per block; ``rule`` (how it was made) goes to ``meta['gas_rule']``."""
        meta = dict(self.meta)
        if rule is not None:
            meta["gas_rule"] = rule
        return dataclasses.replace(self, gas_gwei=gas_gwei, meta=meta)

    def slice(self, start: int, stop: int) -> PricePath:
        """Blocks ``start`` (inclusive) to ``stop`` (exclusive), as a new path."""
        if not 0 <= start < stop <= self.n_blocks:
            raise ConfigError(_PY, "slice", f"0 <= start < stop <= {self.n_blocks}", (start, stop))
        g = None if self.gas_gwei is None else self.gas_gwei[start:stop]
        return dataclasses.replace(
            self,
            times=self.times[start:stop],
            prices=self.prices[start:stop],
            gas_gwei=g,
            meta=dict(self.meta),
        )

    def to_frame(self) -> pd.DataFrame:
        """One row per block: ``time`` (Unix s), one column per asset, and ``gas_gwei`` if present."""
        df = pd.DataFrame(self.prices, columns=list(self.assets))
        df.insert(0, "time", self.times)
        if self.gas_gwei is not None:
            df["gas_gwei"] = self.gas_gwei
        return df


# --------------------------------------------------------------------------- argument checks


def _int_arg(x: Any, key: str, lo: int, source: str) -> int:
    if isinstance(x, bool) or not isinstance(x, (int, np.integer)) or x < lo:
        raise ConfigError(source, key, f"an integer >= {lo}", x)
    return int(x)


def _grid(n_blocks: int, block_seconds: int, start: int, source: str, min_blocks: int = 1) -> IntArray:
    n = _int_arg(n_blocks, "n_blocks", min_blocks, source)
    bs = _int_arg(block_seconds, "block_seconds", 1, source)
    if isinstance(start, bool) or not isinstance(start, (int, np.integer)):
        raise ConfigError(source, "start", "an integer Unix time in seconds (start of block 0)", start)
    return int(start) + bs * np.arange(n, dtype=np.int64)


def _initial(p0: Mapping[str, float], source: str) -> tuple[tuple[str, ...], FloatArray]:
    if not isinstance(p0, Mapping) or not p0:
        raise ConfigError(source, "p0", "a non-empty mapping asset -> initial price", p0)
    assets = tuple(p0)
    x = np.empty(len(assets))
    for j, a in enumerate(assets):
        v = p0[a]
        if (
            not isinstance(v, (int, float, np.number))
            or isinstance(v, bool)
            or not (math.isfinite(v) and v > 0)
        ):
            raise ConfigError(source, f"p0.{a}", "a finite price > 0", v)
        x[j] = float(v)
    return assets, x


def _per_asset(
    values: Mapping[str, float] | float | None,
    assets: tuple[str, ...],
    key: str,
    source: str,
    *,
    default: float | None,
    lo: float = -math.inf,
    lo_open: bool = False,
) -> FloatArray:
    """A per-asset parameter given as one number for all, or a mapping (missing -> ``default``)."""
    what = f"a finite number {'>' if lo_open else '>='} {lo}" if lo > -math.inf else "a finite number"

    def ok(v: Any) -> bool:
        if isinstance(v, bool) or not isinstance(v, (int, float, np.number)) or not math.isfinite(v):
            return False
        return v > lo if lo_open else v >= lo

    if values is None:
        values = {}
    if not isinstance(values, Mapping):
        if not ok(values):
            raise ConfigError(source, key, what, values)
        return np.full(len(assets), float(values))
    unknown = [a for a in values if a not in assets]
    if unknown:
        raise ConfigError(source, f"{key}.{unknown[0]}", f"a path asset among {list(assets)}", unknown[0])
    out = np.empty(len(assets))
    for j, a in enumerate(assets):
        if a not in values:
            if default is None:
                raise ConfigError(source, f"{key}.{a}", what + " (required for every asset)")
            out[j] = default
            continue
        if not ok(values[a]):
            raise ConfigError(source, f"{key}.{a}", what, values[a])
        out[j] = float(values[a])
    return out


def _rng(seed: int | np.random.SeedSequence, source: str) -> np.random.Generator:
    if isinstance(seed, np.random.SeedSequence):
        return np.random.Generator(np.random.PCG64(seed))
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(source, "seed", "an integer >= 0 or a numpy SeedSequence", seed)
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(int(seed))))


# --------------------------------------------------------------------------- deterministic shocks


def instant_shock(
    p0: Mapping[str, float],
    shocks: Mapping[str, float],
    n_blocks: int,
    block_seconds: int = DEFAULT_BLOCK_SECONDS,
    start: int = 0,
    *,
    source: str = _PY,
) -> PricePath:
    """Block 0 at ``p0``; from block 1 on, ``p0 * (1 + shock)`` and flat.

    ``shocks`` maps an asset to its relative move (``-0.30`` = a 30 % fall), each > -1; assets
    not named keep their price. ``n_blocks`` >= 2.
    """
    assets, x0 = _initial(p0, source)
    times = _grid(n_blocks, block_seconds, start, source, min_blocks=2)
    s = _per_asset(shocks, assets, "shocks", source, default=0.0, lo=-1.0, lo_open=True)
    prices = np.tile(x0, (times.size, 1))
    prices[1:] *= 1.0 + s
    return PricePath(
        times, assets, prices, int(block_seconds), meta={"source": "instant_shock", "shocks": dict(shocks)}
    )


def linear_shock(
    p0: Mapping[str, float],
    shocks: Mapping[str, float],
    duration_blocks: int,
    n_blocks: int,
    block_seconds: int = DEFAULT_BLOCK_SECONDS,
    start: int = 0,
    *,
    source: str = _PY,
) -> PricePath:
    """A move linear *in price* over ``duration_blocks`` blocks, then flat.

    Block ``i`` carries ``p0 * (1 + shock * min(i / duration_blocks, 1))``: block 0 is ``p0``,
    block ``duration_blocks`` and every later one ``p0 * (1 + shock)``. ``duration_blocks = 1``
    is :func:`instant_shock`. ``shocks`` as in :func:`instant_shock`.
    """
    assets, x0 = _initial(p0, source)
    times = _grid(n_blocks, block_seconds, start, source, min_blocks=2)
    d = _int_arg(duration_blocks, "duration_blocks", 1, source)
    s = _per_asset(shocks, assets, "shocks", source, default=0.0, lo=-1.0, lo_open=True)
    frac = np.minimum(np.arange(times.size, dtype=np.float64) / d, 1.0)
    prices = x0 * (1.0 + frac[:, None] * s)
    return PricePath(
        times,
        assets,
        prices,
        int(block_seconds),
        meta={
            "source": "linear_shock",
            "shocks": dict(shocks),
            "duration_blocks": d,
            "rule": "linear in price",
        },
    )


# --------------------------------------------------------------------------- GBM with Merton jumps


@dataclasses.dataclass(frozen=True)
class Jumps:
    """Merton jumps added to :func:`gbm`.

    Jumps arrive as *one* Poisson process common to all assets (a market-wide event) with
    ``intensity`` jumps per year. A jump moves the log price of asset ``a`` by
    ``mean[a] + std[a] * Y_a``, where the standard normals ``Y`` are correlated by the same
    matrix as the diffusion. Assets missing from ``mean``/``std`` do not jump (0). With
    ``compensate=True`` the diffusion drift is lowered by ``intensity * (exp(mean + std**2/2) - 1)``
    so that ``drift`` stays the total expected rate of return (E[S_t] = S_0 exp(drift * t));
    with ``False`` jumps add to the drift (a stress that is not mean-preserving).
    """

    intensity: float
    mean: Mapping[str, float]
    std: Mapping[str, float]
    compensate: bool = True


def check_correlation(corr: Any, n_assets: int, *, key: str = "corr", source: str = _PY,
                      assets: Sequence[str] | None = None) -> FloatArray:
    """``corr`` as a float64 ``(n, n)`` array, or :class:`ConfigError` if it is not a correlation matrix.

    ``assets`` (the path assets, in order) are named in the shape error.

    Checks: shape, finite, symmetric and unit diagonal within ``CORR_TOL``, entries in [-1, 1], and
    positive semidefinite: smallest eigenvalue >= ``-CORR_TOL`` (the error reports the eigenvalue).
    """
    try:
        c = np.array(corr, dtype=np.float64)
    except (TypeError, ValueError):
        raise ConfigError(source, key, f"a {n_assets}x{n_assets} numeric matrix", corr) from None
    if c.shape != (n_assets, n_assets):
        order = f" ({', '.join(assets)})" if assets is not None else ""
        raise ConfigError(source, key, f"a {n_assets}x{n_assets} matrix: one row and one column per path asset, "
                          f"in order{order}", "x".join(map(str, c.shape)) or "a single number")
    if not np.all(np.isfinite(c)):
        raise ConfigError(source, key, "finite entries")
    if np.max(np.abs(c - c.T), initial=0.0) > CORR_TOL:
        i, j = np.unravel_index(np.argmax(np.abs(c - c.T)), c.shape)
        raise ConfigError(source, key, "a symmetric matrix", f"[{i}][{j}]={c[i, j]} but [{j}][{i}]={c[j, i]}")
    if np.max(np.abs(np.diag(c) - 1.0), initial=0.0) > CORR_TOL:
        raise ConfigError(source, key, "a unit diagonal", np.diag(c).tolist())
    if np.max(np.abs(c), initial=0.0) > 1.0 + CORR_TOL:
        raise ConfigError(source, key, "entries in [-1, 1]", float(np.max(np.abs(c))))
    w = float(np.linalg.eigvalsh(0.5 * (c + c.T))[0])
    if w < -CORR_TOL:
        raise ConfigError(
            source, key, f"a positive semidefinite matrix: smallest eigenvalue >= {-CORR_TOL:g}", w
        )
    return 0.5 * (c + c.T)


def _psd_factor(c: FloatArray) -> FloatArray:
    """Lower-triangular ``L`` with ``L @ L.T == c`` for a PSD ``c`` (Cholesky that tolerates zero pivots).

    Deterministic (no eigenvectors, whose signs vary across LAPACK builds); a pivot below
    ``CORR_TOL`` (a perfectly dependent asset) gets a zero column.
    """
    k = c.shape[0]
    L = np.zeros_like(c)
    for j in range(k):
        d = c[j, j] - L[j, :j] @ L[j, :j]
        if d > CORR_TOL:
            L[j, j] = math.sqrt(d)
            L[j + 1 :, j] = (c[j + 1 :, j] - L[j + 1 :, :j] @ L[j, :j]) / L[j, j]
    return L


def gbm(
    p0: Mapping[str, float],
    vol: Mapping[str, float] | float,
    corr: Any,
    n_blocks: int,
    seed: int | np.random.SeedSequence,
    drift: Mapping[str, float] | float = 0.0,
    jumps: Jumps | None = None,
    block_seconds: int = DEFAULT_BLOCK_SECONDS,
    start: int = 0,
    *,
    source: str = _PY,
) -> PricePath:
    """Correlated geometric Brownian motion with optional Merton jumps, exact in distribution.

    Per block (``dt = block_seconds / SECONDS_PER_YEAR``), for asset ``a``::

        log S[i+1] - log S[i] = (mu_a - vol_a**2 / 2 - k_a) dt + vol_a sqrt(dt) Z_a + sum_{m<=N} J_a,m

    with ``Z ~ N(0, corr)``, ``N ~ Poisson(intensity * dt)`` common to all assets, ``J`` as in
    :class:`Jumps`, ``k_a`` the jump compensator (0 without jumps or with ``compensate=False``).
    The log-normal step is exact for any ``dt`` (no Euler error). Hence, without jumps, the
    one-block log return has mean ``(mu - vol**2/2) dt``, variance ``vol**2 dt`` and correlation
    ``corr``; with jumps, mean ``(mu - vol**2/2 - k) dt + lambda dt mean_J`` and variance
    ``vol**2 dt + lambda dt (std_J**2 + mean_J**2)``.

    ``vol`` (annualized, >= 0) and ``drift`` (annualized ``mu``) are one number for all assets
    or a mapping per asset (``vol`` must name every asset; a missing drift is 0). ``corr`` is a
    matrix in the order of ``p0``'s keys (``None`` = independent); see :func:`check_correlation`.
    Draw order from the generator: the ``(n_blocks-1, n_assets)`` diffusion normals, then (with
    jumps) the ``n_blocks-1`` jump counts, then the ``(n_blocks-1, n_assets)`` jump normals.
    ``meta["jump_counts"]`` holds the jumps per step.
    """
    assets, x0 = _initial(p0, source)
    times = _grid(n_blocks, block_seconds, start, source, min_blocks=1)
    k = len(assets)
    sig = _per_asset(vol, assets, "vol", source, default=None, lo=0.0)
    mu = _per_asset(drift, assets, "drift", source, default=0.0)
    c = np.eye(k) if corr is None else check_correlation(corr, k, key="corr", source=source)
    L = _psd_factor(c)
    rng = _rng(seed, source)
    dt = int(block_seconds) / SECONDS_PER_YEAR
    n = times.size - 1

    z = rng.standard_normal((n, k)) @ L.T
    comp = np.zeros(k)
    incr = sig * math.sqrt(dt) * z
    meta: dict[str, Any] = {
        "source": "gbm",
        "seed": seed if not isinstance(seed, np.random.SeedSequence) else seed.entropy,
        "vol": dict(zip(assets, sig.tolist())),
        "drift": dict(zip(assets, mu.tolist())),
        "corr": c.tolist(),
        "seconds_per_year": SECONDS_PER_YEAR,
        "rule": "exact log-normal steps",
    }
    if jumps is not None:
        lam = jumps.intensity
        if (
            isinstance(lam, bool)
            or not isinstance(lam, (int, float, np.number))
            or not (math.isfinite(lam) and lam >= 0)
        ):
            raise ConfigError(source, "jumps.intensity", "a finite number >= 0 (jumps per year)", lam)
        jm = _per_asset(jumps.mean, assets, "jumps.mean", source, default=0.0)
        js = _per_asset(jumps.std, assets, "jumps.std", source, default=0.0, lo=0.0)
        counts = rng.poisson(lam * dt, size=n)
        y = rng.standard_normal((n, k)) @ L.T
        incr += counts[:, None] * jm + np.sqrt(counts)[:, None] * js * y
        if jumps.compensate:
            comp = lam * np.expm1(jm + 0.5 * js**2)
        meta["jumps"] = {
            "intensity": float(lam),
            "mean": dict(zip(assets, jm.tolist())),
            "std": dict(zip(assets, js.tolist())),
            "compensate": bool(jumps.compensate),
        }
        meta["jump_counts"] = _frozen(counts.astype(np.int64))
    incr += (mu - 0.5 * sig**2 - comp) * dt
    logp = np.empty((times.size, k))
    logp[0] = np.log(x0)
    np.cumsum(incr, axis=0, out=logp[1:])
    logp[1:] += logp[0]
    prices = np.exp(logp)
    prices[0] = x0
    return PricePath(times, assets, prices, int(block_seconds), meta=meta)


# --------------------------------------------------------------------------- candle frames


def _frame_source(df: pd.DataFrame, asset: str) -> str:
    return str(df.attrs.get("source", f"<candles {asset}>"))


def _rows(df: pd.DataFrame) -> np.ndarray:
    """1-based file rows of a frame (the loaders' ``row`` column), else positions + 1."""
    if "row" in df.columns:
        return df["row"].to_numpy(np.int64)
    return np.arange(1, len(df) + 1, dtype=np.int64)


def _need(df: pd.DataFrame, asset: str, cols: tuple[str, ...]) -> None:
    if not isinstance(df, pd.DataFrame):
        raise ConfigError(
            _PY,
            f"candles.{asset}",
            "a pandas DataFrame of candles (see liqcascade.scenarios.loaders)",
            type(df).__name__,
        )
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise DataError(_frame_source(df, asset), None, f"missing column(s) {missing}; expected {list(cols)}")
    if len(df) == 0:
        raise DataError(_frame_source(df, asset), None, "no rows")


def _interval(df: pd.DataFrame, asset: str) -> int:
    iv = df.attrs.get("interval")
    if iv is None:
        d = np.diff(df["time"].to_numpy(np.int64))
        d = d[d > 0]
        if d.size == 0:
            raise DataError(_frame_source(df, asset), None, "cannot infer the candle interval from one row")
        iv = int(d.min())
    return int(iv)


# --------------------------------------------------------------------------- block bootstrap


def block_bootstrap(
    returns_source: Mapping[str, pd.DataFrame],
    n_blocks: int,
    block_hours: int,
    seed: int | np.random.SeedSequence,
    p0: Mapping[str, float] | None = None,
    block_seconds: int = DEFAULT_BLOCK_SECONDS,
    start: int = 0,
    *,
    source: str = _PY,
) -> PricePath:
    """A path whose candle-to-candle log returns are a moving-block bootstrap of real ones.

    ``returns_source`` maps each asset to a candle frame with ``time`` (Unix s) and ``close``
    (e.g. :func:`~liqcascade.scenarios.loaders.load_binance_klines` on the hourly files, with
    ``fill="keep"`` so that their gaps stay gaps). The assets are aligned on their common
    timestamps and the close-to-close log returns computed jointly; a return is usable only if
    its two candles are exactly one interval apart (a return never spans a gap).

    Resampling: blocks of ``block_hours`` consecutive usable returns (the same calendar hours for
    every asset, which keeps the cross-asset correlation and the short-range autocorrelation)
    are drawn uniformly with replacement among all such runs and concatenated, the last block
    truncated, until the path's span is covered. The path starts at ``p0`` (default: each asset's
    last common close).

    Onto the block grid: the resampled candle closes are the knots at ``start + h * interval``;
    between knots the price is **log-linear** (constant log-return rate within the hour). We
    choose this over a Brownian bridge because it adds nothing the data do not contain: every
    hour-to-hour return is a real one, exactly, and no intrahour volatility has to be assumed.
    The cost is that intrahour paths are too smooth; use :func:`historical` for real intrabar
    paths or add noise explicitly. ``meta["drawn_times"]`` holds the source time of the first
    return of every drawn block.
    """
    if not isinstance(returns_source, Mapping) or not returns_source:
        raise ConfigError(
            source, "returns_source", "a non-empty mapping asset -> hourly candle frame", returns_source
        )
    assets = tuple(returns_source)
    times = _grid(n_blocks, block_seconds, start, source, min_blocks=1)
    bh = _int_arg(block_hours, "block_hours", 1, source)
    for a in assets:
        _need(returns_source[a], a, ("time", "close"))
    intervals = {_interval(returns_source[a], a) for a in assets}
    if len(intervals) != 1:
        raise ConfigError(
            source, "returns_source", "candles of one interval for every asset", sorted(intervals)
        )
    iv = intervals.pop()
    if (bh * 3600) % iv:
        raise ConfigError(source, "block_hours", f"a whole number of {iv}-second candles", bh)
    blen = bh * 3600 // iv

    common = None
    for a in assets:
        t = returns_source[a]["time"].to_numpy(np.int64)
        common = t if common is None else np.intersect1d(common, t)
    closes = np.empty((common.size, len(assets)))
    for j, a in enumerate(assets):
        df = returns_source[a]
        t = df["time"].to_numpy(np.int64)
        c = df["close"].to_numpy(np.float64)
        order = np.argsort(t, kind="stable")
        pos = order[np.searchsorted(t, common, sorter=order)]
        cj = c[pos]
        bad = ~(np.isfinite(cj) & (cj > 0))
        if bad.any():
            r = _rows(df)[pos[np.flatnonzero(bad)[0]]]
            raise DataError(
                _frame_source(df, a), int(r), f"close must be a finite price > 0, got {cj[bad][0]!r}"
            )
        closes[:, j] = cj
    if common.size < 2:
        raise DataError(source, None, f"fewer than 2 common candle times across {list(assets)}")
    rets = np.diff(np.log(closes), axis=0)
    usable = np.diff(common) == iv
    # a run of blen usable returns may start at i iff usable[i : i + blen] are all True
    cs = np.concatenate(([0], np.cumsum(~usable)))
    n_starts = rets.shape[0] - blen + 1
    starts_ok = (
        np.flatnonzero(cs[blen : blen + n_starts] - cs[:n_starts] == 0) if n_starts > 0 else np.empty(0, int)
    )
    if starts_ok.size == 0:
        raise DataError(
            source, None, f"no run of {blen} consecutive {iv}-second returns common to {list(assets)}"
        )

    if p0 is None:
        x0 = closes[-1].copy()
    else:
        a0, x0 = _initial(p0, source)
        if set(a0) != set(assets):
            raise ConfigError(source, "p0", f"a price for each of {list(assets)}", list(a0))
        x0 = np.array([p0[a] for a in assets], dtype=np.float64)

    span = int(times[-1] - times[0])
    n_knots = -(-span // iv)  # candle steps needed to cover the span
    n_draw = max(1, -(-n_knots // blen))
    rng = _rng(seed, source)
    drawn = starts_ok[rng.integers(0, starts_ok.size, size=n_draw)]
    idx = (drawn[:, None] + np.arange(blen)).ravel()[:n_knots]
    knot_logp = np.empty((n_knots + 1, len(assets)))
    knot_logp[0] = np.log(x0)
    np.cumsum(rets[idx], axis=0, out=knot_logp[1:])
    knot_logp[1:] += knot_logp[0]
    knot_t = times[0] + iv * np.arange(n_knots + 1, dtype=np.int64)
    prices = np.empty((times.size, len(assets)))
    for j in range(len(assets)):  # a loop over assets only
        prices[:, j] = np.exp(np.interp(times, knot_t, knot_logp[:, j]))
    prices[0] = x0
    return PricePath(
        times,
        assets,
        prices,
        int(block_seconds),
        meta={
            "source": "block_bootstrap",
            "seed": seed if not isinstance(seed, np.random.SeedSequence) else seed.entropy,
            "block_hours": bh,
            "interval": iv,
            "rule": "moving-block bootstrap of joint close-to-close log returns; log-linear between closes",
            "drawn_times": _frozen(common[drawn].astype(np.int64)),
            "files": {a: _frame_source(returns_source[a], a) for a in assets},
        },
    )


# --------------------------------------------------------------------------- historical replay


def _knot_offsets(rule: str, m: int) -> np.ndarray:
    if rule == "open_close":
        return np.array([0] if m == 1 else [0, m - 1], dtype=np.int64)
    return np.rint(np.arange(4) * (m - 1) / 3.0).astype(np.int64)


def historical(
    candles: Mapping[str, pd.DataFrame],
    block_seconds: int = DEFAULT_BLOCK_SECONDS,
    intrabar: str = "ohlc_path",
    start: int | None = None,
    end: int | None = None,
    *,
    source: str = _PY,
) -> PricePath:
    """Replay real candles on the block grid with a documented intrabar rule.

    ``candles`` maps each asset to a candle frame (``time`` = candle open, Unix s, UTC;
    ``open, high, low, close``), as :mod:`liqcascade.scenarios.loaders` returns them. All assets
    must share one interval, a multiple of ``block_seconds``; the replay covers the candles
    common to all assets (from the latest first candle to the earliest last one, optionally cut
    to ``start <= time < end``), which must be contiguous and present for every asset.

    A candle of interval ``T`` opening at ``t0`` becomes ``m = T / block_seconds`` blocks at
    ``t0, t0 + bs, ..., t0 + T - bs``. Within it the path is **piecewise linear in log price**
    through knots placed on blocks ``0, round((m-1)/3), round(2(m-1)/3), m-1``:

    - ``"ohlc_path"`` (default, the standard convention): open -> low -> high -> close for a
      candle with close >= open, open -> high -> low -> close for close < open (a falling candle
      visits its low last, near its close);
    - ``"nearest_extreme"``: open -> the extreme nearer the open in log distance -> the other
      -> close (the shortest path; ties go as ``"ohlc_path"``);
    - ``"open_close"``: open on the first block, close on the last, log-linear between; the
      wicks are dropped (use to test how much the extremes matter).

    So the first block of every candle is exactly its open, the last block exactly its close,
    and (with the first two rules, which need ``m >= 4``) its high and low are each hit on one
    block; the path never leaves ``[low, high]`` (exp/log rounding is clipped back into it).
    The step from one candle's close to the next candle's open is taken between two blocks.
    """
    if intrabar not in INTRABAR_RULES:
        raise ConfigError(source, "intrabar", f"one of {list(INTRABAR_RULES)}", intrabar)
    if not isinstance(candles, Mapping) or not candles:
        raise ConfigError(source, "candles", "a non-empty mapping asset -> candle frame", candles)
    assets = tuple(candles)
    bs = _int_arg(block_seconds, "block_seconds", 1, source)
    cols = ("time", "open", "high", "low", "close")
    for a in assets:
        _need(candles[a], a, cols)
    ivs = {a: _interval(candles[a], a) for a in assets}
    if len(set(ivs.values())) != 1:
        raise ConfigError(source, "candles", "candles of one interval for every asset", ivs)
    iv = ivs[assets[0]]
    if iv % bs:
        raise ConfigError(source, "block_seconds", f"a divisor of the candle interval ({iv} s)", bs)
    m = iv // bs
    if intrabar != "open_close" and m < 4:
        raise ConfigError(
            source,
            "block_seconds",
            f"at most {iv // 4} s: intrabar={intrabar!r} needs >= 4 blocks per {iv}-second candle "
            "(or use intrabar='open_close')",
            bs,
        )

    lo = max(int(candles[a]["time"].min()) for a in assets)
    hi = min(int(candles[a]["time"].max()) for a in assets)
    if start is not None:
        lo = max(lo, int(start))
    if end is not None:
        hi = min(hi, int(end) - 1)
    if hi < lo:
        raise ConfigError(
            source, "start/end", "a window holding at least one candle common to all assets", (start, end)
        )
    grid = np.arange(lo, hi + 1, iv, dtype=np.int64)
    n_c, k = grid.size, len(assets)
    o = np.empty((n_c, k))
    h = np.empty((n_c, k))
    lw = np.empty((n_c, k))
    c = np.empty((n_c, k))
    for j, a in enumerate(assets):
        df = candles[a]
        src = _frame_source(df, a)
        t = df["time"].to_numpy(np.int64)
        rows = _rows(df)
        sel = np.flatnonzero((t >= lo) & (t <= hi))
        ts = t[sel]
        d = np.diff(ts)
        if np.any(d <= 0):
            i = int(np.flatnonzero(d <= 0)[0]) + 1
            raise DataError(src, int(rows[sel[i]]), "candle times must be strictly increasing")
        if ts.size != n_c or not np.array_equal(ts, grid):
            miss = np.setdiff1d(grid, ts)
            if miss.size:
                i = min(int(np.searchsorted(ts, miss[0])), ts.size - 1)
                raise DataError(
                    src,
                    int(rows[sel[i]]),
                    f"candle missing before this row: none at {pd.Timestamp(int(miss[0]), unit='s')} UTC in the "
                    f"window common to {list(assets)}; historical() needs contiguous candles: load with "
                    "fill='ffill' or 'linear', or replay one leg at a time (start/end, split_at_gaps)",
                )
            raise DataError(src, None, f"candle times are not on the {iv}-second grid starting at {lo}")
        for arr, col in ((o, "open"), (h, "high"), (lw, "low"), (c, "close")):
            arr[:, j] = df[col].to_numpy(np.float64)[sel]
        bad = ~(np.isfinite(o[:, j]) & np.isfinite(h[:, j]) & np.isfinite(lw[:, j]) & np.isfinite(c[:, j]))
        bad |= (
            (lw[:, j] <= 0)
            | (h[:, j] < np.maximum(o[:, j], c[:, j]))
            | (lw[:, j] > np.minimum(o[:, j], c[:, j]))
        )
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise DataError(
                src, int(rows[sel[i]]), "candle needs 0 < low <= min(open, close) <= max(open, close) <= high"
            )

    pos = _knot_offsets(intrabar, m)
    if intrabar == "open_close":
        knots = np.stack([o, c], axis=1)[:, : pos.size]  # (n_c, n_knots, k)
    else:
        up = c >= o
        if intrabar == "nearest_extreme":
            dh = np.log(h) - np.log(o)
            dl = np.log(o) - np.log(lw)
            low_first = np.where(dh == dl, up, dl < dh)
        else:
            low_first = up
        first = np.where(low_first, lw, h)
        second = np.where(low_first, h, lw)
        knots = np.stack([o, first, second, c], axis=1)
    off = np.arange(m)
    seg = np.clip(np.searchsorted(pos, off, side="right") - 1, 0, max(pos.size - 2, 0))
    if pos.size > 1:
        w = (off - pos[seg]) / (pos[seg + 1] - pos[seg])
        lk = np.log(knots)
        logp = lk[:, seg, :] * (1.0 - w)[None, :, None] + lk[:, seg + 1, :] * w[None, :, None]
        out = np.exp(logp)
    else:
        out = np.repeat(knots, m, axis=1)
    out[:, pos, :] = knots  # knots exactly, not exp(log(x))
    out = np.clip(out, lw[:, None, :], h[:, None, :])
    prices = out.reshape(n_c * m, k)
    times = (grid[:, None] + bs * off[None, :]).ravel()
    return PricePath(
        times,
        assets,
        prices,
        bs,
        meta={
            "source": "historical",
            "intrabar": intrabar,
            "rule": "piecewise log-linear through the candle's knots; open on its first block, close on its last",
            "interval": iv,
            "files": {a: _frame_source(candles[a], a) for a in assets},
            "quote": str(candles[assets[0]].attrs.get("quote", "USD")),
        },
    )
