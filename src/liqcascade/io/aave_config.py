"""Load an Aave v3 market's reserve configuration into :class:`RiskParams` and USD prices.

Input is either a BGD Labs governance-test snapshot (the ``reports/*_after.json`` files of
bgd-labs/aave-proposals-v3, one entry per reserve keyed by underlying address, plus an
``eModes`` table), or our one-row-per-reserve CSV flattening of it. The bundled default is
the Aave v3 Ethereum snapshot of proposal "UpgradeAaveV3ETHPooolWETHParameters" (2023-10-31);
see ``liqcascade/data/ATTRIBUTION-aave.md``.

Unit conversions (Aave v3 ``ReserveConfiguration`` storage → liqcascade):

- ``ltv``, ``liquidationThreshold``: bps → fraction (8300 → 0.83).
- ``liquidationBonus``: Aave stores ``1e4 + bonus`` in bps (10500 → bonus 0.05). Reserves that
  are not collateral (LT 0, e.g. GHO and RPL here) store 0; their bonus is 0.
- ``liquidationProtocolFee``: bps *of the bonus* → fraction of the bonus (1000 → 0.10).
- ``supplyCap``, ``borrowCap``: whole tokens, 0 meaning no cap → ``inf``.
- ``debtCeiling``: USD with 2 decimals (Aave's ``DEBT_CEILING_DECIMALS``), 0 meaning the
  asset is not an isolation-mode asset → ``inf``.
- ``borrowable`` is Aave's ``borrowingEnabled`` flag. Frozen or paused reserves keep it
  (existing debt stays valid); the flags are kept in :attr:`AaveMarketSnapshot.frozen`.
- Reference prices: ``oracleLatestAnswer / 10**oracleDecimals`` USD. The Aave v3 Ethereum
  ``AaveOracle`` has a USD base with ``BASE_CURRENCY_UNIT = 1e8``, so every source answers
  with 8 decimals; when a reserve's ``oracleDecimals`` is absent (rETH in the bundled file,
  whose source is a custom adapter), 8 is used and the symbol is listed in
  :attr:`AaveMarketSnapshot.assumed_price_decimals` so the assumption is visible.
- Reserves with LT 0 are kept (they can be borrowed) with LT 0: never collateral.

The snapshot JSON carries no block number. For the bundled file the block (18485108, the
fork block of the proposal's test) is known and recorded; for other files pass ``block=``.
"""

from __future__ import annotations

import csv
import json
import math
import re
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from liqcascade._typing import FloatArray
from liqcascade.errors import ConfigError
from liqcascade.model.params import AssetParams, EModeCategory, RiskParams

BUNDLED_SNAPSHOT = "aave_v3_ethereum_reserve_config_2023-10-31.json"

# Blocks of snapshots whose JSON does not say (file stem -> block). See ATTRIBUTION-aave.md.
_KNOWN_BLOCKS: dict[str, int] = {"aave_v3_ethereum_reserve_config_2023-10-31": 18485108}

# Aave v3 AaveOracle on Ethereum: USD base currency, BASE_CURRENCY_UNIT = 1e8.
_AAVE_ORACLE_DECIMALS = 8

_BPS = 1e4


@dataclass(frozen=True)
class AaveMarketSnapshot:
    """One Aave v3 market at one block: risk parameters plus the oracle's prices.

    ``prices`` maps symbol → USD per whole token. ``block`` and ``snapshot_date`` are
    ``None`` when the file does not tell (the date comes from the file name).
    """

    params: RiskParams
    prices: dict[str, float]
    chain_id: int | None
    snapshot_date: date | None
    block: int | None
    source: str
    underlying: dict[str, str] = field(default_factory=dict)
    reserve_factor: dict[str, float] = field(default_factory=dict)
    debt_ceiling_usd: dict[str, float] = field(default_factory=dict)
    frozen: dict[str, bool] = field(default_factory=dict)
    assumed_price_decimals: tuple[str, ...] = ()

    @property
    def price_array(self) -> FloatArray:
        """Prices in USD ordered like ``params.symbols``."""
        return np.array([self.prices[s] for s in self.params.symbols], dtype=np.float64)


def bundled_snapshot_path() -> Path:
    """Path of the bundled Aave v3 Ethereum 2023-10-31 JSON."""
    return Path(str(resources.files("liqcascade") / "data" / BUNDLED_SNAPSHOT))


