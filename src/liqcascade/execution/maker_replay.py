"""Replay a day of MakerDAO ETH-B liquidations under the Cat's rules and score it against the chain.

What is replayed
----------------
The ETH-B vault book (:mod:`liqcascade.io.maker_book`) is rebuilt just before the window
starts, then stepped through the window on the price series' 10-minute grid. At each step:

1. optionally, the vault owners' recorded actions since the previous step (deposits,
   withdrawals, borrows, repayments: the book's per-row ``dink``/``dart``) are applied in block
   order, each only if the Vat would accept it in the *simulated* state, at the spot in force
   before this step's oracle update: ``ink`` and ``art`` cannot go below 0, and a frob that
   adds debt or removes collateral must leave ``art * rate <= ink * spot`` (``Vat/not-safe``).
   Refused actions are counted, not applied;
2. the oracle: Maker's OSM (:class:`~liqcascade.markets.oracle.MakerOSM`, one hop = one hour)
   fed by the Uniswap v2 ETH/DAI pool's mid price (``dai_reserve / weth_reserve``). The real
   OSM read Maker's medianizer, a median of exchange prices in USD posted by feeds; the pool
   (DAI per ETH) times ``dai_usd`` (DAI's USD price, 1.0 by default) is a proxy for it. The
   owners' recorded frobs (safe after) and bites (unsafe before) bound the real OSM: on the
   shipped days it read 0.5-1.4 % above the pool at the hours where they bind, as if DAI traded
   at a premium (docs/maker_replay.md). The OSM releases at hop ``k`` the price it read at the
   start of hop ``k - 1``, so a move reaches the Vat one to two hours late. The window's first
   hour has no previous reading: the OSM starts with ``cur = nxt`` = the first price;
3. ``spot = rdiv(rdiv(val * 1e9, par), mat)`` (``Spotter.poke``), and every vault with
   ``ink * spot < art * rate`` is bitten by ``Cat.bite`` (Liquidations 1.2, makerdao/dss
   ``src/cat.sol``; integer-exact in :func:`liqcascade.protocols.maker.exact.bite`): each bite
   takes at most ``dunk`` of tab (``dunk / chop`` of debt) and keeps the vault's collateral
   ratio, so an unsafe vault is bitten again and again until its debt is gone, as keepers did.

ETH-B ran Liquidations 1.2 until block 12,381,609 (2021-05-06, the ``DOG.*``/``CLIPPER.*`` rows
of the parameter file); a later day is refused. Rules come from the parameter file at each
step's block (``mat``, ``chop``, ``dunk``, ``dust``; ``rate`` from the book's fee accumulator).

The window and the price clock
------------------------------
The reserve files (BerkeleyBlockchain/stablesims ``feeds/eth_dai_liquidity/<MM-DD-YYYY>.json``,
10-minute entries without timestamps) are labelled ``period_start_utc`` in the shared folder,
but their days are **US Pacific** days. Against Binance ETHUSDT hourly opens the labelled series
of 2021-06-21 fits 7 hours later (PDT: mean absolute log difference 0.20 %, against 4.4 % as
labelled); on 2021-01-21 (PST) the OSM bounds that the recorded ETH-B frobs (safe after) and
bites (unsafe before) imply are met, but for two by less than 0.7 %, with the series read 8 hours
later, and ten are missed by up to 7.6 % as labelled. So ``date`` names the file's Pacific day,
``price_clock="America/Los_Angeles"`` (the default) turns its labels into UTC, and the window is
the 24 hours the file covers (2021-01-21 08:00 UTC to 2021-01-22 08:00 UTC for
``date="2021-01-21"``); ``price_clock="UTC"`` reads the labels as written.

Not in the data, and what is assumed instead
---------------------------------------------
- ``Cat.box`` is global across collateral types; it was 15 M DAI from the 2020-09-14 executive
  spell. Only ETH-B's own bites fill the litter box here, and the Flippers never hand room back
  (``deal``/``claw``) within the window: a lower bound on the real litter.
- Keepers bite at the step the vault becomes unsafe; bites carry the step's time (the period
  start). Vaults are bitten in vault-number order (it matters only if the box binds).
- Owner actions after the last step are not replayed (no bite check follows them).
- Block numbers of step times are interpolated between the blocks the event files name.

Scoring
-------
A vault is *simulated* if the replay bit it at least once in the window and *actual* if a
recorded liquidation of the window names it. Precision = TP / (TP + FP), recall = TP / (TP + FN),
F1 their harmonic mean (NaN when undefined). Collateral: the replay's ``dink`` against the
recorded amounts, which the source rounds to whole ETH. Timing: first simulated bite minus
first recorded bite, per vault bitten in both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from liqcascade import __version__
from liqcascade.execution.runs import save, stored
from liqcascade._typing import FloatArray, IntArray
from liqcascade.engine.result import Result
from liqcascade.errors import ConfigError
from liqcascade.io.maker_book import EthbEvents, default_dir, ethb_parameters_at, load_ethb_events, vault_book_at
from liqcascade.io.store import ResultsStore, run_id
from liqcascade.markets.oracle import MakerOSM
from liqcascade.protocols.maker.exact import (
    RAD,
    RAY,
    WAD,
    Cat,
    CatIlk,
    MakerRevert,
    Vault,
    bite,
    cat_unsafe,
    spot_price,
)
from liqcascade.scenarios.loaders import load_univ2_reserves

KIND = "maker_replay"
PRICE_INTERVAL_S = 600
PRICE_FILE = "uniswap_v2_eth_dai_reserves_10min_{date}.csv"
DEFAULT_BOX_DAI = 15_000_000.0
"""``Cat.box``: 15 M DAI from the 2020-09-14 executive spell (it had been 30 M)."""
DEFAULT_PRICE_CLOCK = "America/Los_Angeles"
"""The reserve files' labels are US Pacific wall-clock times (see the module docstring)."""

