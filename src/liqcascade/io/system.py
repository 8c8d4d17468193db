"""System scenarios: several ``[[markets]]`` over one asset universe, with shared venues.

A system scenario is a scenario file with a ``[[markets]]`` array instead of ``[market]`` and
``[positions]``. Each entry is one market: a ``name``, every key of ``[market]``
(protocol, version, params, assets, overrides, protocol settings), its ``positions`` table,
and optionally its own ``liquidators`` table. ``[prices]``, ``[[venues]]``, ``[shock]``,
``[liquidators]``, ``[engine]`` and ``[curve]`` are the system's, shared by every market.

Every market is built by the single-market builder (:func:`liqcascade.io.scenario.build`) from
the market's keys and the shared prices, so its checks are the same; an error names the
market's key (``markets.1.version``). The markets must agree on each asset's reference price
(set ``[prices.overrides]`` when their parameter files differ).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field, field_validator

from liqcascade.engine.static import CascadeSettings
from liqcascade.engine.system import SystemModel
from liqcascade.errors import ConfigError
from liqcascade.io.config import (
    CurveConfig,
    EngineConfig,
    LiquidatorConfig,
    MarketConfig,
    PositionsConfig,
    PricesConfig,
    ScenarioConfig,
    SimulationConfig,
    VenueConfig,
    _FieldError,
    _Model,
    hash_shared_inputs,
    read_toml,
    validate,
)
from liqcascade.io.scenario import Scenario, _venues, build
from liqcascade.model import RiskParams

__all__ = ["SystemMarketConfig", "SystemScenario", "SystemScenarioConfig", "build_system", "is_system_file",
           "load_system", "parse_system", "system_simulation_parts"]

NOT_YET = {
    "montecarlo": "Monte Carlo runs one market today; run a market's own scenario with `montecarlo`",
    "market": "no [market] table in a system scenario: each [[markets]] entry is a market",
    "positions": "no [positions] table in a system scenario: each [[markets]] entry has its own positions",
}


class SystemMarketConfig(MarketConfig):
    """One market of a system: the keys of ``[market]`` plus a name, its positions and,
    optionally, its own liquidators."""

    name: str = Field(description="Market name, unique in the system (used in every table).", min_length=1)
    positions: PositionsConfig = Field(description="The market's position book (as [positions]).")
    liquidators: LiquidatorConfig | None = Field(
        None, description="The market's own liquidator behaviour (default: the system's [liquidators])."
    )


class SystemScenarioConfig(_Model):
    """A system of markets over one asset universe, selling into shared venues."""

    name: str = Field(description="Short name of the scenario.")
    description: str = Field("", description="What the scenario is for.")
    markets: list[SystemMarketConfig] = Field(description="The markets, each a protocol with its book.", min_length=1)
    prices: PricesConfig = Field(default_factory=PricesConfig, description="Reference prices, shared by all markets.")
    venues: list[VenueConfig] = Field(default_factory=list, description="Venues every market's liquidators sell into.")
    shock: dict[str, float] = Field(default_factory=dict, description="Initial fractional drop per asset (0.3 = -30 %).")
    liquidators: LiquidatorConfig = Field(default_factory=LiquidatorConfig, description="Liquidator behaviour (default for every market).")
    engine: EngineConfig = Field(default_factory=EngineConfig, description="Solver settings.")
    curve: CurveConfig | None = Field(None, description="Defaults for the cascade curve command.")
    simulation: SimulationConfig | None = Field(
        None, description="Block-by-block simulation of the system (`liqcascade simulate`): one path, the shared "
        "venues, one liquidator population; every market's oracle is this table's oracle.",
    )

    @field_validator("markets")
    @classmethod
    def _unique_names(cls, v: list[SystemMarketConfig]) -> list[SystemMarketConfig]:
        seen: set[str] = set()
        for m in v:
            if m.name in seen:
                raise _FieldError("distinct market names", m.name)
            seen.add(m.name)
        return v

    @field_validator("shock")
    @classmethod
    def _shock_range(cls, v: dict[str, float]) -> dict[str, float]:
        return ScenarioConfig._shock_range(v)


@dataclass(frozen=True)
class SystemScenario:
    """A system scenario ready to run: config, source, each market's built scenario, the
    system model and the settings (system-wide and per market)."""

    config: SystemScenarioConfig
    source: str
    base_dir: Path
    markets: dict[str, Scenario]
    model: SystemModel
    settings: CascadeSettings

    @property
    def market_settings(self) -> dict[str, CascadeSettings]:
        return {n: sc.settings for n, sc in self.markets.items()}

    def resolved(self) -> dict[str, Any]:
        """The config with input files replaced by their hashes (what the run id hashes)."""
        d = json.loads(self.config.model_dump_json())
        for entry, sc in zip(d["markets"], self.markets.values()):
            own = sc.resolved()
            entry["params"] = own["market"]["params"]
            entry["positions"] = own["positions"]
        hash_shared_inputs(d, self.config.venues, self.base_dir, self.source)
        return d


def is_system_file(path: str | Path) -> bool:
    """True when the TOML file at ``path`` has a ``[[markets]]`` array (cheap: no validation)."""
    p = Path(path)
    if not p.is_file():
        return False
    try:
        return "markets" in read_toml(p)
    except ConfigError:
        return False


def parse_system(data: dict[str, Any], source: str = "<python>") -> SystemScenarioConfig:
    """Validate a system scenario mapping; a ConfigError names the first bad key."""
    for key, why in NOT_YET.items():
        if key in data:
            raise ConfigError(source, key, why)
    if isinstance(data.get("simulation"), dict) and "behaviour" in data["simulation"]:
        # owners' reactions run in single-market simulations only (docs/behaviour.md)
        raise ConfigError(source, "simulation.behaviour", "no [simulation.behaviour] in a system scenario (owners "
                          "who react are a single-market simulation's)")
    return validate(SystemScenarioConfig, data, source)


def load_system(path: str | Path) -> SystemScenario:
    """Read, validate and build a system scenario TOML file."""
    p = Path(path)
    return build_system(parse_system(read_toml(p), str(p)), p.resolve().parent, str(p))


def build_system(cfg: SystemScenarioConfig, base_dir: Path | str = ".", source: str = "<python>") -> SystemScenario:
    """Build every market with the single-market builder, then the shared universe and venues."""
    base_dir = Path(base_dir)
    markets = {m.name: _build_market(cfg, i, base_dir, source) for i, m in enumerate(cfg.markets)}
    params = _universe(markets)
    prices = _universe_prices(markets, params, source)
    for a in cfg.shock:
        if a not in params.symbols:
            raise ConfigError(source, f"shock.{a}", f"an asset of the system {list(params.symbols)}", a)
    if cfg.curve is not None:
        for key, a in [("curve.asset", cfg.curve.asset)] + [("curve.co_move", x) for x in cfg.curve.co_move]:
            if a not in params.symbols:
                raise ConfigError(source, key, f"an asset of the system {list(params.symbols)}", a)
    venues = _venues(cfg, params, prices, base_dir, source)  # type: ignore[arg-type]
    model = SystemModel(params.symbols, prices, {n: sc.model for n, sc in markets.items()}, venues, source)
    settings = next(iter(markets.values())).settings
    settings = CascadeSettings(
        max_rounds=cfg.engine.max_rounds, limits=settings.limits, sell_fraction=cfg.liquidators.sell_fraction,
        buy_debt=cfg.liquidators.buy_debt, impact=cfg.engine.impact,
    )
    return SystemScenario(cfg, source, base_dir, markets, model, settings)


def _build_market(cfg: SystemScenarioConfig, i: int, base_dir: Path, source: str) -> Scenario:
    m = cfg.markets[i]
    market = MarketConfig(**{k: getattr(m, k) for k in MarketConfig.model_fields})
    single = ScenarioConfig(
        name=f"{cfg.name}/{m.name}", market=market, positions=m.positions, prices=cfg.prices,
        liquidators=m.liquidators or cfg.liquidators, engine=cfg.engine,
    )
    try:
        return build(single, base_dir, source)
    except ConfigError as e:
        if e.file != source or e.key.startswith(("prices.", "engine.")):
            raise
        key = e.key[len("market."):] if e.key.startswith("market.") else e.key
        raise ConfigError(source, f"markets.{i}.{key}".rstrip("."), e.expected, e.got) from None


def _universe(markets: dict[str, Scenario]) -> RiskParams:
    """Every market's assets in order of first appearance (parameters of the first market
    that has each; only the symbols and order matter to the shared venues)."""
    seen: dict[str, Any] = {}
    for sc in markets.values():
        p = sc.model.book.assets
        params = sc.model.rules.params
        for a in p:
            seen.setdefault(a, replace(params.asset(a), emode_category=0))
    return RiskParams.from_assets(list(seen.values()))


def _universe_prices(markets: dict[str, Scenario], params: RiskParams, source: str) -> np.ndarray:
    prices = np.full(len(params.symbols), np.nan)
    owner: dict[str, str] = {}
    for name, sc in markets.items():
        for a, p in zip(sc.model.assets, sc.model.prices):
            i = params.index(a)
            if np.isnan(prices[i]):
                prices[i], owner[a] = p, name
            elif p != prices[i]:
                raise ConfigError(
                    source, f"prices.overrides.{a}",
                    f"one reference price per asset: market {owner[a]!r} has {prices[i]!r}, market {name!r} {p!r}; "
                    "set it in [prices.overrides]",
                )
    return prices


@dataclass(frozen=True)
class _Universe:
    """The system's assets and reference prices, as the single-market path builder reads them."""

    assets: tuple[str, ...]
    prices: np.ndarray


