"""Backtests: a replay through :func:`~liqcascade.engine.dynamic.simulate` scored against
the liquidations that happened (``liqcascade backtest SCENARIO.toml``), and the builder of
MakerDAO ETH-B windows (``liqcascade ethb-window``).

Scoring
-------
A scenario with a ``[backtest]`` table names a file of recorded liquidations (``time,
account, collateral, debt``: tokens of ``collateral_asset`` and of the debt). An account
is *simulated* when the simulation liquidated it at least once in the window, *recorded*
when a recorded row names it. Precision = TP / (TP + FP), recall = TP / (TP + FN) (NaN
when undefined). Collateral: tokens of ``collateral_asset`` the simulation seized (its
``assets`` table) against the recorded sum; debt: the simulation's debt repaid (USD,
debt at 1 USD for a stablecoin debt) against the recorded sum; errors are ``sim / rec - 1``.
Timing: liquidated accounts per hour and per day (each account counted once per hour or
day it was liquidated), the Pearson correlation of the simulated and recorded counts over
the window's hours (days), and each side's peak hour.

ETH-B windows
-------------
:func:`write_ethb_window` turns the shipped ETH-B history (``data/maker_ethb_2023``, to
2023-01-26; the liquidations of 2021-05-17..31 are held aside) into a scenario: the vault
book just before the window (:func:`~liqcascade.io.maker_book.load_ethb_events`' ledger,
debt at the ``rate`` of the window's start), the owners' recorded actions during it
(deposits, withdrawals, DAI drawn and repaid as recorded, nominal), the fee history
(``JUG.ilks.duty``) for the accumulator, the recorded liquidations, and Binance ETHUSDT
hourly candles of the window (``data/backtest``) as the price path. Rules: Maker's Dog and
Clipper with ETH-B's parameters at the window's start (``mat``, ``chop``, ``hole``,
``dust``, ``buf``, ``tail``, ``cusp``, ``chip``, ``tip``); before 2021-05-06 the Cat and
Flipper (``liquidations-1.2``: ``dunk``, ``beg``, ``ttl``, ``tau``; keepers assumed deep in
DAI, the same for every such window), the OSM (one-hour hops) reading
Maker's Median (pushed on a 1 % move, the ETH/USD Median's relay spread) of the path, keepers
that bark one 10-minute block after a vault became unsafe (the OSM is poked after the hour
begins, and barks follow it), the owners' actions clamped by the Vat's dust. Everything else
is the same for every window (no per-window setting).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from liqcascade import __version__
from liqcascade.engine.result import Result
from liqcascade.errors import ConfigError, DataError
from liqcascade.execution.runs import DEFAULT_STORE, hashed, save, stored
from liqcascade.io.store import ResultsStore, run_id
from liqcascade.model.keepers import KeeperRule, fit_keepers

KIND = "backtest"
ETHB_WINDOWS: dict[str, tuple[str, str]] = {
    "2021-04": ("2021-04-12", "2021-05-01"),
    "2021-06": ("2021-06-07", "2021-06-24"),
    "2022-01": ("2022-01-05", "2022-01-25"),
    "2022-05": ("2022-05-08", "2022-05-28"),
    "2022-06": ("2022-06-10", "2022-06-19"),
    "2022-11": ("2022-11-07", "2022-11-11"),
}
"""ETH-B stress windows with hourly prices shipped (UTC days, end exclusive); 2021-04 ran the Cat and Flipper."""
ETHB_POOL_DAYS = ("2021-01-11", "2021-01-21", "2021-02-22")
"""ETH-B day windows priced by the Uniswap v2 ETH/DAI reserves shipped for them (Cat and Flipper)."""
RECORDED_COLUMNS = ("time", "account", "collateral", "debt")


def data_dir() -> Path:
    return Path(str(resources.files("liqcascade") / "data"))


# --- scoring ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recorded:
    """Recorded liquidations: one row per call (``time`` Unix s, ``account`` text, tokens)."""

    time: np.ndarray
    account: np.ndarray
    collateral: np.ndarray
    debt: np.ndarray


def read_recorded(path: Path) -> Recorded:
    """The recorded-liquidations CSV; a bad row is a :class:`DataError` naming row and column."""
    if not path.is_file():
        raise DataError(str(path), None, "recorded liquidations file not found")
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    if list(raw.columns[:4]) != list(RECORDED_COLUMNS):
        raise DataError(str(path), None, f"columns: expected {list(RECORDED_COLUMNS)}, got {list(raw.columns)}")
    t = pd.to_datetime(raw["time"].str.strip(), errors="coerce", utc=True, format="mixed")
    nums = {c: pd.to_numeric(raw[c].str.strip(), errors="coerce") for c in ("collateral", "debt")}
    for col, bad in (("time", t.isna()), ("collateral", ~(nums["collateral"] >= 0)), ("debt", ~(nums["debt"] >= 0)),
                     ("account", raw["account"].str.strip() == "")):
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            what = "a UTC time" if col == "time" else "an account" if col == "account" else "a number >= 0"
            raise DataError(str(path), i + 1, f"column {col}: expected {what}, got {raw[col].iloc[i]!r}")
    secs = ((t - pd.Timestamp(0, tz="UTC")).dt.total_seconds()).to_numpy().astype(np.int64)
    return Recorded(secs, raw["account"].str.strip().to_numpy(dtype=object), nums["collateral"].to_numpy(float),
                    nums["debt"].to_numpy(float))


def read_ledger_errors(path: Path) -> pd.DataFrame:
    """``[backtest] ledger_errors``: the accounts left out of the scoring (account, time,
    collateral, debt, reason; :mod:`~liqcascade.execution.backtest_ledger`)."""
    from liqcascade.execution.backtest_ledger import ERROR_COLUMNS

    if not path.is_file():
        raise DataError(str(path), None, "ledger errors file not found")
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    if list(raw.columns) != list(ERROR_COLUMNS):
        raise DataError(str(path), None, f"columns: expected {list(ERROR_COLUMNS)}, got {list(raw.columns)}")
    empty = np.flatnonzero((raw["account"].str.strip() == "").to_numpy())
    if empty.size:
        raise DataError(str(path), int(empty[0]) + 1, "column account: expected an account, got ''")
    nums = {c: pd.to_numeric(raw[c], errors="coerce") for c in ("collateral", "debt")}
    for c, v in nums.items():
        bad = np.flatnonzero(v.isna().to_numpy())
        if bad.size:
            raise DataError(str(path), int(bad[0]) + 1, f"column {c}: expected a number, got {raw[c].iloc[bad[0]]!r}")
    return raw.assign(account=raw["account"].str.strip(), **nums)


def _without(recorded: Recorded, accounts: set[str]) -> Recorded:
    """``recorded`` without the rows of ``accounts``."""
    keep = ~np.isin(recorded.account.astype(str), sorted(accounts))
    return Recorded(recorded.time[keep], recorded.account[keep], recorded.collateral[keep], recorded.debt[keep])


def _ratio(a: float, b: float) -> float:
    return a / b if b else math.nan


def _corr(x: np.ndarray, y: np.ndarray) -> float:
    if x.size < 2 or np.std(x) == 0 or np.std(y) == 0:
        return math.nan
    return float(np.corrcoef(x, y)[0, 1])


def _per_period(times: np.ndarray, accounts: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Distinct accounts liquidated in each period ``[edges[i], edges[i+1])``."""
    idx = np.searchsorted(edges, times, side="right") - 1
    ok = (idx >= 0) & (idx < edges.size - 1)
    pairs = pd.DataFrame({"i": idx[ok], "a": accounts[ok]}).drop_duplicates()
    return np.bincount(pairs["i"].to_numpy(dtype=np.int64), minlength=edges.size - 1).astype(np.int64)


