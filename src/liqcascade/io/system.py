"""System scenarios: several ``[[markets]]`` over one asset universe, with shared venues.

A system scenario is a scenario file with a ``[[markets]]`` array instead of ``[market]`` and
``[positions]``. Each entry is one market: a ``name``, every key of ``[market]``
(protocol, version, params, assets, overrides, protocol settings), its ``positions`` table,
and optionally its own ``liquidators`` table. ``[prices]``, ``[[venues]]``, ``[shock]``,
``[liquidators]``, ``[engine]`` and ``[curve]`` are the system's, shared by every market.

``[stablecoins.SYM]`` declares a system asset issued by one of the markets (``issuer``; its
price is its ``[[venues]]`` pool's), and ``[owners]`` links accounts of different markets to
one owner (a ``path`` to a file of market, account, owner rows, and/or synthetic ``links``):
see :mod:`liqcascade.engine.system` and :mod:`liqcascade.engine.system_owners`.

Every market is built by the single-market builder (:func:`liqcascade.io.scenario.build`) from
the market's keys and the shared prices, so its checks are the same; an error names the
market's key (``markets.1.version``). The markets must agree on each asset's reference price
(set ``[prices.overrides]`` when their parameter files differ; an override names an asset of
the system and applies to every market that has it).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field, field_validator

from liqcascade.engine.static import CascadeSettings, check_static_strategy
from liqcascade.engine.system import IssuedCoin, SystemModel
from liqcascade.engine.system_liquidators import StaticLiquidators
from liqcascade.engine.system_pegs import Psm, Redemptions
from liqcascade.errors import ConfigError, DataError, plain
from liqcascade.io.config import (
    BehaviourConfig,
    CurveConfig,
    EngineConfig,
    LiquidatorConfig,
    MarketConfig,
    OracleConfig,
    PositionsConfig,
    PricesConfig,
    ScenarioConfig,
    SimLiquidatorsConfig,
    SimulationConfig,
    VenueConfig,
    _FieldError,
    _Model,
    drop_unset_calls_per_round,
    file_digest,
    hash_shared_inputs,
    read_toml,
    resolve_path,
    validate,
)
from liqcascade.io.montecarlo_config import MonteCarloConfig
from liqcascade.io.perp_scenario import PerpBookFileConfig, PerpVenueTableConfig
from liqcascade.io.scenario import Scenario, _venues, build
from liqcascade.model import RiskParams

__all__ = ["OwnerLinkConfig", "OwnersConfig", "PsmConfig", "RedemptionsConfig", "StablecoinConfig", "SystemMarketConfig", "SystemScenario",
           "SystemScenarioConfig", "build_system", "is_system_file", "lending_only", "load_system", "parse_system", "system_market_sims",
           "system_simulation_parts"]

NOT_YET = {
    "market": "no [market] table in a system scenario: each [[markets]] entry is a market",
    "positions": "no [positions] table in a system scenario: each [[markets]] entry has its own positions",
}


class MarketSimulationConfig(_Model):
    """A market's own parts in the system's block-by-block simulation."""

    oracle: OracleConfig | None = Field(
        None, description="The market's oracle over the shared market prices, same keys as [simulation.oracle] "
        "(source must be 'market'); default: the system's.",
    )
    liquidators: SimLiquidatorsConfig | None = Field(
        None, description="A liquidator population dedicated to this market, same keys as [simulation.liquidators]: "
        "it takes this market's candidates first (its own cap, capital, gas, profit floor, latency); the system's "
        "population takes what it leaves. Its calls_per_account, min_repay_usd and spread_blocks apply to every "
        "call on the market.",
    )
    behaviour: BehaviourConfig | None = Field(
        None, description="Owners who react and new accounts in this market, same keys as [simulation.behaviour]; "
        "replaces the system's table for this market (docs/behaviour.md).",
    )


class SystemMarketConfig(MarketConfig):
    """One market of a system: the keys of ``[market]`` plus a name, its positions and,
    optionally, its own liquidators."""

    name: str = Field(description="Market name, unique in the system (used in every table).", min_length=1)
    positions: PositionsConfig = Field(description="The market's position book (as [positions]).")
    liquidators: LiquidatorConfig | None = Field(
        None, description="The market's own liquidator behaviour in the static cascade (default: the system's "
        "[liquidators]); for `simulate` see [markets.simulation.liquidators].",
    )
    simulation: MarketSimulationConfig | None = Field(
        None, description="The market's own oracle and liquidators in `simulate` (default: the system's [simulation]).",
    )


class StablecoinConfig(_Model):
    """A stablecoin of the system issued by one of its markets."""

    issuer: str = Field(description="Name of the [[markets]] entry that issues the coin (a Maker, Liquity or crvUSD "
                        "market); the coin needs a pool in [[venues]] (cpmm or univ3), whose price every market sees.")
    buy_share: float = Field(
        1.0, ge=0.0, le=1.0, allow_inf_nan=False,
        description="Share of the debt the issuer's liquidations repay in the coin that liquidators buy on its "
        "venue (1: Maker keepers and crvUSD liquidators pay in a coin they must acquire; 0: Liquity, whose Stability "
        "Pool offsets debt with deposits it holds).",
    )
    supply: float | None = Field(None, gt=0.0, allow_inf_nan=False, description="Tokens of the coin outstanding at "
                                 "the start (at least the issuer's debt in it); reported as it is burnt and minted.")
    psm: PsmConfig | None = Field(None, description="A Peg Stability Module holding the coin's venue in its band.")
    redemptions: RedemptionsConfig | None = Field(None, description="Redemptions against the issuer's troves "
                                                  "(a liquity_v1 issuer; needs `supply`).")


class PsmConfig(_Model):
    """Maker's Peg Stability Module for the coin (dss-psm ``sellGem``/``buyGem``)."""

    gem_balance: float = Field(ge=0.0, allow_inf_nan=False, description="Gem (USDC, valued at $1) the PSM holds: "
                               "the most `buyGem` pays out for the coin below peg.")
    tin: float = Field(0.0, ge=0.0, lt=1.0, allow_inf_nan=False, description="Fee of `sellGem` (gem in, coin "
                       "minted): arbitrageurs mint and sell on the venue above 1 / (1 - tin).")
    tout: float = Field(0.0, ge=0.0, lt=1.0, allow_inf_nan=False, description="Fee of `buyGem` (coin in, gem out): "
                        "arbitrageurs buy on the venue and swap below 1 / (1 + tout).")
    mint_room: float | None = Field(None, ge=0.0, allow_inf_nan=False, description="Gem (USD) the PSM may still take "
                                    "before its debt ceiling (its ilk's line - art); default: no ceiling.")


