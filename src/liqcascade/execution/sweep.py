"""Sweeps: a full factorial over dotted config fields, one run per combination, one table.

A factor is ``FIELD=V1,V2,...``: ``FIELD`` a dotted path into the scenario file
(``shock.WETH``, ``venues.0.reserve_usd``, ``market.overrides.WETH.liquidation_threshold``,
``montecarlo.vol.WETH``; ``assets.X.F`` is short for ``market.overrides.X.F``; list items by
index), each value a TOML literal (``0.3``, ``true``, ``"3.3-3.4"``; a bare word is a string).
Every combination is the base file with those fields replaced, validated exactly as a file
would be — so a field that does not exist, or a value it does not accept, is an error naming
the field before any run starts. A sweep adds no keys: a key of a mapping-valued field
(``montecarlo.vol.X``, ``simulation.drive.X``, ...) must be one the base file has, except under
``shock``, ``market.overrides`` and ``prices.overrides``, which take any asset of the market.
Each combination is built as a new scenario (a synthetic book is drawn again
under the combination's parameters, so ``liquidation_threshold`` sweeps move the borrowers'
debt with it; a file book is read as it is).

Each combination runs as a normal stored run (``static``: :func:`liqcascade.execution.runs.run`,
``simulate``: :func:`liqcascade.execution.runs.simulate`, ``montecarlo``:
:func:`liqcascade.execution.api.montecarlo`), so a sweep started again reuses the finished
combinations (and a Monte Carlo combination resumes its chunks). The ``sweep`` table has one
row per combination: the factors as columns (named as given), then the run's summary numbers
(static, simulate) or its risk estimates (``<metric>_<statistic>[_<level %>]``, Monte Carlo;
the full risk rows with intervals are in ``sweep_risk``), then ``run_id``. In a static sweep
``headline_asset``, ``initial_drop``, ``final_drop`` and ``amplification`` are of one asset in
every row (see ``_headline``), so that column compares like with like.

A system scenario (``[[markets]]``): a factor addresses a market by name,
``markets.<name>.<key>`` (written internally as the market's list index, which is accepted
too), or a key of the system (``shock.X``, ``venues.0...``, ``simulation...``); ``assets.X.F`` is
refused (it is one market's overrides). Every combination is built before any run. The runs
are the system's (``runs.run``/``simulate`` dispatch to the system engines, Monte Carlo runs
the system's paths) and two tables more: ``sweep_markets`` (per combination and market: the
run's ``markets`` rows, or each market's risk estimates flattened as in ``sweep``) and, for Monte
Carlo, ``sweep_market_risk`` (each combination's ``market_risk`` rows).

``liqcascade sweep --kind K`` and the ``--sweep`` option of ``liqcascade run``, ``simulate`` and
``montecarlo`` all call :func:`sweep`; ``run --shock`` and ``montecarlo --reserves`` reach it as
``fixed`` fields of the base scenario.
"""

from __future__ import annotations

import copy
import itertools
import math
import time
import tomllib
import types
from collections import abc
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

import pandas as pd

from liqcascade import __version__
from liqcascade.engine.result import Result
from liqcascade.errors import ConfigError
from liqcascade.io.store import ResultsStore, run_id as _run_id

DEFAULT_STORE = Path("liqcascade-results")
KIND = "sweep"
KINDS = ("static", "simulate", "montecarlo")
ALIASES = {"assets": ("market", "overrides")}
"""Leading segments that stand for a longer path (``assets.WETH.ltv`` = ``market.overrides.WETH.ltv``)."""
_ASSET_KEYED = (("shock",), ("market", "overrides"), ("prices", "overrides"))


# ------------------------------------------------------------------------------ parsing
def _split(text: str) -> list[str]:
    """Split on commas outside brackets and quotes."""
    out, depth, quote, cur = [], 0, "", []
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append("".join(cur).strip())
            cur = []
            continue
        cur.append(ch)
    out.append("".join(cur).strip())
    return out


