"""The MakerDAO ETH-B vault book rebuilt from Flipside's event files.

Data: ``liqcascade/data/maker_ethb/maker_ethb_*.csv`` (MIT, Carlos R. Mercado / Flipside,
fsc-data-science/MKR-Elasticity-ETHB @92fb84d8; see ``data/ATTRIBUTION-maker.md``): every
creation, deposit, withdrawal, DAI borrow and repayment, liquidation (``Cat.bite``) and
parameter change of ETH-B from 2020-10-19 to 2021-05-16.

Stability-fee accumulator
-------------------------
``JUG.ilks.duty`` rows give the *annual* fee (0.06 = 6 %/yr). The contract stores a per-second
ray ``duty = (1 + annual) ** (1 / 31_536_000)`` (365-day year; ``JUG.base`` is taken as 0, as
it was in this period) and ``drip`` compounds it::

    rate(t) = prod_i duty_i ** (dt_i)      dt_i = seconds spent under duty_i up to t

i.e. ``rate(t) = exp(sum_i dt_i * ln(duty_i))``. ``rate = 1`` (``RAY``) when the ilk was
initialised, which is the first recorded duty change (block 11086830, 0 -> 6 %, the onboarding
spell); before it the rate is taken as exactly 1. Compounding is continuous in time: the
contract only compounds on ``drip``, which the DSS proxy actions call before every draw or
wipe, so the rate a frob sees equals the continuous one to within the last-drip gap.
Block -> time uses the timestamps in the event files (exact when the block has an event,
linear interpolation between known blocks otherwise).

Normalisation: a draw of ``D`` DAI at time ``t`` adds ``art += D / rate(t)``; a repayment
removes ``D / rate(t)``. ``debt_dai = art * rate(block)``.

Quirks and the rules chosen (counts are in :attr:`EthbEvents.quirks`)
----------------------------------------------------------------------
- **Repeated liquidation rows** (e.g. vault 21348 bitten 363 times on 2021-04-28, 16254 and
  19806 many times). Each row is one ``Cat.bite``: the Cat caps a bite's tab at
  ``dunk = 50 000`` DAI, so the debt removed per bite is ``dunk / chop = 44 247.79`` DAI and a
  large vault is bitten again and again. They are real partial liquidations, not duplicates:
  every row is applied.
- **Liquidated collateral rounded to whole ETH** (the column is an integer; 0 for two small
  lots). Rule: the debt removed is the recorded DAI, ``dart = min(art, DAI / rate(t))``, and
  the collateral removed follows the Cat's own formula ``dink = ink * dart / art`` (the whole
  ink when the whole debt goes). Rows where this differs from the recorded integer by more
  than 0.5 ETH are counted (``liq_collateral_off_by_more_than_rounding``).
- **Dusty remainder after a bite**: the Cat liquidates the whole urn when a partial bite would
  leave ``0 < debt < dust``; a remainder below the dust after a recorded bite (again our fee
  approximation) is taken whole (``liq_dusty_remainder_taken``).
- **Liquidation DAI above the vault's debt** (recorded DAI / rate > art, from the fee
  approximation): clipped to the debt (``liq_dai_clipped``).
- **Repayments above the debt / withdrawals above the collateral** (sums of raw rows go
  negative: repayments carry the accrued fee, and withdrawals after a bite are matched against
  deposits that the bite already removed): the running ``art`` / ``ink`` is floored at 0 and
  the rows touched are counted (``repay_clipped``, ``withdraw_clipped``) with the amount cut.
- **Residual debt after a full repayment**: repaying nominal DAI at our continuous ``rate``
  leaves a few DAI (or a few DAI too much) where the chain had exactly 0. The Vat rejects any
  frob leaving ``0 < art * rate < dust``, so after a repayment a remainder below the dust in
  force is set to 0 (``repay_residual_below_dust_zeroed`` rows, total DAI written off in
  ``repay_residual_below_dust_dai``).
- **Borrows and deposits after a liquidation**: a partially bitten vault stays open and can be
  reused; these rows are applied as normal (``flows_after_liquidation`` counts them).
- **Exact duplicate rows** in withdrawals/borrows/repayments (no tx hash or log index in the
  files to tell two identical frobs in one block from a double-count): kept and counted
  (``exact_duplicate_rows``).
- **Same-block order**: the files carry no log index. Within a block a vault's rows are
  applied deposits, repayments, borrows, withdrawals, then liquidations.
- **Parameter changes within one spell** are listed out of order (``FLIPPER.tau`` 172800 ->
  21600 before 0 -> 172800). Within a block, rows of one parameter are chained by
  ``FROM_VALUE -> TO_VALUE``; the value after the block is the end of the chain.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from liqcascade.errors import DataError

SECONDS_PER_YEAR = 365 * 24 * 3600
ILK = "ETH-B"

_FILES: dict[str, dict[str, str]] = {
    # file key -> {column: type}; types: int, ts, float, str
    "vault_creations": {"BLOCK_NUMBER": "int", "BLOCK_TIMESTAMP": "ts", "VAULT_NUMBER": "int", "ILK": "str"},
    "vault_deposits": {"BLOCK_NUMBER": "int", "BLOCK_TIMESTAMP": "ts", "VAULT_NUMBER": "int", "ILK": "str",
                       "DEPOSIT_AMOUNT_ADJ": "float"},
    "vault_withdrawals": {"BLOCK_NUMBER": "int", "BLOCK_TIMESTAMP": "ts", "VAULT_NUMBER": "int", "ILK": "str",
                          "WITHDRAWN_AMOUNT_ADJ": "float"},
    "dai_borrows": {"BLOCK_NUMBER": "int", "BLOCK_TIMESTAMP": "ts", "VAULT_NUMBER": "int", "DAI_MINTED": "float"},
    "dai_repayments": {"BLOCK_NUMBER": "int", "BLOCK_TIMESTAMP": "ts", "VAULT_NUMBER": "int", "DAI_REPAYED": "float"},
    "vault_liquidations": {"BLOCK_NUMBER": "int", "BLOCK_TIMESTAMP": "ts", "VAULT_NUMBER": "int",
                           "COLLATERAL_LIQUIDATED_AMOUNT": "float", "DAI_REPAYED_AMOUNT": "float"},
    "parameter_changes": {"BLOCK": "int", "TIMESTAMP": "ts", "PARAMETER": "str", "ILK": "str",
                          "FROM_VALUE": "float", "TO_VALUE": "float"},
}
# sign rule per amount column: ">0", "<0", ">=0"
_SIGN = {"DEPOSIT_AMOUNT_ADJ": ">0", "WITHDRAWN_AMOUNT_ADJ": "<0", "DAI_MINTED": ">0", "DAI_REPAYED": ">0",
         "COLLATERAL_LIQUIDATED_AMOUNT": ">=0", "DAI_REPAYED_AMOUNT": ">0"}
# same-block application order of flow kinds
_KIND_ORDER = {"deposit": 0, "repay": 1, "borrow": 2, "withdraw": 3, "liquidation": 4}

# short names for ethb_parameters_at (the file's names -> Maker's usual short names)
_SHORT = {"SPOTTER.ilks.mat": "mat", "JUG.ilks.duty": "duty", "VAT.ilks.dust": "dust", "VAT.ilks.line": "line",
          "CAT.ilks.dunk": "dunk", "CAT.ilks.chop": "cat_chop", "DOG.ilks.chop": "dog_chop",
          "DOG.ilks.hole": "hole", "FLIPPER.beg": "beg", "FLIPPER.tau": "tau", "FLIPPER.ttl": "ttl",
          "CLIPPER.buf": "buf", "CLIPPER.tail": "tail", "CLIPPER.cusp": "cusp", "CLIPPER.chip": "chip",
          "DC-IAM.ilks.line": "autoline_line", "DC-IAM.ilks.gap": "autoline_gap",
          "DC-IAM.ilks.ttl": "autoline_ttl"}


def default_dir() -> Path:
    """The bundled ``maker_ethb`` folder."""
    return Path(str(resources.files("liqcascade") / "data" / "maker_ethb"))


def _parse_ts(s: pd.Series) -> pd.Series:
    # "2021-01-06 23:00:32.000" (events) and "2020-12-21 0:37:27" (parameters); UTC.
    return pd.to_datetime(s, format="mixed", errors="coerce", utc=True)


def _unix(ts: pd.Series) -> np.ndarray:
    return (pd.to_datetime(ts, utc=True) - pd.Timestamp(0, tz="UTC")).dt.total_seconds().to_numpy(dtype=float)


def _read_validated(path: Path, spec: dict[str, str]) -> pd.DataFrame:
    if not path.is_file():
        raise DataError(str(path), None, "file not found")
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except Exception as exc:  # unreadable CSV
        raise DataError(str(path), None, f"cannot read CSV: {exc}") from exc
    missing = [c for c in spec if c not in raw.columns]
    if missing:
        raise DataError(str(path), None, f"missing column(s) {missing}; expected {list(spec)}")
    out = pd.DataFrame(index=raw.index)
    for col, typ in spec.items():
        s = raw[col].str.strip()
        if typ == "int":
            v = pd.to_numeric(s, errors="coerce")
            bad = v.isna() | (v != np.floor(v)) | (v <= 0)
            expect = "a positive integer"
        elif typ == "float":
            v = pd.to_numeric(s, errors="coerce")
            bad = v.isna() | ~np.isfinite(v)
            expect = "a finite number"
            rule = _SIGN.get(col)
            if rule == ">0":
                bad |= ~(v > 0)
                expect += " > 0"
            elif rule == "<0":
                bad |= ~(v < 0)
                expect += " < 0"
            elif rule == ">=0":
                bad |= ~(v >= 0)
                expect += " >= 0"
        elif typ == "ts":
            v = _parse_ts(s)
            bad = v.isna()
            expect = "a timestamp YYYY-MM-DD HH:MM:SS"
        else:
            v = s
            bad = s == ""
            expect = "a non-empty value"
            if col == "ILK":
                bad = s != ILK
                expect = f"ILK {ILK!r}"
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise DataError(str(path), i + 1, f"column {col}: expected {expect}, got {raw[col].iloc[i]!r}")
        out[col] = v.astype("int64") if typ == "int" else v
    out["src_row"] = np.arange(1, len(out) + 1)
    return out


@dataclass
class EthbEvents:
    """Validated ETH-B event tables, each sorted by block (stable, file order within a block).

    ``flows``: one row per deposit/withdrawal/borrow/repayment/liquidation with columns
    ``block, timestamp, vault, kind, eth, dai, src_file, src_row`` (``eth`` signed: +deposit,
    -withdrawal, recorded collateral for liquidations; ``dai`` signed: +borrow, -repayment,
    recorded DAI for liquidations). ``parameters``: the parameter-changes table.
    ``ledger`` (built on first use): per-row net changes ``dink, dart`` after the quirk rules.
    """

    flows: pd.DataFrame
    creations: pd.DataFrame
    parameters: pd.DataFrame
    quirks: dict[str, Any] = field(default_factory=dict)
    _ledger: pd.DataFrame | None = None
    _clock: tuple[np.ndarray, np.ndarray] | None = None

    # -- time and rate ---------------------------------------------------------------
    def block_time(self, block: int | np.ndarray) -> np.ndarray | float:
        """Unix seconds of ``block`` (exact at event blocks, linear in between)."""
        if self._clock is None:
            t = pd.concat([
                self.flows[["block", "timestamp"]],
                self.creations.rename(columns={"BLOCK_NUMBER": "block", "BLOCK_TIMESTAMP": "timestamp"})[
                    ["block", "timestamp"]],
                self.parameters.rename(columns={"BLOCK": "block", "TIMESTAMP": "timestamp"})[["block", "timestamp"]],
            ])
            secs = _unix(t["timestamp"])
            g = pd.Series(secs, index=t["block"].to_numpy()).groupby(level=0).min()
            self._clock = (g.index.to_numpy(dtype=float), g.to_numpy(dtype=float))
        b, s = self._clock
        x = np.asarray(block, dtype=float)
        # linear interpolation, extrapolated at the average block time beyond the ends
        slope = (s[-1] - s[0]) / (b[-1] - b[0])
        y = np.interp(x, b, s)
        y = np.where(x < b[0], s[0] + (x - b[0]) * slope, y)
        y = np.where(x > b[-1], s[-1] + (x - b[-1]) * slope, y)
        return y if y.ndim else float(y)

    def duty_schedule(self) -> tuple[np.ndarray, np.ndarray]:
        """(start seconds, annual fee) of each duty period, oldest first."""
        p = self.parameters[self.parameters["PARAMETER"] == "JUG.ilks.duty"]
        starts, duties = [], []
        for blk, grp in p.groupby("BLOCK", sort=True):
            annual = _chain_end(grp)
            starts.append(float(self.block_time(int(blk))))
            duties.append(annual)
        return np.array(starts), np.array(duties)

    def rate_at_time(self, t: float | np.ndarray) -> np.ndarray | float:
        """ETH-B ``rate`` at unix time ``t``: ``prod duty_i ** dt_i``, 1 before onboarding."""
        starts, duties = self.duty_schedule()
        return rate_from_schedule(starts, None, t, annual=duties)

    def rate_at(self, block: int | np.ndarray) -> np.ndarray | float:
        return self.rate_at_time(self.block_time(block))

    # -- ledger ----------------------------------------------------------------------
    @property
    def ledger(self) -> pd.DataFrame:
        if self._ledger is None:
            self._ledger = _build_ledger(self)
        return self._ledger


def rate_from_schedule(starts: np.ndarray, duties: np.ndarray | None, t: float | np.ndarray, *,
                       annual: np.ndarray | None = None) -> np.ndarray | float:
    """``rate(t) = exp(sum_i ln(duty_i) * seconds under duty_i before t)``; 1 before ``starts[0]``.

    ``duties`` are per-second factors; or pass ``annual`` fees instead, for which
    ``ln(duty) = ln(1 + annual) / SECONDS_PER_YEAR`` is computed without the float loss of
    taking the log of a number within 1e-9 of 1.
    """
    logs = np.log1p(np.asarray(annual, float)) / SECONDS_PER_YEAR if annual is not None else np.log(duties)
    x = np.atleast_1d(np.asarray(t, dtype=float))
    ends = np.append(starts[1:], np.inf)
    dt = np.clip(np.minimum(x[:, None], ends[None, :]) - starts[None, :], 0.0, None)
    r = np.exp(dt @ logs)
    return r if np.ndim(t) else float(r[0])


def _chain_end(grp: pd.DataFrame) -> float:
    """Value of one parameter after one block's rows, chaining FROM -> TO (rows may be unordered)."""
    rows = list(zip(grp["FROM_VALUE"].tolist(), grp["TO_VALUE"].tolist()))
    if len(rows) == 1:
        return float(rows[0][1])
    froms = [f for f, _ in rows]
    ends = [t for _, t in rows if not any(math.isclose(t, f) for f in froms)]
    # a well-formed chain has one end; otherwise fall back to the last row in file order
    return float(ends[0]) if len(ends) == 1 else float(rows[-1][1])


