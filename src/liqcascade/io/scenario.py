"""From a validated scenario config to the objects the engine runs.

This is the one place where config keys become model, protocol and market objects, so
every error here names the scenario file and the key.

:func:`load` and :func:`build` make a whole :class:`Scenario`. Code that edits a built
scenario's config (a calibration candidate, a sweep combination) rebuilds only the pieces that
change, with the same checks and error keys as :func:`build`:

- :func:`market_snapshot` -- the ``[market].params`` snapshot (reserve configuration and oracle prices);
- :func:`risk_params` -- the market's assets and risk parameters (``market.assets``, ``market.overrides``);
- :func:`reference_prices` -- the reference USD prices (the snapshot's, with ``prices.overrides``);
- :func:`liquidation_rules` -- the protocol's rules for a book under those parameters.

Each takes the (edited) :class:`~liqcascade.io.config.ScenarioConfig` and ``source``, the name
errors use; e.g. ``liquidation_rules(cfg, risk_params(cfg, sc.snapshot, sc.source), book,
sc.source)`` re-derives the rules after an override of an asset's threshold.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from liqcascade.engine.static import CascadeSettings, MarketModel, check_static_strategy
from liqcascade.errors import ConfigError, DataError, LiqcascadeError, plain
from liqcascade.io.aave_config import AaveMarketSnapshot, load_aave_reserve_config, shipped_snapshots
from liqcascade.io.config import (
    ScenarioConfig,
    load_scenario,
    resolve_path,
    resolved_config,
)
from liqcascade.markets import registry as venue_registry
from liqcascade.markets.base import Venue
from liqcascade.model import PositionBook, RiskParams
from liqcascade.protocols import registry as protocol_registry
from liqcascade.protocols.base import LiquidationLimits

__all__ = [
    "BUILTIN_PARAMS", "Scenario", "build", "liquidation_rules", "load", "market_snapshot", "reference_prices",
    "risk_params", "simulation_parts",
]

BUILTIN_PARAMS = {f"builtin:aave_v3_{chain}_{day}": path for (chain, day), path in shipped_snapshots().items()}
BUILTIN_PARAMS.update(
    {f"builtin:aave_v2_{chain}_{day}": path for (chain, day), path in shipped_snapshots("v2").items()}
)  # Aave v2 parameter sets (market.version = "2")
"""``market.params`` names of the shipped reserve snapshots -> their files."""


@dataclass(frozen=True)
class Scenario:
    """A scenario ready to run: its config, where it came from, and the built objects."""

    config: ScenarioConfig
    source: str
    base_dir: Path
    model: MarketModel
    settings: CascadeSettings
    snapshot: AaveMarketSnapshot
    positions_digest: str | None = None
    """sha256 of the positions DataFrame given to :func:`build` (None: the book is the config's)."""

    def resolved(self) -> dict[str, Any]:
        """The config with input files replaced by their hashes (what the run id hashes)."""
        d = resolved_config(self.config, self.base_dir, self.source)
        if self.positions_digest is not None:
            d["positions"]["path"] = f"dataframe-sha256:{self.positions_digest}"
        return d


def load(path: str | Path, positions: pd.DataFrame | None = None) -> Scenario:
    """Read, validate and build a scenario TOML file (``positions``: see :func:`build`)."""
    cfg, base = load_scenario(path)
    return build(cfg, base, str(path), positions)


def build(cfg: ScenarioConfig, base_dir: Path | str = ".", source: str = "<python>",
          positions: pd.DataFrame | None = None) -> Scenario:
    """Build a validated config into a :class:`Scenario`; relative paths are relative to
    ``base_dir`` and errors name ``source``.

    ``positions``: the book as a pandas DataFrame instead of ``positions.path`` (the
    ``[positions]`` table then has ``source = "file"`` and no path; its ``columns``,
    ``aliases``, ``raw`` and ``decimals`` apply to the frame). The run id hashes its content."""
    base_dir = Path(base_dir)
    snapshot = market_snapshot(cfg, base_dir, source)
    params = risk_params(cfg, snapshot, source)
    prices = reference_prices(cfg, snapshot, params, source)
    digest = None
    if positions is None:
        book = _book(cfg, params, prices, base_dir, source)
    else:
        book, digest = _frame_book(cfg, positions, params, prices, source)
    rules = liquidation_rules(cfg, params, book, source)
    venues = _venues(cfg, params, prices, base_dir, source)
    for a in cfg.shock:
        if a not in params.symbols:
            raise ConfigError(source, f"shock.{a}", f"an asset of the market {list(params.symbols)}", a)
    if cfg.curve is not None:
        for key, a in [("curve.asset", cfg.curve.asset)] + [("curve.co_move", x) for x in cfg.curve.co_move]:
            if a not in params.symbols:
                raise ConfigError(source, key, f"an asset of the market {list(params.symbols)}", a)
    model = MarketModel(book=book, rules=rules, prices=prices, venues=venues)
    settings = CascadeSettings(
        max_rounds=cfg.engine.max_rounds,
        limits=LiquidationLimits(cfg.liquidators.max_calls_per_account, cfg.liquidators.min_repay_usd),
        sell_fraction=cfg.liquidators.sell_fraction,
        buy_debt=cfg.liquidators.buy_debt,
        impact=cfg.engine.impact,
        strategy=cfg.liquidators.strategy,
    )
    check_static_strategy(rules, settings.strategy, source)
    return Scenario(cfg, source, base_dir, model, settings, snapshot, digest)


# ---------------------------------------------------------------------------- pieces
def market_snapshot(cfg: ScenarioConfig, base_dir: Path | str, source: str) -> AaveMarketSnapshot:
    """The parameter snapshot ``market.params`` names (bundled, or a file under ``base_dir``)."""
    base_dir = Path(base_dir)
    ref = cfg.market.params
    if ref.startswith("builtin:"):
        if ref not in BUILTIN_PARAMS:
            raise ConfigError(source, "market.params", f"a shipped snapshot, one of {list(BUILTIN_PARAMS)} (builtin:"
                              "aave_v3_<chain>_<date>), or the path of your own reserve-config JSON or CSV", ref)
        return load_aave_reserve_config(BUILTIN_PARAMS[ref])
    return load_aave_reserve_config(resolve_path(ref, base_dir, source, "market.params"))


def risk_params(cfg: ScenarioConfig, snapshot: AaveMarketSnapshot, source: str) -> RiskParams:
    """The snapshot's parameters for ``market.assets`` with ``market.overrides`` applied, checked."""
    params = snapshot.params
    if cfg.market.assets is not None:
        unknown = [a for a in cfg.market.assets if a not in params.symbols]
        if unknown:
            raise ConfigError(source, "market.assets", f"assets of the parameter file {list(params.symbols)}", unknown)
        params = params.subset(cfg.market.assets)
    for sym, ov in cfg.market.overrides.items():
        if sym not in params.symbols:
            raise ConfigError(source, f"market.overrides.{sym}", f"an asset of the market {list(params.symbols)}", sym)
        changes = {k: v for k, v in ov.model_dump().items() if v is not None}
        try:
            params = params.replace(sym, **changes)
        except ConfigError as e:
            raise ConfigError(source, f"market.overrides.{sym}.{e.key.split('.')[-1]}", e.expected, e.got) from None
    return RiskParams.from_assets(params.assets(), params.emodes, source)


def reference_prices(cfg: ScenarioConfig, snapshot: AaveMarketSnapshot, params: RiskParams, source: str) -> np.ndarray:
    """Reference USD prices in ``params.symbols`` order: the snapshot's oracle answers with
    ``prices.overrides``; every price must be finite and > 0."""
    prices = np.array([snapshot.prices[s] for s in params.symbols], dtype=np.float64)
    for sym, v in cfg.prices.overrides.items():
        if sym not in params.symbols:
            raise ConfigError(source, f"prices.overrides.{sym}", f"an asset of the market {list(params.symbols)}", sym)
        if not (np.isfinite(v) and v > 0):
            raise ConfigError(source, f"prices.overrides.{sym}", "a finite USD price > 0", v)
        prices[params.index(sym)] = v
    bad = np.flatnonzero(~np.isfinite(prices) | (prices <= 0))
    if bad.size:
        s = params.symbols[bad[0]]
        raise ConfigError(source, f"prices.{s}", "a finite USD price > 0 (set prices.overrides)", float(prices[bad[0]]))
    return prices


def _book(cfg: ScenarioConfig, params: RiskParams, prices: np.ndarray, base_dir: Path, source: str) -> PositionBook:
    pc = cfg.positions
    if pc.source == "file":
        if not pc.path:
            raise ConfigError(source, "positions.path", "a CSV or Parquet path when positions.source = 'file'")
        from liqcascade.io.importer import ImportSpec, import_positions

        if pc.pair is not None:
            raise ConfigError(source, "positions.pair", "no pair when positions.source = 'file' (synthetic only)", pc.pair)
        _no_debt_usd(pc, source)
        spec = ImportSpec(pc.columns, pc.aliases, pc.decimals, pc.raw)
        return import_positions(resolve_path(pc.path, base_dir, source, "positions.path"), params, spec, prices,
                                (source, "positions"))
    for key in ("columns", "aliases", "decimals", "raw"):
        if getattr(pc, key):
            raise ConfigError(source, f"positions.{key}", "nothing when positions.source = 'synthetic' (file only)",
                              getattr(pc, key))
    if pc.path:
        raise ConfigError(source, "positions.path", "no path when positions.source = 'synthetic'", pc.path)
    from liqcascade.model.synthetic import scaled_to_debt

    book = _synthetic(pc, params, prices, source)
    return book if pc.debt_usd is None else scaled_to_debt(book, prices, pc.debt_usd, (source, "positions.debt_usd"))


def _no_debt_usd(pc, source: str) -> None:
    if pc.debt_usd is not None:
        raise ConfigError(source, "positions.debt_usd", "no debt_usd when positions.source = 'file' (a file's "
                          "amounts are its own; synthetic only)", pc.debt_usd)
    for key, v in pc.health_knobs().items():
        raise ConfigError(source, f"positions.{key}", f"no {key} when positions.source = 'file' (a file's "
                          "health factors are its own; synthetic only)", v)
    if pc.hf_preset is not None:
        raise ConfigError(source, "positions.hf_preset", "no hf_preset when positions.source = 'file' (synthetic "
                          "only)", pc.hf_preset)


def _health_knobs(pc, source: str) -> dict[str, float]:
    """The set ``hf_*`` keys over the ``hf_preset``'s mixture (docs/behaviour.md), if one is
    named; the two group shares must leave the tail a share >= 0."""
    from liqcascade.io.behaviour import hf_preset_knobs

    knobs = {**(hf_preset_knobs(pc.hf_preset, source) if pc.hf_preset is not None else {}), **pc.health_knobs()}
    near, mid = knobs.get("hf_near_weight", 0.5), knobs.get("hf_mid_weight", 0.35)
    if near + mid > 1.0 + 1e-12:
        raise ConfigError(source, "positions.hf_mid_weight", f"at most 1 - hf_near_weight ({1 - near:g}); "
                          "unset keys take the defaults 0.5 and 0.35", mid)
    return knobs


def _synthetic(pc, params: RiskParams, prices: np.ndarray, source: str) -> PositionBook:
    from liqcascade.model.synthetic import Archetype, synthetic_book

    knobs = _health_knobs(pc, source)
    if pc.pair is None:
        return synthetic_book(params, prices, n_accounts=pc.n_accounts, seed=pc.seed, **knobs)
    coll, debt = pc.pair
    for key, a in (("positions.pair.0", coll), ("positions.pair.1", debt)):
        if a not in params.symbols:
            raise ConfigError(source, key, f"an asset of the market {list(params.symbols)}", a)
    if coll == debt:
        raise ConfigError(source, "positions.pair", "two different assets [collateral, debt]", pc.pair)
    pair = Archetype(f"{coll}_{debt}", 1.0, {coll: 1.0}, {debt: 1.0})
    return synthetic_book(params, prices, n_accounts=pc.n_accounts, seed=pc.seed, archetypes=(pair,),
                          n_collateral_probs=(1.0,), n_debt_probs=(1.0,), **knobs)


def _frame_book(cfg: ScenarioConfig, frame: pd.DataFrame, params: RiskParams, prices: np.ndarray,
                source: str) -> tuple[PositionBook, str]:
    """The book of a DataFrame passed to :func:`build`, and the sha256 of its content."""
    import hashlib

    from liqcascade.io.importer import ImportSpec, import_positions

    pc = cfg.positions
    if pc.source != "file" or pc.path:
        raise ConfigError(source, "positions", "source = 'file' and no path when positions come as a DataFrame",
                          {"source": pc.source, "path": pc.path})
    _no_debt_usd(pc, source)
    book = import_positions(frame, params, ImportSpec(pc.columns, pc.aliases, pc.decimals, pc.raw), prices,
                            (source, "positions"))
    h = hashlib.sha256(repr(list(map(str, frame.columns))).encode())
    h.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return book, h.hexdigest()


def liquidation_rules(cfg: ScenarioConfig, params: RiskParams, book: PositionBook, source: str):
    """The rules of ``market.protocol`` with the scenario's settings, for ``params`` and ``book``
    (Liquity sizes its stability pool from the book's debt), built by the protocol's registered
    builder (:mod:`liqcascade.protocols.registry`)."""
    return protocol_rules(cfg.market, params, book, source)


def protocol_rules(m, params: RiskParams, book: PositionBook | None, source: str):
    """The rules of a ``[market]`` table ``m`` (its protocol, version, pair policy and the
    protocol's settings table); a builder's error is re-said against ``market.<settings key>``."""
    spec = protocol_registry.spec(m.protocol, source)
    settings = getattr(m, spec.settings_key) if spec.settings_key else None
    ctx = protocol_registry.BuildContext(m.protocol, params, book, settings, m.version, m.pair_policy, source)
    try:
        return spec.build(ctx)
    except ConfigError as e:
        if e.file == source and e.key.startswith("market."):
            raise
        own = spec.settings_key or m.protocol
        raise ConfigError(source, f"market.{own}.{e.key.split('.')[-1]}", e.expected, e.got) from None


def _venues(cfg: ScenarioConfig, params: RiskParams, prices: np.ndarray, base_dir: Path, source: str) -> dict[str, Venue]:
    by_asset: dict[str, list[Venue]] = {}
    for i, vc in enumerate(cfg.venues):
        key = f"venues.{i}"
        if vc.asset not in params.symbols:
            raise ConfigError(source, f"{key}.asset", f"an asset of the market {list(params.symbols)}", vc.asset)
        price = float(prices[params.index(vc.asset)])
        try:
            venue = _venue(vc, price, base_dir, source, key)
        except ConfigError as e:
            if e.file == source:
                raise
            # a venue's own check (file "<python>"): re-say it against the scenario key
            raise ConfigError(source, f"{key}.{e.key.split('.')[-1]}", e.expected, e.got) from None
        except LiqcascadeError as e:
            raise ConfigError(source, key, f"a buildable venue ({e})") from None
        _probe_venue(venue, price, source, key)
        by_asset.setdefault(vc.asset, []).append(venue)
    out: dict[str, Venue] = {}
    for a, vs in by_asset.items():
        if len(vs) == 1:
            out[a] = vs[0]
        else:
            from liqcascade.markets.router import Router

            out[a] = Router.of(vs)
    return out


# The engines re-centre venues at shocked prices: a shock in (-10, 1) times the reference, and
# the cascade pushes lower. A venue whose numbers overflow there is refused when it is built.
_PROBE_FACTORS = (1e-12, 11.0)


def _probe_venue(venue: Venue, price: float, source: str, key: str) -> None:
    for f in _PROBE_FACTORS:
        try:
            venue.with_mid_price(price * f)
        except LiqcascadeError as e:
            why = f"{e.key.split('.')[-1]} would be {plain(e.got)!r}" if isinstance(e, ConfigError) else str(e)
            raise ConfigError(source, key, f"a venue whose numbers stay finite at prices from {_PROBE_FACTORS[0]:g} to "
                              f"{_PROBE_FACTORS[1]:g} times the reference price {price:g} (a depth too large for "
                              f"this price?); at {price * f:g} its {why}") from None


def _venue(vc, price: float, base_dir: Path, source: str, key: str) -> Venue:
    """The venue of the ``[[venues]]`` table ``vc`` (at ``key``), built by its kind's registered
    builder (:mod:`liqcascade.markets.registry`) at the asset's reference ``price``; files the
    table names are resolved here, relative to the scenario, and errors name ``key.<field>``."""
    spec = venue_registry.spec(vc.kind, source, f"{key}.kind")

    def resolve(text: str, field: str) -> Path:
        return resolve_path(text, base_dir, source, f"{key}.{field}")

    return spec.build(venue_registry.VenueContext(vc, price, resolve, source, key))


# ------------------------------------------------------------------- simulation
def simulation_parts(sc: Scenario):
    """(path, oracle, settings) of the scenario's ``[simulation]`` table."""
    import math

    from liqcascade.engine.dynamic import Dynamics, SimSettings, drive_path
    from liqcascade import scenarios as scn

    cfg, source = sc.config, sc.source
    sim = cfg.simulation
    if sim is None:
        raise ConfigError(source, "simulation", "a [simulation] table for `liqcascade simulate`")
    model = sc.model
    assets = model.assets
    p0 = np.asarray(model.prices)
    try:
        if sim.path in ("shock", "linear"):
            if not cfg.shock:
                raise ConfigError(source, "shock", "a [shock] table for simulation.path = shock or linear")
            start = {a: float(p0[assets.index(a)]) for a in cfg.shock}
            moves = {a: -float(v) for a, v in cfg.shock.items()}
            if sim.path == "shock":
                path = scn.instant_shock(start, moves, sim.blocks, sim.block_seconds)
            else:
                path = scn.linear_shock(start, moves, sim.duration_blocks, sim.blocks, sim.block_seconds)
        elif sim.path == "gbm":
            if not sim.vol:
                raise ConfigError(source, "simulation.vol", "annualised volatility per asset for a GBM path")
            names = list(sim.vol)
            corr = sim.corr if sim.corr is not None else np.eye(len(names)).tolist()
            start = {a: float(p0[assets.index(a)]) if a in assets else 1.0 for a in names}
            path = scn.gbm(start, sim.vol, corr, sim.blocks, sim.seed, drift=sim.drift, block_seconds=sim.block_seconds)
        elif sim.path == "candles":
            if not sim.candles:
                raise ConfigError(source, "simulation.candles", "asset = \"file.csv\" entries for path = candles")
            frames = {
                a: scn.load_binance_klines(resolve_path(f, sc.base_dir, source, f"simulation.candles.{a}"), fill=sim.fill)
                for a, f in sim.candles.items()
            }
            path = scn.historical(frames, block_seconds=sim.block_seconds)
            path = _window(path, sim.start, sim.end, source)
        else:
            if sim.replay is None:
                raise ConfigError(source, "simulation.replay", f"one of {list(scn.REPLAY_NAMES)} for path = replay")
            if sim.leg == -1:
                path = _joined_legs(sim.replay, sim.block_seconds, source)
            else:
                path = scn.replay_path(sim.replay, leg=sim.leg, block_seconds=sim.block_seconds, gas_beyond="hold")
            path = _window(path, sim.start, sim.end, source)
    except ConfigError as e:
        if e.file == source:
            raise
        raise ConfigError(source, f"simulation.{e.key}", e.expected, e.got) from None
    raw = path
    path = drive_path(path, sim.drive, assets, p0, source)
    oracle_input = None
    if sim.oracle.source == "pool":
        oracle_input = _pool_feed(sim, raw, path, source)
    if sim.oracle.median_spread is not None:
        oracle_input = _median_feed(sim, path, oracle_input, source)
    if sim.oracle.floor is not None:
        oracle_input = _floored_feed(sc, path, oracle_input)

    oracle = build_oracle(sim.oracle, source, "simulation.oracle")
    lq = sim.liquidators
    if lq.gas_asset is not None and lq.gas_asset not in assets:
        raise ConfigError(source, "simulation.liquidators.gas_asset", f"an asset of the market {list(assets)}", lq.gas_asset)
    inf = lambda x: math.inf if x >= 1e299 else x  # noqa: E731 - TOML has no inf; 1e300 stands for it
    settings = SimSettings(
        sim_liquidators(lq),
        Dynamics(inf(sim.dynamics.recovery_half_life_s), sim.dynamics.permanent_fraction,
                 None if sim.dynamics.depth_half_life_s is None else inf(sim.dynamics.depth_half_life_s),
                 inf(sim.dynamics.arb_capital_usd), impact_on_path(sim)),
        check_conservation=sim.check_conservation,
    )
    venue_depth = _replay_depth(sim, raw, path, model, source) if sim.pool_depth else None
    return path, oracle, settings, oracle_input, venue_depth


def _median_feed(sim, path, pool_feed, source: str) -> dict:
    """What an OSM reads when its source is Maker's Median: each path asset's price, pushed
    when it moved ``median_spread`` from the last pushed value or after
    ``median_expiration_s`` (the relay's rule, as a Chainlink-style push of the path)."""
    from liqcascade.markets import oracle as orc

    o = sim.oracle
    if o.kind != "osm" or pool_feed is not None:
        raise ConfigError(source, "simulation.oracle.median_spread", "an osm oracle reading the market", o.kind)
    push = orc.ChainlinkPush(o.median_spread, o.median_expiration_s)
    return {a: np.asarray(push.apply(path.times, path.prices[:, j]).price, dtype=np.float64)
            for j, a in enumerate(path.assets)}


def _floored_feed(sc: Scenario, path, feed: dict | None) -> dict:
    """The OSM's source raised so that the price the OSM returns in each hop is at least the
    ``[simulation.oracle] floor`` file's bound for that hop (the largest of its rows there).
    The OSM returns during hop ``k`` the source's value at the first block of hop ``k - 1``
    (at the window's first hop: block 0, the construction; ``MakerOSM``), so that one value
    is raised; the same value is the next price (``peep``) announced during hop ``k - 1``."""
    from liqcascade.io.config import resolve_path
    from liqcascade.io.owner_events import read_oracle_floor

    sim, source = sc.config.simulation, sc.source
    if sim.oracle.kind != "osm":
        raise ConfigError(source, "simulation.oracle.floor", "an osm oracle (the floor bounds its hourly price)",
                          sim.oracle.kind)
    f = resolve_path(sim.oracle.floor, sc.base_dir, source, "simulation.oracle.floor")
    rows = read_oracle_floor(f, list(path.assets))
    out = {a: np.asarray(v, dtype=np.float64).copy() for a, v in (feed or {}).items()}
    hop = int(sim.oracle.hop_s)
    bucket = np.asarray(path.times, dtype=np.int64) // hop
    pokes = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]])
    # the block whose source value the OSM returns during each poked hop
    read_at = dict(zip(bucket[pokes].tolist(), np.r_[0, pokes[:-1]].tolist()))
    for a, t, p in zip(rows["asset"], rows["time"], rows["price"]):
        k = int(t) // hop
        if k not in read_at:
            continue
        if a not in out:
            out[a] = np.asarray(path.prices[:, path.index(a)], dtype=np.float64).copy()
        i = read_at[k]
        out[a][i] = max(out[a][i], float(p))
    return out


