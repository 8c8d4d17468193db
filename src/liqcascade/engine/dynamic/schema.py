"""The tables a simulation stores: one schema per table, naming each column, its dtype
and what it holds. :func:`~.results.build_result` writes the columns in this order, and a
test holds every table of a run to its schema.

Granularities: ``steps`` one row per block and tracked asset (the block's counts and USD
repeated on each of its asset rows), ``events`` one row per liquidated account and block,
``assets`` one row per tracked asset, ``trades`` one row per party, account, asset and kind
of flow over the run, ``summary`` one row per run.
"""

from __future__ import annotations

from dataclasses import dataclass

ACCOUNT_ID = "account_id"
"""dtype of a column holding the book's account ids (int64 for synthetic books, str when read from a file)."""


@dataclass(frozen=True)
class Column:
    name: str
    dtype: str
    """A pandas dtype name ("int64", "float64", "bool", "str"), or :data:`ACCOUNT_ID`."""
    description: str


@dataclass(frozen=True)
class TableSchema:
    name: str
    granularity: str
    columns: tuple[Column, ...]
    open_ended: bool = False
    """More columns may follow the listed ones (the summary's protocol-specific facts)."""

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"no column {name!r} in the {self.name} table; columns: {self.names}")


def _cols(*rows: tuple[str, str, str]) -> tuple[Column, ...]:
    return tuple(Column(*r) for r in rows)


STEPS = TableSchema("steps", "block x tracked asset", _cols(
    ("block", "int64", "Block index from 0."),
    ("time", "int64", "Block start, Unix seconds (UTC)."),
    ("asset", "str", "Asset of the row's prices (tracked: on the path, moved, or liquidated)."),
    ("reference_price", "float64", "Exogenous price times the permanent impact of the selling so far (USD)."),
    ("market_price", "float64", "The venue's mid price at the end of the block (USD)."),
    ("oracle_price", "float64", "The protocol's oracle price this block (USD)."),
    ("eligible_accounts", "int64", "Eligible accounts, those the protocol's limits hold back included."),
    ("accounts_liquidated", "int64", "Accounts liquidated this block."),
    ("liquidation_calls", "int64", "Liquidation calls this block."),
    ("left_unprofitable", "int64", "Eligible accounts left as unprofitable after slippage and gas."),
    ("left_over_capacity", "int64", "Profitable accounts left beyond the liquidators' capacity or capital."),
    ("waiting_latency", "int64", "Eligible accounts within their latency, or held back by the protocol's limits."),
    ("collateral_seized_usd", "float64", "Collateral seized this block, at the oracle's prices."),
    ("debt_repaid_usd", "float64", "Debt repaid this block, at the oracle's prices."),
    ("bad_debt_written_off_usd", "float64", "Bad debt written off so far (cumulative)."),
    ("eligible_shortfall_usd", "float64", "Debt above collateral of the eligible accounts."),
    ("gas_gwei", "float64", "The block's gas price."),
))

EVENTS = TableSchema("events", "liquidated account x block", _cols(
    ("block", "int64", "Block index."),
    ("time", "int64", "Block start, Unix seconds (UTC)."),
    ("account_id", ACCOUNT_ID, "The account, as the book names it."),
    ("calls", "int64", "Liquidation calls on the account this block."),
    ("collateral_seized_usd", "float64", "Collateral seized, at the oracle's prices of the calls."),
    ("debt_repaid_usd", "float64", "Debt repaid, at the oracle's prices of the calls."),
    ("bad_debt_written_off_usd", "float64", "Debt written off, at the oracle's prices."),
    ("expected_profit_usd", "float64", "The liquidator's expected profit after slippage and gas when it chose the account."),
))

ASSETS = TableSchema("assets", "tracked asset", _cols(
    ("asset", "str", "Asset symbol."),
    ("price_start", "float64", "Reference price at block 0."),
    ("reference_min", "float64", "Lowest reference price."),
    ("market_min", "float64", "Lowest venue price."),
    ("oracle_min", "float64", "Lowest oracle price."),
    ("reference_end", "float64", "Reference price at the last block."),
    ("seized", "float64", "Collateral seized from accounts, tokens (protocol fee included)."),
    ("fee", "float64", "The protocol's share of the seized collateral (or what it kept to sell itself), tokens."),
    ("sold", "float64", "Sold into the venues by liquidators, tokens."),
    ("proceeds", "float64", "USD those sales raised."),
    ("repaid", "float64", "Debt repaid, tokens."),
    ("deficit", "float64", "Debt written off, tokens."),
    ("protocol_sold", "float64", "Sold by the protocol's own sales (auctions, store front) to buyers, tokens."),
    ("protocol_proceeds", "float64", "USD the protocol's buyers paid."),
    ("returned", "float64", "Collateral the protocol's sales handed back to accounts, tokens."),
    ("inventory_end", "float64", "Tokens liquidators still hold at the end."),
))

