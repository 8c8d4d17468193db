"""Perp scenarios: a TOML file with a ``[perps]`` table (docs/perps.md, "Perp scenarios").

One perpetual market on one margin engine of the perp registry: the book (an accounts and a
positions file read by :mod:`liqcascade.io.perps`, or a synthetic book drawn by
:mod:`liqcascade.model.perps_synthetic`), the perp's order book (the ``perp_orderbook`` venue:
depth fitted to 2025-10-10 that collapses with the price move and refills), the mark path (the
shipped 2025-10-10 20:00–22:00 BTC window or a Binance kline CSV), the insurance fund, the ADL
policy and the step. Validated by pydantic like the lending scenarios: the first bad key is a
ConfigError naming the file and the dotted key; a bad row of a book file is a DataError naming
the file, row and column. Nothing runs on bad input.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, model_validator

from liqcascade.errors import ConfigError
from liqcascade.io.config import _Model, file_digest, read_toml, resolve_path, validate
from liqcascade.markets.perp_book import PerpOrderBookVenue
from liqcascade.markets.perp_depth import load_dynamics, shipped_dynamics
from liqcascade.model.perps import PerpBook
from liqcascade.model.perps_synthetic import SideDraw, synthetic_perp_book
from liqcascade.protocols.perps_adl import POLICY_NAMES
from liqcascade.protocols.perps_base import MarginEngine
from liqcascade.protocols.perps_registry import names as engine_names, spec as engine_spec

__all__ = ["ADL_NAMES", "PerpScenario", "PerpScenarioConfig", "build_perp_scenario", "is_perp_file",
           "load_perp_scenario", "parse_perp_scenario"]

SHIPPED_DYNAMICS = "btcusdt-2025-10-10"
SHIPPED_WINDOW = "2025-10-10"
ADL_NAMES = ("dydx",) + POLICY_NAMES
"""``perps.adl``: dYdX's deleveraging (the perp engine's default) or a policy of perps_adl.py."""
STEP_SECONDS = (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60)


class PerpSideConfig(_Model):
    """One side of a synthetic book (model/perps_synthetic.py)."""

    open_interest_usd: float = Field(gt=0, description="The side's notional at the start price (USD).")
    n_accounts: int = Field(ge=1, le=5_000_000, description="Accounts on the side, one position each.")
    leverage_median: float = Field(ge=1, description="Median leverage at entry.")
    leverage_sigma: float = Field(0.0, ge=0, description="Log-standard deviation of leverage (lognormal).")
    leverage_max: float = Field(125.0, ge=1, description="Leverage cap of the draw (the engine's tiers cap it too).")
    size_sigma: float = Field(0.0, ge=0, description="Log-standard deviation of account notional (lognormal).")
    entry_sigma: float = Field(0.0, ge=0, description="Log-standard deviation of entry prices around the start price.")


class SyntheticPerpBookConfig(_Model):
    """A book drawn from the documented distribution, reproducible from ``seed``."""

    seed: int = Field(0, ge=0, description="Seed of the draw.")
    long: PerpSideConfig = Field(description="The long side.")
    short: PerpSideConfig = Field(description="The short side.")


class PerpBookFileConfig(_Model):
    """The perp book: two files (docs/perps.md) or ``[perps.book.synthetic]``."""

    accounts: str | None = Field(None, description="Accounts file (CSV or Parquet), relative to the scenario.")
    positions: str | None = Field(None, description="Positions file (CSV or Parquet), relative to the scenario.")
    synthetic: SyntheticPerpBookConfig | None = Field(None, description="A synthetic book instead of files.")

    @model_validator(mode="after")
    def _one_source(self) -> "PerpBookFileConfig":
        files = (self.accounts is not None, self.positions is not None)
        if self.synthetic is not None and any(files):
            raise ValueError("either accounts and positions files or [perps.book.synthetic], not both")
        if self.synthetic is None and not all(files):
            raise ValueError("both accounts and positions files, or [perps.book.synthetic]")
        return self


class PerpVenueTableConfig(_Model):
    """The perp's own order book (the ``perp_orderbook`` venue's keys)."""

    dynamics: str = Field(SHIPPED_DYNAMICS, description=f"'{SHIPPED_DYNAMICS}' (Binance BTCUSDT depth fitted to "
                          "2025-10-10) or a depth-dynamics JSON written by liqcascade.markets.perp_depth.")
    stress: float = Field(0.0, ge=0, description="Depth stress at the start (depth = calm × exp(−stress)).")
    scale: float = Field(1.0, gt=0, description="Multiplier on the fitted notional depth.")
    refill_half_life_s: float | None = Field(None, gt=0, description="Half-life of consumed depth (s); default "
                                             "the fit's depth-recovery half-life.")


class PerpPathConfig(_Model):
    """The mark path: one price per minute, interpolated linearly to the step."""

    source: Literal["2025-10-10", "file"] = Field(SHIPPED_WINDOW, description="'2025-10-10': the shipped BTC "
                                                  "window 20:00–22:00 UTC; 'file': a Binance kline CSV (`file`).")
    file: str | None = Field(None, description="source = 'file': the kline CSV (closes are the marks).")
    start: str | None = Field(None, description="First minute (UTC, '2025-10-10 20:00'); default the path's first.")
    end: str | None = Field(None, description="Minute to stop before (UTC); default the path's end.")

    @model_validator(mode="after")
    def _file(self) -> "PerpPathConfig":
        if (self.source == "file") != (self.file is not None):
            raise ValueError("a file exactly when source = 'file'")
        return self


class LiqMapConfig(_Model):
    """The liquidation map of the book at the start (engine/liqmap.py)."""

    low: float = Field(0.8, gt=0, lt=1, description="Lowest price level, as a fraction of the start mark.")
    high: float = Field(1.2, gt=1, description="Highest price level, as a multiple of the start mark.")
    levels: int = Field(100, ge=1, le=10_000, description="Equal price bins between low and high.")


class PerpsConfig(_Model):
    """One perpetual market on one margin engine."""

    engine: str = Field(description=f"Margin engine of the perp registry: one of {list(engine_names())}.")
    settings: dict[str, float | int | bool] = Field(default_factory=dict, description="The engine's scalar "
                                                   "settings (dydx_v4: DydxV4Rules; cex_perp: CexSettings; "
                                                   "hyperliquid: HyperliquidSettings keyword arguments).")
    market: str = Field(description="The market's name, as the engine's tiers know it (cex_perp: 'BTCUSDT', hyperliquid: 'BTC', dydx_v4: 'BTC-USD').")
    fund_usd: float = Field(0.0, ge=0, description="Insurance fund at the start (USD).")
    adl: str = Field("dydx", description=f"Deleveraging: one of {list(ADL_NAMES)}.")
    adl_seed: int = Field(0, ge=0, description="Seed of dYdX's pseudo-random start (adl = 'dydx').")
    step_seconds: int = Field(60, description=f"Seconds per step, one of {list(STEP_SECONDS)}.")
    book: PerpBookFileConfig = Field(description="The book.")
    venue: PerpVenueTableConfig = Field(default_factory=PerpVenueTableConfig, description="The perp's order book.")
    path: PerpPathConfig = Field(default_factory=PerpPathConfig, description="The mark path.")
    liquidation_map: LiqMapConfig = Field(default_factory=LiqMapConfig, description="The map at the start.")


class PerpScenarioConfig(_Model):
    name: str = Field("", description="A short name.")
    description: str = Field("", description="What the scenario is for.")
    perps: PerpsConfig = Field(description="The perp market.")


@dataclass(frozen=True)
class PerpScenario:
    """A built perp scenario: everything the perp run needs."""

    config: PerpScenarioConfig
    source: str
    base_dir: Path
    engine: MarginEngine
    book: PerpBook
    times: np.ndarray
    """Unix seconds of each step (the time its mark holds)."""
    marks: np.ndarray
    """Mark per step (one market)."""
    venue: PerpOrderBookVenue
    topped_up: int
    """Synthetic accounts whose collateral was raised to the engine's initial margin at the start."""

    def resolved(self) -> dict[str, Any]:
        """The config with each input file replaced by its content hash (what the run id hashes)."""
        d = json.loads(self.config.model_dump_json())
        p = d["perps"]
        for key in ("accounts", "positions"):
            if p["book"].get(key) is not None:
                p["book"][key] = f"sha256:{file_digest(resolve_path(p['book'][key], self.base_dir, self.source, f'perps.book.{key}'))}"
        if p["venue"]["dynamics"] != SHIPPED_DYNAMICS:
            f = resolve_path(p["venue"]["dynamics"], self.base_dir, self.source, "perps.venue.dynamics")
            p["venue"]["dynamics"] = f"sha256:{file_digest(f)}"
        if p["path"].get("file") is not None:
            f = resolve_path(p["path"]["file"], self.base_dir, self.source, "perps.path.file")
            p["path"]["file"] = f"sha256:{file_digest(f)}"
        return d