class RedemptionsConfig(_Model):
    """Liquity redemptions of the coin against the issuer's troves (``TroveManager.redeemCollateral``)."""

    base_rate: float = Field(0.0, ge=0.0, le=1.0, allow_inf_nan=False, description="The base rate at the start "
                             "(the fee is base rate + 0.5 %).")


class OwnerLinkConfig(_Model):
    """Synthetic linkage: accounts of one market owned by the owners of another's."""

    from_market: str = Field(description="Market whose accounts' owners also own accounts of `to_market`.")
    to_market: str = Field(description="Market some of whose accounts those owners own.")
    share: float = Field(gt=0.0, le=1.0, allow_inf_nan=False,
                         description="Share of `to_market`'s accounts linked: its first accounts in account order, "
                         "one each to the owners of `from_market`'s accounts in account order (as many as it has).")


class OwnersConfig(_Model):
    """Owners whose accounts span markets (reporting: each market still liquidates each account alone)."""

    path: str | None = Field(None, description="CSV or Parquet with columns market, account, owner: the owner of "
                             "each listed account (accounts not listed have no owner).")
    links: list[OwnerLinkConfig] = Field(default_factory=list, description="Synthetic linkage between markets' "
                                         "books, applied after `path` in order.")


class PerpArbitrageConfig(_Model):
    """The basis arbitrageur tying a perp market's book to its asset's spot venue
    (markets/perp_arb.py): finite capital, an optional speed, and the band fees make."""

    capital_usd: float = Field(0.0, ge=0.0, description="USD of buy legs the arbitrageur can carry over the run "
                               "(0: the perp and the spot venue are not tied; each buy leg uses up its cost).")
    spot_fee: float = Field(0.0, ge=0.0, lt=1.0, description="Fee of the spot leg (fraction of notional).")
    perp_fee: float = Field(0.0, ge=0.0, lt=1.0, description="Fee of the perp leg (fraction of notional).")
    max_notional_per_s: float | None = Field(None, gt=0.0, description="USD of buy legs per second at most "
                                             "(default: no limit but the capital).")