def parse_value(text: str) -> Any:
    """A TOML literal (number, boolean, quoted string, array, inline table), else the bare text."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def parse_factor(item: str) -> tuple[str, list[Any]]:
    """``FIELD=V1,V2,...`` as (field, values)."""
    field, sep, values = item.partition("=")
    field = field.strip()
    if not sep or not field:
        raise ConfigError("--sweep", "sweep", "FIELD=V1,V2,... e.g. shock.WETH=0.2,0.3", item)
    if not values.strip():
        raise ConfigError("--sweep", field, "at least one value after '=' (FIELD=V1,V2,...)", item)
    parts = _split(values)
    if any(p == "" for p in parts):
        raise ConfigError("--sweep", field, "a comma list of values with none empty", values)
    return field, [parse_value(p) for p in parts]


def _factors(factors: Sequence[str] | Mapping[str, Sequence[Any]]) -> list[tuple[str, list[Any]]]:
    if isinstance(factors, Mapping):
        out = [(str(k), list(v)) for k, v in factors.items()]
    else:
        out = [parse_factor(f) for f in factors]
    if not out:
        raise ConfigError("--sweep", "sweep", "at least one FIELD=V1,V2,... factor")
    seen = set()
    for f, vals in out:
        if f in seen:
            raise ConfigError("--sweep", f, "each field swept once (give all its values in one list)")
        if not vals:
            raise ConfigError("--sweep", f, "at least one value")
        seen.add(f)
    return out


def _path(field: str) -> list[str]:
    parts = field.split(".")
    if any(p == "" for p in parts):
        raise ConfigError("--sweep", field, "a dotted field like shock.WETH or venues.0.reserve_usd")
    head = ALIASES.get(parts[0])
    return list(head) + parts[1:] if head else parts


def set_field(data: dict, field: str, value: Any) -> dict:
    """A copy of the scenario mapping ``data`` with ``field`` set to ``value`` (missing tables
    on the way are created; a list is indexed by an integer segment)."""
    out = copy.deepcopy(data)
    node: Any = out
    path = _path(field)
    for depth, seg in enumerate(path[:-1]):
        where = ".".join(path[: depth + 1])
        if isinstance(node, list):
            node = node[_index(seg, node, field, where)]
        elif isinstance(node, dict):
            if node.get(seg) is None:
                node[seg] = {}
            node = node[seg]
        else:
            raise ConfigError("--sweep", field, f"a field inside a table, but {where!r} is a value", node)
        if not isinstance(node, (dict, list)):
            raise ConfigError("--sweep", field, f"a field inside a table, but {where!r} is a value", node)
    last = path[-1]
    if isinstance(node, list):
        node[_index(last, node, field, ".".join(path))] = value
    else:
        node[last] = value
    return out


def _index(seg: str, items: list, field: str, where: str) -> int:
    if not seg.isdigit() or int(seg) >= len(items):
        raise ConfigError("--sweep", field, f"a list index 0..{len(items) - 1} at {where!r}", seg)
    return int(seg)


def _inside(path: list[str], value: Any) -> bool:
    """Whether ``path`` leads to an existing entry of the nested ``value``."""
    for seg in path:
        if isinstance(value, dict) and seg in value:
            value = value[seg]
        elif isinstance(value, list) and seg.isdigit() and int(seg) < len(value):
            value = value[int(seg)]
        else:
            return False
    return True


def _arms(tp: Any) -> list[Any]:
    """The alternatives of a type annotation (``Annotated`` and unions unwrapped)."""
    origin = get_origin(tp)
    if origin is Annotated:
        return _arms(get_args(tp)[0])
    if origin in (Union, types.UnionType):
        return [a for t in get_args(tp) for a in _arms(t)]
    return [tp]


def _free_keys(path: list[str], system: bool = False) -> list[int]:
    """Positions in ``path`` of segments that are keys of a mapping-valued field of the scenario
    schema (``shock``, ``montecarlo.vol``, ``market.overrides``, ...; of the system scenario's
    schema with ``system``): any key passes the schema there, so whether the key exists has to
    be checked against the file."""
    from pydantic import BaseModel

    from liqcascade.io.config import ScenarioConfig
    from liqcascade.io.system import SystemScenarioConfig

    free, types_ = [], [SystemScenarioConfig if system else ScenarioConfig]
    for i, seg in enumerate(path):
        by_model, by_map = [], []
        for tp in (a for t in types_ for a in _arms(t)):
            origin = get_origin(tp)
            if isinstance(tp, type) and issubclass(tp, BaseModel):
                if seg in tp.model_fields:
                    by_model.append(tp.model_fields[seg].annotation)
            elif origin in (dict, Mapping, abc.Mapping):
                by_map.append(get_args(tp)[1])
            elif origin in (list, tuple, Sequence, abc.Sequence) and seg.isdigit():
                by_model.append(get_args(tp)[0])
        if not by_model and by_map:
            free.append(i)
        types_ = by_model or by_map
        if not types_:
            break
    return free


def _check_exists(field: str, data: Mapping, symbols: Sequence[str], source: str, system: bool = False,
                  label: str | None = None) -> None:
    """A swept field sets only what is there: a key of a mapping-valued field (``montecarlo.vol.X``,
    ``montecarlo.jumps.mean.X``, ``simulation.drive.X``, ...) must be a key the base scenario
    has; new keys are allowed only under ``shock``, ``market.overrides`` (``assets``) and
    ``prices.overrides``, and only for an asset of the market (of a system: under ``shock``,
    ``prices.overrides`` and ``markets.<name>.overrides``, an asset of the system). ``label``:
    the field as the user gave it (errors name it)."""
    path = _path(field)
    label = label or field
    for i in _free_keys(path, system):
        parent, key = path[:i], path[i]
        market_ov = system and len(parent) == 3 and parent[0] == "markets" and parent[2] == "overrides"
        if tuple(parent) in _ASSET_KEYED or market_ov:
            if key not in symbols:
                raise ConfigError("--sweep", label, f"an asset of the {'system' if system else 'market'} "
                                  f"{list(symbols)} after {'.'.join(parent)}", key)
            continue
        node: Any = data
        for seg in parent:
            node = node[int(seg)] if isinstance(node, list) and seg.isdigit() and int(seg) < len(node) else (
                node.get(seg) if isinstance(node, dict) else None)
        if isinstance(node, dict) and key in node:
            continue
        where = ".".join(parent)
        if isinstance(node, dict) and node:
            has = f"one of the keys of {where} in {source} ({', '.join(map(str, node))})"
        else:
            has = f"a key of {where}, but {source} sets no {where}"
        raise ConfigError("--sweep", label, has + "; a sweep changes only keys the file sets there", key)


def _check_fixed(fs: list[tuple[str, list[Any]]], fixed: Mapping[str, tuple[str, Any]]) -> None:
    """A swept field may not be one an option of the command already sets (``--shock WETH=0.4``
    and ``--sweep shock.WETH=...``); fields beside it compose (``--sweep shock.WBTC=...``)."""
    for field, _ in fs:
        sp = _path(field)
        for ffield, (flag, value) in fixed.items():
            fp = _path(ffield)
            if (sp[: len(fp)] == fp and _inside(sp[len(fp):], value)) or fp[: len(sp)] == sp:
                raise ConfigError("--sweep", field, f"a field {flag} does not set too (drop one of them)",
                                  f"{flag} sets {ffield} = {value!r}")


# ------------------------------------------------------------------------------ the sweep
def _parser(system: bool) -> Callable[[dict, str], Any]:
    """The validation of a scenario mapping (a system scenario's with ``system``)."""
    from liqcascade.io.config import parse_scenario
    from liqcascade.io.system import parse_system

    return parse_system if system else parse_scenario


def _base(scenario, fixed: Mapping[str, tuple[str, Any]] | None = None, system: bool = False
          ) -> tuple[dict, Path, str]:
    """The scenario as a plain mapping (with the ``fixed`` fields set), its directory and its
    name (for errors)."""
    from liqcascade.io.config import load_scenario as _load, read_toml
    from liqcascade.io.scenario import Scenario
    from liqcascade.io.system import SystemScenario, parse_system

    parse = _parser(system)
    if isinstance(scenario, (Scenario, SystemScenario)):
        data, base_dir, source = scenario.config.model_dump(mode="json", exclude_unset=True), scenario.base_dir, \
            scenario.source
    else:
        p = Path(scenario)
        if system:
            parse_system(read_toml(p), str(p))
        else:
            _load(p)  # validates the file (and names it) before anything else
        data, base_dir, source = tomllib.loads(p.read_text(encoding="utf-8")), p.resolve().parent, str(p)
    for field, (flag, value) in (fixed or {}).items():
        data = set_field(data, field, value)
        try:
            parse(data, source)
        except ConfigError as e:
            raise ConfigError(flag, e.key, e.expected, e.got) from None
    return data, base_dir, source


def _market_fields(fs: list[tuple[str, list[Any]]], data: Mapping, source: str) -> list[tuple[str, list[Any]]]:
    """A system's factors with ``markets.<name>.`` written as ``markets.<index>.`` (the list
    index of the market of that name; an index stays an index)."""
    names = [m.get("name") for m in data.get("markets", [])]
    out = []
    for field, vals in fs:
        parts = field.split(".")
        if parts[0] == "assets":
            raise ConfigError("--sweep", field, "markets.<name>.overrides.<ASSET>.<field> in a system scenario "
                              f"(assets.<ASSET> is short for one market's overrides; markets: {names})")
        if parts[0] == "markets" and len(parts) > 1:
            if parts[1] in names:  # a name first: a market may be named "1"
                parts[1] = str(names.index(parts[1]))
            elif not parts[1].isdigit():
                raise ConfigError("--sweep", field, f"a market name of {source} after markets. ({', '.join(names)})",
                                  parts[1])
        out.append((".".join(parts), vals))
    return out


def combinations(scenario, factors: Sequence[str] | Mapping[str, Sequence[Any]],
                 fixed: Mapping[str, tuple[str, Any]] | None = None) -> tuple[list[dict], list, Any]:
    """Every combination as (factor values by field, validated config), and the base scenario
    built once; every field and value is checked first (module docstring). ``fixed`` maps
    fields set once for every combination to (the option that sets them, value); see
    :func:`sweep`. For a system scenario the configs are the built systems (building checks
    every market's parameters and book)."""
    from liqcascade.io import scenario as S
    from liqcascade.execution.runs import is_system

    system = is_system(scenario)
    parse = _parser(system)
    fixed = dict(fixed or {})
    data, base_dir, source = _base(scenario, fixed, system)
    given = _factors(factors)
    fs = _market_fields(given, data, source) if system else given
    labels = [f for f, _ in given]
    _check_fixed(fs, fixed)
    try:
        base = _build(parse(data, source), base_dir, source, system)
    except ConfigError as e:
        flag = next((f for k, (f, _) in fixed.items() if e.key == k or e.key.startswith(k + ".")), None)
        if flag is None or e.file != source:
            raise
        raise ConfigError(flag, e.key, e.expected, e.got) from None
    symbols = base.model.assets
    for (field, _), label in zip(fs, labels):
        _check_exists(field, data, symbols, source, system, label)
    for (field, values), label in zip(fs, labels):
        for v in values:
            try:
                parse(set_field(data, field, v), source)
            except ConfigError as e:
                if e.file != "--sweep" and e.expected.startswith("no such key"):
                    raise ConfigError("--sweep", label, f"a field of the scenario file ({e.key} is not one; "
                                      f"`liqcascade schema{' --system' if system else ''}` lists them)") from None
                if e.file != "--sweep":
                    raise ConfigError("--sweep", label, f"a value this field accepts ({e.key}: {e.expected})",
                                      v) from None
                raise
    rows, configs = [], []
    for combo in itertools.product(*(vals for _, vals in fs)):
        d = data
        for (field, _), v in zip(fs, combo):
            d = set_field(d, field, v)
        cfg = parse(d, source)
        names = ", ".join(f"{f}={v!r}" for f, v in zip(labels, combo))
        try:
            if system:  # a system is built now: every market's parameters, prices and book checked
                cfg = _build(cfg, base_dir, source, True)
            else:  # parameters and prices of every combination are checked now (cheap), not when it runs
                same = cfg.market.params == base.config.market.params
                snap = base.snapshot if same else S.market_snapshot(cfg, base_dir, source)
                S.reference_prices(cfg, snap, S.risk_params(cfg, snap, source), source)
        except ConfigError as e:
            raise ConfigError(e.file, e.key, f"{e.expected} (in the combination {names})", e.got) from None
        configs.append(cfg)
        rows.append(dict(zip(labels, combo)))
    return rows, configs, base


def _build(cfg, base_dir, source: str, system: bool):
    from liqcascade.io import scenario as S
    from liqcascade.io.system import build_system

    return build_system(cfg, base_dir, source) if system else S.build(cfg, base_dir, source)


def sweep(
    scenario,
    factors: Sequence[str] | Mapping[str, Sequence[Any]],
    kind: str = "static",
    paths: int = 1000,
    executor: str = "local",
    workers: int | None = None,
    chunk_size: int | None = None,
    seed: int | None = None,
    store: ResultsStore | str | Path | None = DEFAULT_STORE,
    progress: Callable[[int, int], None] | None = None,
    recompute: bool = False,
    fixed: Mapping[str, tuple[str, Any]] | None = None,
    step_progress: Callable[[int, int], None] | None = None,
) -> Result:
    """Run ``scenario`` for every combination of ``factors`` (``["FIELD=V1,V2", ...]`` or
    ``{field: values}``) as a ``kind`` run (static, simulate, montecarlo); tables ``sweep``
    (and ``sweep_risk`` for Monte Carlo), see the module docstring.

    ``fixed``: ``{field: (option, value)}`` set in the base before the factors (how
    ``liqcascade run --shock ... --sweep ...`` replaces ``[shock]``); errors name the
    option, and a factor that sweeps a field it sets is refused. ``progress(done, total)`` counts
    combinations; ``step_progress(done, total)`` the chunks of each Monte Carlo combination (the
    blocks of each simulation), starting over for the next."""
    from liqcascade.execution import runs

    if kind not in KINDS:
        raise ConfigError("--kind", "kind", f"one of {list(KINDS)}", kind)
    rows, configs, base = combinations(scenario, factors, fixed)
    system = runs.is_system(base)
    _check_kind(base, kind, system, paths, executor)
    headline = _headline(rows, base) if kind == "static" else None
    ident = {"kind": KIND, "run_kind": kind, "config": base.resolved(), "factors": rows,
             "paths": paths if kind == "montecarlo" else None, "seed": seed}
    if headline is not None:
        ident["headline"] = headline
    rid = _run_id(ident, __version__)
    if not recompute and (found := runs.stored(store, rid, KIND)) is not None:
        return found
    t0 = time.perf_counter()
    out, risk, markets, market_risk = [], [], [], []
    for n, (row, cfg) in enumerate(zip(rows, configs)):
        sc = cfg if system else _build(cfg, base.base_dir, base.source, False)
        if kind == "static":
            res = runs.run(sc, store, recompute=recompute)
            summary = _summary(res)
            headline = headline or summary.get("headline_asset")
            out.append({**row, **summary, **_headline_cols(res, headline), "run_id": res.run_id})
        elif kind == "simulate":
            res = runs.simulate(sc, store, recompute=recompute, progress=step_progress)
            out.append({**row, **_summary(res), "run_id": res.run_id})
        else:
            from liqcascade.execution.api import montecarlo

            res = montecarlo(sc, paths, executor=executor, workers=workers, chunk_size=chunk_size, seed=seed,
                             store=store, progress=step_progress)
            r = res.table("risk")
            out.append({**row, **_risk_row(r), "run_id": res.run_id})
            risk.append(_tagged(r, row, res.run_id))
        if system:
            markets.append(_market_rows(res, row, kind))
            if kind == "montecarlo":
                market_risk.append(_tagged(res.table("market_risk"), row, res.run_id))
        if progress is not None:
            progress(n + 1, len(rows))
    factor_cols = list(rows[0])
    tables = {"sweep": _typed(pd.DataFrame(out), factor_cols)}
    if risk:
        tables["sweep_risk"] = pd.concat(risk, ignore_index=True)
    if markets:
        tables["sweep_markets"] = _typed(pd.concat(markets, ignore_index=True), factor_cols)
    if market_risk:
        tables["sweep_market_risk"] = pd.concat(market_risk, ignore_index=True)
    res = Result(KIND, tables, ident)
    if store is None:
        return res
    st = store if isinstance(store, ResultsStore) else ResultsStore(Path(store))
    st.save(rid, KIND, ident, tables, {"source": base.source, "run_kind": kind, "factors": list(rows[0]),
                                       "combinations": len(rows), "wall_s": time.perf_counter() - t0})
    return res.with_run_id(rid)


def _check_kind(base, kind: str, system: bool, paths: Any, executor: str) -> None:
    """What a ``kind`` run needs of the base scenario, checked before any run."""
    from liqcascade.io import scenario as S

    if kind == "montecarlo":
        from liqcascade.execution import montecarlo as mc
        from liqcascade.execution.executors import parse_executor

        mc.prepare(base)
        parse_executor(executor)
        if isinstance(paths, bool) or not isinstance(paths, int) or paths < 1:
            raise ConfigError("--paths", "paths", "an integer >= 1", paths)
    elif kind == "simulate":
        if base.config.simulation is None:
            raise ConfigError(base.source, "simulation", "a [simulation] table for --kind simulate")
        if system:
            from liqcascade.io.system import system_simulation_parts

            system_simulation_parts(base)
        else:
            S.simulation_parts(base)  # path, drive, oracle and liquidators of the base: checked before any run


def _tagged(r: pd.DataFrame, row: Mapping[str, Any], run_id: str | None) -> pd.DataFrame:
    """Rows of a run's table with the combination's factor values and its run id as columns."""
    return r.assign(**{k: [v] * len(r) for k, v in row.items()}, run_id=run_id)


def _market_rows(res: Result, row: Mapping[str, Any], kind: str) -> pd.DataFrame:
    """A system run's per-market rows, tagged with the combination: its ``markets`` table
    (static, simulate) or each market's risk estimates flattened as in ``sweep`` (Monte Carlo)."""
    if kind == "montecarlo":
        mr = res.table("market_risk")
        m = pd.DataFrame([{"market": n, **_risk_row(mr[mr["market"] == n])} for n in mr["market"].unique()])
    else:
        m = res.table("markets")
    m = _tagged(m, row, res.run_id)
    return m[list(row) + [c for c in m.columns if c not in row]]


def _summary(res: Result) -> dict[str, Any]:
    return dict(res.table("summary").iloc[0])


def _headline(rows: list[dict], base) -> str | None:
    """The one asset whose drops and amplification a static sweep reports in every row: the
    asset of the first swept ``shock.<ASSET>`` field, else the base scenario's headline asset
    (largest shock; among equal shocks the most collateral in the book, as a run's summary)."""
    for field in rows[0]:
        path = _path(field)
        if len(path) == 2 and path[0] == "shock":
            return path[1]
    shocks = {a: float(v) for a, v in base.config.shock.items() if float(v) > 0}
    if not shocks:
        return None  # the first combination's own headline asset (see sweep)
    model = base.model
    if hasattr(model, "holdings_usd"):  # a system: collateral over all its markets
        coll_usd, _ = model.holdings_usd()
    else:
        coll, _ = model.book.totals_by_asset()
        coll_usd = coll * model.prices
    value = {a: float(coll_usd[i]) for i, a in enumerate(model.assets)}
    return max(shocks, key=lambda a: (shocks[a], value.get(a, 0.0)))


def _headline_cols(res: Result, asset: str | None) -> dict[str, Any]:
    """``headline_asset``, ``initial_drop``, ``final_drop`` and ``amplification`` of ``asset`` in
    a static run (NaN drops and amplification when the run does not move it)."""
    if asset is None:
        return {}
    a = res.table("assets").set_index("asset")
    if asset not in a.index:
        nan = float("nan")
        return {"headline_asset": asset, "initial_drop": nan, "final_drop": nan, "amplification": nan}
    r = a.loc[asset]
    return {"headline_asset": asset, "initial_drop": float(r["initial_drop"]), "final_drop": float(r["final_drop"]),
            "amplification": float(r["amplification"])}


def _risk_row(r: pd.DataFrame) -> dict[str, float]:
    out = {}
    for m, st, lvl, est in zip(r["metric"], r["statistic"], r["level"], r["estimate"]):
        name = f"{m}_{st}" if math.isnan(lvl) else f"{m}_{st}_{lvl * 100:g}"
        out[name] = float(est)
    return out


def _typed(df: pd.DataFrame, factor_cols: list[str]) -> pd.DataFrame:
    """Factor columns of mixed types (e.g. 1 and 0.5) as one type Parquet can store."""
    for c in factor_cols:
        vals = df[c].tolist()
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals):
            df[c] = df[c].astype(float) if any(isinstance(v, float) for v in vals) else df[c].astype("int64")
        elif not all(isinstance(v, bool) for v in vals) and not all(isinstance(v, str) for v in vals):
            df[c] = [str(v) for v in vals]
    return df


__all__ = ["ALIASES", "KINDS", "combinations", "parse_factor", "parse_value", "set_field", "sweep"]
