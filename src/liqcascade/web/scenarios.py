"""Scenarios the dashboard may run, and the edits a run request may make to them.

A run starts from the built-in default scenario or from a TOML file directly inside the
store's ``scenarios/`` folder. The server reads nothing outside its store: a scenario name
is a plain file name looked up in that folder (no ``/``, no ``..``), a symlink whose target
lies outside the store is not listed and cannot be named, and every file a scenario refers to
(positions, parameters, depth calibration, candles) must resolve inside the store too. A
system scenario (``[[markets]]``) runs too: every file any of its markets, venues or owners
names is held to the same rule. A perp scenario (``[perps]``, docs/perps.md) runs as kind
``perps``, or as a Monte Carlo over resampled mark paths as kind ``perps_montecarlo`` (``paths``
within the server's cap, ``seed``), with its own edits (the insurance fund, the ADL policy) and
the same file rule.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from liqcascade.errors import ConfigError

BUILTIN = "builtin:default"
SCENARIO_DIR = "scenarios"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}\.toml$")
_SIM_KEPT = ("block_seconds", "oracle", "liquidators", "dynamics")
"""Keys of a scenario's [simulation] table a dashboard run keeps; the path is the request's."""


class RunRequest(BaseModel):
    """A run to start: a stored scenario and the edits to make to it first."""

    model_config = ConfigDict(extra="forbid")

    scenario: str = Field(BUILTIN, max_length=120,
                          description="'builtin:default' or the file name of a TOML file in the store's scenarios/ folder.")
    kind: Literal["static", "simulation", "perps", "perps_montecarlo"] = Field(
        "static", description="A static cascade or a block-by-block simulation; 'perps' for a perp scenario ([perps]), "
        "'perps_montecarlo' for its Monte Carlo over resampled mark paths.")
    shocks: dict[str, float] | None = Field(
        None, max_length=64, description="Replace the scenario's shocks: asset -> fractional drop (0.3 = -30 %).")
    n_accounts: int | None = Field(None, gt=0, description="Accounts of a synthetic book (capped by the server).")
    sell_fraction: float | None = Field(None, ge=0, le=1, description="Share of seized collateral liquidators sell at once.")
    impact: bool | None = Field(None, description="False: no feedback (prices stay at the shocked level).")
    blocks: int | None = Field(None, gt=1, description="Simulation: blocks to run (capped by the server).")
    path: Literal["shock", "linear"] | None = Field(None, description="Simulation: an instant shock or a linear fall.")
    duration_blocks: int | None = Field(None, ge=1, description="Simulation: blocks over which a linear shock unfolds.")
    oracle: Literal["instant", "chainlink", "twap", "osm"] | None = Field(None, description="Simulation: the protocol's oracle.")
    liquidations_per_block: float | None = Field(None, gt=0, le=1e6, description="Simulation: accounts liquidated per block at most.")
    min_profit_usd: float | None = Field(None, ge=0, le=1e9, description="Simulation: smallest profit a liquidator acts on (USD).")
    fund_usd: float | None = Field(None, ge=0, le=1e15, description="Perps: the insurance fund at the start (USD).")
    adl: str | None = Field(None, max_length=40, description="Perps: the deleveraging policy (docs/perps.md), "
                            "e.g. 'queue' or 'pro_rata'.")
    paths: int | None = Field(None, gt=0, description="Perp Monte Carlo: mark paths resampled from the scenario's own "
                              "(default 20; capped by the server).")
    seed: int | None = Field(None, ge=0, le=2**63 - 1, description="Perp Monte Carlo: the root seed (default 0).")


class RequestError(ValueError):
    """A run request the server refuses (the message says why); answered with 4xx."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class RunSpec:
    """Everything a worker process needs to build and run one request."""

    kind: str
    data: dict[str, Any]
    base_dir: str
    source: str
    request: dict[str, Any]
    max_accounts: int
    paths: int | None = None
    """A perp Monte Carlo's paths (kind ``perps_montecarlo``)."""
    seed: int = 0


# ------------------------------------------------------------------ the store's scenarios
def _inside(root: Path, p: Path) -> bool:
    try:
        p.resolve().relative_to(root.resolve())
    except (ValueError, OSError):
        return False
    return True


def _exists(p: Path) -> bool:
    try:
        return p.exists()
    except (OSError, ValueError):  # a name the OS cannot even look up (NUL byte, too long)
        return True


def list_scenarios(root: Path) -> list[str]:
    """The built-in default, then the TOML files of ``root/scenarios`` that stay inside the store."""
    folder = root / SCENARIO_DIR
    names = []
    if folder.is_dir() and _inside(root, folder):
        names = sorted(p.name for p in folder.iterdir() if _NAME.match(p.name) and p.is_file() and _inside(root, p))
    return [BUILTIN] + names


