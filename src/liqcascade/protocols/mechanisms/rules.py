"""The :class:`~liqcascade.protocols.base.LiquidationRules` plug-in shared by every
protocol other than Aave v3: one implementation of the interface over the mechanism
kernels; each protocol's ``rules.py`` says which mechanism, which per-asset parameters and
which scalars, and checks that a book fits the protocol (one collateral per Maker vault,
one base asset on Comet, ...).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from liqcascade._typing import FloatArray, IntArray
from liqcascade.errors import ConfigError, DataError
from liqcascade.model import PositionBook, RiskParams
from liqcascade.protocols.aave_v3 import kernels as neutral
from liqcascade.protocols.base import (
    AccountEvents,
    BookArrays,
    Capabilities,
    FirstCall,
    FirstCallCosts,
    HealthView,
    LiquidationLimits,
    ParamTable,
    Tallies,
)
from liqcascade.protocols.mechanisms import kernels_python as K
from liqcascade.protocols.mechanisms.kernels import KernelSet, kernels_of


@dataclass(frozen=True)
class MechanismRules:
    """Base of the non-Aave rule sets. Subclasses set ``kernel`` (their protocol's
    :class:`~liqcascade.protocols.mechanisms.kernels_python.KernelSpec`) and override the hooks."""

    params: RiskParams

    kernel: ClassVar[K.KernelSpec | None] = None
    name = "mechanism"
    serial = False
    """The kernel must visit accounts one at a time in order (shared state)."""
    capabilities = Capabilities(aftermarket=True)
    """Every mechanism may sell over time (``aftermarket`` returns None when it does not)."""

    @property
    def global_effects(self) -> bool:
        return self.capabilities.global_effects

    # ------------------------------------------------------------- hooks
    def asset_lt(self) -> FloatArray:
        """The LT of each asset as collateral (the kernels' ``lt`` table)."""
        return self.params.liquidation_threshold

    def asset_bonus(self) -> FloatArray:
        """The bonus of each asset as collateral (the kernels' ``bonus`` table)."""
        return self.params.liquidation_bonus

    def param_table(self, book: PositionBook) -> ParamTable:
        """The book's parameters: per asset (the row's asset is its key); no protocol fee in the
        table (the mechanisms charge theirs from their scalars)."""
        return ParamTable.per_asset(book.asset, self.asset_lt(), self.asset_bonus(), np.zeros(len(book.assets)))

    def scalars(self) -> tuple:
        """The kernel's parameter record (``mp``; a NamedTuple of the protocol's kernel)."""
        raise NotImplementedError

    def check_book(self, book: PositionBook) -> None:
        """Raise :class:`DataError` if the book does not fit the protocol."""

    def initial_state(self, book: PositionBook) -> FloatArray | None:
        return None

    def row_aux(self, book: PositionBook) -> FloatArray | None:
        return None

    def before_pass(self, arrays: BookArrays, prices: FloatArray) -> float:
        """Called before each pass at ``prices``; returns the HF below which accounts are
        looked at (1 unless the protocol liquidates healthier accounts in some state)."""
        return 1.0

    def after_pass(self, arrays: BookArrays, prices: FloatArray, tallies: Tallies) -> None:
        """Called after each pass (Liquity redistributes the batch here, into ``tallies.flows``)."""

    def outcome_facts(self, arrays: BookArrays, prices: FloatArray) -> dict[str, object]:
        """Protocol-specific numbers read off the book at the end of a run (USD at ``prices``)."""
        return {}

    def facts(self) -> dict[str, object]:
        return {}

    def kernels(self) -> KernelSet:
        """The protocol's compiled kernels (the static engine's calls)."""
        if self.kernel is None:
            raise NotImplementedError(f"{type(self).__name__} names no kernel")
        return kernels_of(self.kernel)

    def dynamic_kernels(self) -> KernelSet:
        """The kernels of the dynamic engine's calls (Maker: bark alone, with auctions)."""
        return self.kernels()

    def dynamic_scalars(self) -> tuple:
        return self.scalars()

    def rank_scalars(self) -> tuple:
        """Scalars :meth:`first_call` ranks with (Comet ranks absorptions by the purchase
        that follows them even when the protocol holds the collateral first)."""
        return self.dynamic_scalars()

    def aftermarket(self, n_assets: int):
        """A fresh :class:`~liqcascade.protocols.base.Aftermarket` for a dynamic run, or None."""
        return None

    # ------------------------------------------------------------- interface
    def prepare(self, book: PositionBook) -> BookArrays:
        if book.assets != self.params.symbols:
            raise ConfigError(self.params.source, "assets", "a book indexed by the market's assets (reindex_assets)")
        self.check_book(book)
        return BookArrays(
            offsets=book.offsets,
            asset=book.asset,
            coll=book.collateral.copy(),
            debt=book.debt.copy(),
            params=self.param_table(book),
            aux=self.row_aux(book),
            state=self.initial_state(book),
        )

    def _state(self, arrays: BookArrays) -> FloatArray:
        return arrays.state if arrays.state is not None else np.zeros(K.N_STATE)

    def health(self, arrays: BookArrays, prices: FloatArray, accounts: IntArray | None = None) -> HealthView:
        if accounts is None:
            accounts = np.arange(arrays.n_accounts, dtype=np.int64)
        n = accounts.shape[0]
        hf, c, d = np.empty(n), np.empty(n), np.empty(n)
        t = arrays.params
        neutral.health_pass(accounts, arrays.offsets, arrays.asset, arrays.coll, arrays.debt, prices, t.key, t.lt, hf, c,
                            d)
        return HealthView(accounts, hf, c, d)

    def sweep(
        self, arrays: BookArrays, prices: FloatArray, upto: int, tallies: Tallies, limits: LiquidationLimits,
        touched: np.ndarray, q: FloatArray, cum_bound: float,
    ) -> tuple[int, int]:
        hf_cut = self.before_pass(arrays, prices)
        if self.global_effects:
            q[:upto] = 0.0  # other accounts' liquidations move this one: no bound holds
        ks = self.kernels()
        fn = ks.sweep_serial if self.serial else ks.sweep
        found, calls = fn(
            upto, arrays.offsets, kernel_rows(arrays, prices), self.scalars(), self._state(arrays),
            limits.max_calls_per_account, limits.min_repay_usd, kernel_acc(tallies),
            (tallies.acct_calls, tallies.acct_blocked, touched), (q, float(cum_bound), float(hf_cut)),
        )
        self.after_pass(arrays, prices, tallies)
        return int(found), int(calls)

    def scan(self, arrays: BookArrays, prices: FloatArray, upto: int, q: FloatArray, cum_bound: float) -> IntArray:
        hf_cut = self.before_pass(arrays, prices)
        if self.global_effects:
            q[:upto] = 0.0
        out = np.empty(upto, dtype=np.int64)
        t = arrays.params
        n = self.kernels().scan(upto, arrays.offsets, arrays.asset, arrays.coll, arrays.debt, prices, t.key, t.lt, q,
                                cum_bound, hf_cut, out)
        return out[:n]

    def first_call(self, arrays: BookArrays, prices: FloatArray, accounts: IntArray) -> FirstCall:
        self.before_pass(arrays, prices)
        n = accounts.shape[0]
        f = [np.empty(n) for _ in range(6)]
        ca, da = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64)
        self.dynamic_kernels().first_call(accounts, arrays.offsets, kernel_rows(arrays, prices), self.rank_scalars(),
                                          self._state(arrays), f[0], f[1], f[2], (f[3], f[4], f[5]), (ca, da))
        repaid, seized, fee, paid, received, reward = f
        return FirstCall(repaid, seized, fee, ca, da, FirstCallCosts(paid, received, reward))

    def liquidate_list(
        self, arrays: BookArrays, prices: FloatArray, accounts: IntArray, tallies: Tallies, limits: LiquidationLimits
    ) -> tuple[int, AccountEvents]:
        self.before_pass(arrays, prices)
        n = accounts.shape[0]
        ev = AccountEvents(np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64), np.empty(n), np.empty(n), np.empty(n))
        calls = self.dynamic_kernels().liquidate_list(
            accounts, arrays.offsets, kernel_rows(arrays, prices), self.dynamic_scalars(), self._state(arrays),
            limits.max_calls_per_account, limits.min_repay_usd,
            limits.caps(n) if self.capabilities.capped_calls else np.empty((0, 0)), kernel_acc(tallies),
            (tallies.acct_calls, tallies.acct_blocked),
            (ev.account, ev.calls, ev.seized_usd, ev.repaid_usd, ev.bad_debt_usd),
        )
        self.after_pass(arrays, prices, tallies)
        return int(calls), ev

    def unrecoverable_debt(self, arrays: BookArrays, prices: FloatArray, accounts: IntArray) -> FloatArray:
        out = np.empty(accounts.shape[0])
        t = arrays.params
        neutral.bad_debt_pass(accounts, arrays.offsets, arrays.asset, arrays.coll, arrays.debt, prices, t.key, t.lt, out)
        return out

    def describe(self) -> dict[str, object]:
        return {"protocol": self.name, **self.facts()}