def load_ethb_events(dir: str | Path | None = None) -> EthbEvents:  # noqa: A002 - brief's name
    """Read and validate the seven ``maker_ethb_*.csv`` files of ``dir`` (default: bundled).

    Checks columns, types (positive integer blocks and vaults, parseable timestamps, finite
    amounts with the sign each file implies, ILK ``ETH-B``) and that every event's vault was
    created. A bad row raises :class:`DataError` naming the file and its 1-based data row.
    """
    d = Path(dir) if dir is not None else default_dir()
    t = {k: _read_validated(d / f"maker_ethb_{k}.csv", spec) for k, spec in _FILES.items()}
    created = set(t["vault_creations"]["VAULT_NUMBER"].tolist())
    parts = []
    specs = [("vault_deposits", "deposit", "DEPOSIT_AMOUNT_ADJ", None),
             ("vault_withdrawals", "withdraw", "WITHDRAWN_AMOUNT_ADJ", None),
             ("dai_borrows", "borrow", None, "DAI_MINTED"),
             ("dai_repayments", "repay", None, "DAI_REPAYED"),
             ("vault_liquidations", "liquidation", "COLLATERAL_LIQUIDATED_AMOUNT", "DAI_REPAYED_AMOUNT")]
    dup_rows = {}
    for key, kind, eth_col, dai_col in specs:
        df = t[key]
        fname = f"maker_ethb_{key}.csv"
        unknown = ~df["VAULT_NUMBER"].isin(created)
        if unknown.any():
            i = int(np.flatnonzero(unknown.to_numpy())[0])
            raise DataError(str(d / fname), i + 1,
                            f"vault {int(df['VAULT_NUMBER'].iloc[i])} has no row in maker_ethb_vault_creations.csv")
        cols = [c for c in df.columns if c != "src_row"]
        if kind != "liquidation":
            dup_rows[key] = int(df.duplicated(cols).sum())
        eth = df[eth_col].to_numpy(float) if eth_col else np.zeros(len(df))
        dai = df[dai_col].to_numpy(float) if dai_col else np.zeros(len(df))
        if kind == "repay":
            dai = -dai
        parts.append(pd.DataFrame({"block": df["BLOCK_NUMBER"].to_numpy(), "timestamp": df["BLOCK_TIMESTAMP"].to_numpy(),
                                   "vault": df["VAULT_NUMBER"].to_numpy(), "kind": kind, "eth": eth, "dai": dai,
                                   "src_file": fname, "src_row": df["src_row"].to_numpy()}))
    flows = pd.concat(parts, ignore_index=True)
    flows["_k"] = flows["kind"].map(_KIND_ORDER)
    flows = flows.sort_values(["block", "_k", "src_file", "src_row"], kind="stable").drop(columns="_k")
    flows = flows.reset_index(drop=True)
    params = t["parameter_changes"].sort_values(["BLOCK", "src_row"], kind="stable").reset_index(drop=True)
    creations = t["vault_creations"].sort_values(["BLOCK_NUMBER", "src_row"], kind="stable").reset_index(drop=True)
    ev = EthbEvents(flows=flows, creations=creations, parameters=params)
    ev.quirks["exact_duplicate_rows"] = dup_rows
    return ev