def is_perp_file(path: str | Path) -> bool:
    """True when the TOML file at ``path`` has a ``[perps]`` table (cheap: no validation)."""
    p = Path(path)
    if not p.is_file() or p.suffix.lower() != ".toml":
        return False
    try:
        return "perps" in read_toml(p)
    except ConfigError:
        return False


def parse_perp_scenario(data: dict[str, Any], source: str = "<python>") -> PerpScenarioConfig:
    """Validate a perp scenario mapping; a ConfigError names the first bad key."""
    cfg = validate(PerpScenarioConfig, data, source)
    p = cfg.perps
    if p.engine not in engine_names():
        raise ConfigError(source, "perps.engine", f"one of {list(engine_names())}", p.engine)
    if p.adl not in ADL_NAMES:
        raise ConfigError(source, "perps.adl", f"one of {list(ADL_NAMES)}", p.adl)
    if p.step_seconds not in STEP_SECONDS:
        raise ConfigError(source, "perps.step_seconds", f"one of {list(STEP_SECONDS)} (steps within a minute)",
                          p.step_seconds)
    return cfg


def load_perp_scenario(path: str | Path) -> PerpScenario:
    """Read, validate and build a perp scenario TOML file."""
    p = Path(path)
    return build_perp_scenario(parse_perp_scenario(read_toml(p), str(p)), p.resolve().parent, str(p))