class SystemPerpMarketConfig(_Model):
    """A perp market of the system (docs/perps.md, "Perps and lending"): the keys of ``[perps]``
    but the path (its mark is the index: the shared spot venue of ``asset``), plus a name, the
    asset and the arbitrage."""

    name: str = Field(min_length=1, description="Perp market name, unique in the system (the perp tables' "
                      "perp_market column).")
    asset: str = Field(description="The system asset whose shared [[venues]] venue gives the index and takes the "
                       "arbitrage's spot leg (an orderbook or cpmm venue: one that quotes purchases).")
    engine: str = Field(description="Margin engine of the perp registry (as perps.engine).")
    settings: dict[str, float | int | bool] = Field(default_factory=dict, description="The engine's scalar settings "
                                                   "(as perps.settings).")
    market: str = Field(description="The market's name as the engine's tiers know it (as perps.market).")
    fund_usd: float = Field(0.0, ge=0, description="Insurance fund at the start (USD).")
    adl: str = Field("dydx", description="Deleveraging (as perps.adl).")
    adl_seed: int = Field(0, ge=0, description="Seed of dYdX's pseudo-random start (adl = 'dydx').")
    step_seconds: int = Field(description="Seconds per perp step; must divide [simulation] block_seconds (the "
                              "perp runs block_seconds / step_seconds sub-steps after each lending block).")
    book: PerpBookFileConfig = Field(description="The perp book (as [perps.book]; a synthetic book is drawn around "
                                     "the asset's reference price).")
    venue: PerpVenueTableConfig = Field(default_factory=PerpVenueTableConfig, description="The perp's own order "
                                        "book (as [perps.venue]).")
    arbitrage: PerpArbitrageConfig = Field(default_factory=PerpArbitrageConfig, description="The basis "
                                           "arbitrageur between the perp's book and the spot venue.")


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
        "venues, one shared liquidator population; every market's oracle is this table's oracle unless its "
        "[markets.simulation] sets its own.",
    )
    stablecoins: dict[str, StablecoinConfig] = Field(
        default_factory=dict, description="Coins issued by a market of the system, by asset symbol: liquidators buy "
        "the debt the issuer's liquidations repay in it on the coin's venue, moving the price every market sees.")
    owners: OwnersConfig | None = Field(
        None, description="Owners whose accounts span markets: an `owners` table per run and owner nodes in "
        "`liqcascade network`.")
    montecarlo: MonteCarloConfig | None = Field(
        None, description="Monte Carlo price paths of the system (`liqcascade montecarlo`): each path runs the "
        "system block by block with the [simulation] table.",
    )
    perp_markets: list[SystemPerpMarketConfig] = Field(
        default_factory=list, description="Perp markets beside the lending markets (`liqcascade simulate` only): "
        "each reads its index from its asset's shared venue, and a basis arbitrageur ties its book to that venue "
        "(docs/perps.md, \"Perps and lending\").")

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
    perps: tuple = ()
    """The perp markets (:class:`~liqcascade.engine.system_perps.PerpMarketSim`), ``[[perp_markets]]``."""

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
        drop_unset_calls_per_round(d.get("simulation"))
        for entry in d["markets"]:
            drop_unset_calls_per_round(entry.get("simulation"))
        # left out when unset, so a system without them keeps its run id
        if not d["stablecoins"]:
            del d["stablecoins"]
        for coin in d.get("stablecoins", {}).values():
            for key in ("supply", "psm", "redemptions"):
                if coin[key] is None:
                    del coin[key]
        if d["owners"] is None:
            del d["owners"]
        if not d["perp_markets"]:
            del d["perp_markets"]
        for i, entry in enumerate(d.get("perp_markets", [])):
            _hash_perp_inputs(entry, i, self.base_dir, self.source)
        if self.config.owners is not None and self.config.owners.path:
            f = resolve_path(self.config.owners.path, self.base_dir, self.source, "owners.path")
            d["owners"]["path"] = f"sha256:{file_digest(f)}"
        return d