def impact_on_path(sim) -> str:
    """``[simulation] impact_on_path``, or its default: none on a replayed path (replay,
    candles), whose prices already contain the market's reaction; full otherwise."""
    if sim.impact_on_path is not None:
        return sim.impact_on_path
    return "none" if sim.path in ("replay", "candles") else "full"


def impact_baseline(sc: Scenario, path) -> dict | None:
    """``[simulation] impact_baseline`` on ``path``'s blocks (None without one)."""
    from liqcascade.io.owner_events import read_impact_baseline

    sim = sc.config.simulation
    if sim is None or sim.impact_baseline is None:
        if sim is not None and impact_on_path(sim) == "excess":
            raise ConfigError(sc.source, "simulation.impact_baseline", "a CSV of the path's own liquidation selling "
                              "(time, asset, amount) for impact_on_path = excess")
        return None
    f = resolve_path(sim.impact_baseline, sc.base_dir, sc.source, "simulation.impact_baseline")
    return read_impact_baseline(f, sc.model.assets, path.times)


def owner_inputs(sc: Scenario, path):
    """The ``[simulation.events]`` table as the engine's inputs: (actions, accrual) on
    ``path``'s blocks, or (None, ()) without one."""
    from liqcascade.io.owner_events import owner_actions_on, read_accrual

    ev = sc.config.simulation.events if sc.config.simulation is not None else None
    if ev is None:
        return None, ()
    f = resolve_path(ev.path, sc.base_dir, sc.source, "simulation.events.path")
    for a in ev.dust:
        if a not in sc.model.assets:
            raise ConfigError(sc.source, f"simulation.events.dust.{a}", f"an asset of the market {list(sc.model.assets)}", a)
    acts = owner_actions_on(f, sc.model.assets, path.times, ev.dust)
    accrual = tuple(read_accrual(resolve_path(p, sc.base_dir, sc.source, f"simulation.events.accrual.{a}"), a,
                                 sc.model.assets, path.times, sc.source) for a, p in ev.accrual.items())
    return acts, accrual


