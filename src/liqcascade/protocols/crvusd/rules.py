"""crvUSD / LlamaLend (LLAMMA) as a :class:`~liqcascade.protocols.base.LiquidationRules` plug-in.

Every account is one loan: collateral on its row of ``collateral``, debt on its row of
``debt_asset`` (a $1 asset standing for crvUSD). The loan's bands are placed once, when the
book is prepared, as ``create_loan`` would place them (:func:`~liqcascade.protocols.crvusd.fast.top_band`,
the float ``calculate_debt_n1``): ``n_bands`` bands from the highest one whose deposit, at
``loan_discount``, still backs the debt. The grid is anchored at 1 (``p_up(n) = ((A−1)/A)**n``
debt tokens per collateral token): the engines give a rule set no reference prices, so the
anchor is fixed, and which bands a loan gets depends only on its collateral and debt.

The LLAMMA price is ``prices[collateral] / prices[debt_asset]``. The bands follow the AMM's
adiabatic limit (:func:`~liqcascade.protocols.crvusd.fast.book_state`): once the price has
fallen to ``p`` each band above ``p`` holds stablecoin, each band below it collateral.

- **Soft liquidation**: when the price is lower than any the account's bands have converted
  at, the collateral they sell is reported as seized (arbitrageurs buy it from LLAMMA and sell
  it on the venues); the stablecoin it became stays on the account, as the ``collateral`` of
  its ``debt_asset`` row; the debt does not change. A price that rises again does not buy the
  collateral back here: the static engine has no channel for a protocol buying collateral.
- **Hard liquidation** (``Controller.liquidate`` of the whole debt): when the contract's
  health (``full``, at ``liquidation_discount``) is below 0, a liquidator repays the whole
  debt and takes all the bands hold: collateral and stablecoin are both reported as seized,
  the whole debt as repaid. If what the bands hold is worth less than the debt, no one does
  it at a profit: the shortfall is :meth:`unrecoverable_debt` and the account stays.

In the adiabatic model ``get_x_down`` does not depend on the path, so a loan placed at
``loan_discount`` keeps its health whatever the price does (``loan_discount`` is above
``liquidation_discount``): hard liquidation needs a debt above what the bands were placed
for (interest accrued since, or an owner's borrow). The AMM's ``fee`` is paid by the
arbitrageurs into the bands: it raises what they hold, and their health, above the path.

**Block by block** (``capabilities.soft_liquidation``): :meth:`CrvUsdRules.soft_step` is the AMM's
own step each block (arbitrageurs trade it to the venues' price, as ``_soft``), before the engine
looks for eligible loans; hard liquidation is the liquidators' call (:meth:`~CrvUsdRules.scan`,
:meth:`~CrvUsdRules.first_call`, :meth:`~CrvUsdRules.liquidate_list`): a loan is eligible when its
full health is below 0, and the call repays the whole debt for all the bands hold.

``HealthView.hf`` is ``p / p_up(n1)`` (how far the price is above the loan's top band), or
``1 + health`` when that is lower and the health (not ``full``) is below 0: below 1 whenever
the bands are being sold or the loan is liquidatable, and, the health being constant in a
static run, it falls no faster than the price, so the static engine's skipping bounds hold
(see ``engine/static.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from liqcascade._typing import FloatArray, IntArray
from liqcascade.errors import ConfigError, DataError
from liqcascade.model import PositionBook, RiskParams
from liqcascade.protocols.base import (
    HF_INF,
    AccountEvents,
    BookArrays,
    Capabilities,
    FirstCall,
    FirstCallCosts,
    HealthView,
    LiquidationLimits,
    ParamTable,
    SoftStep,
    Tallies,
)
from liqcascade.protocols.calls import PositionFraction
from liqcascade.protocols.crvusd import fast
from liqcascade.protocols.flows import FLOW_RECEIVED, FLOW_REPAID, FLOW_SEIZED, FLOW_USD

SOFT_TOLERANCE = 1e-12
"""A soft sale smaller than this share of the loan's deposit is left for the next price
move: the static cascade converges geometrically, and this ends it."""


@dataclass(frozen=True)
class Loans:
    """The loans of a book, one per account: their rows and band placement (working order)."""

    crow: IntArray
    drow: IntArray
    n1: FloatArray
    deposit: FloatArray


@dataclass(frozen=True)
class CrvUsdRules:
    params: RiskParams
    collateral: str = "WETH"
    debt_asset: str = "DAI"
    A: int = 100
    loan_discount: float = 0.09
    liquidation_discount: float = 0.06
    n_bands: int = 10
    fee: float = 0.0
    """LLAMMA's fee: an arbitrageur buying a band's collateral pays ``1/(1 − fee)`` times the
    fee-free stablecoin, and the fee stays in the band (``exchange``'s gross-up)."""

    name = "crvusd"
    capabilities = Capabilities(soft_liquidation=True, capped_calls=True)
    """No global effects: a loan's bands and health depend on the price and its own amounts.
    Soft liquidation is the AMM's own step in the block-by-block engine (:meth:`soft_step`); the
    liquidator's hard liquidation takes the share it names (``liquidate_extended``'s ``frac``),
    so :meth:`liquidate_list` honours call caps."""

    def __post_init__(self) -> None:
        src = self.params.source
        for key, sym in (("collateral", self.collateral), ("debt_asset", self.debt_asset)):
            if sym not in self.params.symbols:
                raise ConfigError(src, key, f"an asset of the market {list(self.params.symbols)}", sym)
        if self.collateral == self.debt_asset:
            raise ConfigError(src, "debt_asset", "an asset other than the collateral", self.debt_asset)
        if not 4 <= self.n_bands <= 50:
            raise ConfigError(src, "n_bands", "4 to 50 bands (MIN_TICKS..MAX_TICKS)", self.n_bands)
        if self.A < 2:
            raise ConfigError(src, "A", "an amplification >= 2", self.A)
        if not 0.0 <= self.fee < 1.0:
            raise ConfigError(src, "fee", "a fraction in [0, 1)", self.fee)
        if not 0.0 <= self.liquidation_discount < self.loan_discount < 1.0:
            raise ConfigError(src, "loan_discount", "0 <= liquidation_discount < loan_discount < 1 (Controller "
                              "__init__)", (self.loan_discount, self.liquidation_discount))

    def call_rule(self, bonus: float, fee: float, debt_symbol: str) -> PositionFraction:
        """``liquidate_extended(frac)``: a share of the whole loan (``bonus``, ``fee`` unused)."""
        return PositionFraction(protocol=self.name)

    # ------------------------------------------------------------- the book
    @property
    def _c(self) -> int:
        return self.params.symbols.index(self.collateral)

    @property
    def _d(self) -> int:
        return self.params.symbols.index(self.debt_asset)

    def prepare(self, book: PositionBook) -> BookArrays:
        if book.assets != self.params.symbols:
            raise ConfigError(self.params.source, "assets", "a book indexed by the market's assets (reindex_assets)")
        self._check_book(book)
        c, d = self._c, self._d
        crow, drow = np.flatnonzero(book.asset == c), np.flatnonzero(book.asset == d)
        aux = np.zeros(book.n_rows)
        aux[crow] = self._place(book, book.collateral[crow], book.debt[drow])
        aux[drow] = book.collateral[crow]  # the deposit, spread evenly over the bands
        coll = book.collateral.copy()
        coll[drow] = 0.0  # the bands hold no stablecoin yet
        zeros = np.zeros(len(book.assets))  # LLAMMA's rules read no LT, bonus or fee
        return BookArrays(book.offsets, book.asset, coll, book.debt.copy(),
                          ParamTable.per_asset(book.asset, zeros, zeros, zeros), aux)

    def _place(self, book: PositionBook, coll: FloatArray, debt: FloatArray) -> FloatArray:
        """Top band of each loan (``calculate_debt_n1`` in float on the grid anchored at 1)."""
        n1 = np.zeros(coll.shape[0])
        loan = debt > 0.0
        bad = np.flatnonzero(loan & (coll <= 0.0))
        if bad.size:
            raise DataError(self.params.source, None, f"account {book.account_ids[bad[0]]!r} owes {self.debt_asset} "
                            f"with no {self.collateral}: a crvUSD loan needs collateral in its bands")
        # fast.top_band for every loan at once: the top band whose deposit, discounted and
        # converted at the bands' geometric means, still backs the debt
        r = (self.A - 1.0) / self.A
        per_unit = np.sqrt(r) * (1.0 - r**self.n_bands) / (1.0 - r) / self.n_bands
        y_eff = coll[loan] * (1.0 - self.loan_discount) * per_unit
        n1[loan] = np.floor(np.log(y_eff / debt[loan]) / np.log(self.A / (self.A - 1.0)))
        return n1

    def _check_book(self, book: PositionBook) -> None:
        c, d = self._c, self._d
        for what, ok in (
            (f"holds only {self.collateral} as collateral", (book.collateral == 0) | (book.asset == c)),
            (f"owes only {self.debt_asset}", (book.debt == 0) | (book.asset == d)),
        ):
            bad = np.flatnonzero(~ok)
            if bad.size:
                r = int(bad[0])
                raise DataError(self.params.source, None, f"account {book.account_ids[book.account[r]]!r} has "
                                f"{book.assets[book.asset[r]]}; a crvUSD loan {what}")
        for sym, idx in ((self.collateral, c), (self.debt_asset, d)):
            n = np.bincount(book.account[book.asset == idx], minlength=book.n_accounts)
            bad = np.flatnonzero(n != 1)
            if bad.size:
                k = int(bad[0])
                raise DataError(self.params.source, None, f"account {book.account_ids[k]!r} has {int(n[k])} {sym} "
                                "rows; every crvUSD loan has exactly one (a zero amount is fine)")

    def loans(self, arrays: BookArrays) -> Loans:
        crow, drow = np.flatnonzero(arrays.asset == self._c), np.flatnonzero(arrays.asset == self._d)
        return Loans(crow, drow, arrays.aux[crow], arrays.aux[drow])

    # ------------------------------------------------------------- the rule
    def _price(self, prices: FloatArray) -> float:
        return float(prices[self._c] / prices[self._d])

    def _top(self, n1: FloatArray) -> FloatArray:
        return ((self.A - 1.0) / self.A) ** n1

    def _health(self, lo: Loans, arrays: BookArrays, acc: IntArray, p: float, full: bool) -> FloatArray:
        """``Controller.health`` of loans ``acc`` (``-1`` stands for no debt: callers mask it)."""
        y, x, debt = arrays.coll[lo.crow[acc]], arrays.coll[lo.drow[acc]], arrays.debt[lo.drow[acc]]
        s = fast.book_state(self.A, 1.0, lo.n1[acc], np.full(acc.shape[0], self.n_bands), lo.deposit[acc], p)
        # get_x_down: the stablecoin held plus what the collateral left would become below.
        # On the adiabatic path that is s.x_down whatever the price; x minus the path's
        # stablecoin for this much collateral keeps what the bands hold beyond that path
        x_down = s.x_down + (x - self._stable_on_path(lo, acc, y))
        safe = np.where(debt > 0.0, debt, 1.0)
        h = x_down * (1.0 - self.liquidation_discount) / safe - 1.0
        if full:
            top = self._top(lo.n1[acc])
            h = h + np.where(p > top, (p - top) * y / safe, 0.0)
        return np.where(debt > 0.0, h, -1.0)

    def health(self, arrays: BookArrays, prices: FloatArray, accounts: IntArray | None = None) -> HealthView:
        if accounts is None:
            accounts = np.arange(arrays.n_accounts, dtype=np.int64)
        lo, p = self.loans(arrays), self._price(prices)
        y, x, debt = arrays.coll[lo.crow[accounts]], arrays.coll[lo.drow[accounts]], arrays.debt[lo.drow[accounts]]
        h = self._health(lo, arrays, accounts, p, False)
        above = p / self._top(lo.n1[accounts])
        hf = np.where(h < 0.0, np.minimum(above, 1.0 + h), above)
        hf = np.where(debt > 0.0, hf, HF_INF)
        c_usd = y * prices[self._c] + x * prices[self._d]
        return HealthView(accounts, hf, c_usd, debt * prices[self._d])

    def _act(self, arrays: BookArrays, prices: FloatArray, acc: IntArray, tallies: Tallies) -> IntArray:
        """Soft-liquidate, then hard-liquidate, loans ``acc`` at ``prices``; the loans acted on."""
        lo, p = self.loans(arrays), self._price(prices)
        soft = self._soft(arrays, lo, acc, p, prices, tallies)
        hard = self._hard(arrays, lo, acc, p)
        pc, pd = prices[self._c], prices[self._d]
        cr, dr = lo.crow[acc], lo.drow[acc]
        hy, hx = np.where(hard, arrays.coll[cr], 0.0), np.where(hard, arrays.coll[dr], 0.0)
        hd = np.where(hard, arrays.debt[dr], 0.0)
        tallies.seized[self._c] += hy.sum()
        tallies.seized[self._d] += hx.sum()
        tallies.repaid[self._d] += hd.sum()
        tallies.acct_seized_usd[acc] += hy * pc + hx * pd
        tallies.acct_repaid_usd[acc] += hd * pd
        # rows are one per account: fancy-index adds do not collide
        for rows, kind, amount, price in ((cr, FLOW_SEIZED, hy, pc), (dr, FLOW_SEIZED, hx, pd), (dr, FLOW_REPAID, hd, pd)):
            add_flows(tallies, rows, kind, amount, price)
        for rows, arr in ((cr, arrays.coll), (dr, arrays.coll), (dr, arrays.debt)):
            arr[rows] = np.where(hard, 0.0, arr[rows])
        tallies.acct_calls[acc] += soft.astype(np.int64) + hard.astype(np.int64)
        return acc[soft | hard]

    def _soft(self, arrays: BookArrays, lo: Loans, acc: IntArray, p: float, prices: FloatArray,
              tallies: Tallies) -> np.ndarray:
        """Move loans ``acc`` down the adiabatic path to ``p`` where it is below where they are;
        the collateral sold is seized, the stablecoin it became stays in the bands."""
        cr, dr = lo.crow[acc], lo.drow[acc]
        y = arrays.coll[cr]
        s = fast.book_state(self.A, 1.0, lo.n1[acc], np.full(acc.shape[0], self.n_bands), lo.deposit[acc], p)
        sold = y - s.collateral
        soft = (arrays.debt[dr] > 0.0) & (sold > SOFT_TOLERANCE * lo.deposit[acc])
        sold = np.where(soft, sold, 0.0)
        # the stablecoin the path adds (not s.stablecoin: bands off the path keep their
        # difference), grossed up by the fee the arbitrageur pays into the band
        received = np.where(soft, s.stablecoin - self._stable_on_path(lo, acc, y), 0.0) / (1.0 - self.fee)
        arrays.coll[cr] = y - sold
        arrays.coll[dr] += received
        tallies.seized[self._c] += sold.sum()
        tallies.acct_seized_usd[acc] += sold * prices[self._c]
        add_flows(tallies, cr, FLOW_SEIZED, sold, prices[self._c])
        add_flows(tallies, dr, FLOW_RECEIVED, received, prices[self._d])
        return soft

    def _hard(self, arrays: BookArrays, lo: Loans, acc: IntArray, p: float) -> np.ndarray:
        """Loans below 0 full health whose bands are worth at least their debt (a liquidator profits)."""
        h = self._health(lo, arrays, acc, p, True)
        value = arrays.coll[lo.crow[acc]] * p + arrays.coll[lo.drow[acc]]
        debt = arrays.debt[lo.drow[acc]]
        return (debt > 0.0) & (h < 0.0) & (value >= debt)

    def _stable_on_path(self, lo: Loans, acc: IntArray, y: FloatArray) -> FloatArray:
        """Stablecoin a loan's bands hold on the adiabatic path when ``y`` collateral is left."""
        return stable_at_collateral(self.A, lo.n1[acc], self.n_bands, lo.deposit[acc], y)

    # ------------------------------------------------------------- the engines' calls
    def sweep(
        self, arrays: BookArrays, prices: FloatArray, upto: int, tallies: Tallies, limits: LiquidationLimits,
        touched: np.ndarray, q: FloatArray, cum_bound: float,
    ) -> tuple[int, int]:
        # q is not read: the pass is vectorised over the prefix; a soft sale keeps an account's
        # hf and a hard liquidation closes it, so the bounds in q stay valid
        acted = self._act(arrays, prices, np.arange(upto, dtype=np.int64), tallies)
        touched[acted] = True
        return int(acted.shape[0]), int(acted.shape[0])

    # ------------------------------------------------------------- block by block
    def soft_step(self, arrays: BookArrays, prices: FloatArray, tallies: Tallies) -> SoftStep:
        """LLAMMA in one block: arbitrageurs trade every loan whose bands the external price
        (``prices``: the venues', not the oracle's) has entered down the adiabatic path to it
        (:meth:`_soft`); they sell the collateral on and pay stablecoin into the bands."""
        lo, p = self.loans(arrays), self._price(prices)
        live = (arrays.debt[lo.drow] > 0.0) & (arrays.coll[lo.crow] > 0.0) & (p < self._top(lo.n1))
        acc = np.flatnonzero(live).astype(np.int64)
        paid = np.zeros(len(self.params.symbols))
        if not acc.size:
            return SoftStep(acc, np.zeros(0), paid)
        x0, y0 = arrays.coll[lo.drow[acc]].copy(), arrays.coll[lo.crow[acc]].copy()
        soft = self._soft(arrays, lo, acc, p, prices, tallies)
        paid[self._d] = float((arrays.coll[lo.drow[acc]] - x0).sum())
        tallies.acct_calls[acc[soft]] += 1
        return SoftStep(acc[soft], ((y0 - arrays.coll[lo.crow[acc]]) * prices[self._c])[soft], paid)

    def _eligible(self, arrays: BookArrays, prices: FloatArray, acc: IntArray) -> np.ndarray:
        """``Controller.liquidate`` is allowed: a debt and ``health(full=True) < 0``."""
        lo = self.loans(arrays)
        h = self._health(lo, arrays, acc, self._price(prices), True)
        return (arrays.debt[lo.drow[acc]] > 0.0) & (h < 0.0)

    def scan(self, arrays: BookArrays, prices: FloatArray, upto: int, q: FloatArray, cum_bound: float) -> IntArray:
        """Hard-liquidatable loans among ``0..upto-1`` (``q`` not read: vectorised over the
        prefix; a loan's hf is below 1 whenever it is eligible, so the prefix holds them all)."""
        acc = np.arange(upto, dtype=np.int64)
        return acc[self._eligible(arrays, prices, acc)]

    def first_call(self, arrays: BookArrays, prices: FloatArray, accounts: IntArray) -> FirstCall:
        """``liquidate`` of the whole debt: the liquidator pays the debt and takes the bands'
        collateral (received) and stablecoin (a reward in USD at ``prices``); no call (repaid
        0) for a loan not eligible."""
        lo = self.loans(arrays)
        ok = self._eligible(arrays, prices, accounts)
        y, x = arrays.coll[lo.crow[accounts]], arrays.coll[lo.drow[accounts]]
        debt = np.where(ok, arrays.debt[lo.drow[accounts]], 0.0)
        y = np.where(ok, y, 0.0)
        k = accounts.shape[0]
        costs = FirstCallCosts(paid=debt, received=y, reward_usd=np.where(ok, x, 0.0) * prices[self._d])
        return FirstCall(debt, y, np.zeros(k), np.where(ok, self._c, -1).astype(np.int64),
                         np.where(ok, self._d, -1).astype(np.int64), costs)

    def liquidate_list(
        self, arrays: BookArrays, prices: FloatArray, accounts: IntArray, tallies: Tallies, limits: LiquidationLimits
    ) -> tuple[int, AccountEvents]:
        """Hard-liquidate the eligible ``accounts`` (one call each, the whole debt): the
        liquidator takes what the bands hold. Soft selling is :meth:`soft_step`'s, not here.
        A call repaying less than ``limits.min_repay_usd`` is not made. With
        ``limits.call_caps_usd``, :meth:`_liquidate_shares` instead."""
        if limits.call_caps_usd is not None:
            return self._liquidate_shares(arrays, prices, accounts, tallies, limits)
        lo = self.loans(arrays)
        cr, dr = lo.crow[accounts], lo.drow[accounts]
        pc, pd = prices[self._c], prices[self._d]
        hard = self._eligible(arrays, prices, accounts) & (arrays.debt[dr] * pd >= limits.min_repay_usd)
        y, x, debt = (np.where(hard, arr[rows], 0.0) for arr, rows in
                      ((arrays.coll, cr), (arrays.coll, dr), (arrays.debt, dr)))
        tallies.seized[self._c] += y.sum()
        tallies.seized[self._d] += x.sum()
        tallies.repaid[self._d] += debt.sum()
        seized_usd, repaid_usd = y * pc + x * pd, debt * pd
        tallies.acct_seized_usd[accounts] += seized_usd
        tallies.acct_repaid_usd[accounts] += repaid_usd
        calls = hard.astype(np.int64)
        tallies.acct_calls[accounts] += calls
        for rows, kind, amount, price in ((cr, FLOW_SEIZED, y, pc), (dr, FLOW_SEIZED, x, pd), (dr, FLOW_REPAID, debt, pd)):
            add_flows(tallies, rows, kind, amount, price)
        for rows, arr in ((cr, arrays.coll), (dr, arrays.coll), (dr, arrays.debt)):
            arr[rows] = np.where(hard, 0.0, arr[rows])
        return int(calls.sum()), AccountEvents(accounts, calls, seized_usd, repaid_usd, np.zeros(accounts.shape[0]))

    def _liquidate_shares(
        self, arrays: BookArrays, prices: FloatArray, accounts: IntArray, tallies: Tallies, limits: LiquidationLimits
    ) -> tuple[int, AccountEvents]:
        """``liquidate_extended(frac)`` calls: call ``c`` on the ``j``-th account repays at most
        ``caps[j, c]`` of debt value (USD; inf: all of it), so ``frac = min(cap / debt value, 1)``
        of everything the bands hold -- collateral, stablecoin and their deposit -- goes with that
        share of the debt. The rest keeps its health (every amount scales by ``1 − frac``), so
        the loan stays liquidatable for the next call; a 0 or the end of the row stops."""
        n = accounts.shape[0]
        caps = limits.caps(n)
        lo = self.loans(arrays)
        cr, dr = lo.crow[accounts], lo.drow[accounts]
        pc, pd = prices[self._c], prices[self._d]
        calls = np.zeros(n, dtype=np.int64)
        seized_usd, repaid_usd = np.zeros(n), np.zeros(n)
        for c in range(min(caps.shape[1], limits.max_calls_per_account)):
            debt = arrays.debt[dr]
            live = (caps[:, c] > 0.0) & self._eligible(arrays, prices, accounts)
            frac = np.where(live, np.minimum(caps[:, c] / np.where(debt > 0.0, debt * pd, 1.0), 1.0), 0.0)
            frac = np.where(frac * debt * pd >= limits.min_repay_usd, frac, 0.0)
            y, x, d = arrays.coll[cr] * frac, arrays.coll[dr] * frac, debt * frac
            tallies.seized[self._c] += y.sum()
            tallies.seized[self._d] += x.sum()
            tallies.repaid[self._d] += d.sum()
            seized_usd += y * pc + x * pd
            repaid_usd += d * pd
            for rows, kind, amount, price in ((cr, FLOW_SEIZED, y, pc), (dr, FLOW_SEIZED, x, pd),
                                              (dr, FLOW_REPAID, d, pd)):
                add_flows(tallies, rows, kind, amount, price)
            keep = np.where(frac >= 1.0, 0.0, 1.0 - frac)  # a whole call leaves exact zeros
            for rows, arr in ((cr, arrays.coll), (dr, arrays.coll), (dr, arrays.debt), (dr, arrays.aux)):
                arr[rows] = arr[rows] * keep
            calls += frac > 0.0
        tallies.acct_seized_usd[accounts] += seized_usd
        tallies.acct_repaid_usd[accounts] += repaid_usd
        tallies.acct_calls[accounts] += calls
        return int(calls.sum()), AccountEvents(accounts, calls, seized_usd, repaid_usd, np.zeros(n))

    def unrecoverable_debt(self, arrays: BookArrays, prices: FloatArray, accounts: IntArray) -> FloatArray:
        """USD debt of liquidatable loans beyond what their bands hold (no liquidator takes them)."""
        lo, p = self.loans(arrays), self._price(prices)
        h = self._health(lo, arrays, accounts, p, True)
        value = arrays.coll[lo.crow[accounts]] * p + arrays.coll[lo.drow[accounts]]
        debt = arrays.debt[lo.drow[accounts]]
        gap = np.where((debt > 0.0) & (h < 0.0), debt - value, 0.0)
        return np.clip(gap, 0.0, None) * prices[self._d]

    def describe(self) -> dict[str, object]:
        return {"protocol": self.name, "version": "curve-stablecoin@cf1d05fb", "collateral": self.collateral,
                "debt_asset": self.debt_asset, "A": self.A, "loan_discount": self.loan_discount,
                "liquidation_discount": self.liquidation_discount, "n_bands": self.n_bands, "fee": self.fee}

    def outcome_facts(self, arrays: BookArrays, prices: FloatArray) -> dict[str, object]:
        """Stablecoin left in the bands (USD) and loans still in soft liquidation at ``prices``."""
        lo, p = self.loans(arrays), self._price(prices)
        live = arrays.debt[lo.drow] > 0.0
        inside = live & (p < self._top(lo.n1)) & (arrays.coll[lo.crow] > 0.0)
        return {"band_stablecoin_usd": float(arrays.coll[lo.drow][live].sum() * prices[self._d]),
                "loans_in_soft_liquidation": int(inside.sum())}


def add_flows(tallies: Tallies, rows: IntArray, kind: int, amount: FloatArray, price: float) -> None:
    """Book ``amount`` of ``kind`` on ``rows`` (one per loan: no index repeats) in the per-row
    trades, when the tallies keep them."""
    if tallies.flows.shape[0]:
        tallies.flows[rows, kind] += amount
        tallies.flows[rows, FLOW_USD + kind] += amount * price


def stable_at_collateral(A: float, n1: FloatArray, n_bands: int, deposit: FloatArray, y: FloatArray) -> FloatArray:
    """Stablecoin in a loan's bands (grid anchored at 1) on the adiabatic path when ``y`` of its
    ``deposit`` collateral is left: the inverse of :func:`fast.book_state` in the collateral.

    With ``j`` bands wholly sold and ``yp`` left in band ``j``: ``1/sqrt(p) = 1/sqrt(p_down) − yp/L``
    and the band holds ``L·(sqrt(p_up) − sqrt(p))``; the sold bands ``Y·sqrt(p_up·p_down)`` each."""
    r = (A - 1.0) / A
    yb = deposit / n_bands
    top = r**n1
    geo = yb * top * np.sqrt(r)
    safe = np.where(yb > 0.0, yb, 1.0)
    # bands still holding collateral, counted from the bottom: ceil(y / yb)
    left = np.clip(np.ceil(y / safe * (1.0 - 1e-12)), 0.0, n_bands)
    j = n_bands - left  # bands wholly sold
    yp = np.clip(y - yb * (left - 1.0), 0.0, yb)
    p_up = top * r ** np.minimum(j, n_bands - 1)
    su, sd = np.sqrt(p_up), np.sqrt(p_up * r)
    liq = yb * su * sd / (su - sd)
    inv_sp = np.maximum(1.0 / sd - yp / liq, 1.0 / su)
    partial = np.where(left > 0.0, liq * (su - 1.0 / inv_sp), 0.0)
    return np.where(yb > 0.0, geo * (1.0 - r**j) / (1.0 - r) + partial, 0.0)
