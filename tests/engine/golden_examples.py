"""The shipped examples at a small, fixed size, and a compact digest of every table they store.

Used by ``test_golden_examples.py`` (the refactoring-invariance test) and, run as a script,
to record the digests::

    PYTHONPATH=src python -m tests.engine.golden_examples      # writes golden/examples.json
    PYTHONPATH=src python -m tests.engine.golden_examples NAME # re-records only case NAME

A digest holds, per table, its shape, its column order and, per column, the dtype, a SHA-256 of the exact
bytes (floats bit for bit) and the column's sum (so a mismatch shows which column moved
and by how much). The summary table's values are stored as they are.
"""

from __future__ import annotations

import hashlib
import json
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
GOLDEN = Path(__file__).resolve().parent / "golden" / "examples.json"
N_ACCOUNTS = 2000


@dataclass(frozen=True)
class Case:
    """One run: an example file, the edits that make it small or select a variant, and
    which engine (``simulate``, ``static``, ``system``: a system scenario's static cascade, or
    ``system_perps``: a system with perp markets block by block)."""

    name: str
    example: str
    engine: str
    edits: dict[str, dict[str, object]] = field(default_factory=dict)
    """table path ("simulation.liquidators") -> keys set in it."""
    slow: bool = False


def _sim(name, example, slow=False, **edits):
    return Case(name, example, "simulate", edits, slow)


COMPARE = "compare_mechanisms.toml"
SHORT = {"blocks": 600}  # the linear crash takes 300 blocks; its liquidations end by block ~360
CASES: tuple[Case, ...] = (
    # the four mechanisms of the compare example, block by block (Maker's auctions and
    # Comet's store front are the engine's aftermarkets; Liquity has global effects)
    _sim("compare_aave_v3", COMPARE, simulation=SHORT),
    _sim("compare_compound_v3", COMPARE, simulation=SHORT, market={"protocol": "compound_v3", "version": None}),
    _sim("compare_maker", COMPARE, simulation=SHORT, market={"protocol": "maker", "version": None}),
    _sim("compare_liquity_v1", COMPARE, simulation=SHORT, market={"protocol": "liquity_v1", "version": None}),
    # frictions the examples leave at their defaults: latency, spreading the sales, finite
    # capital, several calls per account, a repay floor
    _sim("compare_aave_v3_frictions", COMPARE, simulation=SHORT, **{"simulation.liquidators": {
        "latency_blocks": 3, "spread_blocks": 4, "capital_usd": 400_000.0, "calls_per_account": 3,
        "min_repay_usd": 50.0, "liquidations_per_block": 25}}),
    _sim("compare_maker_latency", COMPARE, simulation=SHORT, market={"protocol": "maker", "version": None},
         **{"simulation.liquidators": {"latency_blocks": 2, "liquidations_per_block": 10}}),
    _sim("montecarlo_eth_day", "montecarlo_eth_day.toml"),
    # finite arbitrage capital: the AMM pools are traded back toward the reference
    _sim("montecarlo_eth_day_arb", "montecarlo_eth_day.toml", **{"simulation.dynamics": {"arb_capital_usd": 2e6}}),
    _sim("replay_2020_03_12", "replay_2020_03_12.toml", simulation={"end": "2020-03-12 14:00"}),
    _sim("replay_2021_05_19", "replay_2021_05_19.toml"),
    _sim("replay_2021_05_week", "replay_2021_05_week.toml", simulation={"end": "2021-05-20 00:00"}),
    _sim("replay_2022_05_luna", "replay_2022_05_luna.toml", simulation={"end": "2022-05-10 00:00"}),
    _sim("replay_2022_11_ftx", "replay_2022_11_ftx.toml", simulation={"end": "2022-11-10 00:00"}),
    _sim("replay_2023_03_usdc", "replay_2023_03_usdc.toml", simulation={"end": "2023-03-12 14:00"}),
    _sim("replay_2024_08_05", "replay_2024_08_05.toml", simulation={"end": "2024-08-05 06:00"}),
    # order books whose consumed depth refills with its own half-life
    # (impact on the path kept: consumed depth carries the sales' impact, so "none" is refused)
    _sim("replay_2024_08_05_depth", "replay_2024_08_05.toml", simulation={"end": "2024-08-05 03:00",
                                                                          "impact_on_path": "full"},
         **{"simulation.dynamics": {"depth_half_life_s": 300.0}}),
    _sim("replay_2025_10_10_usde", "replay_2025_10_10_usde.toml"),
    _sim("replay_2025_10_10_usde_market", "replay_2025_10_10_usde.toml", **{"simulation.oracle": {"source": "market"}}),
) + tuple(
    Case(f"static_{p.stem}", p.name, "static")
    for p in sorted(EXAMPLES.glob("*.toml"))
    if "shock" in tomllib.loads(p.read_text()) and "markets" not in tomllib.loads(p.read_text())
) + (
    # a system of markets: the static system cascade and every market alone (engine/system_run.py)
    Case("system_eth_2023", "system_eth_2023.toml", "system"),
    # perps and lending on one spot book, each side also without the other (engine/system_perps_run.py)
    Case("system_perps_lending", "system_perps_lending.toml", "system_perps"),
)