def score(sim_events: pd.DataFrame, seized_tokens: float, recorded: Recorded, start: int, end: int,
          seized_by_account: pd.Series | None = None) -> dict[str, pd.DataFrame]:
    """Score a simulation's ``events`` (and its seized collateral, tokens) against the
    recorded liquidations in ``[start, end)`` (Unix s). Tables: ``score`` (one row),
    ``accounts`` (per account liquidated on either side; with ``seized_by_account``, tokens
    per account label, its simulated and recorded collateral), ``hourly`` (per hour)."""
    keep = (recorded.time >= start) & (recorded.time < end)
    rec_t, rec_a = recorded.time[keep], recorded.account[keep]
    sim_t = sim_events["time"].to_numpy(dtype=np.int64)
    sim_a = sim_events["account_id"].astype(str).to_numpy(dtype=object)
    s_set, r_set = set(sim_a.tolist()), set(rec_a.tolist())
    tp, fp, fn = len(s_set & r_set), len(s_set - r_set), len(r_set - s_set)
    precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else math.nan
    hours = np.arange(start - start % 3600, end + 3600, 3600)
    days = np.arange(start - start % 86400, end + 86400, 86400)
    sh, rh = _per_period(sim_t, sim_a, hours), _per_period(rec_t, rec_a, hours)
    sd, rd = _per_period(sim_t, sim_a, days), _per_period(rec_t, rec_a, days)
    rec_coll, rec_debt = float(recorded.collateral[keep].sum()), float(recorded.debt[keep].sum())
    sim_debt = float(sim_events["debt_repaid_usd"].sum()) if len(sim_events) else 0.0

    def peak(counts: np.ndarray) -> str:
        return "" if counts.max(initial=0) == 0 else str(pd.Timestamp(int(hours[int(np.argmax(counts))]), unit="s"))

    row = {
        "window_start": str(pd.Timestamp(start, unit="s")), "window_end": str(pd.Timestamp(end, unit="s")),
        "recorded_accounts": len(r_set), "simulated_accounts": len(s_set), "true_positives": tp,
        "false_positives": fp, "false_negatives": fn, "precision": precision, "recall": recall, "f1": f1,
        "recorded_collateral": rec_coll, "simulated_collateral": seized_tokens,
        "collateral_error": _ratio(seized_tokens, rec_coll) - 1.0, "recorded_debt": rec_debt,
        "simulated_debt_usd": sim_debt, "debt_error": _ratio(sim_debt, rec_debt) - 1.0,
        "hourly_correlation": _corr(sh, rh), "daily_correlation": _corr(sd, rd),
        "recorded_peak_hour": peak(rh), "simulated_peak_hour": peak(sh),
    }
    accounts = sorted(s_set | r_set)
    acc = pd.DataFrame({"account_id": accounts, "simulated": [a in s_set for a in accounts],
                        "recorded": [a in r_set for a in accounts]})
    if seized_by_account is not None:
        rec_by = pd.Series(recorded.collateral[keep]).groupby(rec_a).sum()
        acc["simulated_collateral"] = [float(seized_by_account.get(a, 0.0)) for a in accounts]
        acc["recorded_collateral"] = [float(rec_by.get(a, 0.0)) for a in accounts]
    hourly = pd.DataFrame({"hour": hours[:-1], "simulated": sh, "recorded": rh})
    return {"score": pd.DataFrame([row]), "accounts": acc, "hourly": hourly}


# --- the command ------------------------------------------------------------------------------


def backtest(scenario: str | Path, store: ResultsStore | str | Path | None = DEFAULT_STORE,
             recompute: bool = False, progress=None, price_band: float = 0.0) -> Result:
    """Simulate ``scenario`` (its ``[simulation]``, usually with ``[simulation.events]``) and
    score it against its ``[backtest]`` recorded liquidations. Tables: ``score``,
    ``accounts``, ``hourly``, ``oracle`` (per block the collateral's path and oracle price) and
    the simulation's ``events``, ``summary`` and ``conflicts``.

    ``price_band`` ``d`` > 0 also scores the replay with the oracle reading the path's
    ``collateral_asset`` price times ``1 - d`` and ``1 + d`` (the price source's uncertainty:
    a replay's path is one venue, the protocol's oracle read another): tables ``band`` (one
    row per shift: accounts, precision, recall, collateral and its error) and ``flips`` (the
    accounts liquidated under some shift and not under all: the edge)."""
    from liqcascade.io import scenario as _scenario
    from liqcascade.io.config import resolve_path

    sc = _scenario.load(scenario)
    bt = sc.config.backtest
    if bt is None:
        raise ConfigError(sc.source, "backtest", "a [backtest] table (recorded = \"liquidations.csv\")")
    if bt.collateral_asset not in sc.model.assets:
        raise ConfigError(sc.source, "backtest.collateral_asset", f"an asset of the market {list(sc.model.assets)}",
                          bt.collateral_asset)
    if not (isinstance(price_band, (int, float)) and 0.0 <= price_band < 0.5):
        raise ConfigError("<python>", "price_band", "a relative price gap 0 <= d < 0.5 (0.005 = 0.5 %)",
                          price_band)
    recorded_path = resolve_path(bt.recorded, sc.base_dir, sc.source, "backtest.recorded")
    cfg = sc.resolved()
    key = {"kind": KIND, "config": hashed(cfg, ("curve",))}
    # the band is part of what was run: a banded run is another run (no band: the id of old)
    rid = run_id({**key, "price_band": float(price_band)} if price_band else key, __version__)
    if not recompute and (found := stored(store, rid, KIND)) is not None:
        return found
    recorded = read_recorded(recorded_path)
    errors = None
    if bt.ledger_errors is not None:
        errors = read_ledger_errors(resolve_path(bt.ledger_errors, sc.base_dir, sc.source, "backtest.ledger_errors"))
        recorded = _without(recorded, set(errors["account"]))
    parts = _SimParts.of(sc)
    if price_band and parts.settings.dynamics.impact_on_path != "none":
        raise ConfigError(sc.source, "simulation.impact_on_path", "none for a price band (the oracle reads "
                          "the shifted path; a path moved by the sales would not be)",
                          parts.settings.dynamics.impact_on_path)
    sim = parts.run(sc, 0.0, bt.collateral_asset, progress)
    seized = _seized(sim, bt.collateral_asset)
    end = int(parts.path.times[-1]) + int(parts.path.block_seconds)
    start = int(parts.path.times[0])
    tables = score(sim["events"], seized.total, recorded, start, end, seized.by_account)
    floor = sc.config.simulation.oracle.floor
    # the price source, printed with the result: the path's quote and the oracle's floor file
    tables["score"] = tables["score"].assign(impact_on_path=parts.settings.dynamics.impact_on_path,
                                             quote=bt.quote or "", oracle_floor=floor or "")
    tables.update({"events": sim["events"], "summary": sim["summary"]})
    steps = sim["steps"]
    # the price the protocol read, per block: what the edge vaults are judged by
    tables["oracle"] = steps.loc[steps["asset"] == bt.collateral_asset,
                                 ["block", "time", "reference_price", "oracle_price"]].reset_index(drop=True)
    if "conflicts" in sim.tables:
        tables["conflicts"] = sim["conflicts"]
    if errors is not None:
        tables["ledger_errors"] = errors
    if price_band:
        runs = {0.0: seized}
        for shift in (-float(price_band), float(price_band)):
            runs[shift] = _seized(parts.run(sc, shift, bt.collateral_asset, None), bt.collateral_asset)
        tables.update(band_tables(runs, recorded, start, end))
    out = Result(KIND, tables, cfg)
    save(store, rid, KIND, cfg, out, {"source": sc.source, "price_band": float(price_band)})
    return out.with_run_id(rid)