def behaviour_inputs(sc: Scenario):
    """The ``[simulation.behaviour]`` table as the engine's parameters, or None without one."""
    from liqcascade.io.behaviour import market_behaviour

    sim = sc.config.simulation
    return market_behaviour(sim.behaviour if sim is not None else None, sc.source, sc.model)


KEEPER_COLUMNS = ("account", "trigger_hf", "target_hf", "max_repay")


def keeper_inputs(sc: Scenario):
    """The ``[simulation.keepers]`` table as a :class:`~liqcascade.model.keepers.KeeperBook`,
    or None without one. A bad file is an error naming its row and column."""
    from liqcascade.model.keepers import KeeperBook

    sim = sc.config.simulation
    if sim is None or sim.keepers is None:
        return None
    if sim.oracle.kind != "osm":
        raise ConfigError(sc.source, "simulation.keepers", "an osm oracle (the bots read its next price)",
                          sim.oracle.kind)
    f = resolve_path(sim.keepers.path, sc.base_dir, sc.source, "simulation.keepers.path")
    if not f.is_file():
        raise DataError(str(f), None, "keepers file not found")
    raw = pd.read_csv(f, dtype=str, keep_default_na=False)
    extra = list(raw.columns)[len(KEEPER_COLUMNS):]
    if list(raw.columns)[:len(KEEPER_COLUMNS)] != list(KEEPER_COLUMNS) or extra not in (
            [], ["active_from"], ["idle_move"], ["active_from", "idle_move"]):
        raise DataError(str(f), None, f"columns: expected {list(KEEPER_COLUMNS)} (and optionally active_from, "
                        f"idle_move), got {list(raw.columns)}")
    nums = {c: pd.to_numeric(raw[c].str.strip(), errors="coerce").to_numpy(float) for c in KEEPER_COLUMNS[1:]}
    for c, v in nums.items():
        bad = np.flatnonzero(~(np.isfinite(v) & (v > 0)))
        if bad.size:
            raise DataError(str(f), int(bad[0]) + 1, f"column {c}: expected a number > 0, got {raw[c].iloc[bad[0]]!r}")
    acct = raw["account"].str.strip().to_numpy(dtype=object)
    since = None
    if "active_from" in raw.columns:  # a UTC time, or empty: from the start
        text = raw["active_from"].str.strip()
        t = pd.to_datetime(text.where(text != ""), errors="coerce", utc=True, format="mixed")
        bad = np.flatnonzero((text != "").to_numpy() & t.isna().to_numpy())
        if bad.size:
            raise DataError(str(f), int(bad[0]) + 1, f"column active_from: expected a UTC time or nothing, got "
                            f"{raw['active_from'].iloc[bad[0]]!r}")
        secs = (t - pd.Timestamp(0, tz="UTC")).dt.total_seconds().to_numpy(dtype=np.float64)
        since = np.where(np.isnan(secs), -np.inf, secs)
    idle = None
    if "idle_move" in raw.columns:  # the oracle's movement since the owner's last action before the run
        idle = pd.to_numeric(raw["idle_move"].str.strip(), errors="coerce").to_numpy(float)
        bad = np.flatnonzero(~(np.isfinite(idle) & (idle >= 0)))
        if bad.size:
            raise DataError(str(f), int(bad[0]) + 1, f"column idle_move: expected a number >= 0, got "
                            f"{raw['idle_move'].iloc[bad[0]]!r}")
    stop = sim.keepers.max_idle_move
    return KeeperBook(acct, nums["trigger_hf"], nums["target_hf"], nums["max_repay"], str(f), since, idle,
                      np.inf if stop is None else float(stop))