def _engine(cfg: PerpsConfig, source: str) -> MarginEngine:
    """The registry's engine with the scenario's scalar settings."""
    s = dict(cfg.settings)
    built: Any = s or None
    try:
        if s and cfg.engine == "cex_perp":
            from liqcascade.protocols.cex_perp.rules import CexSettings

            built = CexSettings(**s, source=f"{source}: perps.settings")
        elif s and cfg.engine == "hyperliquid":
            from liqcascade.protocols.hyperliquid.rules import HyperliquidSettings

            built = HyperliquidSettings(**s, source=f"{source}: perps.settings")
        return engine_spec(cfg.engine, source).build(built)
    except TypeError as e:  # an unknown keyword: name it
        raise ConfigError(source, "perps.settings", f"settings of the {cfg.engine} engine ({e})") from None


def _path(cfg: PerpsConfig, base_dir: Path, source: str) -> tuple[np.ndarray, np.ndarray]:
    """Step times and marks: each minute's close holds at the minute's end, interpolated to the step."""
    from liqcascade.scenarios.loaders import load_binance_klines
    from liqcascade.scenarios.perp_window import load_perp_window

    pc = cfg.path
    if pc.source == "file":
        candles = load_binance_klines(resolve_path(pc.file or "", base_dir, source, "perps.path.file"), quote="USD")
    else:
        candles = load_perp_window().candles
    t = candles["time"].to_numpy().astype(np.int64)
    close = candles["close"].to_numpy(dtype=np.float64)
    keep = np.ones(t.shape[0], dtype=bool)
    for key, text, cmp in (("start", pc.start, np.greater_equal), ("end", pc.end, np.less)):
        if text is None:
            continue
        try:
            bound = int(np.datetime64(text.replace(" ", "T"), "s").astype(np.int64))
        except ValueError:
            raise ConfigError(source, f"perps.path.{key}", "a UTC time like '2025-10-10 20:00'", text) from None
        keep &= cmp(t, bound)
    if keep.sum() < 2:
        raise ConfigError(source, "perps.path", "at least two minutes between start and end", (pc.start, pc.end))
    t_end, close = t[keep] + 60, close[keep]
    steps = np.arange(t_end[0], t_end[-1] + 1, cfg.step_seconds, dtype=np.int64)
    return steps, np.interp(steps, t_end, close)


def _book(cfg: PerpsConfig, engine: MarginEngine, price: float, base_dir: Path, source: str) -> tuple[PerpBook, int]:
    """The files' book, or the synthetic one with any account the draw put above the engine's
    maximum leverage at the start brought up to its initial margin (so none starts liquidatable)."""
    b = cfg.book
    if b.synthetic is None:
        from liqcascade.io.perps import load_perp_book

        book = load_perp_book(resolve_path(b.accounts or "", base_dir, source, "perps.book.accounts"),
                              resolve_path(b.positions or "", base_dir, source, "perps.book.positions"),
                              getattr(engine, "max_leverage", None))  # dYdX's cap per market; others: none
        if book.markets != (cfg.market,):
            raise ConfigError(source, "perps.market", f"the one market of the positions file {list(book.markets)}",
                              cfg.market)
        return book, 0
    s = b.synthetic
    draws = [SideDraw(**getattr(s, side).model_dump()) for side in ("long", "short")]
    book = synthetic_perp_book(cfg.market, price, draws[0], draws[1], s.seed, source)
    m = np.array([price])
    state = engine.margin(book, m, None)
    short = np.flatnonzero(state.equity < state.initial)
    book.collateral[short] += state.initial[short] - state.equity[short]
    return book, int(short.size)


def _venue(cfg: PerpsConfig, price: float, base_dir: Path, source: str) -> PerpOrderBookVenue:
    v = cfg.venue
    dyn = shipped_dynamics() if v.dynamics == SHIPPED_DYNAMICS else load_dynamics(
        resolve_path(v.dynamics, base_dir, source, "perps.venue.dynamics"))
    return PerpOrderBookVenue(cfg.market, price, dyn, v.stress, v.scale, refill_half_life_s=v.refill_half_life_s)


def build_perp_scenario(cfg: PerpScenarioConfig, base_dir: Path | str = ".", source: str = "<python>") -> PerpScenario:
    """Build a validated config (relative paths from ``base_dir``; errors name ``source``)."""
    base_dir = Path(base_dir)
    p = cfg.perps
    engine = _engine(p, source)
    times, marks = _path(p, base_dir, source)
    book, topped = _book(p, engine, float(marks[0]), base_dir, source)
    return PerpScenario(cfg, source, base_dir, engine, book, times, marks, _venue(p, float(marks[0]), base_dir, source),
                        topped)