@dataclass(frozen=True)
class _SimParts:
    """A scenario's simulation inputs, built once for the runs of a band."""

    path: object
    oracle: object
    settings: object
    oracle_input: dict | None
    venue_depth: object
    actions: object
    accrual: object

    @classmethod
    def of(cls, sc) -> _SimParts:
        from liqcascade.io import scenario as _scenario

        path, oracle, settings, oracle_input, venue_depth = _scenario.simulation_parts(sc)
        actions, accrual = _scenario.owner_inputs(sc, path)
        return cls(path, oracle, settings, oracle_input, venue_depth, actions, accrual)

    def feed(self, asset: str, shift: float) -> dict | None:
        """The oracle's input with ``asset`` read at ``1 + shift`` times what it reads unshifted
        (its feed, or the path: with no impact kept the market price is the path)."""
        if shift == 0.0:
            return self.oracle_input
        path = self.path
        out = dict(self.oracle_input or {})
        if asset not in out:
            if asset not in path.assets:
                raise ConfigError("<python>", "backtest.collateral_asset", f"an asset on the price path "
                                  f"{list(path.assets)} for a price band", asset)
            out[asset] = np.asarray(path.prices[:, list(path.assets).index(asset)], dtype=np.float64)
        out[asset] = np.asarray(out[asset], dtype=np.float64) * (1.0 + shift)
        return out

    def run(self, sc, shift: float, asset: str, progress) -> Result:
        from liqcascade.engine.dynamic import simulate as _simulate
        from liqcascade.io import scenario as _scenario

        return _simulate(sc.model, self.path, self.oracle, self.settings, progress, sc.resolved(),
                         self.feed(asset, shift), self.venue_depth, owner_actions=self.actions,
                         accrual=self.accrual, impact_baseline=_scenario.impact_baseline(sc, self.path),
                         behaviour=_scenario.behaviour_inputs(sc), keepers=_scenario.keeper_inputs(sc))


@dataclass(frozen=True)
class Seized:
    """Collateral a simulation seized: ``total`` tokens (its ``assets`` table, the protocol's
    fee included) and ``by_account`` (tokens per account label, from its ``trades``)."""

    total: float
    by_account: pd.Series


def _seized(sim: Result, asset: str) -> Seized:
    a = sim["assets"].set_index("asset")
    total = float(a.loc[asset, "seized"]) if asset in a.index else 0.0
    no_trades = pd.DataFrame(columns=["kind", "asset", "account_id", "amount"])
    t = sim["trades"] if "trades" in sim.tables else no_trades
    t = t[(t["kind"] == "seized") & (t["asset"] == asset)]
    # the account's side of a seizure is negative
    by = t.groupby(t["account_id"].astype(str))["amount"].sum().abs().astype(float)
    return Seized(total, by)


def band_tables(runs: dict[float, Seized], recorded: Recorded, start: int,
                end: int) -> dict[str, pd.DataFrame]:
    """``band`` (one row per oracle shift, lowest first) and ``flips`` (accounts liquidated
    under some shifts only, with the tokens seized from them under each) from ``runs``:
    shift -> what the run seized; three shifts, the unshifted run in the middle."""
    keep = (recorded.time >= start) & (recorded.time < end)
    r_set = set(recorded.account[keep].tolist())
    rec_coll = float(recorded.collateral[keep].sum())
    rows = []
    for shift in sorted(runs):
        s_set = set(runs[shift].by_account.index.tolist())
        tp, fp, fn = len(s_set & r_set), len(s_set - r_set), len(r_set - s_set)
        coll = runs[shift].total
        rows.append({"oracle_shift": shift, "simulated_accounts": len(s_set), "true_positives": tp,
                     "false_positives": fp, "false_negatives": fn, "precision": _ratio(tp, tp + fp),
                     "recall": _ratio(tp, tp + fn), "simulated_collateral": coll,
                     "recorded_collateral": rec_coll,
                     "collateral_error": _ratio(coll, rec_coll) - 1.0})
    shifts = sorted(runs)
    every = set().union(*(set(runs[s].by_account.index) for s in shifts))
    edge = sorted(a for a in every if not all(a in runs[s].by_account.index for s in shifts))
    flips = pd.DataFrame({"account_id": edge, "recorded": [a in r_set for a in edge]})
    for name, s in zip(("low", "base", "high"), shifts):
        flips[f"collateral_{name}"] = [float(runs[s].by_account.get(a, 0.0)) for a in edge]
    return {"band": pd.DataFrame(rows), "flips": flips}


# --- the price source's gap -------------------------------------------------------------------

ETHB_PRICE_BAND = 0.005
"""The oracle shift the ETH-B windows are also scored under (``--price-band``): the measured
median gap between Binance's hourly opens and another venue on the stress day both shipped
files cover, 0.47 % (:func:`ethb_price_gap`), rounded to 0.5 %."""
GAP_DAY = "2021-05-19"
GAP_POOL_FILE = "replays/uniswap_v2_eth_dai_reserves_10min_2021-05-19.csv"


@dataclass(frozen=True)
class PriceGap:
    """``|other / binance - 1|`` at every hour open both series cover: how many hours, the
    median and the 90th percentile, and the mean signed gap (other below Binance: < 0)."""

    hours: int
    median: float
    p90: float
    mean: float


def price_gap(other_time: np.ndarray, other_price: np.ndarray, hour_time: np.ndarray,
              hour_open: np.ndarray) -> PriceGap:
    """The gap of a price series (``other_*``: Unix s, price) to hourly opens at the hours
    whose open time is one of ``other_time`` (no interpolation: both sides observed then)."""
    ot, ht = np.asarray(other_time, dtype=np.int64), np.asarray(hour_time, dtype=np.int64)
    common, i, j = np.intersect1d(ot, ht, return_indices=True)
    if common.size == 0:
        raise DataError("<python>", None, "price series with at least one common hour open")
    g = np.asarray(other_price, dtype=np.float64)[i] / np.asarray(hour_open, dtype=np.float64)[j] - 1.0
    return PriceGap(int(common.size), float(np.median(np.abs(g))), float(np.quantile(np.abs(g), 0.9)),
                    float(np.mean(g)))


def ethb_price_gap() -> PriceGap:
    """:func:`price_gap` of the shipped Uniswap v2 ETH/DAI pool prices of 2021-05-19 (its US
    Pacific day, turned into UTC as ``maker-replay`` does) to the shipped Binance ETHUSDT
    hourly opens: the gap between the replays' price source and another venue on a stress
    day. (The pool is one venue, not Maker's Median of many; the Chainlink ETH/USD rounds of
    2023, a median of many, sit 0.08 % from Binance at the median, ``chainlink_check``, in a
    calm year.)"""
    from liqcascade.execution.maker_replay import price_window

    pool = price_window(GAP_DAY, data_dir() / GAP_POOL_FILE).prices
    hourly = pd.read_csv(data_dir() / ETH_HOURLY)
    return price_gap(pool["time"].to_numpy(), pool["price"].to_numpy(), _secs(hourly["date"]).to_numpy(),
                     hourly["open"].to_numpy())