_DAY_S = 86_400
_SCREEN = 1e-9  # float pre-screen margin; the integer check decides
_EPS_INK, _EPS_ART = 1e-7, 1e-6  # float dust tolerated below zero when replaying frobs
_ARG = "<python>"


def price_dir() -> Path:
    """The bundled folder of per-day Uniswap v2 ETH/DAI reserve slices."""
    return Path(str(resources.files("liqcascade") / "data" / "maker_replay"))


def available_dates() -> list[str]:
    """Days (``YYYY-MM-DD``) whose pool prices are shipped, sorted."""
    prefix, suffix = PRICE_FILE.split("{date}")
    return sorted(p.name[len(prefix):-len(suffix)] for p in price_dir().glob(PRICE_FILE.format(date="*")))


# --- rules ------------------------------------------------------------------------------------


def _fixed(x: float, unit: int) -> int:
    """``x`` in fixed point ``unit`` (wad/ray/rad), truncated, from its shortest decimal form
    (so 1.3 is exactly ``13 * 10**26`` and 1.13 exactly ``113 * 10**16``)."""
    return int(Decimal(repr(float(x))) * unit)


@dataclass(frozen=True)
class CatRules:
    """ETH-B's Liquidations 1.2 parameters at one block: ``mat`` (liquidation ratio), ``chop``
    (penalty multiplier, 1.13 = 13 %), ``dunk`` (DAI of tab per bite), ``dust`` (DAI)."""

    mat: float
    chop: float
    dunk: float
    dust: float

    @classmethod
    def from_parameters(cls, p: dict[str, Any], block: int) -> CatRules:
        """From :func:`~liqcascade.io.maker_book.ethb_parameters_at`; a day after the switch to the
        Dog (Liquidations 2.0) or before onboarding is a ConfigError."""
        if p.get("liquidation_module") != "cat":
            raise ConfigError(_ARG, "date", "a day when ETH-B was liquidated by the Cat (Liquidations 1.2: "
                              "from onboarding at block 11086830 to block 12381609, 2021-05-06)",
                              f"block {block}: module {p.get('liquidation_module')!r}")
        return cls(mat=float(p["mat"]), chop=float(p["chop"]), dunk=float(p["dunk"]), dust=float(p["dust"]))

    def cat_ilk(self, rate: float, osm_price: float) -> CatIlk:
        """The integer fields ``Cat.bite`` reads, with ``spot`` as ``Spotter.poke`` sets it from
        the OSM value (``par`` = 1)."""
        return CatIlk(rate=_fixed(rate, RAY), spot=spot_price(_fixed(osm_price, WAD), _fixed(self.mat, RAY)),
                      dust=_fixed(self.dust, RAD), chop=_fixed(self.chop, WAD), dunk=_fixed(self.dunk, RAD))


# --- the simulation ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Frobs:
    """Recorded owner actions to replay, in block order: ``step`` (applied before that step's
    bites), ``vault`` (index into the book arrays), ``dink`` [ETH] and ``dart`` [normalised debt]."""

    step: IntArray
    vault: IntArray
    dink: FloatArray
    dart: FloatArray