def _build_ledger(ev: EthbEvents) -> pd.DataFrame:
    f = ev.flows
    rate = np.asarray(ev.rate_at_time(_unix(f["timestamp"])), dtype=float)
    vault = f["vault"].to_numpy()
    kind = f["kind"].to_numpy()
    eth = f["eth"].to_numpy(float)
    dai = f["dai"].to_numpy(float)
    n = len(f)
    dink = np.zeros(n)
    dart = np.zeros(n)
    ink: dict[int, float] = {}
    art: dict[int, float] = {}
    liquidated: set[int] = set()
    q = {"repay_clipped": 0, "repay_clipped_dai": 0.0, "withdraw_clipped": 0, "withdraw_clipped_eth": 0.0,
         "liq_dai_clipped": 0, "liq_dai_clipped_dai": 0.0, "liq_collateral_off_by_more_than_rounding": 0,
         "liq_collateral_abs_diff_eth": 0.0, "flows_after_liquidation": 0, "borrows_after_liquidation": 0,
         "liquidation_rows": 0, "liquidated_vaults": 0, "repay_residual_below_dust_zeroed": 0, "liq_dusty_remainder_taken": 0,
         "repay_residual_below_dust_dai": 0.0}
    dust_p = ev.parameters[ev.parameters["PARAMETER"] == "VAT.ilks.dust"]
    dust_blocks = dust_p.groupby("BLOCK")["TO_VALUE"].max()
    idx = np.searchsorted(dust_blocks.index.to_numpy(), f["block"].to_numpy(), side="right") - 1
    dust = np.where(idx >= 0, dust_blocks.to_numpy()[np.clip(idx, 0, None)], 0.0)
    eps_eth, eps_art = 1e-9, 1e-6
    for i in range(n):
        v = int(vault[i])
        k = kind[i]
        a0 = art.get(v, 0.0)
        i0 = ink.get(v, 0.0)
        if k == "liquidation":
            q["liquidation_rows"] += 1
            want = dai[i] / rate[i]
            da = min(a0, want)
            if want > a0 + eps_art:
                q["liq_dai_clipped"] += 1
                q["liq_dai_clipped_dai"] += (want - a0) * rate[i]
            if 0 < (a0 - da) * rate[i] < dust[i]:
                # Cat.bite takes the whole urn when the remainder would be dusty
                q["liq_dusty_remainder_taken"] += 1
                da = a0
            di = i0 if a0 <= 0 or da >= a0 else i0 * da / a0
            diff = abs(di - eth[i])
            q["liq_collateral_abs_diff_eth"] += diff
            if diff > 0.5 + 1e-6:
                q["liq_collateral_off_by_more_than_rounding"] += 1
            dink[i], dart[i] = -di, -da
            liquidated.add(v)
        else:
            if v in liquidated:
                q["flows_after_liquidation"] += 1
                if k == "borrow":
                    q["borrows_after_liquidation"] += 1
            if k in ("deposit", "withdraw"):
                di = eth[i]
                if i0 + di < -eps_eth:
                    q["withdraw_clipped"] += 1
                    q["withdraw_clipped_eth"] += -(i0 + di)
                    di = -i0
                dink[i] = di
            else:
                da = dai[i] / rate[i]
                if a0 + da < -eps_art:
                    q["repay_clipped"] += 1
                    q["repay_clipped_dai"] += -(a0 + da) * rate[i]
                    da = -a0
                dart[i] = da
        ink_new = max(i0 + dink[i], 0.0)
        art_new = max(a0 + dart[i], 0.0)
        if k == "repay" and art_new > 0 and art_new * rate[i] < dust[i]:
            # the Vat rejects a frob leaving 0 < debt < dust: the residual is our fee approximation
            q["repay_residual_below_dust_zeroed"] += 1
            q["repay_residual_below_dust_dai"] += art_new * rate[i]
            dart[i] -= art_new
            art_new = 0.0
        ink[v] = ink_new
        art[v] = art_new
    q["liquidated_vaults"] = len(liquidated)
    ev.quirks.update(q)
    return pd.DataFrame({"block": f["block"].to_numpy(), "vault": vault, "kind": kind, "dink": dink, "dart": dart,
                         "rate": rate})


