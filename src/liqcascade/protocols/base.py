"""The interface between a protocol's rules and the engines.

An engine owns the mutable arrays (:class:`BookArrays`) and asks the protocol's rules to
compute health and to liquidate a set of accounts at given prices. A new protocol is a
new module implementing :class:`LiquidationRules`; the engines do not change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from liqcascade._typing import FloatArray, IntArray
from liqcascade.errors import LiqcascadeError
from liqcascade.model import PositionBook, RiskParams
from liqcascade.protocols.flows import N_FLOWS

HF_INF = 1.0e300
"""Health factor reported for an account with no debt (kernels cannot return inf cheaply
in every path; tables turn it into ``inf``)."""

BOUND_COLLATERAL_FLOOR = 1e-100
"""Seizable collateral value (USD) from which a sweep's bound may say an account holds
collateral (``Capabilities.debt_free_bound``); below it the bound is 0 (read again)."""


@dataclass(frozen=True)
class ParamTable:
    """A book's liquidation parameters as small tables and a per-row key into them.

    Row ``r`` of the book has LT ``lt[key[r]]``, bonus ``bonus[key[r]]`` and protocol fee
    ``fee[key[r]]`` (of the row's asset *as collateral*, e-mode applied). The rules build it once
    per book (:meth:`LiquidationRules.prepare`): for most the key is the row's asset id (the
    book's own ``asset`` column, no extra bytes) and the tables are per asset; Aave's e-mode keys
    a row by (account class, asset), flattened. Why tables: three float64 per row were 24 B of
    every holding the engine keeps, gathered again each time the book is sorted; a table of a few
    hundred numbers stays in the cache, and reading ``lt[key[r]]`` gives the very same float as
    a per-row copy would (bit-identical results)."""

    key: np.ndarray
    lt: FloatArray
    bonus: FloatArray
    fee: FloatArray

    def __post_init__(self) -> None:
        n = self.lt.shape[0]
        if self.bonus.shape != (n,) or self.fee.shape != (n,):
            raise ValueError(f"ParamTable: lt, bonus and fee must be tables of one length ({n}), got "
                             f"{self.bonus.shape} and {self.fee.shape}")

    @classmethod
    def per_asset(cls, asset: np.ndarray, lt: FloatArray, bonus: FloatArray, fee: FloatArray) -> "ParamTable":
        """Parameters that are a function of the row's asset alone: ``asset`` (the book's column,
        shared, not copied) is the key, the tables are per asset."""
        return cls(asset, _table(lt), _table(bonus), _table(fee))

    @classmethod
    def per_class(cls, account_class: np.ndarray, account: np.ndarray, asset: np.ndarray, lt: FloatArray,
                  bonus: FloatArray, fee: FloatArray) -> "ParamTable":
        """Parameters that are a function of (account class, asset): ``lt[c, a]`` etc. (classes x
        assets) flattened, and a row's key ``class * n_assets + asset``, in the type of the asset
        ids (int64 if the keys do not fit it). One key type for every book keeps one compiled
        signature a kernel: a narrower key for e-mode books compiled each kernel a second time
        in a process the warm-up (``liqcascade warm``) had prepared, for 2 B a row."""
        n_keys = lt.size
        dtype = asset.dtype if n_keys <= np.iinfo(asset.dtype).max else np.dtype(np.int64)
        # each account's first key (its class's) in the key type, then one gather of it per row:
        # no row-sized temporary wider than the key
        first = np.multiply(account_class, lt.shape[1], dtype=np.int64).astype(dtype, copy=False)
        key = np.take(first, account)
        key += asset.astype(dtype, copy=False)
        return cls(key, _table(lt.ravel()), _table(bonus.ravel()), _table(fee.ravel()))

    def lt_of(self, rows: np.ndarray) -> FloatArray:
        """The LT of the book's ``rows`` (an index array or a slice's indexes)."""
        return self.lt[self.key[rows]]

    def bonus_of(self, rows: np.ndarray) -> FloatArray:
        return self.bonus[self.key[rows]]

    def fee_of(self, rows: np.ndarray) -> FloatArray:
        return self.fee[self.key[rows]]


def _table(x: FloatArray) -> FloatArray:
    """A parameter table as the kernels read it (contiguous float64, its own small copy)."""
    return np.array(x, dtype=np.float64, copy=True).reshape(-1)


@dataclass
class BookArrays:
    """Engine-owned working copy of a book: amounts mutate, layout does not.

    ``params`` holds the effective LT, bonus and protocol fee of each row's asset *as
    collateral* (e-mode applied) as tables and a per-row key (:class:`ParamTable`); rules
    may ignore them.
    """

    offsets: IntArray
    asset: np.ndarray
    coll: FloatArray
    debt: FloatArray
    params: ParamTable
    aux: FloatArray | None = None
    """A per-row number some rules need (Liquity: the trove's stake on its collateral row)."""
    state: FloatArray | None = None
    """Scalars some rules change as they liquidate (Liquity: Stability Pool, system totals).
    Each run starts from a copy of the prepared book's (see :meth:`with_amounts`)."""

    @property
    def n_accounts(self) -> int:
        return int(self.offsets.shape[0] - 1)

    def with_amounts(self, coll: FloatArray, debt: FloatArray) -> "BookArrays":
        """The same layout and parameters with these amounts and a fresh copy of ``state``."""
        return BookArrays(self.offsets, self.asset, coll, debt, self.params, self.aux,
                          None if self.state is None else self.state.copy())


@dataclass
class Tallies:
    """Accumulators a liquidation pass adds into.

    Per asset (token units): collateral seized (fee included), protocol fee, debt
    repaid, debt written off to the protocol's deficit. Per account (USD at the prices
    of the call): collateral seized, debt repaid, debt written off; call count; count
    of calls blocked by a rule (e.g. Aave's dust rule), int32 (4 B an account each fewer than
    int64; a count stays far below 2^31: calls a round are capped, rounds and blocks are not
    billions). Per row of the book (``flows``,
    rows x ``N_FLOWS``, :mod:`liqcascade.protocols.flows`): what each call took from or cleared on that (account,
    asset) holding, by kind (the ``FLOW_*`` columns, tokens then USD), summed over the
    run: the account's side of the signed trades (``engine/trades.py``).
    """

    seized: FloatArray
    fee: FloatArray
    repaid: FloatArray
    deficit: FloatArray
    acct_seized_usd: FloatArray
    acct_repaid_usd: FloatArray
    acct_bad_debt_usd: FloatArray
    acct_calls: IntArray
    acct_blocked: IntArray
    flows: FloatArray

    @classmethod
    def zeros(cls, n_assets: int, n_accounts: int, n_rows: int = 0) -> "Tallies":
        """Zero tallies for a book of ``n_accounts`` accounts and ``n_rows`` rows (0: no
        per-row trades are kept: the curves, which need only totals, skip their memory
        traffic)."""
        return cls(
            seized=np.zeros(n_assets),
            fee=np.zeros(n_assets),
            repaid=np.zeros(n_assets),
            deficit=np.zeros(n_assets),
            acct_seized_usd=np.zeros(n_accounts),
            acct_repaid_usd=np.zeros(n_accounts),
            acct_bad_debt_usd=np.zeros(n_accounts),
            acct_calls=np.zeros(n_accounts, dtype=np.int32),
            acct_blocked=np.zeros(n_accounts, dtype=np.int32),
            flows=np.zeros((n_rows, N_FLOWS)),
        )

    def reset_assets(self) -> None:
        for a in (self.seized, self.fee, self.repaid, self.deficit):
            a[:] = 0.0


@dataclass(frozen=True)
class LiquidationLimits:
    """How far one liquidation pass may go on each account at fixed prices."""

    max_calls_per_account: int = 64
    min_repay_usd: float = 0.0
    call_caps_usd: FloatArray | None = field(default=None, compare=False)
    """For ``liquidate_list`` by rules with ``capabilities.capped_calls``: row ``j`` lists the
    calls on the list's ``j``-th account, column ``c`` the most debt value (USD) call ``c`` may
    repay (inf: the rule's maximum); a 0 or the end of the row stops (and ``max_calls_per_account``
    still bounds). None: up to ``max_calls_per_account`` calls at the rule's maximum."""

    def caps(self, n: int) -> FloatArray:
        """:attr:`call_caps_usd` checked against a list of ``n`` accounts (an empty array when None)."""
        if self.call_caps_usd is None:
            return np.empty((0, 0))
        caps = np.ascontiguousarray(self.call_caps_usd, dtype=np.float64)
        if caps.ndim != 2 or caps.shape[0] != n:
            raise LiqcascadeError(f"call_caps_usd must have one row per listed account ({n}), got shape {caps.shape}")
        return caps


@dataclass(frozen=True)
class HealthView:
    """Health of a set of accounts: HF, counted collateral value and debt value (USD)."""

    accounts: IntArray
    hf: FloatArray
    collateral_usd: FloatArray
    debt_usd: FloatArray


@dataclass(frozen=True)
class FirstCall:
    """What each account's next liquidation call would do (tokens), without doing it.

    ``repaid`` 0 means no call would happen. ``collateral_asset``/``debt_asset`` are asset
    indexes (-1 when no call)."""

    repaid: FloatArray
    seized: FloatArray
    fee: FloatArray
    collateral_asset: IntArray
    debt_asset: IntArray
    costs: "FirstCallCosts | None" = None
    """None: the liquidator pays ``repaid`` and receives ``seized - fee``."""


@dataclass(frozen=True)
class AccountEvents:
    """Per liquidated account in one block: calls made and USD seized, repaid, written off."""

    account: IntArray
    calls: IntArray
    seized_usd: FloatArray
    repaid_usd: FloatArray
    bad_debt_usd: FloatArray


@dataclass(frozen=True)
class FirstCallCosts:
    """For mechanisms where the liquidator does not simply repay and receive the seized
    collateral: what it pays (debt tokens), receives (collateral tokens) and a fixed
    reward (USD) per account of a :class:`FirstCall`."""

    paid: FloatArray
    received: FloatArray
    reward_usd: FloatArray


@dataclass(frozen=True)
class Capabilities:
    """The optional parts of the engine contract a rule set provides, declared by the rules
    (a class attribute ``capabilities``) so that engines read flags instead of probing."""

    global_effects: bool = False
    """A liquidation can change *other* accounts (Liquity's redistribution): engines look
    at every account every round and reuse no bounds or candidates across rounds."""
    aftermarket: bool = False
    """The rules implement :class:`SellsOverTime` (the protocol may hold what it takes and
    sell it over time: Maker's auctions, Comet's store front)."""
    held_by_limits: bool = False
    """The rules implement :class:`HoldsByLimits` (the protocol's own limits keep unsafe
    accounts waiting: Maker's Dog room). Used only when an aftermarket runs."""
    soft_liquidation: bool = False
    """The rules implement :class:`SoftLiquidates` (the protocol's own AMM converts
    collateral as the external price moves, with no liquidator's call: LLAMMA). The
    block-by-block engines call it every block before looking for eligible accounts."""
    capped_calls: bool = False
    """``liquidate_list`` honours :attr:`LiquidationLimits.call_caps_usd` (a liquidator may repay
    less than the rule's maximum): liquidator strategies other than max close need it."""
    aftermarket_gas: bool = False
    """The aftermarket implements :class:`SeesGas`: each block, before its ``step``, the engine
    tells it the block's gas price (its buyers' transactions compete for inclusion: Maker's
    Flipper keepers)."""
    priced_by_rows: bool = False
    """An account's counted collateral value is a sum over its rows with collateral of amount x
    the row asset's price x a factor that does not depend on the prices, and its debt value one
    over its rows with debt of amount x price: its HF moves only with the prices of the assets it
    holds (the curve's bounds by held assets, ``engine/curve_kernels_python.held_bounds``)."""
    unrecoverable_from_health: bool = False
    """``unrecoverable_debt`` of an account is its ``health`` debt value when its counted
    collateral value is 0 and its debt value above 0, else 0 (the same numbers): an engine that
    needs both may take them from one health pass."""
    debt_free_bound: bool = False
    """The solver's per-account bound ``q`` (kept by ``sweep`` and ``scan``) tells what an
    account held at its last read: exactly ``HF_INF`` only when its debt value was 0; positive
    and below ``HF_INF`` only when it had debt and at least :data:`BOUND_COLLATERAL_FLOOR` USD of
    seizable collateral (a sum over its rows of amount x price); and a liquidated account's ``q``
    is set by the read that ends its liquidation (or is 0 for ``liquidate_list`` to come). Rows
    change only by the account's own liquidation, so the curve's unrecoverable-debt pass need
    not read a liquidated account whose ``q`` says it holds collateral or has no debt
    (``engine/curve.py`` ``unrecoverable_touched``, with its guard against underflow)."""
    scans_since: bool = False
    """The rules implement :class:`ScansSince` (a scan that skips by each account's HF at the
    prices it was last read at and the net move since, tighter than :meth:`LiquidationRules.scan`'s
    running product of every step's spread)."""


@runtime_checkable
class LiquidationRules(Protocol):
    """What a protocol module provides to the engines.

    ``capabilities`` declares which optional parts (:class:`SellsOverTime`,
    :class:`HoldsByLimits`, global effects) the rules provide.
    """

    name: str
    params: RiskParams
    capabilities: Capabilities

    def prepare(self, book: PositionBook) -> BookArrays:
        """A working copy of ``book`` with its effective parameters (a :class:`ParamTable`)."""
        ...

    def health(self, arrays: BookArrays, prices: FloatArray, accounts: IntArray | None = None) -> HealthView:
        """Health of ``accounts`` (all when None) at ``prices``."""
        ...

    def sweep(
        self, arrays: BookArrays, prices: FloatArray, upto: int, tallies: Tallies, limits: LiquidationLimits,
        touched: np.ndarray, q: FloatArray, cum_bound: float,
    ) -> tuple[int, int]:
        """One round over accounts ``0..upto-1``: liquidate every eligible one at fixed
        ``prices`` and mark it in ``touched``. Returns (eligible accounts, calls).

        ``q[k] / cum_bound`` is a lower bound on account ``k``'s HF that the rules may use
        to skip it and must keep valid (see the Aave kernel's ``sweep``).

        Equivalent to :meth:`health` and then liquidating each eligible account at
        fixed prices; fused because it reads the book once per round."""
        ...

    def scan(self, arrays: BookArrays, prices: FloatArray, upto: int, q: FloatArray, cum_bound: float) -> IntArray:
        """The eligible accounts among ``0..upto-1`` at ``prices``, in account order
        (same skipping bounds as :meth:`sweep`)."""
        ...

    def first_call(self, arrays: BookArrays, prices: FloatArray, accounts: IntArray) -> FirstCall:
        """What the next call on each account would do (for ranking by profit)."""
        ...

    def liquidate_list(
        self, arrays: BookArrays, prices: FloatArray, accounts: IntArray, tallies: Tallies, limits: LiquidationLimits
    ) -> tuple[int, AccountEvents]:
        """Liquidate the accounts in the order given (at most ``limits.max_calls_per_account``
        calls each); return the calls made and one event per account."""
        ...

    def unrecoverable_debt(self, arrays: BookArrays, prices: FloatArray, accounts: IntArray) -> FloatArray:
        """USD debt per account that no liquidation can recover (no seizable collateral left)."""
        ...

    def describe(self) -> dict[str, object]:
        """Plain facts for result tables (protocol, version, policy)."""
        ...

    def outcome_facts(self, arrays: BookArrays, prices: FloatArray) -> dict[str, object]:
        """Protocol-specific numbers read off the book at the end of a run, for the summary
        (e.g. Liquity's Stability Pool offset and redistribution, USD at ``prices``). The static
        engine passes its working book: every account for rules with global effects or soft
        liquidation, otherwise the accounts its rounds could reach (the others unchanged)."""
        ...


@dataclass(frozen=True)
class Lots:
    """Collateral a protocol took into its own hands in one block (Maker's auctions,
    Comet's absorbed inventory): one entry per (account, collateral row)."""

    account: IntArray
    row: IntArray
    asset: IntArray
    amount: FloatArray
    """Collateral tokens taken."""
    debt_usd: FloatArray
    """The account's debt the protocol took over with it (USD), on the account's first row."""


@dataclass(frozen=True)
class AftermarketStep:
    """What a protocol's own sales did in one block.

    ``sold`` (tokens per asset) went to keepers or buyers, who sell it on like liquidators;
    ``proceeds_usd`` (per asset) is what they paid the protocol; ``returned`` goes back to
    the accounts' collateral rows (Maker: the lot left once the tab is covered);
    ``bad_debt_usd`` is debt the sales finished without covering."""

    sold: FloatArray
    proceeds_usd: FloatArray
    returned_rows: IntArray
    returned_amount: FloatArray
    bad_debt_usd: float


@runtime_checkable
class Aftermarket(Protocol):
    """A protocol's sale of the collateral it holds, over time (dynamic engine only)."""

    def receive(self, t: int, lots: Lots, oracle: FloatArray) -> None:
        """Take in this block's lots (``oracle``: the protocol's prices now)."""
        ...

    def step(self, t: int, oracle: FloatArray, depth) -> AftermarketStep:
        """Sell what is due at time ``t``. ``depth(asset, price)`` is the amount of ``asset``
        the market absorbs this block before its marginal price falls to ``price`` (the
        exit of a buyer who resells at once; ``inf`` when it never does)."""
        ...

    def holdings(self) -> FloatArray:
        """Collateral tokens per asset still held (in auctions or inventory)."""
        ...

    def sync_limits(self, state: FloatArray | None) -> bool:
        """Write the protocol's limits on liquidations in progress into the book's ``state``
        (Maker's Dog: room for more auctions); True when room was freed since last block."""
        ...

    def facts(self) -> dict[str, float]:
        """End-of-run numbers for the summary (USD unless named otherwise)."""
        ...


@runtime_checkable
class SeesGas(Protocol):
    """An :class:`Aftermarket` of rules with ``capabilities.aftermarket_gas``."""

    def see_gas(self, gas_gwei: float, gas_asset_usd: float) -> None:
        """This block's gas price (gwei) and the price (USD) of the asset gas is paid in."""
        ...


@runtime_checkable
class ScansSince(Protocol):
    """:attr:`Capabilities.scans_since`: the eligible accounts found with per-account bounds
    since each account's last read (the Aave kernel's ``scan_since`` says how)."""

    def scan_since(self, arrays: BookArrays, prices: FloatArray, upto: int, hf: FloatArray, epoch: np.ndarray,
                   history: FloatArray, n_epochs: int) -> IntArray:
        """The eligible accounts among ``0..upto-1`` at ``prices``, in account order. ``hf[k]``
        is account ``k``'s HF at ``history[epoch[k]]`` (0: read it every time), kept valid:
        accounts read get ``epoch = n_epochs``, for the caller to store ``prices`` there."""
        ...


@runtime_checkable
class SellsOverTime(Protocol):
    """Rules with ``capabilities.aftermarket``."""

    def aftermarket(self, n_assets: int) -> Aftermarket | None:
        """A fresh :class:`Aftermarket` for a dynamic run, or None (this configuration sells at once)."""
        ...


@runtime_checkable
class HoldsByLimits(Protocol):
    """Rules with ``capabilities.held_by_limits``."""

    def held_by_limits(self, arrays: BookArrays, prices: FloatArray, accounts: IntArray) -> IntArray:
        """The ``accounts`` unsafe at ``prices`` that the protocol's limits keep waiting."""
        ...


@dataclass(frozen=True)
class SoftStep:
    """What a protocol's AMM did in one block (:class:`SoftLiquidates`): the collateral it
    sold is in the tallies' ``seized`` (arbitrageurs sell it on, like liquidators);
    ``paid_in`` (tokens per asset) is what they paid into the accounts' rows."""

    accounts: IntArray
    """Accounts whose bands sold (ascending)."""
    seized_usd: FloatArray
    """Collateral each of them sold, USD at the prices of the step."""
    paid_in: FloatArray


@runtime_checkable
class SoftLiquidates(Protocol):
    """Rules with ``capabilities.soft_liquidation``."""

    def soft_step(self, arrays: BookArrays, prices: FloatArray, tallies: Tallies) -> SoftStep:
        """Arbitrageurs trade the protocol's AMM to the external ``prices``: collateral it sells
        goes into ``tallies.seized`` (and each account's ``acct_seized_usd``), what they pay
        stays on the accounts' rows; each account whose collateral sold counts one call
        (``acct_calls``), as a round of the static cascade counts it."""
        ...
