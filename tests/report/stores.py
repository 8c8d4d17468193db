"""A small results store with one run of every kind the report and the dashboard draw.

Built once per test session (the tests that change a store copy it first):

- ``static``: examples/small_book.toml (ten hand-written accounts) run from the store's own
  ``scenarios/`` folder, with its curve with and without feedback and its walls;
- ``simulation``: the same book, a 30 % linear fall of ETH over 10 of 30 blocks;
- ``montecarlo``: a hand-made run in the Monte Carlo contract (``paths``, ``risk``);
- ``calibration``: a hand-made run with a candidates table and a summary naming the choice;
- ``replay``: the same book (WETH and wstETH at 3,400 USD, so another market) through the
  recorded 2021-05-19 ETH path from 12:50 to 13:30 UTC (block times are real UTC times);
- ``compare``: examples/compare_mechanisms.toml at 300 accounts under aave_v3, maker and liquity_v1;
- ``sweep``: the small book's static run over shock.WETH = 0.2, 0.4 x shock.wstETH = 0.1, 0.3;
- ``maker_replay``: the shipped MakerDAO ETH-B day (2021-01-21).

The hand-made numbers are chosen so tests can check figures against them by hand.
"""

from __future__ import annotations

import base64
import math
import shutil
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd

from liqcascade.io.store import ResultsStore

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"

MC_RUN = "mc-hand-0001"
CAL_RUN = "cal-hand-0001"
N_PATHS = 100
MC_RISK = [
    # metric, statistic, level, estimate, lo, hi, n_paths, paths_needed
    ("bad_debt_usd", "mean", math.nan, 49_500.0, 43_800.0, 55_200.0, N_PATHS, 120),
    ("bad_debt_usd", "var", 0.95, 94_000.0, 90_000.0, 97_000.0, N_PATHS, 300),
    ("bad_debt_usd", "es", 0.95, 96_500.0, 94_000.0, 98_000.0, N_PATHS, 900),
    ("bad_debt_usd", "var", 0.99, 98_000.0, 97_000.0, 99_000.0, N_PATHS, 400),
    ("bad_debt_usd", "es", 0.99, 99_000.0, 98_000.0, 99_000.0, N_PATHS, 500),
    ("bad_debt_usd", "p_insolvent", math.nan, 0.99, 0.95, 1.0, N_PATHS, None),
    ("time_to_clear_s", "var", 0.99, math.inf, math.inf, math.inf, N_PATHS, None),
]
CAL_VALUES = [0.70, 0.75, 0.80, 0.85]
CAL_ESTIMATES = [2e5, 5e5, 9e5, 1.6e6]
CAL_BUDGET = 1e6
CAL_CHOSEN = 0.80

REPLAY_START = "2021-05-19 12:50"
REPLAY_TABLE = {
    "path": "replay", "replay": "2021-05-19", "drive": {"ETH": ["WETH", "wstETH"]},
    "start": REPLAY_START, "end": "2021-05-19 13:30", "oracle": {"kind": "chainlink"},
    "liquidators": {"liquidations_per_block": 4, "gas_gwei": 1.0, "min_profit_usd": 0.0},
}
COMPARE_PROTOCOLS = ["aave_v3", "maker", "liquity_v1"]
SWEEP_FACTORS = ["shock.WETH=0.2,0.4", "shock.wstETH=0.1,0.3"]

SIM_TABLE = {
    "path": "linear", "blocks": 30, "duration_blocks": 10,
    "oracle": {"kind": "instant"},
    "liquidators": {"liquidations_per_block": 4, "gas_gwei": 1.0, "min_profit_usd": 0.0},
}


def _toml(d: dict, prefix: str = "") -> str:
    """A small TOML writer for the scenario mappings the tests build (tables, scalars, lists)."""
    scalars = {k: v for k, v in d.items() if not isinstance(v, dict) and not _table_list(v)}
    lines = [f"[{prefix}]"] if prefix and scalars else []
    lines += [f"{k} = {_value(v)}" for k, v in scalars.items()]
    for k, v in d.items():
        name = f"{prefix}.{k}" if prefix else k
        if isinstance(v, dict):
            lines.append(_toml(v, name) if v else f"[{name}]")
        elif _table_list(v):
            for item in v:
                lines.append(f"[[{name}]]")
                lines += [f"{ik} = {_value(iv)}" for ik, iv in item.items()]
    return "\n".join(lines)


def _table_list(v) -> bool:
    return isinstance(v, list) and bool(v) and all(isinstance(x, dict) for x in v)


def _value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    return repr(v)


def write_scenario(path: Path, data: dict) -> Path:
    path.write_text(_toml(data) + "\n", encoding="utf-8")
    return path


def small_book_data() -> dict:
    return tomllib.loads((EXAMPLES / "small_book.toml").read_text())