def build_oracle(o, source: str, key: str):
    """The :class:`~liqcascade.markets.oracle.Oracle` of an oracle table (``key``: where it is)."""
    from liqcascade.markets import oracle as orc

    if o.kind == "osm" and o.hop_s != int(o.hop_s):
        # the OSM's hop is whole seconds (osm.sol: uint16 hop)
        raise ConfigError(source, f"{key}.hop_s", "whole seconds", o.hop_s)
    return {
        "instant": lambda: orc.Instant(),
        "chainlink": lambda: orc.ChainlinkPush(o.deviation, o.heartbeat_s, o.delay_blocks),
        "twap": lambda: orc.Twap(o.window_s, o.twap_kind),
        "osm": lambda: orc.MakerOSM(int(o.hop_s)),
    }[o.kind]()


def sim_liquidators(lq):
    """The :class:`~liqcascade.engine.dynamic.Liquidators` of a ``[simulation.liquidators]`` table
    (1e300 stands for inf: TOML has none)."""
    import math

    from liqcascade.engine.dynamic import Liquidators

    inf = lambda x: math.inf if x >= 1e299 else x  # noqa: E731
    return Liquidators(
        liquidations_per_block=inf(lq.liquidations_per_block), calls_per_account=lq.calls_per_account,
        gas_per_call=lq.gas_per_call, gas_asset=lq.gas_asset, gas_gwei=lq.gas_gwei,
        min_profit_usd=lq.min_profit_usd, capital_usd=inf(lq.capital_usd), latency_blocks=lq.latency_blocks,
        spread_blocks=lq.spread_blocks, min_repay_usd=lq.min_repay_usd, strategy=lq.strategy,
    )