@dataclass(frozen=True)
class CatSimulation:
    """What :func:`simulate_cat` produced: ``bites`` (one row per ``Cat.bite``: step, vault
    index, the vault before, ``collateral_eth``/``art`` taken, ``debt_dai`` = due, ``tab_dai``,
    ``litter_dai`` after), ``reverts`` (step, vault index, the revert's class name, for unsafe
    vaults the Cat refused to bite, e.g. ``CatNullAuction`` for a vault with debt and no
    collateral), per-step ``frobs_applied``/``frobs_rejected`` counts, the final ``ink``/``art``."""

    bites: pd.DataFrame
    reverts: pd.DataFrame
    frobs_applied: IntArray
    frobs_rejected: IntArray
    ink: FloatArray
    art: FloatArray


def _apply_frobs(ink: FloatArray, art: FloatArray, frobs: Frobs, lo: int, hi: int, rate: float,
                 spot: float) -> int:
    """Apply frobs ``lo:hi`` in order where the Vat would accept them; returns how many it refused."""
    rejected = 0
    for k in range(lo, hi):
        j = frobs.vault[k]
        dink, dart = frobs.dink[k], frobs.dart[k]
        ni, na = ink[j] + dink, art[j] + dart
        if ni < -_EPS_INK or na < -_EPS_ART:
            rejected += 1  # more collateral or debt than the simulated vault holds
            continue
        ni, na = max(ni, 0.0), max(na, 0.0)
        if (dart > 0 or dink < 0) and na * rate > ni * spot:
            rejected += 1  # Vat/not-safe
            continue
        ink[j], art[j] = ni, na
    return rejected


_BITE_COLS = ["step", "vault_index", "ink_before", "art_before", "collateral_eth", "art", "debt_dai", "tab_dai",
              "litter_dai"]


def _bite_vault(j: int, vault: Vault, ilk: CatIlk, cat: Cat, step: int, rows: list[dict],
                reverts: list[dict]) -> tuple[Vault, Cat]:
    """Bite one vault until it is safe, empty, or the Cat reverts; one row per bite or revert."""
    while vault.art > 0 and cat_unsafe(vault.ink, vault.art, ilk.rate, ilk.spot):
        try:
            b = bite(ilk, vault, cat)
        except MakerRevert as exc:
            reverts.append({"step": step, "vault_index": j, "revert": type(exc).__name__})
            break
        rows.append({"step": step, "vault_index": j, "ink_before": vault.ink / WAD, "art_before": vault.art / WAD,
                     "collateral_eth": b.dink / WAD, "art": b.dart / WAD, "debt_dai": b.due / RAD,
                     "tab_dai": b.tab / RAD, "litter_dai": b.cat.litter / RAD})
        vault, cat = b.vault, b.cat
    return vault, cat


def _check_shapes(ink: FloatArray, art: FloatArray, n: int, rate: FloatArray, rules: Sequence[CatRules],
                  rules_at: IntArray, frobs: Frobs | None) -> None:
    if ink.shape != art.shape or ink.ndim != 1:
        raise ConfigError(_ARG, "ink0/art0", "two 1-D arrays of one length", f"{ink.shape} and {art.shape}")
    if len(rate) != n or len(rules_at) != n:
        raise ConfigError(_ARG, "rate/rules_at", f"one value per step ({n})", f"{len(rate)} and {len(rules_at)}")
    if n and (np.min(rules_at) < 0 or np.max(rules_at) >= len(rules)):
        raise ConfigError(_ARG, "rules_at", f"indices into rules (0..{len(rules) - 1})",
                          np.unique(rules_at).tolist())
    if frobs is not None and (np.any(np.diff(frobs.step) < 0) or np.any(frobs.vault >= ink.size)):
        raise ConfigError(_ARG, "frobs", "steps in order and vault indices into ink0", None)


