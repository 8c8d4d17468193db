"""A synthetic perp book drawn from a documented distribution (docs/perps.md, "Perp scenarios").

One market; per side (long, short), ``n_accounts`` isolated accounts holding one position each:

- **size**: account notional at the start price ``∝ exp(size_sigma · Z)`` (lognormal), scaled so
  the side's notional is exactly ``open_interest_usd``;
- **entry price**: ``price · exp(entry_sigma · Z)`` (positions opened around the start price);
- **leverage at entry**: ``min(leverage_median · exp(leverage_sigma · Z), leverage_max)``;
  collateral = entry notional / leverage.

``Z`` are independent standard normals from one generator seeded by ``seed``, drawn side by
side in that order, so a book is reproducible from its parameters. Each account is its own owner.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from liqcascade.errors import ConfigError
from liqcascade.model.perps import LONG, SHORT, AccountColumns, PerpBook, PositionColumns

__all__ = ["SideDraw", "synthetic_perp_book"]


@dataclass(frozen=True)
class SideDraw:
    """One side's accounts (see the module docstring)."""

    open_interest_usd: float
    n_accounts: int
    leverage_median: float
    leverage_sigma: float = 0.0
    leverage_max: float = 125.0
    size_sigma: float = 0.0
    entry_sigma: float = 0.0

    def check(self, source: str, key: str) -> None:
        checks = (("open_interest_usd", self.open_interest_usd > 0, "an amount > 0"),
                  ("n_accounts", isinstance(self.n_accounts, int) and self.n_accounts >= 1, "an integer ≥ 1"),
                  ("leverage_median", self.leverage_median >= 1, "a leverage ≥ 1"),
                  ("leverage_sigma", self.leverage_sigma >= 0, "a log-standard deviation ≥ 0"),
                  ("leverage_max", self.leverage_max >= 1, "a leverage ≥ 1"),
                  ("size_sigma", self.size_sigma >= 0, "a log-standard deviation ≥ 0"),
                  ("entry_sigma", self.entry_sigma >= 0, "a log-standard deviation ≥ 0"))
        for name, ok, expected in checks:
            value = getattr(self, name)
            if not (ok and np.isfinite(value)):
                raise ConfigError(source, f"{key}.{name}", expected, value)


def _side(rng: np.random.Generator, d: SideDraw, price: float, sign: float):
    weight = np.exp(d.size_sigma * rng.standard_normal(d.n_accounts))
    notional = d.open_interest_usd * weight / weight.sum()
    entry = price * np.exp(d.entry_sigma * rng.standard_normal(d.n_accounts))
    leverage = np.minimum(d.leverage_median * np.exp(d.leverage_sigma * rng.standard_normal(d.n_accounts)), d.leverage_max)
    units = notional / price
    return sign * units, entry, units * entry / leverage


def synthetic_perp_book(market: str, price: float, long: SideDraw, short: SideDraw, seed: int,
                        source: str = "<python>", key: str = "perps.book.synthetic") -> PerpBook:
    """The book of the module docstring at the start ``price`` of ``market``."""
    if not (np.isfinite(price) and price > 0):
        raise ConfigError(source, "price", "a start price > 0", price)
    long.check(source, f"{key}.long")
    short.check(source, f"{key}.short")
    rng = np.random.default_rng(seed)
    sl, el, cl = _side(rng, long, price, 1.0)
    ss, es, cs = _side(rng, short, price, -1.0)
    n_long, n = long.n_accounts, long.n_accounts + short.n_accounts
    ids = np.array([f"L{i}" for i in range(n_long)] + [f"S{i}" for i in range(short.n_accounts)])
    side = np.r_[np.full(n_long, LONG), np.full(short.n_accounts, SHORT)].astype(np.int8)
    return PerpBook.from_rows(
        AccountColumns(ids=ids, collateral=np.r_[cl, cs], isolated=np.ones(n, dtype=bool), side=side, source=source),
        PositionColumns(account=ids, market=np.zeros(n, dtype=np.int64), size=np.r_[sl, ss],
                        entry_price=np.r_[el, es], source=source),
        markets=[market],
    )