def ethb_gap_autocorrelation() -> float:
    """The lag-one-hour autocorrelation of the signed gap of :func:`ethb_price_gap`'s hours
    (the pool against Binance's hourly opens on 2021-05-19): how much of a venue gap is left
    an hour later, :data:`FLOOR_HALF_LIFE_HOPS`' measure."""
    from liqcascade.execution.maker_replay import price_window

    pool = price_window(GAP_DAY, data_dir() / GAP_POOL_FILE).prices
    hourly = pd.read_csv(data_dir() / ETH_HOURLY)
    common, i, j = np.intersect1d(pool["time"].to_numpy(), _secs(hourly["date"]).to_numpy(), return_indices=True)
    g = pool["price"].to_numpy(float)[i] / hourly["open"].to_numpy(float)[j] - 1.0
    return _corr(g[1:], g[:-1])


# --- ETH-B windows ----------------------------------------------------------------------------

ETHB_DIR = "maker_ethb_2023"
ETH_HOURLY = "backtest/binance_ethusdt_1h_2021-04_2022-12.csv"
USDC_HOURLY = "backtest/binance_usdcusdt_1h_2022-05.csv"
"""Binance USDCUSDT hourly candles of May 2022: USDC, a dollar, in USDT (``quote = "usd"``)."""
ORACLE_CHOICES = ("path", "chain-floor")
"""``ethb-window --oracle``: the OSM reads the path only, or also the floor the owners' accepted
draws and withdrawals prove (:func:`ethb_oracle_floor`)."""
FLOOR_HALF_LIFE_HOPS = 1.0
"""How fast a revealed gap fades in later OSM hours: halved every hour. The measured venue gap
(the Uniswap v2 ETH/DAI pool against Binance's hourly opens on 2021-05-19, prices only) has a
lag-one-hour autocorrelation of 0.49 (``ethb_gap_autocorrelation``): half-life one hour."""
_CARRY_HOPS = 12
"""A lift is carried at most this many hours (2^-12 of it is left: nothing)."""
QUOTE_CHOICES = ("as-recorded", "usd")
"""``ethb-window --quote``: the path as its source quotes it (Binance: USDT; the pool: DAI), or
Binance's ETHUSDT turned into USD by USDCUSDT (:func:`usd_candles`, May 2022 only)."""
FLOOR_MAX_LIFT = 0.03
"""A draw's or withdrawal's line more than this above the path's price is a ledger error (a
debt wrong in the files, 28283's 200,424 DAI), not an oracle fact: the 90th percentile of the
measured venue gap on 2021-05-19 (2.9 %, :func:`ethb_price_gap`), rounded up."""
MEDIAN_EXPIRATION_S = 15500
"""The ETH/USD Median's relay expiry (``oracleExpiration``, s): the relayers push a new Median
value at least this often. makerdao/oracles-v2, omnia/config/relayer.conf, 15500 from commit
2070cb7c1f82b5a5ade43766e9a1ec0d2fe99fa5 (2020-12-17) through e086c82614f5dcaef338a76d6c90ce0f52b01bd7
(2022-04-20, the repository's last)."""
MEDIAN_SPREADS = ((0, 0.005), (1614138014, 0.01))
"""The ETH/USD Median's relay spread (``oracleSpread``: push when the feeds' median moved more
than this from the Median's value) from each Unix time on: 0.5 % in that file at commit
2070cb7c (2020-12-17), 1 % from commit c1190c807bcbc02519515ce550aab27b2a210e78 ("updated ...
oracle sensitivity parameters", 2021-02-23 19:40 -0800 = 2021-02-24 03:40 UTC) to the last."""


def median_spread_at(t: int) -> float:
    """:data:`MEDIAN_SPREADS`' spread in force at Unix time ``t``."""
    return [v for since, v in MEDIAN_SPREADS if since <= t][-1]


_KIND_TO_ACTION = {"deposit": "deposit", "withdraw": "withdraw", "borrow": "borrow", "repay": "repay"}


def _secs(col: pd.Series) -> pd.Series:
    """UTC times -> Unix seconds (int64)."""
    t = pd.to_datetime(col, utc=True, format="mixed")
    return ((t - pd.Timestamp(0, tz="UTC")).dt.total_seconds()).astype("int64")


def _utc_seconds(text: str, key: str) -> int:
    try:
        t = pd.Timestamp(text)
    except (ValueError, TypeError):
        raise ConfigError("<python>", key, "a UTC day or time like '2022-06-10'", text) from None
    t = t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")
    return int(t.timestamp())


def _ethb_book(ev, start: int, prices: pd.DataFrame, mat: float,
               live: set[str] = frozenset()) -> tuple[pd.DataFrame, int]:
    """Each vault's ink (WETH) and debt (DAI at the rate of ``start``) after the events before
    ``start``, and how many vaults were left out: those unsafe at the lowest hourly open of
    ``prices`` (``time`` in Unix s, ``open``) since their last recorded action, unless
    ``live`` names them. A dormant vault the ledger shows unsafe where the chain did not
    liquidate it is a ledger artefact (or a liquidation in the held-aside fortnight): not a
    position at ``start``. A vault in ``live`` (its owner acts in the window: the chain
    accepted frobs on it) is a position whatever the ledger says at Binance's price: the
    gap is the price source's (Binance, not Maker's Median), not the ledger's."""
    led = ev.ledger.assign(t=_secs(ev.flows["timestamp"]))
    led = led[led["t"] < start]
    last = led.groupby("vault")["t"].max()
    g = led.groupby("vault")[["dink", "dart"]].sum()
    g = g[(g["dink"] > 1e-9) | (g["dart"] > 1e-6)]
    rate = float(ev.rate_at_time(float(start)))
    ink, debt = g["dink"].clip(lower=0.0).to_numpy(), (g["dart"].clip(lower=0.0) * rate).to_numpy()
    t, o = prices["time"].to_numpy(), prices["open"].to_numpy(dtype=float)
    lowest = np.array([o[(t >= lo) & (t <= start)].min(initial=np.inf) for lo in last.reindex(g.index).to_numpy()])
    # before the hourly prices begin (2021-04-04) there is no price to judge a vault by: kept
    ids = g.index.astype(str).to_numpy()
    safe = ~np.isfinite(lowest) | (ink * np.where(np.isfinite(lowest), lowest, 0.0) / mat >= debt)
    safe |= np.isin(ids, sorted(live))
    ink, debt, ids = ink[safe], debt[safe], ids[safe]
    return pd.DataFrame({"account": np.repeat(ids, 2), "asset": np.tile(["WETH", "DAI"], len(ids)),
                         "collateral": np.ravel(np.column_stack([ink, np.zeros(len(ids))])),
                         "debt": np.ravel(np.column_stack([np.zeros(len(ids)), debt]))}), int((~safe).sum())