def vault_book_at(block: int, events: EthbEvents | None = None) -> pd.DataFrame:
    """Every ETH-B vault's position after all events of blocks ``<= block``.

    Columns: ``vault, ink`` (ETH), ``art`` (normalised debt), ``rate`` (ETH-B accumulator at
    ``block``), ``debt_dai = art * rate``. One row per vault created at or before ``block``
    (closed vaults have ink = art = 0), sorted by vault number. Liquidations are netted.
    """
    ev = events if events is not None else _default_events()
    led = ev.ledger
    upto = led[led["block"] <= block]
    g = upto.groupby("vault")[["dink", "dart"]].sum()
    vaults = ev.creations.loc[ev.creations["BLOCK_NUMBER"] <= block, "VAULT_NUMBER"].to_numpy()
    g = g.reindex(np.unique(vaults), fill_value=0.0)
    ink = g["dink"].to_numpy()
    art = g["dart"].to_numpy()
    # cumulative sums of floored steps can leave float dust below zero
    ink = np.where(np.abs(ink) < 1e-7, 0.0, ink)
    art = np.where(np.abs(art) < 1e-6, 0.0, art)
    r = float(ev.rate_at(block))
    return pd.DataFrame({"vault": g.index.to_numpy(dtype="int64"), "ink": ink, "art": art,
                         "rate": r, "debt_dai": art * r})


