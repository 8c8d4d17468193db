"""Risk parameters of one lending market, columnar over its assets.

Fractions are plain floats (0.83 = 83 %). ``liquidation_bonus`` is the bonus *above*
par (Aave stores ``1e4 + bonus`` in bps: 10500 here is 0.05). ``protocol_fee`` is the
protocol's share of the bonus (Aave's ``liquidationProtocolFee``). Caps are in token
units, ``inf`` meaning no cap.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence

import numpy as np

from liqcascade._typing import FloatArray, IntArray
from liqcascade.errors import ConfigError


@dataclass(frozen=True)
class AssetParams:
    """One asset's risk parameters (the row form, for building and reading)."""

    symbol: str
    decimals: int = 18
    ltv: float = 0.0
    liquidation_threshold: float = 0.0
    liquidation_bonus: float = 0.0
    protocol_fee: float = 0.0
    supply_cap: float = float("inf")
    borrow_cap: float = float("inf")
    emode_category: int = 0
    borrowable: bool = True


@dataclass(frozen=True)
class EModeCategory:
    """An Aave efficiency-mode category: its own LTV, threshold and bonus for its assets."""

    id: int
    label: str
    ltv: float
    liquidation_threshold: float
    liquidation_bonus: float
    assets: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class RiskParams:
    """Per-asset parameters as arrays indexed like ``symbols``.

    Build with :meth:`from_assets`, which validates every value and names the
    offending key (``<source>: assets.WETH.liquidation_threshold``) on error.
    """

    symbols: tuple[str, ...]
    decimals: IntArray
    ltv: FloatArray
    liquidation_threshold: FloatArray
    liquidation_bonus: FloatArray
    protocol_fee: FloatArray
    supply_cap: FloatArray
    borrow_cap: FloatArray
    emode_category: IntArray
    borrowable: np.ndarray
    emodes: tuple[EModeCategory, ...] = ()
    source: str = "<params>"

    @classmethod
    def from_assets(
        cls,
        assets: Iterable[AssetParams],
        emodes: Iterable[EModeCategory] = (),
        source: str = "<params>",
    ) -> "RiskParams":
        rows = list(assets)
        emodes = tuple(emodes)
        if not rows:
            raise ConfigError(source, "assets", "at least one asset")
        seen: set[str] = set()
        for a in rows:
            if a.symbol in seen:
                raise ConfigError(source, f"assets.{a.symbol}", "each asset listed once", "a duplicate")
            seen.add(a.symbol)
            _validate_asset(a, source)
        known_emodes = {e.id for e in emodes}
        for e in emodes:
            _validate_emode(e, seen, source)
        for a in rows:
            if a.emode_category and a.emode_category not in known_emodes:
                raise ConfigError(
                    source,
                    f"assets.{a.symbol}.emode_category",
                    f"0 or a defined e-mode id {sorted(known_emodes)}",
                    a.emode_category,
                )
        return cls(
            symbols=tuple(a.symbol for a in rows),
            decimals=np.array([a.decimals for a in rows], dtype=np.int64),
            ltv=np.array([a.ltv for a in rows], dtype=np.float64),
            liquidation_threshold=np.array([a.liquidation_threshold for a in rows], dtype=np.float64),
            liquidation_bonus=np.array([a.liquidation_bonus for a in rows], dtype=np.float64),
            protocol_fee=np.array([a.protocol_fee for a in rows], dtype=np.float64),
            supply_cap=np.array([a.supply_cap for a in rows], dtype=np.float64),
            borrow_cap=np.array([a.borrow_cap for a in rows], dtype=np.float64),
            emode_category=np.array([a.emode_category for a in rows], dtype=np.int64),
            borrowable=np.array([a.borrowable for a in rows], dtype=np.bool_),
            emodes=emodes,
            source=source,
        )

    def __len__(self) -> int:
        return len(self.symbols)

    def index(self, symbol: str) -> int:
        """Position of ``symbol`` in the arrays; ConfigError if it is not a known asset."""
        try:
            return self.symbols.index(symbol)
        except ValueError:
            raise ConfigError(self.source, "assets", f"one of {list(self.symbols)}", symbol) from None

    def asset(self, symbol: str) -> AssetParams:
        i = self.index(symbol)
        return AssetParams(
            symbol=symbol,
            decimals=int(self.decimals[i]),
            ltv=float(self.ltv[i]),
            liquidation_threshold=float(self.liquidation_threshold[i]),
            liquidation_bonus=float(self.liquidation_bonus[i]),
            protocol_fee=float(self.protocol_fee[i]),
            supply_cap=float(self.supply_cap[i]),
            borrow_cap=float(self.borrow_cap[i]),
            emode_category=int(self.emode_category[i]),
            borrowable=bool(self.borrowable[i]),
        )

    def assets(self) -> list[AssetParams]:
        return [self.asset(s) for s in self.symbols]

    def emode(self, category: int) -> EModeCategory:
        for e in self.emodes:
            if e.id == category:
                return e
        raise ConfigError(self.source, "emodes", f"an e-mode with id {category}")

    def replace(self, symbol: str, **changes: float) -> "RiskParams":
        """A copy with some of one asset's parameters changed (validated again)."""
        from dataclasses import replace as _replace

        rows = [(_replace(a, **changes) if a.symbol == symbol else a) for a in self.assets()]
        self.index(symbol)
        return RiskParams.from_assets(rows, self.emodes, self.source)

    def subset(self, symbols: Sequence[str]) -> "RiskParams":
        """The parameters of ``symbols`` only, in that order (e-modes keep their kept assets)."""
        from dataclasses import replace as _replace

        kept = set(symbols)
        emodes = tuple(_replace(e, assets=frozenset(e.assets) & kept) for e in self.emodes)
        return RiskParams.from_assets([self.asset(s) for s in symbols], emodes, self.source)

    def to_records(self) -> list[Mapping[str, object]]:
        return [a.__dict__.copy() for a in self.assets()]