def lending_only(ss: SystemScenario, command: str) -> None:
    """Refuse a system with ``[[perp_markets]]`` where only the lending markets would run:
    perp markets run beside them in ``liqcascade simulate`` only (never silently left out)."""
    if ss.perps:
        raise ConfigError(ss.source, "perp_markets", f"no perp markets for `liqcascade {command}` (only `liqcascade "
                          "simulate` runs them beside the lending markets; docs/perps.md, \"Perps and lending\")",
                          [p.name for p in ss.perps])


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
    for a in cfg.prices.overrides:
        if a not in params.symbols:
            raise ConfigError(source, f"prices.overrides.{a}", f"an asset of the system {list(params.symbols)}", a)
    for a in cfg.shock:
        if a not in params.symbols:
            raise ConfigError(source, f"shock.{a}", f"an asset of the system {list(params.symbols)}", a)
    if cfg.curve is not None:
        for key, a in [("curve.asset", cfg.curve.asset)] + [("curve.co_move", x) for x in cfg.curve.co_move]:
            if a not in params.symbols:
                raise ConfigError(source, key, f"an asset of the system {list(params.symbols)}", a)
    venues = _venues(cfg, params, prices, base_dir, source)  # type: ignore[arg-type]
    models = {n: sc.model for n, sc in markets.items()}
    issued = tuple(_issued(a, c) for a, c in cfg.stablecoins.items())
    owners = _owners(cfg.owners, models, base_dir, source) if cfg.owners is not None else {}
    model = SystemModel(params.symbols, prices, models, venues, source, issued, owners, _static_liquidators(cfg))
    settings = next(iter(markets.values())).settings
    settings = CascadeSettings(
        max_rounds=cfg.engine.max_rounds, limits=settings.limits, sell_fraction=cfg.liquidators.sell_fraction,
        buy_debt=cfg.liquidators.buy_debt, impact=cfg.engine.impact, strategy=cfg.liquidators.strategy,
    )
    for sc in markets.values():
        check_static_strategy(sc.model.rules, settings.strategy, source)
    if model.bounded and settings.strategy != "max_close":
        raise ConfigError(source, "liquidators.strategy", "max_close when the system's liquidators are bounded "
                          "(calls_per_round, capital_usd)", settings.strategy)
    perps = tuple(_perp_market(cfg, i, model, base_dir, source) for i in range(len(cfg.perp_markets)))
    return SystemScenario(cfg, source, base_dir, markets, model, settings, perps)


def _hash_perp_inputs(entry: dict, i: int, base_dir: Path, source: str) -> None:
    """A perp market's input files replaced by their content hashes (as a perp scenario's)."""
    from liqcascade.io.perp_scenario import SHIPPED_DYNAMICS

    for key in ("accounts", "positions"):
        if entry["book"].get(key) is not None:
            f = resolve_path(entry["book"][key], base_dir, source, f"perp_markets.{i}.book.{key}")
            entry["book"][key] = f"sha256:{file_digest(f)}"
    if entry["venue"]["dynamics"] != SHIPPED_DYNAMICS:
        f = resolve_path(entry["venue"]["dynamics"], base_dir, source, f"perp_markets.{i}.venue.dynamics")
        entry["venue"]["dynamics"] = f"sha256:{file_digest(f)}"


def _perp_market(cfg: SystemScenarioConfig, i: int, model: SystemModel, base_dir: Path, source: str):
    """The ``i``-th ``[[perp_markets]]`` entry built by the perp scenario's builders (engine,
    book drawn at the asset's reference price, order book); an error names
    ``perp_markets.i.key``."""
    from liqcascade.engine.system_perps import PerpMarketSim, substeps
    from liqcascade.io import perp_scenario as ps
    from liqcascade.markets.perp_arb import BasisArbitrageur, arb_band

    e = cfg.perp_markets[i]
    at = f"perp_markets.{i}"
    taken = [m.name for m in cfg.markets] + [p.name for p in cfg.perp_markets[:i]]
    if e.name in taken:
        raise ConfigError(source, f"{at}.name", f"a name no other market has (taken: {taken})", e.name)
    if e.asset not in model.assets:
        raise ConfigError(source, f"{at}.asset", f"an asset of the system {list(model.assets)}", e.asset)
    venue = model.venues.get(e.asset)
    if venue is None or not venue.capabilities.quotes_buy:
        raise ConfigError(source, f"{at}.asset", "an asset with a [[venues]] venue that quotes purchases (orderbook "
                          "or cpmm): the arbitrage trades on it", e.asset)
    if cfg.simulation is not None:
        substeps(float(cfg.simulation.block_seconds), float(e.step_seconds), source, f"{at}.step_seconds")
    keys = {k: getattr(e, k) for k in ("engine", "settings", "market", "fund_usd", "adl", "adl_seed", "book", "venue")}
    try:
        p = ps.PerpsConfig(**keys)
        if p.engine not in ps.engine_names():
            raise ConfigError(source, "perps.engine", f"one of {list(ps.engine_names())}", p.engine)
        if p.adl not in ps.ADL_NAMES:
            raise ConfigError(source, "perps.adl", f"one of {list(ps.ADL_NAMES)}", p.adl)
        engine = ps._engine(p, source)
        price = float(model.prices[model.assets.index(e.asset)])
        book, topped = ps._book(p, engine, price, base_dir, source)
        perp_venue = ps._venue(p, price, base_dir, source)
    except ConfigError as err:
        if err.key.startswith("tiers."):  # the engine's own tier table has no such market
            raise ConfigError(source, f"{at}.market", f"{err.expected} of the {e.engine} engine", e.market) from None
        if err.file != source or not err.key.startswith("perps."):
            raise
        raise ConfigError(source, f"{at}.{err.key[len('perps.'):]}", err.expected, err.got) from None
    a = e.arbitrage
    arb = BasisArbitrageur(a.capital_usd, arb_band(a.spot_fee, a.perp_fee),
                           math.inf if a.max_notional_per_s is None else a.max_notional_per_s)
    return PerpMarketSim(e.name, e.asset, engine, book, perp_venue, _adl_factory(engine, e.adl, e.adl_seed, source, at),
                         float(e.step_seconds), arb, e.fund_usd, topped)