def _joined_legs(name: str, block_seconds: int, source: str):
    """All legs of a replay in one path: between two legs the log price moves linearly
    from the last close to the next open, block by block (no data there; documented), and
    gas holds its last value."""
    from liqcascade import scenarios as scn

    rep = scn.replay_data(name)
    legs = [scn.replay_path(name, leg=i, block_seconds=block_seconds, gas_beyond="hold") for i in range(len(rep.legs))]
    times, prices, gas = [legs[0].times], [legs[0].prices], [legs[0].gas_gwei]
    for prev, nxt in zip(legs, legs[1:]):
        gap = np.arange(prev.times[-1] + block_seconds, nxt.times[0], block_seconds, dtype=np.int64)
        if gap.size:
            w = ((gap - prev.times[-1]) / (nxt.times[0] - prev.times[-1]))[:, None]
            bridge = np.exp((1 - w) * np.log(prev.prices[-1]) + w * np.log(nxt.prices[0]))
            times.append(gap)
            prices.append(bridge)
            if prev.gas_gwei is not None:
                gas.append(np.full(gap.size, prev.gas_gwei[-1]))
        times.append(nxt.times)
        prices.append(nxt.prices)
        gas.append(nxt.gas_gwei)
    g = None if any(x is None for x in gas) else np.concatenate(gas)
    meta = {**legs[0].meta, "leg": "all", "bridge": "log-linear between legs, gas held"}
    return scn.PricePath(np.concatenate(times), legs[0].assets, np.vstack(prices), block_seconds, g, meta)