def scenario_data(case: Case) -> dict:
    """The example's TOML with the case's edits and at most ``N_ACCOUNTS`` synthetic accounts."""
    data = tomllib.loads((EXAMPLES / case.example).read_text())
    for positions in [m["positions"] for m in data.get("markets", [])] or [data["positions"]]:
        if positions["source"] == "synthetic":
            positions["n_accounts"] = min(positions["n_accounts"], N_ACCOUNTS)
    for perp in data.get("perp_markets", []):
        for side in (perp["book"].get("synthetic") or {}).values():
            if isinstance(side, dict):
                side["n_accounts"] = min(side["n_accounts"], N_ACCOUNTS)
    for where, keys in case.edits.items():
        table = data
        for part in where.split("."):
            table = table.setdefault(part, {})
        for key, value in keys.items():
            if value is None:
                table.pop(key, None)
            else:
                table[key] = value
    return data


def run_case(case: Case):
    """The case's :class:`~liqcascade.engine.result.Result` (nothing stored)."""
    from liqcascade.engine.dynamic import simulate
    from liqcascade.engine.run import run_static
    from liqcascade.io import scenario as S
    from liqcascade.io.config import parse_scenario

    path = EXAMPLES / case.example
    if case.engine == "system":
        from liqcascade.engine.system_run import run_system
        from liqcascade.io.system import build_system, parse_system

        ss = build_system(parse_system(scenario_data(case), str(path)), path.parent, str(path))
        return run_system(ss.model, ss.config.shock, ss.settings, ss.market_settings)
    if case.engine == "system_perps":
        from liqcascade.engine.system_perps_run import run_system_perps_simulation
        from liqcascade.execution.perps import _DustSafe
        from liqcascade.io.system import build_system, parse_system, system_market_sims, system_simulation_parts

        ss = build_system(parse_system(scenario_data(case), str(path)), path.parent, str(path))
        sim_path, oracle, settings = system_simulation_parts(ss)
        return run_system_perps_simulation(ss.model, sim_path, oracle, ss.perps, settings,
                                           per_market=system_market_sims(ss), wrap=_DustSafe)
    sc = S.build(parse_scenario(scenario_data(case), str(path)), path.parent, str(path))
    if case.engine == "static":
        return run_static(sc.model, sc.config.shock, sc.settings)
    sim_path, oracle, settings, oracle_input, venue_depth = S.simulation_parts(sc)
    return simulate(sc.model, sim_path, oracle, settings, None, None, oracle_input, venue_depth)


def _column_bytes(col: pd.Series) -> bytes:
    if not pd.api.types.is_numeric_dtype(col.dtype):
        return "\x1f".join(map(repr, col.astype(object).to_numpy())).encode()
    return np.ascontiguousarray(col.to_numpy()).tobytes()


def _plain(v):
    """A JSON value that round-trips exactly (floats by repr; NaN and inf as strings)."""
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        v = float(v)
        return v if math.isfinite(v) else repr(v)
    return str(v)


def digest(result) -> dict:
    """Per table: shape, and per column dtype, SHA-256 of the bytes and sum; the summary's values."""
    out = {}
    for name in sorted(result.tables):
        df = result.tables[name]
        cols = {}
        for c in df.columns:
            col = df[c]
            numeric = pd.api.types.is_numeric_dtype(col.dtype)
            cols[str(c)] = {
                "dtype": str(col.dtype),
                "sha256": hashlib.sha256(_column_bytes(col)).hexdigest(),
                "sum": _plain(col.sum()) if numeric else None,
            }
        entry = {"shape": list(df.shape), "order": [str(c) for c in df.columns], "columns": cols}
        if name == "summary":
            entry["values"] = {str(c): _plain(df[c].iloc[0]) for c in df.columns}
        out[name] = entry
    return out


def record(cases: tuple[Case, ...] = CASES, progress: Callable[[str], None] = print) -> dict:
    goldens = {}
    for case in cases:
        goldens[case.name] = digest(run_case(case))
        progress(case.name)
    return goldens


def write(goldens: dict) -> None:
    GOLDEN.parent.mkdir(parents=True, exist_ok=True)
    GOLDEN.write_text(json.dumps(goldens, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    import sys

    # `python -m tests.engine.golden_examples NAME ...` re-records only the named cases
    names = set(sys.argv[1:])
    if names:
        unknown = names - {c.name for c in CASES}
        if unknown:
            raise SystemExit(f"no such case: {sorted(unknown)}")
        old = json.loads(GOLDEN.read_text()) if GOLDEN.exists() else {}
        write({**old, **record(tuple(c for c in CASES if c.name in names))})
    else:
        write(record())
    print(f"wrote {GOLDEN} ({GOLDEN.stat().st_size} bytes)")