def _adl_factory(engine, name: str, seed: int, source: str, at: str):
    """A fresh deleveraging policy per run (dYdX's draws from its own seeded generator)."""
    from liqcascade.protocols.perps_adl import policy

    if name == "dydx":
        from liqcascade.protocols.dydx_v4.rules import DydxDeleveraging

        return lambda: DydxDeleveraging(engine, seed)
    chosen = policy(name, source, f"{at}.adl")
    return lambda: chosen


def _static_liquidators(cfg: SystemScenarioConfig) -> tuple[StaticLiquidators, ...]:
    """The liquidator populations of ``[simulation.liquidators]`` (shared) and each market's
    ``[markets.simulation.liquidators]`` (dedicated), as they bound the static cascade: their
    ``capital_usd`` and ``calls_per_round``. None when none is bounded (the static cascade's
    unbounded liquidators, exactly as without the tables)."""
    inf = lambda x: math.inf if x is None or x >= 1e299 else float(x)  # noqa: E731
    pops = []
    if cfg.simulation is not None:
        lq = cfg.simulation.liquidators
        pops.append(StaticLiquidators(None, inf(lq.capital_usd), inf(lq.calls_per_round)))
    for m in cfg.markets:
        if m.simulation is not None and m.simulation.liquidators is not None:
            lq = m.simulation.liquidators
            pops.append(StaticLiquidators(m.name, inf(lq.capital_usd), inf(lq.calls_per_round)))
    return tuple(pops) if any(p.bounded for p in pops) else ()


def _issued(asset: str, c: StablecoinConfig) -> IssuedCoin:
    psm = None if c.psm is None else Psm(c.psm.gem_balance, c.psm.tin, c.psm.tout,
                                         math.inf if c.psm.mint_room is None else c.psm.mint_room)
    red = None if c.redemptions is None else Redemptions(c.redemptions.base_rate)
    return IssuedCoin(asset, c.issuer, c.buy_share, c.supply, psm, red)


def _owners(cfg: OwnersConfig, models: dict[str, Any], base_dir: Path, source: str) -> dict[str, np.ndarray]:
    """Per market, the owner label of each account (None: no owner): the ``path`` file's
    rows, then each synthetic link in order."""
    owners = {n: np.full(m.book.n_accounts, None, dtype=object) for n, m in models.items()}
    if cfg.path:
        _owners_file(resolve_path(cfg.path, base_dir, source, "owners.path"), models, owners)
    for i, link in enumerate(cfg.links):
        for key in ("from_market", "to_market"):
            if getattr(link, key) not in models:
                raise ConfigError(source, f"owners.links.{i}.{key}", f"a market of the system {list(models)}",
                                  getattr(link, key))
        if link.from_market == link.to_market:
            raise ConfigError(source, f"owners.links.{i}.to_market", "a market other than from_market", link.to_market)
        src, dst = models[link.from_market].book, models[link.to_market].book
        n = min(src.n_accounts, int(round(link.share * dst.n_accounts)))
        own = owners[link.from_market]
        for k in range(n):
            # an account already owned passes its owner on, so links chain (maker -> aave -> morpho)
            if own[k] is None:
                own[k] = f"{link.from_market}:{src.account_ids[k]}"
            owners[link.to_market][k] = own[k]
    return {n: o for n, o in owners.items() if any(x is not None for x in o)}