def _replay_depth(sim, raw, path, model, source: str) -> dict:
    """The replay pool's depth (USD per side) per block, for the market assets its path
    asset drives (step/hold on the pool's 10-minute reserves)."""
    from liqcascade import scenarios as scn

    if sim.path != "replay" or sim.replay is None:
        raise ConfigError(source, "simulation.pool_depth", "a replay with pool data")
    rep = scn.replay_data(sim.replay)
    pools = {k: v for k, v in (rep.pools or {}).items() if "dai_reserve" in v.columns}
    if len(pools) != 1:
        raise ConfigError(source, "simulation.pool_depth", f"a replay with one constant-product pool "
                          f"(replay {sim.replay} has {sorted(rep.pools or {})})", True)
    (pool,) = pools.values()
    depth = scn.to_blocks(pool, "dai_reserve", raw.times, beyond="hold") * sim.pool_depth_scale
    driven = path.meta.get("driven", {})
    first = next(iter(driven), None)
    if first is None:
        raise ConfigError(source, "simulation.drive", "a market asset driven by the replay")
    # the pool is the venue of the first driven asset (the one named first in `drive`)
    return {first: depth}


def _utc(text: str, source: str, key: str) -> int:
    import pandas as pd

    try:
        return int(pd.Timestamp(text, tz="UTC").timestamp())
    except (ValueError, TypeError):
        raise ConfigError(source, key, "a UTC time like '2025-10-10 16:00'", text) from None