DATA_SUFFIXES = (".toml", ".csv", ".parquet", ".json")
"""Files :func:`import_scenarios` copies: scenarios and the data files they name beside them."""


def import_scenarios(root: Path, folder: Path) -> list[str]:
    """Copy the scenarios of ``folder`` (e.g. the repository's ``examples/``) and the data
    files beside them into the store's ``scenarios/`` folder, so the dashboard can run them;
    a file already there is kept. Returns the names copied. Done by ``liqcascade serve
    --scenarios DIR`` before the server starts (the server itself reads only its store)."""
    import shutil

    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigError(str(folder), "--scenarios", "a folder of scenario TOML files", "no such folder")
    dest = Path(root) / SCENARIO_DIR
    dest.mkdir(parents=True, exist_ok=True)
    copied = []
    for p in sorted(folder.iterdir()):
        ok_name = _NAME.match(p.with_suffix(".toml").name) is not None
        if p.suffix in DATA_SUFFIXES and ok_name and p.is_file() and not (dest / p.name).exists():
            shutil.copyfile(p, dest / p.name)
            copied.append(p.name)
    return copied


def scenario_file(root: Path, name: str) -> Path:
    """The file of a listed scenario name; anything else is a :class:`RequestError`."""
    if name == BUILTIN:
        from liqcascade.api import default_scenario_path

        return default_scenario_path()
    if not _NAME.match(name):
        raise RequestError(f"scenario {name!r}: expected '{BUILTIN}' or a file name like 'my_case.toml' "
                           f"(no folders) in the store's {SCENARIO_DIR}/ folder", 422)
    if name not in list_scenarios(root):
        raise RequestError(f"scenario {name!r} is not in the store's {SCENARIO_DIR}/ folder "
                           f"(available: {list_scenarios(root)})", 404)
    return root / SCENARIO_DIR / name


def _strings(obj: Any, key: str = "") -> list[tuple[str, str]]:
    """(dotted key, value) of every string in a scenario mapping."""
    if isinstance(obj, dict):
        return [kv for k, v in obj.items() for kv in _strings(v, f"{key}.{k}" if key else str(k))]
    if isinstance(obj, list):
        return [kv for i, v in enumerate(obj) for kv in _strings(v, f"{key}.{i}")]
    return [(key, obj)] if isinstance(obj, str) else []


def _check_files_inside(root: Path, data: dict[str, Any], base_dir: Path, source: str) -> None:
    """Every string that names a path (it exists beside the scenario, or has a separator or
    ``~`` in it) must resolve inside the store: positions, parameters, depth, candles, returns,
    and whatever file a later config field names."""
    for key, text in _strings(data):
        if text.startswith("builtin:"):
            continue
        p = Path(text).expanduser() if text.startswith("~") else Path(text)
        p = p if p.is_absolute() else base_dir / p
        looks_like_path = any(c in text for c in ("/", "\\", "~")) or _exists(p)
        if looks_like_path and not _inside(root, p):
            raise RequestError(f"{source}: {key} = {text!r} points outside the server's store; "
                               "the dashboard only reads files inside it", 403)


# ------------------------------------------------------------------ requests -> runs
def _edited(data: dict[str, Any], req: RunRequest, limits) -> dict[str, Any]:
    """The scenario mapping with the request's edits, within the server's caps."""
    d = {k: (dict(v) if isinstance(v, dict) else v) for k, v in data.items()}
    if req.shocks is not None:
        d["shock"] = dict(req.shocks)
    pos = d.setdefault("positions", {})
    if req.n_accounts is not None:
        if pos.get("source") != "synthetic":
            raise RequestError("n_accounts applies to a synthetic book only; this scenario reads its positions from a file")
        pos["n_accounts"] = req.n_accounts
    if pos.get("source") == "synthetic" and pos.get("n_accounts", 100_000) > limits.max_accounts:
        raise RequestError(f"n_accounts {pos.get('n_accounts', 100_000):,} is over this server's cap of "
                           f"{limits.max_accounts:,} accounts; ask for fewer")
    return _shared_edits(d, req, limits)


def _shared_edits(d: dict[str, Any], req: RunRequest, limits) -> dict[str, Any]:
    """The edits a single market and a system take alike: the liquidators' sell fraction, the
    engine's impact switch and, for a simulation, the request's [simulation] table."""
    if req.sell_fraction is not None:
        d.setdefault("liquidators", {})["sell_fraction"] = req.sell_fraction
    if req.impact is not None:
        d.setdefault("engine", {})["impact"] = req.impact
    if req.kind == "simulation":
        d["simulation"] = _simulation_table(d.get("simulation") or {}, req, limits)
    return d