def ethb_parameters_at(block: int, events: EthbEvents | None = None) -> dict[str, Any]:
    """ETH-B risk parameters in force after block ``block``, as known from the changes file.

    Keys (``None`` when no change has been recorded by then): ``mat`` (liquidation ratio, 1.3),
    ``duty_annual`` and ``duty`` (per-second), ``dust``, ``line`` (DAI), ``chop`` (penalty
    multiplier, 1 + the file's value, from ``CAT.ilks.chop`` until ``DOG.ilks.chop`` replaces it
    at Liquidations 2.0, block 12381609), ``liquidation_module`` (``"cat"``/``"dog"``), ``dunk``
    (Cat per-bite tab cap), ``hole`` (Dog per-ilk cap), ``beg/tau/ttl`` (Flipper), ``buf/tail/
    cusp/chip`` (Clipper), ``autoline_*``, and ``raw``: the file's own names -> value.
    """
    ev = events if events is not None else _default_events()
    p = ev.parameters[ev.parameters["BLOCK"] <= block]
    raw: dict[str, float] = {}
    for (blk, name), grp in p.groupby(["BLOCK", "PARAMETER"], sort=True):
        raw[name] = _chain_end(grp)
    out: dict[str, Any] = {s: raw.get(n) for n, s in _SHORT.items()}
    dog = raw.get("DOG.ilks.chop")
    out["liquidation_module"] = None if not raw else ("dog" if dog is not None else "cat")
    chop = dog if dog is not None else raw.get("CAT.ilks.chop")
    out["chop"] = None if chop is None else 1.0 + chop
    out["duty_annual"] = out.pop("duty")
    out["duty"] = None if out["duty_annual"] is None else (1.0 + out["duty_annual"]) ** (1.0 / SECONDS_PER_YEAR)
    out["raw"] = raw
    return out


_DEFAULT: EthbEvents | None = None


def _default_events() -> EthbEvents:
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = load_ethb_events()
    return _DEFAULT


__all__ = ["EthbEvents", "default_dir", "ethb_parameters_at", "load_ethb_events", "rate_from_schedule",
           "vault_book_at", "SECONDS_PER_YEAR"]