def kernel_rows(arrays: BookArrays, prices: FloatArray) -> K.Rows:
    """The book's per-row arrays, its parameter tables and the prices, as the kernels take them."""
    t = arrays.params
    return K.Rows(arrays.asset, arrays.coll, arrays.debt, prices, t.key, t.lt, t.bonus)


def kernel_acc(tallies: Tallies) -> K.Acc:
    """The tallies as the kernels add into them."""
    return K.Acc(tallies.seized, tallies.fee, tallies.repaid, tallies.deficit, tallies.acct_seized_usd,
                 tallies.acct_repaid_usd, tallies.acct_bad_debt_usd, tallies.flows)


# ------------------------------------------------------------------ book checks
def rows_per_account(book: PositionBook, mask: np.ndarray) -> IntArray:
    """How many rows matching ``mask`` each account has."""
    return np.bincount(book.account[mask], minlength=book.n_accounts)


def require_at_most_one(book: PositionBook, mask: np.ndarray, what: str, protocol: str, source: str) -> None:
    """Each account has at most one row matching ``mask`` (e.g. one collateral per Maker vault)."""
    n = rows_per_account(book, mask)
    bad = np.flatnonzero(n > 1)
    if bad.size:
        k = int(bad[0])
        raise DataError(source, None,
                        f"account {book.account_ids[k]!r} has {int(n[k])} {what}; a {protocol} position has one "
                        f"({bad.size} accounts like this)")