def _owners_file(path: Path, models: dict[str, Any], owners: dict[str, np.ndarray]) -> None:
    """Read (market, account, owner) rows into ``owners``; a row naming an unknown market or
    account, or an account listed twice, is a DataError naming the row."""
    from liqcascade.io.positions import _read_table

    table = _read_table(path, ("market", "account", "owner"))
    cols = table.column_names
    if [c for c in ("market", "account", "owner") if c not in cols] or len(cols) != 3:
        raise DataError(str(path), None, f"columns ['market', 'account', 'owner'], found {cols}")
    index = {n: {str(a): k for k, a in enumerate(m.book.account_ids)} for n, m in models.items()}
    seen: set[tuple[str, str]] = set()
    rows = zip(*(table.column(c).to_pylist() for c in ("market", "account", "owner")))
    for r, (market, account, owner) in enumerate(rows, start=1):
        if market not in index:
            raise DataError(str(path), r, f"market {plain(market)!r} is not a market of the system {list(models)}")
        if account is None or str(account) not in index[market]:
            raise DataError(str(path), r, f"account {plain(account)!r} is not in market {market!r}'s book")
        if owner is None or not str(owner).strip():
            raise DataError(str(path), r, "column 'owner' is empty; every row names an owner")
        if (market, str(account)) in seen:
            raise DataError(str(path), r, f"account {plain(account)!r} of market {market!r} is listed twice")
        seen.add((market, str(account)))
        owners[market][index[market][str(account)]] = str(owner)


def _build_market(cfg: SystemScenarioConfig, i: int, base_dir: Path, source: str) -> Scenario:
    m = cfg.markets[i]
    market = MarketConfig(**{k: getattr(m, k) for k in MarketConfig.model_fields})
    # the system's price overrides name assets of any market: each market takes those of its own
    prices = cfg.prices if m.assets is None else cfg.prices.model_copy(
        update={"overrides": {a: v for a, v in cfg.prices.overrides.items() if a in m.assets}})
    single = ScenarioConfig(
        name=f"{cfg.name}/{m.name}", market=market, positions=m.positions, prices=prices,
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


def system_market_sims(ss: SystemScenario) -> dict:
    """Each market's own oracle, dedicated liquidators and owners' behaviour
    (``[markets.simulation]``, the behaviour defaulting to the system's ``[simulation.behaviour]``) as
    :class:`~liqcascade.engine.system_dynamic.MarketSim`, by market name (markets without
    the table are left out: they use the system's)."""
    from liqcascade.engine.system_dynamic import MarketSim
    from liqcascade.io.scenario import build_oracle, sim_liquidators

    from liqcascade.io.behaviour import market_behaviour

    out = {}
    top = ss.config.simulation.behaviour if ss.config.simulation is not None else None
    for i, m in enumerate(ss.config.markets):
        sim = m.simulation
        own = sim.behaviour if sim is not None else None
        key = f"markets.{i}.simulation.behaviour" if own is not None else "simulation.behaviour"
        beh = market_behaviour(own if own is not None else top, ss.source, ss.model.markets[m.name], key)
        if sim is None:
            if beh is not None:
                out[m.name] = MarketSim(behaviour=beh)
            continue
        if sim.oracle is not None and sim.oracle.source != "market":
            raise ConfigError(ss.source, f"markets.{i}.simulation.oracle.source",
                              "'market' in a system scenario (a replay's pool feed drives one market's oracle only)",
                              sim.oracle.source)
        lq = sim.liquidators
        if lq is not None and lq.gas_asset is not None and lq.gas_asset not in ss.model.assets:
            raise ConfigError(ss.source, f"markets.{i}.simulation.liquidators.gas_asset",
                              f"an asset of the system {list(ss.model.assets)}", lq.gas_asset)
        out[m.name] = MarketSim(None if sim.oracle is None else build_oracle(sim.oracle, ss.source,
                                                                     f"markets.{i}.simulation.oracle"),
                                None if lq is None else sim_liquidators(lq), beh)
    return out