def _simulation_table(sim: dict[str, Any], req: RunRequest, limits) -> dict[str, Any]:
    out = {k: v for k, v in sim.items() if k in _SIM_KEPT}
    out["path"] = req.path or "linear"
    out["blocks"] = req.blocks or min(300, limits.max_blocks)
    if out["blocks"] > limits.max_blocks:
        raise RequestError(f"blocks {out['blocks']:,} is over this server's cap of {limits.max_blocks:,}")
    if out["path"] == "linear":
        out["duration_blocks"] = min(req.duration_blocks or 25, out["blocks"])
    elif req.duration_blocks is not None:
        raise RequestError("duration_blocks applies to path = 'linear' only")
    if req.oracle is not None:
        out["oracle"] = {**(out.get("oracle") or {}), "kind": req.oracle}
    liq = dict(out.get("liquidators") or {})
    if req.liquidations_per_block is not None:
        liq["liquidations_per_block"] = req.liquidations_per_block
    if req.min_profit_usd is not None:
        liq["min_profit_usd"] = req.min_profit_usd
    if liq:
        out["liquidators"] = liq
    return out


def _reject_sim_edits(req: RunRequest) -> None:
    sim_only = [k for k in ("blocks", "path", "duration_blocks", "oracle", "liquidations_per_block", "min_profit_usd")
                if getattr(req, k) is not None]
    if sim_only:
        raise RequestError(f"{', '.join(sim_only)} apply to kind = 'simulation' only")


def _market_assets(d: dict[str, Any], base_dir: Path, source: str, cfg) -> list[str]:
    return _assets_of(cfg.market, base_dir, source, "market.params")


def _assets_of(market, base_dir: Path, source: str, key: str) -> list[str]:
    """A market's assets: its ``assets`` list, else its parameter file's reserves."""
    if market.assets is not None:
        return list(market.assets)
    from liqcascade.io.aave_config import load_aave_reserve_config
    from liqcascade.io.config import resolve_path

    ref = market.params
    path = None if ref.startswith("builtin:") else resolve_path(ref, base_dir, source, key)
    return list(load_aave_reserve_config(path).params.symbols)


# ------------------------------------------------------------------ system scenarios ([[markets]])
def _system_edited(data: dict[str, Any], req: RunRequest, limits) -> dict[str, Any]:
    """A system scenario mapping with the request's edits. Each market sets its own book,
    so ``n_accounts`` does not apply; ``sell_fraction`` sets the system's liquidators and is
    refused when a market has its own (the edit would not reach it). The account cap holds
    for the sum of the markets' synthetic books (file books: checked when built)."""
    d = {k: (dict(v) if isinstance(v, dict) else v) for k, v in data.items()}
    markets = d.get("markets") if isinstance(d.get("markets"), list) else []
    if req.n_accounts is not None:
        raise RequestError("n_accounts does not apply to a system scenario: each of its markets sets its own book "
                           "([markets.positions])")
    own = [m.get("name", str(i)) for i, m in enumerate(markets)
           if isinstance(m, dict) and isinstance(m.get("liquidators"), dict) and "sell_fraction" in m["liquidators"]]
    if req.sell_fraction is not None and own:
        raise RequestError(f"sell_fraction does not apply to this system scenario: markets {own} set their own "
                           "[markets.liquidators] sell_fraction")
    books = [m.get("positions") or {} for m in markets if isinstance(m, dict)]
    total = sum(b.get("n_accounts", 100_000) for b in books if isinstance(b, dict) and b.get("source") == "synthetic")
    if total > limits.max_accounts:
        raise RequestError(f"the markets' synthetic books hold {total:,} accounts together, over this server's cap of "
                           f"{limits.max_accounts:,} accounts")
    if req.shocks is not None:
        d["shock"] = dict(req.shocks)
    return _shared_edits(d, req, limits)


def _plan_system(req: RunRequest, limits, data: dict[str, Any], base: Path, source: str) -> RunSpec:
    """:func:`plan` for a system scenario: the edited config validates, shocked assets are
    assets of some market, sizes are within the caps."""
    from liqcascade.io.system import parse_system

    d = _system_edited(data, req, limits)
    cfg = parse_system(d, source)
    assets = sorted({a for i, m in enumerate(cfg.markets) for a in _assets_of(m, base, source, f"markets.{i}.params")})
    for a in cfg.shock:
        if a not in assets:
            raise ConfigError(source, f"shock.{a}", f"an asset of the system {assets}", a)
    if not any(v for v in cfg.shock.values()):
        raise RequestError(f"{source}: no shock to run; give shocks such as {{'WETH': 0.3}}")
    return RunSpec(req.kind, d, str(base), source, req.model_dump(exclude_none=True), limits.max_accounts)


# ------------------------------------------------------------------ perp scenarios ([perps])
_PERP_EDITS = ("fund_usd", "adl")
_NOT_PERP_EDITS = ("shocks", "n_accounts", "sell_fraction", "impact")
PERP_KINDS = ("perps", "perps_montecarlo")
MC_DEFAULT_PATHS = 20
"""Paths of a dashboard perp Monte Carlo that gives none (at most the server's cap)."""


