"""Monte Carlo price paths: one path model, any path drawn alone from (root seed, path index).

A :class:`PathModel` is a base model — correlated GBM with Merton jumps (:class:`GbmModel`, drawn
by :func:`~liqcascade.scenarios.paths.gbm`) or a moving-block bootstrap of real hourly returns
(:class:`BootstrapModel`, drawn by :func:`~liqcascade.scenarios.paths.block_bootstrap`) — plus
regime stresses:

- ``vol_scale``: GBM volatilities times a factor (jumps unchanged); for the bootstrap the log
  returns themselves are scaled (their mean too: the bootstrap has no separate drift);
- ``corr_break``: set one pair's correlation (GBM); the stressed matrix must still be positive
  semidefinite (checked);
- ``depeg``: with probability ``p`` per path, at a block drawn uniformly in ``1 .. blocks-1``,
  the asset's log price falls by ``log(1 - drop)``, log-linearly over ``duration_blocks``
  blocks, and from then on also moves by an independent GBM of volatility ``vol_after``
  (zero drift in price: each step adds ``vol_after sqrt(dt) Z - vol_after**2 dt / 2``), so it
  decouples from the assets it was correlated with.

Seeds. Path ``i`` of root seed ``s`` uses ``SeedSequence(s, spawn_key=(i,))`` — exactly
``SeedSequence(s).spawn(n)[i]`` — whose two children drive the base path (``(i, 0)``) and the
stress events (``(i, 1)``). A path depends on nothing but ``(model, s, i)``: any chunk of
paths can be recomputed alone, in any process, and gives the same numbers. Every path starts
at price 1 for every path asset (the engine moves market assets by relative paths,
:func:`~liqcascade.engine.dynamic.drive_path`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from liqcascade.errors import ConfigError
from liqcascade.scenarios.loaders import load_binance_klines
from liqcascade.scenarios.paths import (
    SECONDS_PER_YEAR,
    Jumps,
    PricePath,
    _per_asset,
    block_bootstrap,
    check_correlation,
    gbm,
)

_PY = "<python>"

HOURLY_FILE = "binance_spot_close_1h_2021-04_2023-12.parquet"
"""Shipped hourly closes (``data/montecarlo/``): Binance spot ETHUSDT and BTCUSDT, 2021-04-04 to
2023-12-30, gaps kept (see ``data/ATTRIBUTION-montecarlo.md``)."""

BUILTIN_RETURNS = {"builtin:ETHUSDT_1h": "ETHUSDT", "builtin:BTCUSDT_1h": "BTCUSDT"}


@dataclasses.dataclass(frozen=True)
class GbmModel:
    """Correlated GBM with optional jumps, parameters as in :func:`~liqcascade.scenarios.paths.gbm`;
    the keys of ``vol`` name the path assets, in order."""

    vol: Mapping[str, float]
    corr: Any = None
    drift: Mapping[str, float] | float = 0.0
    jumps: Jumps | None = None

    @property
    def assets(self) -> tuple[str, ...]:
        return tuple(self.vol)


@dataclasses.dataclass(frozen=True)
class BootstrapModel:
    """Moving-block bootstrap of the joint hourly returns of ``returns`` (path asset -> candle
    frame with ``time`` and ``close``, e.g. :func:`hourly_returns_source`) in runs of
    ``block_hours`` hours."""

    returns: Mapping[str, pd.DataFrame]
    block_hours: int = 24

    @property
    def assets(self) -> tuple[str, ...]:
        return tuple(self.returns)


@dataclasses.dataclass(frozen=True)
class CorrBreak:
    """Set the correlation of path assets ``a`` and ``b`` to ``corr``."""

    a: str
    b: str
    corr: float


@dataclasses.dataclass(frozen=True)
class Depeg:
    """A break of ``asset``: see the module docstring."""

    asset: str
    drop: float
    probability: float
    duration_blocks: int = 1
    vol_after: float = 0.0


def hourly_returns_source(ref: str | Path, source: str = _PY, key: str = "returns") -> pd.DataFrame:
    """Hourly candles for :class:`BootstrapModel`: a shipped series (``builtin:ETHUSDT_1h``,
    ``builtin:BTCUSDT_1h``) or a candle CSV read by
    :func:`~liqcascade.scenarios.loaders.load_binance_klines` with its gaps kept."""
    text = str(ref)
    if text.startswith("builtin:"):
        if text not in BUILTIN_RETURNS:
            raise ConfigError(source, key, f"one of {sorted(BUILTIN_RETURNS)} or a candle file", text)
        col = BUILTIN_RETURNS[text]
        p = resources.files("liqcascade") / "data" / "montecarlo" / HOURLY_FILE
        df = pd.read_parquet(str(p), columns=["time", col]).dropna()
        out = pd.DataFrame({"time": df["time"].to_numpy(np.int64), "close": df[col].to_numpy(np.float64)})
        out.attrs = {"source": f"{text} ({HOURLY_FILE})", "interval": 3600}
        return out
    p = Path(text)
    if not p.is_file():
        raise ConfigError(source, key, "an existing candle file", text)
    return load_binance_klines(p, fill="keep")


def _rekey(e: ConfigError, source: str, prefix: str) -> ConfigError:
    """A path function's own error said again against the ``[montecarlo]`` key and file."""
    if e.key.startswith("montecarlo"):
        return e
    return ConfigError(source, f"{prefix}.{e.key}" if e.key else prefix, e.expected, e.got)