@dataclass(frozen=True)
class _SimulationView:
    """The parts of a scenario :func:`liqcascade.io.scenario.simulation_parts` reads, for the
    system's universe (one path over the system's assets)."""

    config: SystemScenarioConfig
    source: str
    base_dir: Path
    model: _Universe


def system_simulation_parts(ss: SystemScenario):
    """(path, oracle, settings) of a system scenario's ``[simulation]`` table: the path over
    the system's assets, built as a single market's; one oracle kind for every market."""
    from liqcascade.io.scenario import simulation_parts

    sim = ss.config.simulation
    if sim is None:
        raise ConfigError(ss.source, "simulation", "a [simulation] table for `liqcascade simulate`")
    if sim.oracle.source != "market":
        raise ConfigError(ss.source, "simulation.oracle.source",
                          "'market' in a system scenario (a replay's pool feed drives one market's oracle only)",
                          sim.oracle.source)
    if sim.pool_depth:
        raise ConfigError(ss.source, "simulation.pool_depth",
                          "false in a system scenario (the shared venues are the [[venues]] table's)", True)
    view = _SimulationView(ss.config, ss.source, ss.base_dir, _Universe(ss.model.assets, np.asarray(ss.model.prices)))
    path, oracle, settings, _, _ = simulation_parts(view)  # type: ignore[arg-type]
    return path, oracle, settings