def _validate_asset(a: AssetParams, source: str) -> None:
    key = f"assets.{a.symbol}"
    if not a.symbol or not isinstance(a.symbol, str):
        raise ConfigError(source, "assets", "a non-empty symbol", a.symbol)
    if not (0 <= int(a.decimals) <= 36):
        raise ConfigError(source, f"{key}.decimals", "an integer from 0 to 36", a.decimals)
    for name in ("ltv", "liquidation_threshold", "liquidation_bonus", "protocol_fee"):
        v = getattr(a, name)
        if not np.isfinite(v):
            raise ConfigError(source, f"{key}.{name}", "a finite number", v)
    if not (0.0 <= a.ltv < 1.0):
        raise ConfigError(source, f"{key}.ltv", "a fraction in [0, 1)", a.ltv)
    if not (0.0 <= a.liquidation_threshold <= 1.0):
        raise ConfigError(source, f"{key}.liquidation_threshold", "a fraction in [0, 1]", a.liquidation_threshold)
    if a.liquidation_threshold < a.ltv:
        raise ConfigError(
            source, f"{key}.liquidation_threshold", f"at least the LTV ({a.ltv})", a.liquidation_threshold
        )
    if not (0.0 <= a.liquidation_bonus < 1.0):
        raise ConfigError(source, f"{key}.liquidation_bonus", "a bonus above par in [0, 1) (0.05 = 5 %)", a.liquidation_bonus)
    if a.liquidation_threshold > 0 and a.liquidation_threshold * (1.0 + a.liquidation_bonus) > 1.0 + 1e-12:
        # Aave's configurator requires LT * LB <= 100 %, otherwise a liquidation lowers health.
        raise ConfigError(
            source,
            f"{key}.liquidation_bonus",
            f"liquidation_threshold * (1 + bonus) <= 1 (LT is {a.liquidation_threshold})",
            a.liquidation_bonus,
        )
    if not (0.0 <= a.protocol_fee <= 1.0):
        raise ConfigError(source, f"{key}.protocol_fee", "a share of the bonus in [0, 1]", a.protocol_fee)
    for name in ("supply_cap", "borrow_cap"):
        v = getattr(a, name)
        if not (v > 0 or v == float("inf")) or np.isnan(v):
            raise ConfigError(source, f"{key}.{name}", "a positive token amount or inf for no cap", v)


def _validate_emode(e: EModeCategory, symbols: set[str], source: str) -> None:
    key = f"emodes.{e.id}"
    if e.id <= 0 or e.id > 255:
        raise ConfigError(source, f"{key}.id", "an integer from 1 to 255", e.id)
    if not (0.0 <= e.ltv < 1.0):
        raise ConfigError(source, f"{key}.ltv", "a fraction in [0, 1)", e.ltv)
    if not (e.ltv <= e.liquidation_threshold <= 1.0):
        raise ConfigError(source, f"{key}.liquidation_threshold", f"a fraction in [ltv={e.ltv}, 1]", e.liquidation_threshold)
    if not (0.0 <= e.liquidation_bonus < 1.0) or e.liquidation_threshold * (1 + e.liquidation_bonus) > 1.0 + 1e-12:
        raise ConfigError(source, f"{key}.liquidation_bonus", "a bonus in [0, 1) with LT * (1 + bonus) <= 1", e.liquidation_bonus)
    unknown = sorted(set(e.assets) - symbols)
    if unknown:
        raise ConfigError(source, f"{key}.assets", f"assets among {sorted(symbols)}", unknown)