def _ethb_actions(ev, start: int, end: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(owners' actions, recorded liquidations) of ``[start, end)``, amounts as recorded."""
    f = ev.flows.assign(t=_secs(ev.flows["timestamp"]))
    w = f[(f["t"] >= start) & (f["t"] < end)]
    acts = w[w["kind"] != "liquidation"]
    on_eth = acts["kind"].isin(["deposit", "withdraw"]).to_numpy()
    events = pd.DataFrame({
        "time": pd.to_datetime(acts["t"], unit="s").dt.strftime("%Y-%m-%d %H:%M:%S"),
        "account": acts["vault"].astype(str), "action": acts["kind"].map(_KIND_TO_ACTION),
        "asset": np.where(on_eth, "WETH", "DAI"),
        "amount": np.where(on_eth, acts["eth"].abs(), acts["dai"].abs()),
    })
    liq = w[w["kind"] == "liquidation"]
    recorded = pd.DataFrame({"time": pd.to_datetime(liq["t"], unit="s").dt.strftime("%Y-%m-%d %H:%M:%S"),
                             "account": liq["vault"].astype(str), "collateral": liq["eth"], "debt": liq["dai"]})
    # every row is one bite, identical rows too (two bites of dunk in one block: vault 21348 was
    # bitten 363 times on 2021-04-28; io/maker_book.py's quirks): all count
    return events, recorded


_ETHB_TOML = '''# MakerDAO ETH-B, {start} to {end} UTC, replayed through `simulate` with the owners'
# recorded actions and the stability-fee accumulator, scored against the recorded liquidations.
# Written by `liqcascade ethb-window` (liqcascade.execution.backtest): parameters at the window's start.

name = "ethb-{name}"
description = "ETH-B vault book from {start}, owners' actions and fees applied, {kind} rules"

[market]
protocol = "maker"
{version}assets = ["WETH", "DAI"]

[market.overrides.WETH]
ltv = {lt!r}
liquidation_threshold = {lt!r}
liquidation_bonus = {bonus!r}

{rules}
[positions]
source = "file"
path = "book.csv"

[prices.overrides]
WETH = {first_price!r}
DAI = 1.0

[[venues]]
kind = "cpmm"
asset = "WETH"
reserve_usd = 100e6

[simulation]
path = "candles"
candles = {{ WETH = "eth.csv" }}
fill = "linear"
block_seconds = {block_seconds}

[simulation.oracle]
kind = "osm"
hop_s = 3600
median_spread = {median_spread!r}
median_expiration_s = {median_expiration!r}

[simulation.liquidators]
gas_asset = "WETH"
gas_gwei = 50
latency_blocks = {latency_blocks}

[simulation.events]
path = "events.csv"
accrual = {{ DAI = "fees.csv" }}
dust = {{ DAI = {dust!r} }}

# owners whose history before the window shows a repay bot (model/keepers.py): they repay
# on the OSM's next price, to their fitted band, unless stopped (idle while the price moved)
[simulation.keepers]
path = "keepers.csv"
max_idle_move = {max_idle!r}

[backtest]
recorded = "recorded.csv"
collateral_asset = "WETH"
# vaults whose recorded actions the Vat would refuse (execution/backtest_ledger.py): left out
ledger_errors = "ledger_errors.csv"
'''
"""The scenario of every ETH-B window: only the book's date and ETH-B's parameters then differ."""

_CLIPPER_TOML = '''[market.maker.auctions]
buf = {buf!r}
tail = {tail!r}
cusp = {cusp!r}
chip = {chip!r}
tip = {tip!r}
hole_usd = {hole!r}
dust_usd = {dust!r}
chost_usd = {chost!r}
'''
"""Liquidations 2.0 (Dog and Clipper, from 2021-05-06): the Clipper's parameters then."""

_FLIP_TOML = '''# Liquidations 1.2: the Cat bites at most dunk of tab per auction (no lump); keepers are
# assumptions, the same for every Cat-era window: deep in DAI, bids mined at 100 gwei.
[market.maker.flip]
beg = {beg!r}
ttl_s = {ttl!r}
tau_s = {tau!r}
lump = 1e12
dunk_usd = {dunk!r}

[[market.maker.flip.keepers]]
name = "auction-keeper"
count = 3
strategy = "value"
gas_gwei = 100.0
capital_usd = 1e8
latency_s = 60.0
discount = 0.05
'''
"""Liquidations 1.2 (Cat and Flipper, before 2021-05-06): the Flipper's and the Cat's parameters then."""


def _ethb_scenario(name: str, start: int, end: int, p: dict, first_price: float, block_seconds: int = 600) -> str:
    """The scenario TOML of an ETH-B window (every window: the same settings)."""
    day = lambda t: str(pd.Timestamp(t, unit="s"))  # noqa: E731
    if p["liquidation_module"] == "cat":
        version = 'version = "liquidations-1.2"\n'
        rules = _FLIP_TOML.format(beg=p["beg"], ttl=p["ttl"], tau=p["tau"], dunk=p["dunk"])
    else:
        version = ""
        rules = _CLIPPER_TOML.format(
            buf=p["buf"], tail=p["tail"], cusp=p["cusp"], chip=p["chip"], tip=float(p["raw"].get("CLIPPER.tip", 0.0)),
            hole=p["hole"], dust=p["dust"], chost=p["dust"] * p["chop"])
    return _ETHB_TOML.format(
        name=name, start=day(start), end=day(end), lt=1.0 / p["mat"], bonus=p["chop"] - 1.0, version=version,
        rules=rules, kind="Cat/Flipper" if version else "Dog/Clipper", dust=p["dust"], first_price=first_price,
        block_seconds=block_seconds, latency_blocks=600 // block_seconds,  # keepers bark 600 s after
        median_spread=median_spread_at(start), median_expiration=float(MEDIAN_EXPIRATION_S),
        max_idle=ETHB_MAX_IDLE_MOVE)


def write_ethb_window(out_dir: str | Path, start: str, end: str, name: str | None = None,
                      oracle: str = "path", quote: str = "as-recorded") -> Path:
    """Write an ETH-B window's scenario and its files into ``out_dir``; return the TOML's path.
    ``start``/``end``: UTC days or times (end exclusive) inside the shipped hourly prices
    (2021-04-05 to 2022-12-31), both before Liquidations 2.0 reached ETH-B (2021-05-06: then
    the Cat and Flipper, ``liquidations-1.2``) or both after (the Dog and Clipper).
    ``oracle`` (:data:`ORACLE_CHOICES`), ``quote`` (:data:`QUOTE_CHOICES`): the price source."""
    _check_choices(oracle, quote)
    t0, t1 = _utc_seconds(start, "start"), _utc_seconds(end, "end")
    prices = pd.read_csv(data_dir() / ETH_HOURLY)
    pt = _secs(prices["date"])
    if not (t1 > t0 and pt.iloc[0] <= t0 and t1 <= pt.iloc[-1] + 3600):
        raise ConfigError("<python>", "start/end", f"a window from {prices['date'].iloc[0]} to "
                          f"{prices['date'].iloc[-1]} UTC with start < end", (start, end))
    window = prices[(pt >= t0) & (pt < t1)]
    if quote == "usd":
        window = usd_candles(window, name or f"{start}..{end}")
    return _write_ethb(Path(out_dir), t0, t1, window, prices.assign(time=pt), name or f"{start}",
                       source=PriceSource(oracle, quote))


def write_ethb_day(out_dir: str | Path, day: str, oracle: str = "path", quote: str = "as-recorded") -> Path:
    """Write an ETH-B day window priced by the shipped Uniswap v2 ETH/DAI reserves of ``day``
    (one of :data:`ETHB_POOL_DAYS`; data/maker_replay, the file's US Pacific day: 08:00 UTC to
    08:00 UTC next day in winter, :func:`~liqcascade.execution.maker_replay.price_window`),
    10-minute prices (dai / weth) as the path; otherwise as :func:`write_ethb_window`. The
    pool quotes DAI: ``quote = "usd"`` is refused (no DAI/USD series is shipped)."""
    from liqcascade.execution.maker_replay import price_window

    _check_choices(oracle, quote)
    if quote == "usd":
        raise ConfigError("<python>", "quote", f"'as-recorded' for the day window {day} (priced in DAI by the "
                          "Uniswap v2 pool; no DAI/USD series is shipped)", quote)
    if day not in ETHB_POOL_DAYS:
        raise ConfigError("<python>", "day", f"one of {list(ETHB_POOL_DAYS)}", day)
    pw = price_window(day)
    t, px = pw.prices["time"].to_numpy(dtype=np.int64), pw.prices["price"].to_numpy(dtype=float)
    window = pd.DataFrame({"date": pd.to_datetime(t, unit="s").strftime("%Y-%m-%d %H:%M:%S"), "open": px,
                           "high": px, "low": px, "close": px, "volume": 0.0})
    hourly = pd.read_csv(data_dir() / ETH_HOURLY)
    # 10-minute prices: blocks of 150 s, the candles' four points (all equal) one per block
    return _write_ethb(Path(out_dir), int(pw.start.timestamp()), int(pw.end.timestamp()), window,
                       hourly.assign(time=_secs(hourly["date"])), day, block_seconds=150,
                       source=PriceSource(oracle, quote, "DAI"))


@dataclass(frozen=True)
class PriceSource:
    """What an ETH-B window's OSM reads: ``oracle`` (:data:`ORACLE_CHOICES`) and the path's
    ``quote`` (:data:`QUOTE_CHOICES`)."""

    oracle: str = "path"
    quote: str = "as-recorded"
    recorded_in: str = "USDT"
    """The currency the path's source quotes ETH in (Binance: USDT; the Uniswap v2 pool: DAI)."""


def _check_choices(oracle: str, quote: str) -> None:
    if oracle not in ORACLE_CHOICES:
        raise ConfigError("<python>", "oracle", f"one of {list(ORACLE_CHOICES)}", oracle)
    if quote not in QUOTE_CHOICES:
        raise ConfigError("<python>", "quote", f"one of {list(QUOTE_CHOICES)}", quote)


def usd_candles(window: pd.DataFrame, name: str) -> pd.DataFrame:
    """Binance ETHUSDT candles (``date``, OHLC) in USD: divided by the same hour's USDCUSDT
    (USDC taken as the dollar; data/backtest, May 2022): the open by USDC's open, the close
    by its close, the high and low by the mean of the two (USDC's own highs and lows are
    single-trade spikes, up to 3.99 USDT on 2022-05-11 20:00), then widened to hold the open
    and close. An hour the USDC file lacks is a :class:`ConfigError` naming the window."""
    usdc = pd.read_csv(data_dir() / USDC_HOURLY).set_index("date")
    missing = ~window["date"].isin(usdc.index)
    if missing.any():
        raise ConfigError("<python>", "quote", f"a window inside the shipped USDCUSDT hours ({usdc.index[0]} .. "
                          f"{usdc.index[-1]} UTC) for quote = usd; window {name} has "
                          f"{int(missing.sum())} hours outside, from {window['date'][missing].iloc[0]}", "usd")
    u = usdc.loc[window["date"]]
    o = window["open"].to_numpy(float) / u["open"].to_numpy(float)
    c = window["close"].to_numpy(float) / u["close"].to_numpy(float)
    mid = (u["open"].to_numpy(float) + u["close"].to_numpy(float)) / 2.0
    h = np.maximum.reduce([window["high"].to_numpy(float) / mid, o, c])
    lo = np.minimum.reduce([window["low"].to_numpy(float) / mid, o, c])
    return window.assign(open=o, high=h, low=lo, close=c)


def ethb_oracle_floor(book: pd.DataFrame, events: pd.DataFrame, rate_at, mat: float, path: pd.DataFrame,
                      hop_s: int = 3600, max_lift: float = FLOOR_MAX_LIFT,
                      half_life_hops: float = FLOOR_HALF_LIFE_HOPS) -> pd.DataFrame:
    """The floor the owners' accepted actions put under the OSM's price, per hop: rows
    ``time`` (the hop's start, UTC), ``asset`` (WETH), ``price``. Reads the replay's own
    inputs only (``book``, ``events``: the files ``ethb-window`` writes; never the recorded
    liquidations). Each vault is followed from the book (WETH; debt at ``rate_at`` of the
    window's start, ``path``'s first time) through its owner's deposits, withdrawals, draws and
    repayments (DAI at the rate of their time); after a block in which the owner drew or
    withdrew, its line ``mat · debt / ink`` is a lower bound on the OSM's price then (the Vat
    accepted the frob at the Spotter's ``spot``, the OSM's price over ``mat``). The OSM holds
    one price through a hop, so the bound holds for the whole hop. What it says of later hops
    is the venue gap: the bound's lift over the path's price the OSM read (the open at the
    start of the hop before), carried as a lift over the later hops' path prices, halved every
    ``half_life_hops`` (0: the hop only; carried at most :data:`_CARRY_HOPS`). Lifts above
    ``max_lift`` are ledger errors and dropped. ``path``: ``date`` (UTC), ``open``; each hop's
    floor is the largest bound on it."""
    t0 = int(_secs(path["date"]).iloc[0])
    r0 = float(rate_at(float(t0)))
    b = book.pivot_table(index="account", columns="asset", values=["collateral", "debt"], aggfunc="sum")
    ink = b[("collateral", "WETH")].to_dict() if ("collateral", "WETH") in b else {}
    art = {a: float(v) / r0 for a, v in b[("debt", "DAI")].items()} if ("debt", "DAI") in b else {}
    ev = events.assign(t=_secs(events["time"])).sort_values("t", kind="stable")
    sign = {"deposit": 1.0, "withdraw": -1.0, "borrow": 1.0, "repay": -1.0}
    bounds = []
    for (acc, t), grp in ev.groupby(["account", "t"], sort=False):
        rate = float(rate_at(float(t)))
        for act, amount in zip(grp["action"], grp["amount"].astype(float)):
            if act in ("deposit", "withdraw"):
                ink[acc] = max(ink.get(acc, 0.0) + sign[act] * amount, 0.0)
            else:
                art[acc] = max(art.get(acc, 0.0) + sign[act] * amount / rate, 0.0)
        if grp["action"].isin(["borrow", "withdraw"]).any() and ink.get(acc, 0.0) > 0 and art.get(acc, 0.0) > 0:
            bounds.append((int(t), mat * art[acc] * rate / ink[acc]))
    out = pd.DataFrame(bounds, columns=["t", "line"])
    pt, po = _secs(path["date"]).to_numpy(), path["open"].to_numpy(float)
    end_hop = (int(pt[-1]) + 3600) // hop_s

    def read(k: np.ndarray) -> np.ndarray:
        """The path's price the OSM returns during hop k: the open at the start of hop k - 1."""
        return np.interp(np.maximum((k - 1) * hop_s, t0), pt, po)

    hop = (out["t"] // hop_s).to_numpy(np.int64)
    lift = out["line"].to_numpy(float) / read(hop) - 1.0
    ok = (lift > 0) & (lift <= max_lift)
    hop, lift = hop[ok], lift[ok]
    # the venue gap carried into later hops, halving every half_life_hops (0: this hop only)
    later = np.arange(0, _CARRY_HOPS + 1 if half_life_hops > 0 else 1)
    k = (hop[:, None] + later[None, :]).ravel()
    decay = np.power(0.5, later / half_life_hops) if half_life_hops > 0 else np.ones(1)
    price = read(k) * (1.0 + (lift[:, None] * decay[None, :]).ravel())
    top = pd.Series(price).groupby(k).max()
    top = top[top.index < end_hop]
    return pd.DataFrame({"time": pd.to_datetime(top.index * hop_s, unit="s").strftime("%Y-%m-%d %H:%M:%S"),
                         "asset": "WETH", "price": top.to_numpy(float)})


def _write_ethb(out: Path, t0: int, t1: int, window: pd.DataFrame, hourly: pd.DataFrame, name: str,
                block_seconds: int = 600, source: PriceSource = PriceSource()) -> Path:
    """The files of a window ``[t0, t1)`` whose path is ``window`` (candles); ``hourly``
    (``time``, ``open``): the prices the book's filter and the keepers' fit read before it."""
    from liqcascade.io.maker_book import ethb_parameters_at

    ev = _ethb_events()
    clock = _time_block_clock(ev)
    p = ethb_parameters_at(int(np.interp(t0, *clock)), ev)
    # one rule set per window: the Cat (1.2) before 2021-05-06, the Dog (2.0) after
    if p.get("liquidation_module") != ethb_parameters_at(int(np.interp(t1 - 1, *clock)), ev).get("liquidation_module"):
        raise ConfigError("<python>", "start/end", "a window on one side of Liquidations 2.0 reaching ETH-B "
                          "(2021-05-06)", (str(pd.Timestamp(t0, unit="s")), str(pd.Timestamp(t1, unit="s"))))
    out.mkdir(parents=True, exist_ok=True)
    window.to_csv(out / "eth.csv", index=False)
    first = float(window["open"].iloc[0])
    events, recorded = _ethb_actions(ev, t0, t1)
    book, dropped = _ethb_book(ev, t0, hourly, float(p["mat"]), set(events["account"]))
    errors = ethb_ledger_errors(ev, t1, float(p["dust"]),
                                set(book["account"]) | set(events["account"]) | set(recorded["account"]))
    # a vault whose record the Vat would refuse is left out of the replay (and of the score)
    wrong = set(errors["account"])
    events = events[~events["account"].isin(wrong)].reset_index(drop=True)
    book = book[~book["account"].isin(wrong)].reset_index(drop=True)
    errors.to_csv(out / "ledger_errors.csv", index=False)
    book.to_csv(out / "book.csv", index=False)
    # the window's owners: the book's and those the owners' actions add
    owners = set(book["account"]) | set(events["account"])
    keepers = ethb_keepers(ev, t0, hourly, float(p["mat"]), owners, end=t1)
    keepers.to_csv(out / "keepers.csv", index=False)
    events.to_csv(out / "events.csv", index=False)
    recorded.to_csv(out / "recorded.csv", index=False)
    starts, annual = ev.duty_schedule()
    pd.DataFrame({"time": pd.to_datetime(starts, unit="s").strftime("%Y-%m-%d %H:%M:%S"),
                  "annual_fee": annual}).to_csv(out / "fees.csv", index=False)
    toml = out / "scenario.toml"
    text = _ethb_scenario(name, t0, t1, p, first, block_seconds)
    if source.oracle == "chain-floor":
        floor = ethb_oracle_floor(book, events, ev.rate_at_time, float(p["mat"]), window)
        floor.to_csv(out / "oracle_floor.csv", index=False)
        text = text.replace("median_expiration_s", "# the floor the owners' accepted draws and withdrawals "
                            "prove, per OSM hour\nfloor = \"oracle_floor.csv\"\nmedian_expiration_s", 1)
    quote = "USD" if source.quote == "usd" else source.recorded_in
    text = text.replace('collateral_asset = "WETH"\n', f'collateral_asset = "WETH"\nquote = "{quote}"\n', 1)
    toml.write_text(text.replace("# Written by", f"# {dropped} vaults left out: unsafe since their last action, never liquidated in the files.\n"
                                 "# Written by", 1))
    return toml


_EVENTS: list = []


def ethb_ledger_errors(ev, end: int, dust: float, accounts: set[str]) -> pd.DataFrame:
    """:func:`~liqcascade.execution.backtest_ledger.ledger_errors` of the ETH-B record up to
    ``end`` (Unix s; every vault's whole history, liquidations as the Vat saw them), with the
    window's ``dust`` (DAI), for the vaults the window holds (``accounts``: its book's, its
    owners' actions' and its recorded liquidations'): rows account, time (UTC), collateral
    (ETH), debt (DAI), reason."""
    from liqcascade.execution.backtest_ledger import ledger_errors

    t = _secs(ev.flows["timestamp"]).to_numpy()
    led = ev.ledger.assign(t=t)
    led = led[led["t"] < end]
    table = pd.DataFrame({"account": led["vault"].astype(str), "block": led["block"], "time": led["t"],
                          "collateral_change": led["dink"], "debt_change": led["dart"], "rate": led["rate"]})
    err = ledger_errors(table, dust)
    err = err[err["account"].isin(accounts)]
    return err.assign(time=pd.to_datetime(err["time"], unit="s").dt.strftime("%Y-%m-%d %H:%M:%S"))


def _ethb_events():
    """The shipped ETH-B history, read and its ledger built once per process (a few seconds)."""
    from liqcascade.io.maker_book import load_ethb_events

    if not _EVENTS:
        ev = load_ethb_events(data_dir() / ETHB_DIR)
        ev.ledger  # noqa: B018 - built now, kept with the events
        _EVENTS.append(ev)
    return _EVENTS[0]


def _time_block_clock(ev) -> tuple[np.ndarray, np.ndarray]:
    """(times, blocks) of the blocks the event files name, for a block of a time."""
    b = np.unique(ev.flows["block"].to_numpy()).astype(float)
    t = np.maximum.accumulate(np.asarray(ev.block_time(b), dtype=float))
    return t, b


@dataclass(frozen=True)
class FrobCheck:
    """The owners' draws and withdrawals of an ETH-B window the chain accepted (one per vault
    and block), and those of them that leave the vault, by the ledger, under its line at the
    replay's oracle price of that block: how many, and the median of ``line / oracle - 1``
    over them (how far the chain's OSM was at least above the replay's then)."""

    frobs: int
    below: int
    median_gap: float


def ethb_frob_check(result: Result, mat: float, events=None) -> FrobCheck:
    """:class:`FrobCheck` of a backtest ``result`` of an ETH-B window (its ``oracle`` table;
    ``mat``: the window's). The Vat accepts a draw or a withdrawal only if the vault is safe at
    the OSM's price after it, so each accepted one bounds the chain's price from below; ledger
    errors (a vault's debt wrong in the files) give bounds far off, hence the median.
    ``events``: the ETH-B history (default: the shipped one)."""
    o = result["oracle"]
    t, px = o["time"].to_numpy(dtype=np.int64), o["oracle_price"].to_numpy(dtype=np.float64)
    ev = _ethb_events() if events is None else events
    when = _secs(ev.flows["timestamp"]).to_numpy()
    led = ev.ledger.assign(t=when)
    led = led.assign(ink=led.groupby("vault")["dink"].cumsum().clip(lower=0.0),
                     art=led.groupby("vault")["dart"].cumsum().clip(lower=0.0))
    end = int(t[-1]) + (int(t[1] - t[0]) if t.size > 1 else 0)
    x = led[(led["t"] >= t[0]) & (led["t"] < end)]
    # the vault after the block's last action (within a block: repayments before withdrawals)
    x = x.groupby(["vault", "block"]).tail(1)
    x = x[x["kind"].isin(["borrow", "withdraw"]) & (x["ink"] > 0)]
    line = mat * x["art"].to_numpy() * x["rate"].to_numpy() / x["ink"].to_numpy()
    seen = px[np.searchsorted(t, x["t"].to_numpy(), side="right") - 1]
    gap = line / seen - 1.0
    over = gap[gap > 0]
    return FrobCheck(int(gap.size), int(over.size), float(np.median(over)) if over.size else math.nan)


ETHB_IDLE_QUANTILE = 0.9
"""The share of a live bot's idle spells a bot may reach before it counts as stopped."""
ETHB_MAX_IDLE_MOVE = 0.73
"""``[simulation.keepers] max_idle_move`` of every ETH-B window: the 90th percentile of the
Median's movement over the idle spells of the shipped history's bot owners
(:func:`ethb_idle_fit`: 0.735), to two places."""


def _median_moves(prices: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(hour times, the cumulative movement, sum of |Δ ln|, of Maker's Median modelled on the
    hourly opens ``prices`` (``time``, ``open``): the relay's spread and expiry of each time)."""
    from liqcascade.markets.oracle import ChainlinkPush

    t, o = prices["time"].to_numpy(np.int64), prices["open"].to_numpy(np.float64)
    med = np.empty_like(o)
    bounds = [since for since, _ in MEDIAN_SPREADS[1:]]
    for lo, hi in zip([0, *np.searchsorted(t, bounds)], [*np.searchsorted(t, bounds), t.size]):
        if hi > lo:  # each spread from its own first hour (the Median at the change: the open then)
            med[lo:hi] = ChainlinkPush(median_spread_at(int(t[lo])), MEDIAN_EXPIRATION_S).apply(t[lo:hi], o[lo:hi]).price
    return t, np.concatenate([[0.0], np.cumsum(np.abs(np.diff(np.log(med))))])


@dataclass(frozen=True)
class IdleFit:
    """The bots' idle spells of the shipped history: how many owners and spells, the
    quantiles of the Median's movement over them, and the limit (:data:`ETHB_IDLE_QUANTILE`)."""

    owners: int
    spells: int
    median: float
    p75: float
    p90: float
    p95: float
    limit: float


def ethb_idle_fit(rule: KeeperRule = KeeperRule()) -> IdleFit:
    """How far the Median moves while a live bot does nothing: over the whole shipped hourly
    history (2021-04-04 .. 2022-12-31), every owner the classifier calls keeper-managed on its
    whole record, and the gaps between its consecutive operations (one operation: actions
    less than ``rule.pair_gap_s`` apart), the Median's movement (:func:`_median_moves`) from
    the end of one operation to the start of the next. Those bots were live (they acted
    again): a bot idle beyond the :data:`ETHB_IDLE_QUANTILE` of them is likelier stopped.
    Reads the owners' actions and the prices, never the liquidations."""
    from liqcascade.model.keepers import operations

    ev = _ethb_events()
    prices = pd.read_csv(data_dir() / ETH_HOURLY)
    prices = prices.assign(time=_secs(prices["date"]))
    t0, t1 = int(prices["time"].iloc[0]), int(prices["time"].iloc[-1]) + 3600
    h = _ethb_history(ev, t0, prices, 0, t1)
    bots = set(fit_keepers(h, rule).keepers["account"])
    ops = operations(h[h["account"].isin(bots)], rule.pair_gap_s)
    prev = ops.groupby("account")["end"].shift()
    ok = prev.notna().to_numpy()
    t, cum = _median_moves(prices)
    moved = np.interp(ops["start"].to_numpy(float)[ok], t, cum) - np.interp(prev.to_numpy(float)[ok], t, cum)
    q = np.quantile(moved, [0.5, 0.75, 0.9, 0.95, ETHB_IDLE_QUANTILE])
    return IdleFit(len(bots), int(ok.sum()), *(float(x) for x in q))


def ethb_keepers(ev, start: int, prices: pd.DataFrame, mat: float, accounts: set[str],
                 rule: KeeperRule = KeeperRule(), end: int | None = None) -> pd.DataFrame:
    """The keeper-managed owners among ``accounts`` (the window's book), fitted on their
    actions from ``rule.lookback_s`` before ``start`` to ``end`` (the window's end; default
    ``start``: the history before the window only), each from the moment its record qualifies
    it (:func:`~liqcascade.model.keepers.fit_keepers`), as the rows of a
    ``[simulation.keepers]`` file: ratios over ``mat`` are HF, the trigger at least 1 (the
    ratios are read at Binance's hourly open, the bot read Maker's Median: a repay the ledger
    shows a little below the line was above it on chain, which did not liquidate the vault)
    and the target above the trigger; ``active_from`` empty for an owner qualified before the
    window, else the UTC time of the operation that qualified it; ``idle_move`` the Median's
    movement (:func:`_median_moves`) from the owner's last action before ``start`` to it."""
    h = _ethb_history(ev, start, prices, rule.lookback_s, start if end is None else end)
    k = fit_keepers(h, rule, float(start)).keepers
    k = k[k["account"].isin(accounts)]
    before = h[h["time"] < start].groupby("account")["time"].max()
    last = before.reindex(k["account"]).to_numpy(dtype=np.float64)
    t, cum = _median_moves(prices)
    at = lambda x: np.interp(x, t, cum)  # noqa: E731
    # an owner without an action before the window (qualified in it) starts idle at 0
    idle = np.where(np.isfinite(last), at(float(start)) - at(np.nan_to_num(last, nan=float(start))), 0.0)
    trigger = np.maximum(k["trigger"].to_numpy() / mat, 1.0)
    target = np.maximum(k["target"].to_numpy() / mat, trigger * (1.0 + 1e-6))
    since = k["active_from"].to_numpy(dtype=np.float64)
    when = [pd.Timestamp(int(t), unit="s").strftime("%Y-%m-%d %H:%M:%S") if np.isfinite(t) else ""
            for t in since]
    return pd.DataFrame({"account": k["account"], "trigger_hf": trigger, "target_hf": target,
                         "max_repay": k["max_repay"], "active_from": when, "idle_move": np.maximum(idle, 0.0)})


def _ethb_history(ev, start: int, prices: pd.DataFrame, lookback_s: int, end: int) -> pd.DataFrame:
    """The owners' actions from ``lookback_s`` before ``start`` to ``end`` as
    :data:`~liqcascade.model.keepers.HISTORY_COLUMNS`, ``drawn`` and ``time``: each vault's
    collateralisation (ink times the hour's opening price over debt at the action's rate)
    before and after it."""
    f = ev.flows.assign(t=_secs(ev.flows["timestamp"]))
    led = ev.ledger.assign(t=f["t"].to_numpy(), dai=f["dai"].to_numpy())
    led = led[led["t"] < end]
    ink = led.groupby("vault")["dink"].cumsum().clip(lower=0.0)
    art = led.groupby("vault")["dart"].cumsum().clip(lower=0.0)
    ink0, art0 = ink - led["dink"], art - led["dart"]
    # hourly opens from 2021-04-04: earlier actions get no ratio (NaN), so no band
    px = np.interp(led["t"], prices["time"], prices["open"], left=np.nan)
    debt = lambda a: np.where(a * led["rate"] > 1e-6, a * led["rate"], np.nan)  # noqa: E731
    h = pd.DataFrame({"account": led["vault"].astype(str), "block": led["block"], "kind": led["kind"],
                      "ratio_before": ink0.clip(lower=0.0) * px / debt(art0.clip(lower=0.0)),
                      "ratio_after": ink * px / debt(art),
                      "repaid": np.where(led["kind"] == "repay", np.abs(led["dai"]), 0.0),
                      "drawn": np.where(led["kind"] == "borrow", np.abs(led["dai"]), 0.0), "time": led["t"]})
    h = h[(h["time"] >= start - lookback_s) & (h["kind"] != "liquidation")]
    return h.reset_index(drop=True)