def simulate_cat(
    ink0: FloatArray,
    art0: FloatArray,
    osm_price: FloatArray,
    rate: FloatArray,
    rules: Sequence[CatRules],
    rules_at: IntArray,
    box_dai: float = DEFAULT_BOX_DAI,
    frobs: Frobs | None = None,
) -> CatSimulation:
    """Step a vault book through a path under ``Cat.bite``.

    ``ink0`` [ETH] and ``art0`` [normalised debt] per vault; per step: ``osm_price`` (the value
    the Spotter reads, DAI per ETH), ``rate`` (the ilk's accumulator) and ``rules[rules_at[i]]``.
    At each step the step's ``frobs`` are applied (see the module docstring), then the vaults
    unsafe at ``spot = osm_price / mat`` are bitten, each until safe, empty or reverting. The
    screen over all vaults is float64 and vectorized with a margin of ``1e-9``; the trigger and
    bite sizes of the vaults it keeps are decided in dss's integer arithmetic.
    """
    ink = np.array(ink0, dtype=float)
    art = np.array(art0, dtype=float)
    n = len(osm_price)
    _check_shapes(ink, art, n, rate, rules, rules_at, frobs)
    applied = np.zeros(n, dtype=np.int64)
    rejected = np.zeros(n, dtype=np.int64)
    bounds = np.searchsorted(frobs.step, np.arange(n + 1)) if frobs is not None else None
    cat = Cat(box=_fixed(box_dai, RAD))
    rows: list[dict] = []
    reverts: list[dict] = []
    for i in range(n):
        r = rules[int(rules_at[i])]
        spot_f = osm_price[i] / r.mat
        if frobs is not None:
            lo, hi = int(bounds[i]), int(bounds[i + 1])
            before = osm_price[max(i - 1, 0)] / rules[int(rules_at[max(i - 1, 0)])].mat
            rejected[i] = _apply_frobs(ink, art, frobs, lo, hi, rate[i], before)
            applied[i] = hi - lo - rejected[i]
        screen = np.flatnonzero((art > 0) & (ink * spot_f < art * rate[i] * (1.0 + _SCREEN)))
        if screen.size == 0:
            continue
        ilk = r.cat_ilk(rate[i], osm_price[i])
        for j in screen:
            start = Vault(_fixed(ink[j], WAD), _fixed(art[j], WAD))
            vault, cat = _bite_vault(int(j), start, ilk, cat, i, rows, reverts)
            if vault != start:
                ink[j], art[j] = vault.ink / WAD, vault.art / WAD
    bites = pd.DataFrame(rows, columns=_BITE_COLS).astype({"step": "int64", "vault_index": "int64"})
    refused = pd.DataFrame(reverts, columns=["step", "vault_index", "revert"]).astype(
        {"step": "int64", "vault_index": "int64"})
    return CatSimulation(bites, refused, applied, rejected, ink, art)


# --- inputs from the data ---------------------------------------------------------------------


def _day(date: str) -> pd.Timestamp:
    try:
        d = pd.Timestamp(date)
    except (ValueError, TypeError):
        raise ConfigError(_ARG, "date", "a day written YYYY-MM-DD", date) from None
    if d != d.normalize() or d.tzinfo is not None:
        raise ConfigError(_ARG, "date", "a day written YYYY-MM-DD (no time, no zone)", date)
    return d