@dataclasses.dataclass(frozen=True)
class PathModel:
    """What a Monte Carlo path is: a base model, the grid, and the stresses (module docstring).

    Checked when built (before any path is drawn): known assets, a positive semidefinite
    stressed correlation, valid stress parameters. ``source`` is the file errors name; keys
    are named as in the ``[montecarlo]`` table.
    """

    base: GbmModel | BootstrapModel
    blocks: int = 288
    block_seconds: int = 300
    vol_scale: Mapping[str, float] | float = 1.0
    corr_break: tuple[CorrBreak, ...] = ()
    depeg: tuple[Depeg, ...] = ()
    source: str = _PY
    _scale: np.ndarray = dataclasses.field(init=False, repr=False, compare=False)
    _corr: np.ndarray | None = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        src = self.source
        assets = self.assets
        if not assets:
            raise ConfigError(src, "montecarlo", "at least one path asset")
        for key, v, lo in (("montecarlo.blocks", self.blocks, 2), ("montecarlo.block_seconds", self.block_seconds, 1)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
                raise ConfigError(src, key, f"an integer >= {lo}", v)
        scale = _per_asset(self.vol_scale, assets, "montecarlo.vol_scale", src, default=1.0, lo=0.0, lo_open=True)
        object.__setattr__(self, "_scale", scale)
        object.__setattr__(self, "_corr", self._stressed_corr())
        for i, d in enumerate(self.depeg):
            self._check_depeg(d, f"montecarlo.depeg.{i}")
        if isinstance(self.base, GbmModel):
            try:  # gbm's own checks of vol, drift and jumps, on a two-block path
                self._base_path(np.random.SeedSequence(0), 2)
            except ConfigError as e:
                raise _rekey(e, src, "montecarlo") from None
        elif isinstance(self.base, BootstrapModel):
            try:
                self._base_path(np.random.SeedSequence(0), self.blocks)
            except ConfigError as e:
                raise _rekey(e, src, "montecarlo.returns") from None
        else:
            raise ConfigError(src, "montecarlo.kind", "a GbmModel or a BootstrapModel", type(self.base).__name__)

    @property
    def assets(self) -> tuple[str, ...]:
        """The path assets, in order."""
        return self.base.assets

    def _stressed_corr(self) -> np.ndarray | None:
        src, assets = self.source, self.assets
        if not isinstance(self.base, GbmModel):
            if self.corr_break:
                raise ConfigError(src, "montecarlo.corr_break", "no correlation breaks for kind = bootstrap "
                                  "(its correlation is the data's)", [(c.a, c.b) for c in self.corr_break])
            return None
        k = len(assets)
        c = np.eye(k) if self.base.corr is None else check_correlation(self.base.corr, k, key="montecarlo.corr", source=src,
                                                                           assets=assets)
        if not self.corr_break:
            return c
        c = c.copy()
        for i, cb in enumerate(self.corr_break):
            key = f"montecarlo.corr_break.{i}"
            for a in (cb.a, cb.b):
                if a not in assets:
                    raise ConfigError(src, f"{key}.assets", f"path assets among {list(assets)}", a)
            if cb.a == cb.b:
                raise ConfigError(src, f"{key}.assets", "two different path assets", (cb.a, cb.b))
            if not (isinstance(cb.corr, (int, float)) and -1.0 <= cb.corr <= 1.0):
                raise ConfigError(src, f"{key}.corr", "a correlation in [-1, 1]", cb.corr)
            ia, ib = assets.index(cb.a), assets.index(cb.b)
            c[ia, ib] = c[ib, ia] = float(cb.corr)
        return check_correlation(c, k, key="montecarlo.corr_break", source=src)

    def _check_depeg(self, d: Depeg, key: str) -> None:
        src = self.source
        checks = (
            ("asset", d.asset in self.assets, f"a path asset among {list(self.assets)}", d.asset),
            ("drop", _finite(d.drop) and 0.0 < d.drop < 1.0, "a fractional fall in (0, 1)", d.drop),
            ("probability", _finite(d.probability) and 0.0 <= d.probability <= 1.0, "a probability in [0, 1]",
             d.probability),
            ("duration_blocks", isinstance(d.duration_blocks, (int, np.integer)) and not isinstance(d.duration_blocks, bool)
             and 1 <= d.duration_blocks, "an integer >= 1", d.duration_blocks),
            ("vol_after", _finite(d.vol_after) and d.vol_after >= 0.0, "an annualised volatility >= 0", d.vol_after),
        )
        for name, ok, expected, got in checks:
            if not ok:
                raise ConfigError(src, f"{key}.{name}", expected, got)

    # ------------------------------------------------------------------ drawing
    def _base_path(self, seq: np.random.SeedSequence, n_blocks: int) -> PricePath:
        start = {a: 1.0 for a in self.assets}
        b = self.base
        if isinstance(b, GbmModel):
            vol = _per_asset(b.vol, self.assets, "vol", _PY, default=None, lo=0.0) * self._scale
            return gbm(start, dict(zip(self.assets, vol.tolist())), self._corr, n_blocks, seq, drift=b.drift,
                       jumps=b.jumps, block_seconds=self.block_seconds)
        path = block_bootstrap(b.returns, n_blocks, b.block_hours, seq, p0=start, block_seconds=self.block_seconds)
        if np.all(self._scale == 1.0):
            return path
        # p0 = 1, so the log price is the cumulative log return: scaling it scales every return
        return dataclasses.replace(path, prices=np.exp(np.log(path.prices) * self._scale))

    def path(self, seed: int, index: int) -> PricePath:
        """Path ``index`` of root seed ``seed`` (see the module docstring), path assets from 1.0.

        ``meta["depeg_blocks"]`` maps each depeg (in config order, by index) to the block of its
        break, or -1 when the path has none.
        """
        for key, v in (("seed", seed), ("path index", index)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
                raise ConfigError(self.source, key, "an integer >= 0", v)
        base_seq, stress_seq = np.random.SeedSequence(int(seed), spawn_key=(int(index),)).spawn(2)
        p = self._base_path(base_seq, self.blocks)
        logp = np.log(p.prices)
        rng = np.random.Generator(np.random.PCG64(stress_seq))
        breaks = []
        for d in self.depeg:
            # every depeg draws the same numbers whether or not it happens: a fixed stream layout
            u = rng.random()
            b = int(rng.integers(1, self.blocks))
            z = rng.standard_normal(self.blocks - 1)
            if u < d.probability:
                logp[:, self.assets.index(d.asset)] += self._break(d, b, z)
                breaks.append(b)
            else:
                breaks.append(-1)
        meta = {**p.meta, "root_seed": int(seed), "path_index": int(index), "depeg_blocks": tuple(breaks)}
        return PricePath(p.times, p.assets, np.exp(logp), p.block_seconds, meta=meta)

    def _break(self, d: Depeg, b: int, z: np.ndarray) -> np.ndarray:
        """The log-price change of a break at block ``b``: the fall ramp plus the decoupled move."""
        t = np.arange(self.blocks)
        ramp = np.clip((t - b + 1) / d.duration_blocks, 0.0, 1.0)
        out = math.log1p(-d.drop) * ramp
        if d.vol_after > 0.0:
            dt = self.block_seconds / SECONDS_PER_YEAR
            step = d.vol_after * math.sqrt(dt) * z - 0.5 * d.vol_after**2 * dt
            step[: b] = 0.0  # step s moves block s+1: nothing up to and including block b
            out = out + np.concatenate(([0.0], np.cumsum(step)))
        return out


def _finite(x: Any) -> bool:
    return isinstance(x, (int, float, np.number)) and not isinstance(x, bool) and math.isfinite(x)


__all__ = [
    "BUILTIN_RETURNS",
    "BootstrapModel",
    "CorrBreak",
    "Depeg",
    "GbmModel",
    "PathModel",
    "hourly_returns_source",
]