def _window(path, start: str | None, end: str | None, source: str):
    t = np.asarray(path.times)
    lo = 0 if start is None else int(np.searchsorted(t, _utc(start, source, "simulation.start"), side="left"))
    hi = len(t) if end is None else int(np.searchsorted(t, _utc(end, source, "simulation.end"), side="left"))
    if hi - lo < 2:
        raise ConfigError(source, "simulation.start", f"a window of at least 2 blocks inside the replay "
                          f"({t[0]}..{t[-1]} Unix s)", (start, end))
    return path.slice(lo, hi)


def _pool_feed(sim, raw, path, source: str) -> dict:
    """The replay's on-chain pool price, per block, for the market assets its path asset drives.

    The pool price moves each driven asset relative to the path's first price, as the
    path itself does (see ``drive_path``)."""
    from liqcascade import scenarios as scn

    if sim.path != "replay" or sim.replay is None:
        raise ConfigError(source, "simulation.oracle.source", "'market' unless path = replay with an on-chain pool")
    rep = scn.replay_data(sim.replay)
    if not rep.pools or len(rep.pools) != 1 or len(raw.assets) != 1:
        raise ConfigError(source, "simulation.oracle.source", f"a replay with one asset and one on-chain pool "
                          f"(replay {sim.replay} has pools {sorted(rep.pools or {})})", "pool")
    (pool,) = rep.pools.values()
    # pool rows are Ethereum blocks at irregular times: each price holds until the next row
    t = pool["time"].to_numpy(np.int64)
    times = np.asarray(raw.times, dtype=np.int64)
    i = np.searchsorted(t, times, side="right") - 1
    if i.min() < 0 or times.max() > t.max() + 60:
        first, last = (str(np.datetime64(int(x), "s")) for x in (t.min(), t.max()))
        raise ConfigError(source, "simulation.start", f"a replay window inside the pool data ({first} .. {last} UTC)",
                          (sim.start, sim.end))
    series = pool["price"].to_numpy(np.float64)[i]
    rel = series / raw.prices[0, 0]
    driven = path.meta.get("driven", {})
    return {a: rel * path.prices[0, path.index(a)] for a in driven}
