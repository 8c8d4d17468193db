"""Liquity v1 as a :class:`~liqcascade.protocols.base.LiquidationRules` plug-in.

Every trove holds the collateral asset (ETH) and owes the debt asset (LUSD). A trove is
liquidated below the MCR (110 %); in Recovery Mode (system TCR below the CCR, 150 %) also
up to the TCR, with the collateral taken capped at ``MCR * debt`` when the Stability Pool
covers the debt. Debt is offset against the Stability Pool, whose depositors receive the
collateral (less the liquidator's 0.5 % gas compensation, plus 200 LUSD to the
liquidator); what the pool cannot cover is redistributed, with the rest of the collateral,
to all other troves in proportion to their stakes, once per pass (``liquidateTroves``
redistributes a batch once). Stakes are the troves' collateral in the book (Liquity's
``totalStakesSnapshot / totalCollateralSnapshot`` taken as 1).

``sp_sell_fraction`` is the share of their collateral gains the pool's depositors sell at
once (behaviour, not protocol: 1 = all, the conservative choice).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from liqcascade.errors import ConfigError, DataError
from liqcascade.protocols.base import Capabilities
from liqcascade.protocols.flows import FLOW_REDIST_COLL, FLOW_REDIST_DEBT, FLOW_USD
from liqcascade.protocols.mechanisms import kernels_python as K
from liqcascade.protocols.liquity_v1.kernels_python import KERNEL, LiquityParams
from liqcascade.protocols.mechanisms.rules import MechanismRules


@dataclass(frozen=True)
class LiquityRules(MechanismRules):
    collateral: str = "WETH"
    debt_asset: str = "LUSD"
    stability_pool: float = 0.0
    """Debt tokens in the Stability Pool at the start."""
    sp_sell_fraction: float = 1.0

    serial = True
    capabilities = Capabilities(global_effects=True, aftermarket=True)
    mcr = 1.1

    def __post_init__(self) -> None:
        for key, sym in (("collateral", self.collateral), ("debt_asset", self.debt_asset)):
            if sym not in self.params.symbols:
                raise ConfigError(self.params.source, key, f"an asset of the market {list(self.params.symbols)}", sym)
        if not (self.stability_pool >= 0 and np.isfinite(self.stability_pool)):
            raise ConfigError(self.params.source, "stability_pool", "debt tokens >= 0", self.stability_pool)
        if not (0.0 <= self.sp_sell_fraction <= 1.0):
            raise ConfigError(self.params.source, "sp_sell_fraction", "a fraction in [0, 1]", self.sp_sell_fraction)

    # the collateral's threshold is 1 / MCR whatever the parameters say
    def asset_lt(self):
        c = self.params.symbols.index(self.collateral)
        return np.where(np.arange(len(self.params.symbols)) == c, 1.0 / self.mcr, 0.0)

    def asset_bonus(self):
        return np.zeros(len(self.params.symbols))

    def row_aux(self, book):
        c = self.params.symbols.index(self.collateral)
        return np.where(book.asset == c, book.collateral, 0.0)  # stakes

    def initial_state(self, book):
        st = np.zeros(K.N_STATE)
        st[K.ST_SP] = self.stability_pool
        return st

    def check_book(self, book):
        c = self.params.symbols.index(self.collateral)
        d = self.params.symbols.index(self.debt_asset)
        for name, ok in (
            (f"holds only {self.collateral} as collateral", (book.collateral == 0) | (book.asset == c)),
            (f"owes only {self.debt_asset}", (book.debt == 0) | (book.asset == d)),
        ):
            bad = np.flatnonzero(~ok)
            if bad.size:
                r = int(bad[0])
                raise DataError(self.params.source, None,
                                f"account {book.account_ids[book.account[r]]!r} has {book.assets[book.asset[r]]}; a "
                                f"{self.name} trove {name}")
        for sym, idx in ((self.collateral, c), (self.debt_asset, d)):
            n = np.bincount(book.account[book.asset == idx], minlength=book.n_accounts)
            bad = np.flatnonzero(n != 1)
            if bad.size:
                k = int(bad[0])
                raise DataError(self.params.source, None,
                                f"account {book.account_ids[k]!r} has {int(n[k])} {sym} rows; every trove has exactly "
                                f"one (a zero amount is fine)")

    @property
    def _c(self) -> int:
        return self.params.symbols.index(self.collateral)

    @property
    def _d(self) -> int:
        return self.params.symbols.index(self.debt_asset)

    def _rows(self, arrays):
        return np.flatnonzero(arrays.asset == self._c), np.flatnonzero(arrays.asset == self._d)

    def before_pass(self, arrays, prices):
        crow, drow = self._rows(arrays)
        st = arrays.state
        # the system is the open troves: a closed trove's surplus sits in the CollSurplusPool,
        # outside the TCR (``getEntireSystemColl`` = active + default pool)
        live = arrays.debt[drow] > 0.0
        st[K.ST_SYS_COLL] = float(arrays.coll[crow][live].sum())
        st[K.ST_SYS_DEBT] = float(arrays.debt[drow].sum())
        st[K.ST_TROVES] = float(np.count_nonzero(live))
        return self.hf_cut(st, prices)

    def hf_cut(self, st, prices) -> float:
        return 1.0

    def after_pass(self, arrays, prices, tallies):
        """Redistribute the pass's uncovered debt and collateral over the active troves by stake
        (and book what each receives in ``tallies.flows``)."""
        st = arrays.state
        rd, rc = st[K.ST_REDIST_DEBT], st[K.ST_REDIST_COLL]
        if rd <= 0.0 and rc <= 0.0:
            return
        crow, drow = self._rows(arrays)
        stake = np.where(arrays.debt[drow] > 0.0, arrays.aux[crow], 0.0)
        total = float(stake.sum())
        if total <= 0.0:  # cannot happen: the last trove is never liquidated
            raise AssertionError("Liquity redistribution with no open trove")
        share = stake / total
        arrays.coll[crow] += share * rc
        arrays.debt[drow] += share * rd
        for rows, kind, amount, p in ((crow, FLOW_REDIST_COLL, share * rc, prices[self._c]),
                                      (drow, FLOW_REDIST_DEBT, share * rd, prices[self._d])):
            if tallies.flows.shape[0]:
                tallies.flows[rows, kind] += amount
                tallies.flows[rows, FLOW_USD + kind] += amount * p
        st[K.ST_REDIST_DEBT_TOTAL] += rd
        st[K.ST_REDIST_COLL_TOTAL] += rc
        st[K.ST_REDIST_DEBT] = 0.0
        st[K.ST_REDIST_COLL] = 0.0

    def facts(self):
        return {"collateral": self.collateral, "debt_asset": self.debt_asset, "stability_pool": self.stability_pool,
                "sp_sell_fraction": self.sp_sell_fraction}

    def outcome_facts(self, arrays, prices):
        """Where the liquidated debt went: offset by the Stability Pool or redistributed
        to the other troves (USD at ``prices``)."""
        st = arrays.state
        c = self.params.symbols.index(self.collateral)
        d = self.params.symbols.index(self.debt_asset)
        return {
            "sp_debt_offset_usd": float((self.stability_pool - st[K.ST_SP]) * prices[d]),
            "redistributed_debt_usd": float(st[K.ST_REDIST_DEBT_TOTAL] * prices[d]),
            "redistributed_collateral_usd": float(st[K.ST_REDIST_COLL_TOTAL] * prices[c]),
        }


@dataclass(frozen=True)
class LiquityV1Rules(LiquityRules):
    ccr: float = 1.5
    gas_share: float = 0.005
    lusd_gas_compensation: float = 200.0

    kernel = KERNEL
    name = "liquity_v1"

    def scalars(self):
        return LiquityParams(mcr=self.mcr, ccr=self.ccr, gas_share=self.gas_share, gas_cap=0.0, penalty_sp=0.0,
                             penalty_redist=0.0, sp_sell_share=self.sp_sell_fraction, sp_floor=0.0,
                             debt_gas_comp=self.lusd_gas_compensation, coll_gas_comp=0.0)

    def hf_cut(self, st, prices):
        """In Recovery Mode troves up to the TCR are liquidatable: look up to CCR / MCR
        (the TCR only rises within a pass at fixed prices)."""
        c = self.params.symbols.index(self.collateral)
        d = self.params.symbols.index(self.debt_asset)
        if st[K.ST_SYS_DEBT] <= 0.0:
            return 1.0
        tcr = st[K.ST_SYS_COLL] * prices[c] / (st[K.ST_SYS_DEBT] * prices[d])
        return self.ccr / self.mcr if tcr < self.ccr else 1.0