_SHIPPED = r"aave_{family}_(?P<chain>[a-z0-9]+)_reserve_config_(?P<date>\d{{4}}-\d{{2}}-\d{{2}})\.json"


def shipped_snapshots(family: str = "v3") -> dict[tuple[str, str], Path]:
    """(chain, date) -> JSON file of every reserve snapshot shipped in ``liqcascade/data``
    (its name says both: ``aave_v3_<chain>_reserve_config_<YYYY-MM-DD>.json``). ``family``
    ``"v2"`` lists the Aave v2 parameter sets (``aave_v2_...``), read by the same loader."""
    out = {}
    pattern = re.compile(_SHIPPED.format(family=family))
    for f in sorted(bundled_snapshot_path().parent.glob(f"aave_{family}_*_reserve_config_*.json")):
        m = pattern.fullmatch(f.name)
        if m:
            out[(m["chain"], m["date"])] = f
    return out


def shipped_snapshot(chain: str, date: str, file: str = "<python>", key: str = "chain, date") -> Path:
    """The shipped snapshot of ``chain`` on ``date`` (``"ethereum"``, ``"2023-10-31"``); a
    :class:`ConfigError` naming ``file`` and ``key`` lists the shipped ones otherwise.
    Snapshots of other chains or dates are read from your own file (see docs/positions.md)."""
    found = shipped_snapshots()
    if (chain, date) not in found:
        have = ", ".join(f"{c} {d}" for c, d in found)
        raise ConfigError(file, key, f"a shipped Aave v3 snapshot (chain date): {have}; for another chain or date "
                          "pass the path of a reserve-config JSON or CSV of your own", f"{chain} {date}")
    return found[(chain, date)]


def load_aave_reserve_config(
    path: str | Path | None = None,
    *,
    emodes: Mapping[int, Mapping[str, Any]] | None = None,
    block: int | None = None,
) -> AaveMarketSnapshot:
    """Read an Aave v3 reserve snapshot (BGD JSON or our CSV) into an :class:`AaveMarketSnapshot`.

    ``path`` None reads the bundled Aave v3 Ethereum 2023-10-31 snapshot. A CSV has no e-mode
    table: the categories come from ``emodes`` (``{id: {"label", "ltv", "liquidationThreshold",
    "liquidationBonus"}}`` in bps, as in the JSON) or, failing that, from the JSON of the same
    name next to the CSV. ``block`` overrides the recorded block.

    Raises :class:`ConfigError` naming the file and the key (``reserves.WETH.ltv``) on bad input.
    """
    p = bundled_snapshot_path() if path is None else Path(path)
    src = str(p)
    if not p.is_file():
        raise ConfigError(src, "", "an existing Aave reserve snapshot file (.json or .csv)", "no such file")
    suffix = p.suffix.lower()
    if suffix == ".json":
        records, emode_table, chain_id = _read_json(p)
    elif suffix == ".csv":
        records, chain_id = _read_csv(p), None
        emode_table = None
        if emodes is None and any(r["eModeCategory"] for r in records.values()):
            sibling = p.with_suffix(".json")
            if not sibling.is_file():
                raise ConfigError(
                    src, "emode_category",
                    f"e-mode definitions: pass emodes= or put {sibling.name} (the BGD JSON) next to the CSV",
                )
            _, emode_table, chain_id = _read_json(sibling)
    else:
        raise ConfigError(src, "", "a .json (BGD snapshot) or .csv (flattened) file", p.suffix or "no suffix")
    if emodes is not None:
        emode_table = {int(k): dict(v) for k, v in emodes.items()}
    return _build(records, emode_table or {}, chain_id, src, p.stem, block)


# ----------------------------------------------------------------------------- readers
_JSON_REQUIRED = {
    "symbol": str,
    "decimals": int,
    "ltv": int,
    "liquidationThreshold": int,
    "liquidationBonus": int,
    "liquidationProtocolFee": int,
    "reserveFactor": int,
    "supplyCap": int,
    "borrowCap": int,
    "debtCeiling": int,
    "eModeCategory": int,
    "usageAsCollateralEnabled": bool,
    "borrowingEnabled": bool,
    "oracleLatestAnswer": int,
}