def copy_small_book(folder: Path, name: str = "small_book.toml", extra: dict | None = None) -> Path:
    """examples/small_book.toml (with ``extra`` tables) and its CSV, into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(EXAMPLES / "small_book.csv", folder / "small_book.csv")
    data = small_book_data()
    data.update(extra or {})
    return write_scenario(folder / name, data)


def mc_tables() -> dict[str, pd.DataFrame]:
    k = np.arange(N_PATHS)
    never = k >= 95
    paths = pd.DataFrame({
        "path": k,
        "bad_debt_usd": 1000.0 * k,
        "collateral_seized_usd": 5000.0 * k,
        "debt_repaid_usd": 4500.0 * k,
        "accounts_liquidated": k,
        "amplification": 1.0 + k / 100.0,
        "time_to_clear_s": np.where(never, np.nan, 60.0 * k),
    })
    risk = pd.DataFrame(MC_RISK, columns=["metric", "statistic", "level", "estimate", "lo", "hi", "n_paths",
                                          "paths_needed"])
    risk["paths_needed"] = risk["paths_needed"].astype("Int64")
    summary = pd.DataFrame([{"paths": N_PATHS, "seed": 7}])
    return {"paths": paths, "risk": risk, "summary": summary}


def cal_tables() -> dict[str, pd.DataFrame]:
    est = np.array(CAL_ESTIMATES)
    cand = pd.DataFrame({
        "value": CAL_VALUES, "estimate": est, "lo": est * 0.9, "hi": est * 1.1,
        "within_budget": est * 1.1 <= CAL_BUDGET,
    })
    summary = pd.DataFrame([{"param": "liquidation_threshold", "asset": "WETH", "metric": "bad_debt_usd",
                             "budget": CAL_BUDGET, "chosen": CAL_CHOSEN}])
    return {"candidates": cand, "summary": summary}


def build_store(root: Path) -> dict[str, str]:
    """The store described in the module docstring; returns run ids by role."""
    from liqcascade import api
    from liqcascade.report import bundle

    store = ResultsStore(root)
    scen = root / "scenarios"
    static_path = copy_small_book(scen)
    sim_path = copy_small_book(scen, "small_sim.toml", {"simulation": SIM_TABLE, "shock": {"WETH": 0.3, "wstETH": 0.3}})
    ids = {"static": bundle.prepare(store, static_path)}
    curve, flat, walls = bundle.complete(store, static_path)
    ids.update(curve=curve, curve_flat=flat, walls=walls)
    ids["simulation"] = str(api.simulate(sim_path, store).run_id)
    store.save(MC_RUN, "montecarlo", {"name": "hand-made Monte Carlo"}, mc_tables(), {"source": "tests"})
    store.save(CAL_RUN, "calibration", {"name": "hand-made calibration"}, cal_tables(), {"source": "tests"})
    ids.update(montecarlo=MC_RUN, calibration=CAL_RUN)
    ids.update(_other_kinds(store, scen, static_path))
    return ids


def _other_kinds(store: ResultsStore, scen: Path, static_path: Path) -> dict[str, str]:
    """The replay simulation, compare, sweep and Maker replay runs (see the module docstring)."""
    from liqcascade import api
    from liqcascade.execution.maker_replay import replay_ethb

    prices = {"overrides": {"WETH": 3400.0, "wstETH": 3400.0, "WBTC": 40000.0}}
    replay_path = copy_small_book(scen, "small_replay.toml", {"simulation": REPLAY_TABLE, "prices": prices})
    data = tomllib.loads((EXAMPLES / "compare_mechanisms.toml").read_text())
    data["positions"]["n_accounts"] = 300
    compare_path = write_scenario(scen / "compare_small.toml", data)
    return {
        "replay": str(api.simulate(replay_path, store).run_id),
        "compare": str(api.compare(compare_path, COMPARE_PROTOCOLS, store=store).run_id),
        "sweep": str(api.sweep(static_path, SWEEP_FACTORS, store=store).run_id),
        "maker_replay": str(replay_ethb(store=store).run_id),
    }


_BUILT: dict[str, object] = {}


def session_store(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """The store, built on first use in this test session."""
    if "root" not in _BUILT:
        root = tmp_path_factory.mktemp("faces") / "store"
        _BUILT["ids"] = build_store(root)
        _BUILT["root"] = root
    return _BUILT["root"], dict(_BUILT["ids"])


def copy_store(src: Path, dst: Path) -> Path:
    """A private copy of a store (no connection is held open between operations)."""
    shutil.copytree(src, dst)
    return dst


# ------------------------------------------------------------------ figure helpers
_DTYPES = {"f8": "<f8", "f4": "<f4", "i1": "<i1", "i2": "<i2", "i4": "<i4", "i8": "<i8", "u1": "<u1", "u2": "<u2",
           "u4": "<u4", "u8": "<u8"}


def values(v) -> np.ndarray:
    """A trace's x or y as numbers, whether plotly wrote a list or a typed array ({dtype, bdata})."""
    if isinstance(v, dict) and "bdata" in v:
        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=_DTYPES[v["dtype"]]).astype(float)
    return np.asarray([np.nan if x is None else x for x in v], dtype=float)


def traces(figure: dict, name: str) -> list[dict]:
    return [t for t in figure["data"] if t.get("name") == name]


def axis_titles(figure: dict) -> dict[str, str]:
    """Every axis of a figure layout and its title text."""
    out = {}
    for k, v in figure["layout"].items():
        if k.startswith(("xaxis", "yaxis")) and isinstance(v, dict):
            t = v.get("title")
            out[k] = t.get("text", "") if isinstance(t, dict) else (t or "")
    return out