def _reject_perp_edits(req: RunRequest) -> None:
    given = [k for k in _PERP_EDITS if getattr(req, k) is not None]
    if given:
        raise RequestError(f"{', '.join(given)} apply to a perp scenario ([perps]) only")


def _plan_perps(req: RunRequest, limits, data: dict[str, Any], base: Path, source: str) -> RunSpec:
    """:func:`plan` for a perp scenario: kind 'perps' both ways, only the perp edits, the
    edited config validates, a synthetic book's two sides are within the account cap
    (file books: checked when built)."""
    from liqcascade.io.perp_scenario import parse_perp_scenario

    if "perps" not in data:
        raise RequestError(f"{source}: kind = {req.kind!r} needs a perp scenario (a [perps] table; docs/perps.md)")
    if req.kind not in PERP_KINDS:
        raise RequestError(f"{source} is a perp scenario ([perps]): start it with kind = 'perps' or 'perps_montecarlo'")
    paths = _perp_paths(req, limits)
    other = [k for k in _NOT_PERP_EDITS if getattr(req, k) is not None]
    if other:
        raise RequestError(f"{', '.join(other)} do not apply to a perp scenario; its edits are {list(_PERP_EDITS)}")
    d = {k: (dict(v) if isinstance(v, dict) else v) for k, v in data.items()}
    perps = d["perps"] = dict(d["perps"]) if isinstance(d["perps"], dict) else d["perps"]
    if isinstance(perps, dict):
        perps.update({k: getattr(req, k) for k in _PERP_EDITS if getattr(req, k) is not None})
    cfg = parse_perp_scenario(d, source)
    synthetic = cfg.perps.book.synthetic
    if synthetic is not None:
        total = synthetic.long.n_accounts + synthetic.short.n_accounts
        if total > limits.max_accounts:
            raise RequestError(f"the perp book's two sides hold {total:,} accounts together, over this server's cap "
                               f"of {limits.max_accounts:,} accounts")
    return RunSpec(req.kind, d, str(base), source, req.model_dump(exclude_none=True), limits.max_accounts, paths,
                   req.seed or 0)


def _perp_paths(req: RunRequest, limits) -> int | None:
    """A perp Monte Carlo's paths (default :data:`MC_DEFAULT_PATHS`, within the cap); None for a run."""
    if req.kind != "perps_montecarlo":
        _reject_mc_edits(req)
        return None
    paths = req.paths if req.paths is not None else min(MC_DEFAULT_PATHS, limits.max_paths)
    if paths > limits.max_paths:
        raise RequestError(f"paths {paths:,} is over this server's cap of {limits.max_paths:,} paths; ask for fewer")
    return paths


def _reject_mc_edits(req: RunRequest) -> None:
    given = [k for k in ("paths", "seed") if getattr(req, k) is not None]
    if given:
        raise RequestError(f"{', '.join(given)} apply to kind = 'perps_montecarlo' only")


def plan(root: Path, req: RunRequest, limits) -> RunSpec:
    """Check a request against the store and the caps and turn it into a :class:`RunSpec`.

    Cheap checks only (no book is built): the scenario is listed, its files stay inside the
    store, the edited config validates, shocked assets exist, sizes are within the caps.
    Raises :class:`RequestError` (or :class:`~liqcascade.errors.ConfigError`) when not.
    """
    from liqcascade.io.config import parse_scenario

    path = scenario_file(root, req.scenario)
    source = req.scenario if req.scenario != BUILTIN else "builtin:default"
    if req.kind != "simulation":
        _reject_sim_edits(req)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))  # a BOM, as io.config accepts
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise RequestError(f"{source}: not valid TOML ({e})") from None
    base = path.parent
    if req.scenario != BUILTIN:
        _check_files_inside(root, data, base, source)
    if "perps" in data or req.kind in PERP_KINDS:  # a perp scenario: its own kinds and edits
        return _plan_perps(req, limits, data, base, source)
    _reject_perp_edits(req)
    _reject_mc_edits(req)
    if "markets" in data:  # a system scenario ([[markets]]): the same checks over every market
        return _plan_system(req, limits, data, base, source)
    d = _edited(data, req, limits)
    cfg = parse_scenario(d, source)
    assets = _market_assets(d, base, source, cfg)
    for a in cfg.shock:
        if a not in assets:
            raise ConfigError(source, f"shock.{a}", f"an asset of the market {assets}", a)
    if not any(v for v in cfg.shock.values()):
        raise RequestError(f"{source}: no shock to run; give shocks such as {{'WETH': 0.3}}")
    return RunSpec(req.kind, d, str(base), source, req.model_dump(exclude_none=True), limits.max_accounts)