TRADES = TableSchema("trades", "party x account x asset x kind", _cols(
    ("party", "str", "Whose balance the flow changes: account, liquidators or protocol."),
    ("account_id", ACCOUNT_ID, "The account the flow belongs to; -1 (or \"\" for text ids) for sales and purchases per asset."),
    ("asset", "str", "Asset of the flow."),
    ("kind", "str", "account: seized, received, returned, repaid, written_off, redistributed_collateral, "
                    "redistributed_debt; liquidators: received, sold, bought; protocol: fee, sold, returned."),
    ("amount", "float64", "Tokens, signed: the change of the party's balance of the asset (debt: repaid < 0)."),
    ("usd", "float64", "Its value at the oracle's prices of the calls (sales: what they raised), same sign."),
))
"""The liquidation outcome as signed trades per asset (:mod:`liqcascade.engine.trades`)."""

SUMMARY = TableSchema("summary", "run", _cols(
    ("accounts", "int64", "Accounts in the book."),
    ("blocks", "int64", "Blocks simulated."),
    ("block_seconds", "float64", "Seconds per block."),
    ("accounts_liquidated", "int64", "Accounts liquidated at least once."),
    ("liquidation_calls", "int64", "Liquidation calls."),
    ("collateral_seized_usd", "float64", "Collateral seized, at the oracle's prices of the calls."),
    ("debt_repaid_usd", "float64", "Debt repaid, at the oracle's prices of the calls."),
    ("liquidator_proceeds_usd", "float64", "USD liquidators' sales raised."),
    ("bad_debt_written_off_usd", "float64", "Debt the protocol's rules wrote off during liquidations."),
    ("bad_debt_unrecoverable_usd", "float64", "Debt no collateral is left against at the end, beyond what was so before."),
    ("bad_debt_aftermarket_usd", "float64", "Debt the protocol's own sales finished without covering."),
    ("bad_debt_usd", "float64", "Written off + unrecoverable + aftermarket."),
    ("bad_debt_before_usd", "float64", "Debt already unrecoverable before the run, at the final prices."),
    ("below_hf1_accounts_end", "int64", "Accounts with HF < 1 and collateral at the end."),
    ("below_hf1_debt_usd_end", "float64", "Their debt."),
    ("shortfall_end_usd", "float64", "Their debt above collateral."),
    ("eligible_accounts_end", "int64", "Eligible accounts in the last block."),
    ("left_unprofitable_block_max", "int64", "Most accounts left unprofitable in one block."),
    ("left_over_capacity_block_max", "int64", "Most accounts left over capacity in one block."),
    ("first_eligible_block", "int64", "First block with an eligible account (-1: none)."),
    ("last_liquidation_block", "int64", "Last block with a liquidation (-1: none)."),
    ("cleared", "bool", "Nothing eligible in the last block."),
    ("time_to_clear_s", "float64", "First eligible block to last liquidation, when cleared (NaN otherwise)."),
    ("inventory_unsold_usd", "float64", "Liquidators' unsold tokens at the last market prices."),
    ("protocol_holdings_usd", "float64", "What the protocol's own sales still hold, at the last market prices."),
), open_ended=True)
"""Preceded by the rules' ``describe()`` and ``outcome_facts()`` and followed by the
aftermarket's ``facts()``: those columns depend on the protocol."""

CONFLICTS = TableSchema("conflicts", "clamped owner action", _cols(
    ("block", "int64", "Block index the action applied before."),
    ("time", "int64", "Block start, Unix seconds (UTC)."),
    ("account_id", "str", "The account, as the event file names it."),
    ("action", "str", "withdraw, repay or borrow."),
    ("asset", "str", "Asset of the action."),
    ("asked", "float64", "Tokens the owner's action asked for."),
    ("applied", "float64", "Tokens applied after the clamp."),
    ("reason", "str", "liquidated (the simulation had liquidated the account), exceeds balance, unsafe (HF < 1 "
     "after), or dust (a repayment extended to the whole debt: it would have left less than the dust)."),
))
"""Only when the run has owners' actions (:mod:`.owners`)."""

TABLES = {t.name: t for t in (STEPS, EVENTS, ASSETS, TRADES, SUMMARY, CONFLICTS)}
