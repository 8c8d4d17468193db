"""Aave v3 as a :class:`~liqcascade.protocols.base.LiquidationRules` plug-in.

The effective parameters (tables by e-mode class and asset, :meth:`AaveV3Rules.param_table`)
apply e-mode: an account in category ``e`` uses the category's LT and bonus for assets in it
(the category's asset set when given, as in v3.2+ ``collateralBitmap``; otherwise the asset's
own single category, as in v3.0-3.1).
Up to v3.5 an asset whose own LT is 0 stays out (``GenericLogic`` skips it and
``validateLiquidationCall`` refuses it, whatever the e-mode); from v3.6 e-mode is decoupled
from the reserve configuration and such an asset is collateral at the category's LT and
bonus (aave-v3-origin ``docs/3.6/Aave-v3.6-features.md``, "collateral-only in eMode").
The protocol fee is the collateral reserve's ``liquidationProtocolFee`` either way.

A row whose effective LT is 0 is not collateral: it is not counted and cannot be seized. The
book has no per-reserve collateral flag, and a supply with LT (hence LTV) 0 is never enabled
as collateral automatically, so this is v3.6+'s rule for such a supply as well.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from liqcascade._typing import FloatArray, IntArray
from liqcascade.errors import ConfigError
from liqcascade.model import PositionBook, RiskParams
from liqcascade.protocols.aave_v3 import kernels
from liqcascade.protocols.aave_v3.versions import (
    CLOSE_FACTOR_HF_THRESHOLD,
    DEFAULT_LIQUIDATION_CLOSE_FACTOR,
    MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD_USD,
    MIN_LEFTOVER_BASE_USD,
    NAMES,
    V2,
    V2_CLOSE_FACTOR,
    V3_3,
    V3_6,
    VERSIONS,
)
from liqcascade.protocols.base import Capabilities
from liqcascade.protocols.calls import FixedSpread
from liqcascade.protocols.base import (
    AccountEvents, BookArrays, FirstCall, HealthView, LiquidationLimits, ParamTable, Tallies,
)

PAIR_POLICIES = {"largest": kernels.PAIR_LARGEST, "max_bonus": kernels.PAIR_MAX_BONUS}


@dataclass(frozen=True)
class AaveV3Rules:
    """Aave v3 liquidation rules of one market.

    ``version`` is a code from :mod:`versions` (required: the rule sets differ).
    ``pair_policy`` decides which (collateral, debt) pair a liquidator takes first:
    ``"largest"`` (default) the most valuable seizable collateral and the most valuable
    debt; ``"max_bonus"`` the collateral with the highest bonus.
    """

    params: RiskParams
    version: int
    pair_policy: str = "largest"
    name: str = "aave_v3"
    capabilities = Capabilities(
        capped_calls=True, unrecoverable_from_health=True, scans_since=True, priced_by_rows=True,
        debt_free_bound=True,
    )

    def __post_init__(self) -> None:
        if self.version not in NAMES:
            raise ConfigError(self.params.source, "version", f"one of {list(VERSIONS)}", self.version)
        if self.pair_policy not in PAIR_POLICIES:
            raise ConfigError(self.params.source, "pair_policy", f"one of {list(PAIR_POLICIES)}", self.pair_policy)
        if self.version == V2:
            self._check_v2_params()

    def _check_v2_params(self) -> None:
        # Aave v2 has neither a liquidation protocol fee nor e-mode: parameters that carry
        # them (the v3 snapshots do) would be run under rules that cannot honour them.
        p = self.params
        fees = [f"{s} {p.protocol_fee[i]:g}" for i, s in enumerate(p.symbols) if p.protocol_fee[i] != 0]
        if fees:
            raise ConfigError(
                p.source, "protocol_fee",
                "0 for every asset under Aave v2 rules (v2 has no liquidation protocol fee; use "
                "params = 'builtin:aave_v2_ethereum_2021-05-18' or parameters of your own)",
                ", ".join(fees[:5]) + (" ..." if len(fees) > 5 else ""),
            )  # fmt: skip
        if p.emodes:
            raise ConfigError(p.source, "emodes", "no e-mode categories under Aave v2 rules (v2 has no e-mode)",
                              ", ".join(str(c.id) for c in p.emodes))

    def call_rule(self, bonus: float, fee: float, debt_symbol: str) -> FixedSpread:
        """One ``liquidationCall`` on a pair whose collateral row has ``bonus`` and protocol ``fee``
        (e-mode applied): Aave v2's 50 % close factor; v3.0-3.2's 50 % above HF 0.95 and all
        below; v3.3+'s thresholds on the pair's size and its dust rule (``fast.max_liquidatable_debt``
        and ``largest_allowed_cover``, which tests tie to this rule)."""
        if self.version == V2:
            return FixedSpread(close_factor=V2_CLOSE_FACTOR, bonus=bonus, protocol_fee=0.0, protocol=self.name)
        v33 = self.version >= V3_3
        return FixedSpread(close_factor=DEFAULT_LIQUIDATION_CLOSE_FACTOR, bonus=bonus, protocol_fee=fee,
                           full_close_hf=CLOSE_FACTOR_HF_THRESHOLD,
                           min_close_factor_usd=MIN_BASE_MAX_CLOSE_FACTOR_THRESHOLD_USD if v33 else 0.0,
                           min_leftover_usd=MIN_LEFTOVER_BASE_USD if v33 else 0.0, protocol=self.name)

    # ------------------------------------------------------------------ setup
    def param_table(self, book: PositionBook) -> ParamTable:
        """The book's (LT, bonus, protocol fee) with e-mode applied, by this market's version: per
        asset when no account is in an e-mode class, else per (class, asset) (a row's key is its
        account's class and its asset, flattened)."""
        if book.assets != self.params.symbols:
            raise ConfigError(self.params.source, "assets", "a book indexed by the market's assets (reindex_assets)")
        p = self.params
        if self.version == V2 and np.any(book.emode):
            raise ConfigError(p.source, "emode", "accounts outside e-mode (0) under Aave v2 rules (v2 has no e-mode)",
                              f"{int(np.count_nonzero(book.emode))} accounts in an e-mode")
        lt_table, bonus_table, account_class = self.emode_tables(book.emode)
        if lt_table.shape[0] == 1 or not np.any(account_class):
            return ParamTable.per_asset(book.asset, p.liquidation_threshold, p.liquidation_bonus, p.protocol_fee)
        # the fee is the collateral reserve's whatever the class: the same row of it per class
        fee_table = np.broadcast_to(p.protocol_fee, lt_table.shape)
        return ParamTable.per_class(account_class, book.account, book.asset, lt_table, bonus_table, fee_table)

    def emode_tables(self, emode: np.ndarray) -> tuple[FloatArray, FloatArray, IntArray]:
        """Effective LT and bonus by e-mode class and asset, and each account's class.

        Row 0 of the tables is outside e-mode; row ``i`` is ``params.emodes[i - 1]``: the
        category's LT and bonus on its assets (before v3.6 not on an asset whose own LT is 0),
        the asset's own elsewhere. ``emode`` is the accounts' category ids; an id that names
        no category is class 0."""
        p = self.params
        lt_table = [p.liquidation_threshold]
        bonus_table = [p.liquidation_bonus]
        for cat in p.emodes:
            if cat.assets:
                members = np.array([s in cat.assets for s in p.symbols])
            else:
                members = p.emode_category == cat.id
            if self.version < V3_6:
                members = members & (p.liquidation_threshold > 0)  # the reserve's LT 0 wins before v3.6
            lt_table.append(np.where(members, cat.liquidation_threshold, p.liquidation_threshold))
            bonus_table.append(np.where(members, cat.liquidation_bonus, p.liquidation_bonus))
        return np.vstack(lt_table), np.vstack(bonus_table), _account_class(emode, [cat.id for cat in p.emodes])

    def prepare(self, book: PositionBook) -> BookArrays:
        return BookArrays(
            offsets=book.offsets,
            asset=book.asset,
            coll=book.collateral.copy(),
            debt=book.debt.copy(),
            params=self.param_table(book),
        )

    # -------------------------------------------------------------- compute
    def health(self, arrays: BookArrays, prices: FloatArray, accounts: IntArray | None = None) -> HealthView:
        if accounts is None:
            accounts = np.arange(arrays.n_accounts, dtype=np.int64)
        n = accounts.shape[0]
        hf = np.empty(n)
        c = np.empty(n)
        d = np.empty(n)
        t = arrays.params
        kernels.health_pass(accounts, arrays.offsets, arrays.asset, arrays.coll, arrays.debt, prices, t.key, t.lt, hf, c,
                            d)
        return HealthView(accounts, hf, c, d)

    def sweep(
        self, arrays: BookArrays, prices: FloatArray, upto: int, tallies: Tallies, limits: LiquidationLimits,
        touched: np.ndarray, q: FloatArray, cum_bound: float,
    ) -> tuple[int, int]:
        t = arrays.params
        n_found, n_calls = kernels.sweep(
            self.version, PAIR_POLICIES[self.pair_policy], upto, arrays.offsets, arrays.asset, arrays.coll,
            arrays.debt, prices, t.key, t.lt, t.bonus, t.fee, limits.max_calls_per_account,
            limits.min_repay_usd, tallies.seized, tallies.fee, tallies.repaid, tallies.deficit,
            tallies.acct_seized_usd, tallies.acct_repaid_usd, tallies.acct_bad_debt_usd, tallies.acct_calls,
            tallies.acct_blocked, touched, q, cum_bound, tallies.flows,
        )
        return int(n_found), int(n_calls)

    def scan(self, arrays: BookArrays, prices: FloatArray, upto: int, q: FloatArray, cum_bound: float) -> IntArray:
        out = np.empty(upto, dtype=np.int64)
        t = arrays.params
        n = kernels.scan(upto, arrays.offsets, arrays.asset, arrays.coll, arrays.debt, prices, t.key, t.lt, q, cum_bound,
                         out)
        return out[:n]

    def scan_since(self, arrays: BookArrays, prices: FloatArray, upto: int, hf: FloatArray, epoch: np.ndarray,
                   history: FloatArray, n_epochs: int) -> IntArray:
        out = np.empty(upto, dtype=np.int64)
        t = arrays.params
        n = kernels.scan_since(upto, arrays.offsets, arrays.asset, arrays.coll, arrays.debt, prices, t.key, t.lt,
                               hf, epoch, history, n_epochs, out)
        return out[:n]

    def first_call(self, arrays: BookArrays, prices: FloatArray, accounts: IntArray) -> FirstCall:
        n = accounts.shape[0]
        fc = FirstCall(np.empty(n), np.empty(n), np.empty(n), np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64))
        t = arrays.params
        kernels.first_call(
            self.version, PAIR_POLICIES[self.pair_policy], accounts, arrays.offsets, arrays.asset, arrays.coll,
            arrays.debt, prices, t.key, t.lt, t.bonus, t.fee, fc.repaid, fc.seized, fc.fee,
            fc.collateral_asset, fc.debt_asset,
        )
        return fc

    def liquidate_list(
        self, arrays: BookArrays, prices: FloatArray, accounts: IntArray, tallies: Tallies, limits: LiquidationLimits
    ) -> tuple[int, AccountEvents]:
        n = accounts.shape[0]
        ev = AccountEvents(np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64), np.empty(n), np.empty(n), np.empty(n))
        t = arrays.params
        calls = kernels.liquidate_list(
            self.version, PAIR_POLICIES[self.pair_policy], accounts, arrays.offsets, arrays.asset, arrays.coll,
            arrays.debt, prices, t.key, t.lt, t.bonus, t.fee, limits.max_calls_per_account,
            limits.min_repay_usd, limits.caps(n), tallies.seized, tallies.fee, tallies.repaid, tallies.deficit,
            tallies.acct_seized_usd, tallies.acct_repaid_usd, tallies.acct_bad_debt_usd, tallies.acct_calls,
            tallies.acct_blocked, ev.account, ev.calls, ev.seized_usd, ev.repaid_usd, ev.bad_debt_usd, tallies.flows,
        )
        return int(calls), ev

    def unrecoverable_debt(self, arrays: BookArrays, prices: FloatArray, accounts: IntArray) -> FloatArray:
        out = np.empty(accounts.shape[0])
        t = arrays.params
        kernels.bad_debt_pass(accounts, arrays.offsets, arrays.asset, arrays.coll, arrays.debt, prices, t.key, t.lt, out)
        return out

    def describe(self) -> dict[str, object]:
        return {"protocol": self.name, "version": NAMES[self.version], "pair_policy": self.pair_policy}

    def outcome_facts(self, arrays: BookArrays, prices: FloatArray) -> dict[str, object]:
        return {}


def _account_class(emode: np.ndarray, ids: list[int]) -> IntArray:
    """Each account's class: ``i`` where its id is ``ids[i - 1]`` (the last such ``i`` when an id
    repeats), 0 where no id is its id; in the narrowest of int16 and int64 that holds the classes.
    An id column of at most 2 bytes (the book's int16) is read once through a table of every value
    it can hold (a negative id indexes it from the end, where its entry is); a wider one is
    compared with each id in turn. The classes are a per-account array, one of a one-shot
    solver's build passes: 2 B an account written, not 8."""
    dtype = np.int16 if len(ids) <= np.iinfo(np.int16).max else np.int64
    if emode.dtype.kind in "iu" and emode.dtype.itemsize <= 2:
        info = np.iinfo(emode.dtype)
        lut = np.zeros(int(info.max) - int(info.min) + 1, dtype=dtype)
        for i, cid in enumerate(ids, start=1):
            if info.min <= cid <= info.max:  # an id the column cannot hold is no account's
                lut[cid] = i
        return lut[emode]
    account_class = np.zeros(emode.shape[0], dtype=dtype)
    for i, cid in enumerate(ids, start=1):
        account_class[emode == cid] = i
    return account_class