def _read_json(p: Path) -> tuple[dict[str, dict[str, Any]], dict[int, dict[str, Any]], int | None]:
    src = str(p)
    try:
        doc = json.loads(p.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(src, "", "a readable JSON document", f"{type(exc).__name__}: {exc}") from None
    if not isinstance(doc, dict):
        raise ConfigError(src, "", "a JSON object with a 'reserves' key", type(doc).__name__)
    reserves = doc.get("reserves")
    if not isinstance(reserves, dict) or not reserves:
        raise ConfigError(src, "reserves", "a non-empty object of reserves keyed by underlying address",
                          type(reserves).__name__)
    records: dict[str, dict[str, Any]] = {}
    for addr, r in reserves.items():
        if not isinstance(r, dict):
            raise ConfigError(src, f"reserves.{addr}", "an object", type(r).__name__)
        sym = r.get("symbol")
        label = sym if isinstance(sym, str) and sym else addr
        rec: dict[str, Any] = {}
        for key, typ in _JSON_REQUIRED.items():
            if key not in r:
                raise ConfigError(src, f"reserves.{label}.{key}", f"a {typ.__name__} (key is missing)")
            v = r[key]
            ok = isinstance(v, bool) if typ is bool else (isinstance(v, typ) and not isinstance(v, bool))
            if not ok:
                raise ConfigError(src, f"reserves.{label}.{key}", f"a JSON {_jtype(typ)}", v)
            rec[key] = v
        od = r.get("oracleDecimals")
        if od is not None and (not isinstance(od, int) or isinstance(od, bool) or not 0 <= od <= 36):
            raise ConfigError(src, f"reserves.{label}.oracleDecimals", "an integer from 0 to 36", od)
        rec["oracleDecimals"] = od
        for flag in ("isActive", "isFrozen", "isPaused"):
            v = r.get(flag, flag == "isActive")
            if not isinstance(v, bool):
                raise ConfigError(src, f"reserves.{label}.{flag}", "a JSON boolean", v)
            rec[flag] = v
        rec["underlying"] = str(r.get("underlying", addr))
        if label in records:
            raise ConfigError(src, f"reserves.{label}.symbol", "each symbol once", "a duplicate")
        records[label] = rec
    emode_table: dict[int, dict[str, Any]] = {}
    raw_emodes = doc.get("eModes", {})
    if not isinstance(raw_emodes, dict):
        raise ConfigError(src, "eModes", "an object of e-mode categories keyed by id", type(raw_emodes).__name__)
    for k, e in raw_emodes.items():
        key = f"eModes.{k}"
        if not isinstance(e, dict):
            raise ConfigError(src, key, "an object", type(e).__name__)
        try:
            cid = int(k)
        except ValueError:
            raise ConfigError(src, key, "an integer category id as the key", k) from None
        if e.get("eModeCategory", cid) != cid:
            raise ConfigError(src, f"{key}.eModeCategory", f"the same id as the key ({cid})", e.get("eModeCategory"))
        for f in ("ltv", "liquidationThreshold", "liquidationBonus"):
            if not isinstance(e.get(f), int) or isinstance(e.get(f), bool):
                raise ConfigError(src, f"{key}.{f}", "an integer in bps", e.get(f))
        emode_table[cid] = {"label": str(e.get("label", "")), **{f: e[f] for f in
                            ("ltv", "liquidationThreshold", "liquidationBonus")}, "_key": key}
    chain = doc.get("chainId")
    return records, emode_table, chain if isinstance(chain, int) else None


def _jtype(t: type) -> str:
    return {int: "integer", bool: "boolean", str: "string"}[t]


_CSV_COLUMNS = {
    # csv column: (json key, parser)
    "symbol": ("symbol", "str"),
    "underlying": ("underlying", "str"),
    "decimals": ("decimals", "int"),
    "ltv_bps": ("ltv", "int"),
    "liquidation_threshold_bps": ("liquidationThreshold", "int"),
    "liquidation_bonus_bps": ("liquidationBonus", "int"),
    "liquidation_protocol_fee_bps": ("liquidationProtocolFee", "int"),
    "reserve_factor_bps": ("reserveFactor", "int"),
    "supply_cap_tokens": ("supplyCap", "int"),
    "borrow_cap_tokens": ("borrowCap", "int"),
    "debt_ceiling": ("debtCeiling", "int"),
    "emode_category": ("eModeCategory", "int"),
    "usage_as_collateral": ("usageAsCollateralEnabled", "bool"),
    "borrowing_enabled": ("borrowingEnabled", "bool"),
    "is_frozen": ("isFrozen", "bool"),
    "oracle_decimals": ("oracleDecimals", "optint"),
    "oracle_latest_answer": ("oracleLatestAnswer", "int"),
}

_JSON_TO_CSV = {jkey: col for col, (jkey, _) in _CSV_COLUMNS.items()}


def _read_csv(p: Path) -> dict[str, dict[str, Any]]:
    src = str(p)
    try:
        with p.open(newline="", encoding="utf-8-sig") as fh:  # -sig: a BOM is not part of the header
            reader = csv.DictReader(fh)
            header = reader.fieldnames or []
            rows = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ConfigError(src, "", "a readable CSV file", f"{type(exc).__name__}: {exc}") from None
    missing = [c for c in _CSV_COLUMNS if c not in header]
    if missing:
        raise ConfigError(src, missing[0], f"columns {list(_CSV_COLUMNS)}", f"header {header}")
    if not rows:
        raise ConfigError(src, "", "at least one reserve row")
    records: dict[str, dict[str, Any]] = {}
    for i, row in enumerate(rows, start=1):
        sym = (row.get("symbol") or "").strip()
        label = f"row {i} ({sym})" if sym else f"row {i}"
        rec: dict[str, Any] = {"isActive": True, "isPaused": False, "_row": i}
        for col, (jkey, kind) in _CSV_COLUMNS.items():
            rec[jkey] = _parse_cell(row.get(col), kind, src, f"{label}.{col}")
        if not sym:
            raise ConfigError(src, f"{label}.symbol", "a non-empty symbol", row.get("symbol"))
        if sym in records:
            raise ConfigError(src, f"{label}.symbol", "each symbol once", "a duplicate")
        rec["symbol"] = sym
        records[sym] = rec
    return records


def _parse_cell(cell: str | None, kind: str, src: str, key: str) -> Any:
    s = (cell or "").strip()
    if kind == "str":
        return s
    if kind == "bool":
        if s.lower() in ("true", "1"):
            return True
        if s.lower() in ("false", "0"):
            return False
        raise ConfigError(src, key, "True or False", cell)
    if kind == "optint" and s == "":
        return None
    try:
        f = float(s)
    except ValueError:
        raise ConfigError(src, key, "an integer", cell) from None
    # integers may be written "8.0" by the flattening; they must still be whole numbers
    if not math.isfinite(f) or f != int(f):
        raise ConfigError(src, key, "an integer", cell)
    return int(s) if re.fullmatch(r"[+-]?\d+", s) else int(f)


# ----------------------------------------------------------------------------- build
def _record_key(record: dict[str, Any], label: str, k: str) -> str:
    """Where a reserve's field came from: ``reserves.LABEL.field`` (JSON) or ``row N (LABEL).column`` (CSV)."""
    row = record.get("_row")
    if row is None:
        return f"reserves.{label}.{k}"
    return f"row {row} ({label}).{_JSON_TO_CSV.get(k, k)}"


def _reserve(
    label: str, r: dict[str, Any], emode_table: dict[int, dict[str, Any]], src: str
) -> tuple[AssetParams, float, bool]:
    """One reserve's parameters, checked: (its AssetParams, its USD price, whether the oracle's
    decimals were assumed)."""
    def key(k: str) -> str:
        return _record_key(r, label, k)

    for k in ("ltv", "liquidationThreshold", "liquidationProtocolFee", "reserveFactor"):
        if not 0 <= r[k] <= 10_000:
            raise ConfigError(src, key(k), "bps from 0 to 10000", r[k])
    for k in ("supplyCap", "borrowCap", "debtCeiling"):
        if r[k] < 0:
            raise ConfigError(src, key(k), "a non-negative integer (0 = none)", r[k])
    lt = r["liquidationThreshold"] / _BPS
    lb = r["liquidationBonus"]
    if lt > 0:
        if not 10_000 <= lb < 20_000:
            raise ConfigError(src, key("liquidationBonus"),
                              "10000 + bonus in bps (10500 = 5 % bonus) for a collateral asset", lb)
        if not r["usageAsCollateralEnabled"]:
            raise ConfigError(src, key("usageAsCollateralEnabled"), "true when the liquidation threshold is above 0",
                              False)
        bonus = (lb - 10_000) / _BPS
    else:
        if lb not in (0,) and not 10_000 <= lb < 20_000:
            raise ConfigError(src, key("liquidationBonus"), "0 or 10000 + bonus in bps", lb)
        bonus = max(lb - 10_000, 0) / _BPS
    if r["decimals"] < 0 or r["decimals"] > 36:
        raise ConfigError(src, key("decimals"), "an integer from 0 to 36", r["decimals"])
    od = r["oracleDecimals"]
    assumed = od is None
    if assumed:
        od = _AAVE_ORACLE_DECIMALS
    ans = r["oracleLatestAnswer"]
    if ans <= 0:
        raise ConfigError(src, key("oracleLatestAnswer"), "a positive oracle answer", ans)
    em = r["eModeCategory"]
    if em < 0 or em > 255:
        raise ConfigError(src, key("eModeCategory"), "an integer from 0 to 255", em)
    if em and em not in emode_table:
        raise ConfigError(src, key("eModeCategory"), f"0 or a defined e-mode id {sorted(emode_table)}", em)
    asset = AssetParams(
        symbol=r["symbol"],
        decimals=int(r["decimals"]),
        ltv=r["ltv"] / _BPS,
        liquidation_threshold=lt,
        liquidation_bonus=bonus,
        protocol_fee=r["liquidationProtocolFee"] / _BPS,
        supply_cap=float(r["supplyCap"]) if r["supplyCap"] else math.inf,
        borrow_cap=float(r["borrowCap"]) if r["borrowCap"] else math.inf,
        emode_category=int(em),
        borrowable=bool(r["borrowingEnabled"]),
    )
    return asset, ans / 10**od, assumed


def _emode_categories(emode_table: dict[int, dict[str, Any]], assets: list[AssetParams], src: str
                      ) -> list[EModeCategory]:
    """The e-mode categories, checked, each with the assets that name it."""
    cats = []
    for cid, e in sorted(emode_table.items()):
        k = e.get("_key", f"emodes.{cid}")
        lb = e["liquidationBonus"]
        if not 10_000 <= lb < 20_000:
            raise ConfigError(src, f"{k}.liquidationBonus", "10000 + bonus in bps (10100 = 1 %)", lb)
        for f in ("ltv", "liquidationThreshold"):
            if not 0 <= e[f] <= 10_000:
                raise ConfigError(src, f"{k}.{f}", "bps from 0 to 10000", e[f])
        cats.append(
            EModeCategory(
                id=cid,
                label=str(e.get("label", "")),
                ltv=e["ltv"] / _BPS,
                liquidation_threshold=e["liquidationThreshold"] / _BPS,
                liquidation_bonus=(lb - 10_000) / _BPS,
                assets=frozenset(a.symbol for a in assets if a.emode_category == cid),
            )
        )
    return cats


def _build(
    records: dict[str, dict[str, Any]],
    emode_table: dict[int, dict[str, Any]],
    chain_id: int | None,
    src: str,
    stem: str,
    block: int | None,
) -> AaveMarketSnapshot:
    assets: list[AssetParams] = []
    prices: dict[str, float] = {}
    underlying: dict[str, str] = {}
    reserve_factor: dict[str, float] = {}
    debt_ceiling: dict[str, float] = {}
    frozen: dict[str, bool] = {}
    assumed: list[str] = []
    for label, r in records.items():
        sym = r["symbol"]
        asset, price, price_assumed = _reserve(label, r, emode_table, src)
        assets.append(asset)
        prices[sym] = price
        if price_assumed:
            assumed.append(sym)
        underlying[sym] = r.get("underlying", "")
        reserve_factor[sym] = r["reserveFactor"] / _BPS
        debt_ceiling[sym] = r["debtCeiling"] / 100.0 if r["debtCeiling"] else math.inf
        frozen[sym] = bool(r.get("isFrozen", False)) or bool(r.get("isPaused", False))
    cats = _emode_categories(emode_table, assets, src)
    params = RiskParams.from_assets(assets, cats, source=src)
    return AaveMarketSnapshot(
        params=params,
        prices=prices,
        chain_id=chain_id,
        snapshot_date=_date_from_name(stem),
        block=block if block is not None else _KNOWN_BLOCKS.get(stem),
        source=src,
        underlying=underlying,
        reserve_factor=reserve_factor,
        debt_ceiling_usd=debt_ceiling,
        frozen=frozen,
        assumed_price_decimals=tuple(assumed),
    )


def _date_from_name(stem: str) -> date | None:
    m = re.search(r"(\d{4})-(\d{2})-(\d{2})", stem) or re.search(r"(?<!\d)(\d{4})(\d{2})(\d{2})(?!\d)", stem)
    if not m:
        return None
    try:
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None