def _check_args(step_s: Any, osm_hop_s: Any, box_dai: Any, dai_usd: Any = 1.0) -> None:
    for key, v in (("step_s", step_s), ("osm_hop_s", osm_hop_s)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v <= 0:
            raise ConfigError(_ARG, key, "a positive integer number of seconds", v)
    if step_s % PRICE_INTERVAL_S or _DAY_S % step_s:
        raise ConfigError(_ARG, "step_s", f"a multiple of the prices' {PRICE_INTERVAL_S} s that divides a day", step_s)
    ok = not isinstance(box_dai, bool) and isinstance(box_dai, (int, float)) and math.isfinite(box_dai)
    if not (ok and box_dai > 0):
        raise ConfigError(_ARG, "box_dai", "a finite amount of DAI > 0", box_dai)
    ok = not isinstance(dai_usd, bool) and isinstance(dai_usd, (int, float)) and math.isfinite(dai_usd)
    if not (ok and 0.5 <= dai_usd <= 2.0):
        raise ConfigError(_ARG, "dai_usd", "the DAI price in USD, a number from 0.5 to 2", dai_usd)


@dataclass(frozen=True)
class PriceWindow:
    """The replayed span: ``start``/``end`` (UTC instants) and the file's prices, ``time`` in UTC
    seconds (:func:`~liqcascade.scenarios.loaders.load_univ2_reserves` columns otherwise)."""

    start: pd.Timestamp
    end: pd.Timestamp
    prices: pd.DataFrame
    path: Path


def _to_utc(labels: np.ndarray, clock: str, path: Path) -> np.ndarray:
    """Label seconds (a wall clock in ``clock``) -> UTC seconds."""
    if clock == "UTC":
        return labels
    wall = pd.Series(pd.to_datetime(labels, unit="s"))
    try:
        utc = wall.dt.tz_localize(clock, ambiguous="raise", nonexistent="raise")
    except Exception as exc:  # unknown zone or a daylight-saving gap/overlap
        raise ConfigError(str(path), "price_clock", "a time zone in which every label is one instant",
                          clock) from exc
    return (utc - pd.Timestamp(0, tz="UTC")).dt.total_seconds().to_numpy().astype(np.int64)


def price_window(date: str, price_file: str | Path | None = None, price_clock: str = DEFAULT_PRICE_CLOCK,
                 start: str | None = None) -> PriceWindow:
    """The pool prices of the file's day ``date`` with their times in UTC, and the replay window
    they span (or from ``start``, a UTC time inside it). ``price_file`` defaults to the shipped
    slice of ``date``; ``price_clock`` is the time zone its labels are written in."""
    day, clock = _day(date), price_clock
    path = Path(price_file) if price_file is not None else price_dir() / PRICE_FILE.format(date=f"{day:%Y-%m-%d}")
    if price_file is None and not path.is_file():
        raise ConfigError(_ARG, "date", f"a day with shipped Uniswap v2 ETH/DAI reserves: {available_dates()} "
                          "(or pass price_file, a Uniswap v2 reserves CSV of that day)", f"{day:%Y-%m-%d}")
    prices = load_univ2_reserves(path, start=day, end=day + pd.Timedelta(days=1))
    if len(prices) != _DAY_S // PRICE_INTERVAL_S:
        raise ConfigError(str(path), "date", f"{_DAY_S // PRICE_INTERVAL_S} ten-minute rows for {day:%Y-%m-%d}",
                          f"{len(prices)} rows")
    prices = prices.assign(time=_to_utc(prices["time"].to_numpy(dtype=np.int64), clock, path))
    lo = pd.Timestamp(int(prices["time"].iloc[0]), unit="s", tz="UTC")
    last = pd.Timestamp(int(prices["time"].iloc[-1]), unit="s", tz="UTC")
    if start is not None:
        t = _utc(start)
        if t is None or not lo <= t <= last:
            raise ConfigError(_ARG, "start", f"a UTC time from {lo:%Y-%m-%dT%H:%M} to {last:%Y-%m-%dT%H:%M}",
                              start)
        lo = t
    return PriceWindow(lo, last + pd.Timedelta(seconds=PRICE_INTERVAL_S), prices, path)


def _utc(text: str) -> pd.Timestamp | None:
    """``text`` as a UTC instant (naive times are UTC), or None when it does not parse."""
    try:
        t = pd.Timestamp(text)
    except (ValueError, TypeError):
        return None
    return t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")


def _check_book_range(ev: EthbEvents, w: PriceWindow) -> None:
    ts = pd.to_datetime(ev.flows["timestamp"], utc=True)
    first, last = ts.min(), ts.max()
    if not (first <= w.start and w.end <= last):
        raise ConfigError(_ARG, "date", f"a window inside the ETH-B event files ({first:%Y-%m-%d %H:%M} to "
                          f"{last:%Y-%m-%d %H:%M} UTC)", f"{w.start:%Y-%m-%d %H:%M} to {w.end:%Y-%m-%d %H:%M} UTC")


def _block_clock(ev: EthbEvents) -> tuple[FloatArray, FloatArray]:
    """(times, blocks) of every block an event file names, for block-of-time interpolation."""
    blocks = np.unique(np.concatenate([ev.flows["block"].to_numpy(), ev.parameters["BLOCK"].to_numpy(),
                                       ev.creations["BLOCK_NUMBER"].to_numpy()])).astype(float)
    return np.maximum.accumulate(np.asarray(ev.block_time(blocks), dtype=float)), blocks


def _rules_per_step(ev: EthbEvents, blocks: IntArray) -> tuple[list[CatRules], IntArray]:
    """The rules of each parameter regime the steps cross, and each step's regime index."""
    changes = np.unique(ev.parameters["BLOCK"].to_numpy())
    regime = np.searchsorted(changes, blocks, side="right")
    _, first, idx = np.unique(regime, return_index=True, return_inverse=True)
    rules = [CatRules.from_parameters(ethb_parameters_at(int(blocks[i]), ev), int(blocks[i])) for i in first]
    return rules, idx.astype(np.int64)


# --- scoring ----------------------------------------------------------------------------------


def _ratio(a: float, b: float) -> float:
    return a / b if b else math.nan


def _per_vault(sim: pd.DataFrame, actual: pd.DataFrame) -> pd.DataFrame:
    s = sim.groupby("vault").agg(sim_bites=("time", "size"), sim_collateral_eth=("collateral_eth", "sum"),
                                 sim_debt_dai=("debt_dai", "sum"), sim_first_time=("time", "min"))
    a = actual.groupby("vault").agg(actual_bites=("time", "size"), actual_collateral_eth=("collateral_eth", "sum"),
                                    actual_debt_dai=("debt_dai", "sum"), actual_first_time=("time", "min"))
    return s.join(a, how="outer")


def _vaults_table(universe: pd.DataFrame, sim: pd.DataFrame, actual: pd.DataFrame) -> pd.DataFrame:
    v = universe.set_index("vault").join(_per_vault(sim, actual), how="outer")
    for c in ("sim_bites", "actual_bites"):
        v[c] = v[c].fillna(0).astype("int64")
    for c in ("sim_collateral_eth", "sim_debt_dai", "actual_collateral_eth", "actual_debt_dai", "user_events"):
        v[c] = v[c].fillna(0.0)
    v["user_events"] = v["user_events"].astype("int64")
    v["simulated"] = v["sim_bites"] > 0
    v["actual"] = v["actual_bites"] > 0
    v["outcome"] = np.select([v.simulated & v.actual, v.simulated, v.actual], ["TP", "FP", "FN"], "TN")
    for c in ("sim_first_time", "actual_first_time"):  # an empty side aggregates to object dtype
        v[c] = pd.to_datetime(v[c], utc=True)
    v["timing_diff_s"] = (v["sim_first_time"] - v["actual_first_time"]).dt.total_seconds()
    return v.reset_index()


def _scores(v: pd.DataFrame) -> dict[str, Any]:
    tp, fp, fn = (int((v["outcome"] == k).sum()) for k in ("TP", "FP", "FN"))
    precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else math.nan
    both = v[v["outcome"] == "TP"]
    sim_coll, act_coll = float(v["sim_collateral_eth"].sum()), float(v["actual_collateral_eth"].sum())
    sim_debt, act_debt = float(v["sim_debt_dai"].sum()), float(v["actual_debt_dai"].sum())
    dt = both["timing_diff_s"]
    return {
        "vaults_simulated": tp + fp, "vaults_actual": tp + fn, "true_positives": tp, "false_positives": fp,
        "false_negatives": fn, "precision": precision, "recall": recall, "f1": f1,
        "sim_bites": int(v["sim_bites"].sum()), "actual_bites": int(v["actual_bites"].sum()),
        "sim_collateral_eth": sim_coll, "actual_collateral_eth": act_coll,
        "collateral_rel_diff": _ratio(sim_coll, act_coll) - 1.0,
        "sim_debt_dai": sim_debt, "actual_debt_dai": act_debt, "debt_rel_diff": _ratio(sim_debt, act_debt) - 1.0,
        "tp_sim_collateral_eth": float(both["sim_collateral_eth"].sum()),
        "tp_actual_collateral_eth": float(both["actual_collateral_eth"].sum()),
        "timing_diff_mean_s": float(dt.mean()) if len(dt) else math.nan,
        "timing_diff_median_s": float(dt.median()) if len(dt) else math.nan,
        "timing_diff_max_abs_s": float(dt.abs().max()) if len(dt) else math.nan,
    }


# --- the replay -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Day:
    """The day's inputs, assembled from the event files and the price file."""

    times: pd.DatetimeIndex
    blocks: IntArray
    price: FloatArray
    osm: FloatArray
    rate: FloatArray
    rules: list[CatRules]
    rules_at: IntArray
    vaults: IntArray
    ink0: FloatArray
    art0: FloatArray
    frobs: Frobs
    actual: pd.DataFrame
    events_per_vault: pd.Series


def _assemble(ev: EthbEvents, w: PriceWindow, step_s: int, osm_hop_s: int, dai_usd: float = 1.0) -> _Day:
    t_all = w.prices["time"].to_numpy(dtype=np.int64)
    p_all = w.prices["price"].to_numpy(dtype=float)
    keep = (t_all >= w.start.timestamp()) & ((t_all - t_all[0]) % step_s == 0)
    t, price = t_all[keep], p_all[keep]
    osm = MakerOSM(delay_s=int(osm_hop_s)).apply(t, price * dai_usd).price  # the OSM reads USD
    clock_t, clock_b = _block_clock(ev)
    blocks = np.floor(np.interp(t, clock_t, clock_b)).astype(np.int64)
    rate = np.asarray(ev.rate_at(blocks), dtype=float)
    rules, rules_at = _rules_per_step(ev, blocks)

    flows = ev.flows
    ts = pd.to_datetime(flows["timestamp"], utc=True)
    start, end = w.start, w.end
    before = (ts < start).to_numpy()
    window = ((ts >= start) & (ts < end)).to_numpy()
    book_block = int(flows.loc[before, "block"].max()) if before.any() else int(flows["block"].min()) - 1
    created = ev.creations.loc[pd.to_datetime(ev.creations["BLOCK_TIMESTAMP"], utc=True) < end, "VAULT_NUMBER"]
    vaults = np.unique(created.to_numpy()).astype(np.int64)
    book = vault_book_at(book_block, ev).set_index("vault").reindex(vaults, fill_value=0.0)

    led = ev.ledger
    is_liq = (flows["kind"] == "liquidation").to_numpy()
    own = window & ~is_liq
    f_secs = (ts[own] - pd.Timestamp(0, tz="UTC")).dt.total_seconds().to_numpy()
    # an action in (t_{i-1}, t_i] is applied at step i, before that step's bites
    f_step = np.searchsorted(t, f_secs, side="left")
    in_path = f_step < len(t)
    frobs = Frobs(step=f_step[in_path].astype(np.int64),
                  vault=np.searchsorted(vaults, flows.loc[own, "vault"].to_numpy()[in_path]).astype(np.int64),
                  dink=led.loc[own, "dink"].to_numpy(dtype=float)[in_path],
                  dart=led.loc[own, "dart"].to_numpy(dtype=float)[in_path])
    liq = flows[window & is_liq]
    actual = pd.DataFrame({"vault": liq["vault"].to_numpy(), "time": ts[window & is_liq].to_numpy(),
                           "block": liq["block"].to_numpy(), "collateral_eth": liq["eth"].to_numpy(float),
                           "debt_dai": liq["dai"].to_numpy(float)})
    return _Day(times=pd.to_datetime(t, unit="s", utc=True), blocks=blocks, price=price, osm=osm, rate=rate,
                rules=rules, rules_at=rules_at, vaults=vaults, ink0=book["ink"].to_numpy(float),
                art0=book["art"].to_numpy(float), frobs=frobs, actual=actual,
                events_per_vault=flows.loc[own, "vault"].value_counts())


def _universe(d: _Day) -> pd.DataFrame:
    """Every vault with debt at the start or with an action in the window."""
    r0, mat0 = d.rate[0], d.rules[int(d.rules_at[0])].mat
    debt0 = d.art0 * r0
    with np.errstate(divide="ignore", invalid="ignore"):
        liq_price = np.where(d.ink0 > 0, debt0 * mat0 / d.ink0, np.inf)
    u = pd.DataFrame({"vault": d.vaults, "ink_start": d.ink0, "debt_start_dai": debt0,
                      "liquidation_price_start": np.where(debt0 > 0, liq_price, np.nan)})
    u["user_events"] = u["vault"].map(d.events_per_vault).fillna(0).astype("int64")
    return u[(u["debt_start_dai"] > 0) | (u["user_events"] > 0)].reset_index(drop=True)


def _per_step(values: pd.Series, steps: pd.Series, n: int) -> np.ndarray:
    """Sum of ``values`` per step index ``0..n-1`` (0 where none)."""
    return values.groupby(steps).sum().reindex(range(n), fill_value=0).to_numpy()


def _tables(d: _Day, sim: CatSimulation, cfg: dict[str, Any]) -> dict[str, pd.DataFrame]:
    b, n = sim.bites, len(d.times)
    at = b["step"].to_numpy()
    bites = pd.DataFrame({"vault": d.vaults[b["vault_index"].to_numpy()], "time": d.times[at],
                          "block": d.blocks[at], "osm_price": d.osm[at], "rate": d.rate[at]})
    for c in ("ink_before", "art_before", "collateral_eth", "art", "debt_dai", "tab_dai", "litter_dai"):
        bites[c] = b[c].to_numpy(dtype=float)
    vaults = _vaults_table(_universe(d), bites, d.actual)
    refused = pd.Series(d.vaults[sim.reverts["vault_index"].to_numpy()]).value_counts()
    vaults["sim_reverts"] = vaults["vault"].map(refused).fillna(0).astype("int64")
    mats = np.array([d.rules[k].mat for k in d.rules_at])
    steps = pd.DataFrame({"time": d.times, "block": d.blocks, "pool_price": d.price, "osm_price": d.osm,
                          "spot": d.osm / mats, "rate": d.rate,
                          "bites": _per_step(pd.Series(1, index=b.index), b["step"], n),
                          "collateral_bitten_eth": _per_step(b["collateral_eth"], b["step"], n),
                          "frobs_applied": sim.frobs_applied, "frobs_rejected": sim.frobs_rejected,
                          "bite_reverts": _per_step(pd.Series(1, index=sim.reverts.index),
                                                    sim.reverts["step"], n)})
    r0 = d.rules[0]
    summary = {**cfg, **_scores(vaults), "vaults_in_book": len(vaults),
               "frobs_applied": int(sim.frobs_applied.sum()), "frobs_rejected": int(sim.frobs_rejected.sum()),
               "vaults_bite_reverted": int((vaults["sim_reverts"] > 0).sum()),
               "pool_price_min": float(d.price.min()), "osm_price_min": float(d.osm.min()),
               "mat": r0.mat, "chop": r0.chop, "dunk_dai": r0.dunk, "dust_dai": r0.dust,
               "first_block": int(d.blocks[0]),
               "price_source": "Uniswap v2 ETH/DAI reserve ratio (a proxy for Maker's medianizer of exchange prices)"}
    return {"summary": pd.DataFrame([summary]), "vaults": vaults, "bites": bites, "steps": steps}


def _files_digest(paths: Sequence[Path]) -> str:
    from liqcascade.io.config import file_digest

    return ",".join(f"sha256:{file_digest(p)}" for p in paths)


def replay_ethb(
    date: str = "2021-01-21",
    step_s: int = PRICE_INTERVAL_S,
    apply_user_events: bool = True,
    osm_hop_s: int = 3600,
    box_dai: float = DEFAULT_BOX_DAI,
    dai_usd: float = 1.0,
    start: str | None = None,
    price_file: str | Path | None = None,
    price_clock: str = DEFAULT_PRICE_CLOCK,
    events_dir: str | Path | None = None,
    store: ResultsStore | str | Path | None = None,
    recompute: bool = False,
) -> Result:
    """Replay ETH-B through the price file of ``date`` under the Cat's rules and score it against
    the recorded bites of the same window.

    ``date``: the price file's day (US Pacific; the window is the 24 h it covers, see the module
    docstring; :func:`available_dates` lists the shipped ones). ``step_s``: a multiple of the
    prices' 600 s. ``apply_user_events``: replay the owners' recorded actions of the window (off:
    the book stays as it was at the start, but for bites). ``osm_hop_s``: the OSM's hop.
    ``box_dai``: ``Cat.box``. ``dai_usd``: DAI's price in USD, to turn the pool's DAI per ETH
    into the USD price Maker's oracle reads (``par`` is 1 USD; 1.0 = DAI at its peg; see the
    module docstring). ``start``: a UTC time inside the window to start from instead (the
    book is rebuilt from every event before it). ``price_file``: a Uniswap v2 reserves CSV to read
    the day from instead of the shipped slice, with ``price_clock`` its labels' time zone.
    ``events_dir``: the ``maker_ethb_*.csv`` folder (default: bundled). With ``store``, the result
    is stored under its run id (config, input-file hashes, package version), and a stored run
    with that id is returned unless ``recompute``.

    Tables: ``summary`` (one row: precision, recall, F1, collateral and debt totals, timing),
    ``vaults`` (per vault with debt or actions: simulated/actual, TP/FP/FN/TN, collateral and
    debt simulated vs recorded, first-bite times), ``bites`` (per simulated ``Cat.bite``) and
    ``steps`` (per step: pool, OSM and spot prices, rate, bites, frobs applied/refused).
    """
    _check_args(step_s, osm_hop_s, box_dai, dai_usd)
    w = price_window(date, price_file, price_clock, start)
    ev = load_ethb_events(events_dir)
    _check_book_range(ev, w)
    ev_dir = Path(events_dir) if events_dir is not None else default_dir()
    cfg = {"date": str(date), "window_start": f"{w.start:%Y-%m-%dT%H:%M:%S}Z",
           "window_end": f"{w.end:%Y-%m-%dT%H:%M:%S}Z", "price_clock": price_clock, "step_s": int(step_s),
           "apply_user_events": bool(apply_user_events), "osm_hop_s": int(osm_hop_s), "box_dai": float(box_dai),
           "dai_usd": float(dai_usd)}
    ident = {**cfg, "prices": _files_digest([w.path]),
             "events": _files_digest(sorted(ev_dir.glob("maker_ethb_*.csv")))}
    rid = run_id({"kind": KIND, "config": ident}, __version__)
    if not recompute and (found := stored(store, rid, KIND)) is not None:
        return found
    d = _assemble(ev, w, int(step_s), int(osm_hop_s), float(dai_usd))
    sim = simulate_cat(d.ink0, d.art0, d.osm, d.rate, d.rules, d.rules_at, box_dai,
                       d.frobs if apply_user_events else None)
    res = Result(KIND, _tables(d, sim, cfg), ident)
    save(store, rid, KIND, ident, res, {"source": str(w.path)})
    return res.with_run_id(rid)


__all__ = ["CatRules", "CatSimulation", "DEFAULT_BOX_DAI", "DEFAULT_PRICE_CLOCK", "Frobs", "PriceWindow",
           "available_dates", "price_dir", "price_window", "replay_ethb", "simulate_cat"]
