"""The shape of the block-by-block engine (issue 11): tables follow their schema, rules
declare their capabilities and the engine reads the declaration, named records keep their
fields, and each step stays a short function."""

from __future__ import annotations

import ast
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from liqcascade.engine.dynamic import Liquidators, SimSettings, simulate
from liqcascade.engine.dynamic.records import AssetTotals, BlockCounts, BlockRecords, BlockUsd
from liqcascade.engine.dynamic.schema import ACCOUNT_ID, ASSETS, EVENTS, STEPS, SUMMARY, TRADES, TableSchema
from liqcascade.engine.static import MarketModel
from liqcascade.markets.cpmm import ConstantProductPool
from liqcascade.markets.oracle import Instant
from liqcascade.protocols.aave_v3 import V3_3
from liqcascade.protocols.aave_v3.rules import AaveV3Rules
from liqcascade.protocols.base import Capabilities, HoldsByLimits, SellsOverTime, SoftLiquidates
from liqcascade.protocols.compound_v2.rules import CompoundV2Rules
from liqcascade.protocols.compound_v3.rules import CometRules
from liqcascade.protocols.crvusd.rules import CrvUsdRules
from liqcascade.protocols.euler_v2.rules import EulerV2Rules
from liqcascade.protocols.liquity_v1.rules import LiquityV1Rules
from liqcascade.protocols.liquity_v2.rules import LiquityV2Rules
from liqcascade.protocols.maker.clipper import ClipperSettings
from liqcascade.protocols.maker.rules import MakerRules
from liqcascade.protocols.morpho_blue.rules import MorphoBlueRules
from liqcascade.scenarios import linear_shock

from . import mechanism_books as mb
from .conftest import PARAMS, PRICES, book

UNBOUNDED = Liquidators(calls_per_account=64, gas_asset=None, min_profit_usd=-math.inf)
DYNAMIC_SRC = Path(__file__).resolve().parents[2] / "src" / "liqcascade" / "engine" / "dynamic"


def _aave_run(rules=None):
    """Three WETH borrowers of USDC at HF 1.02, 1.10 and 1.50 (0.85 * 2000 * coll / debt);
    WETH falls 25 % over 5 blocks into a $2M pool: the first two (HF < 1 / 0.75) are liquidated."""
    b = book([(0, "WETH", 1.0, 0.0), (0, "USDC", 0.0, 1666.0), (1, "WETH", 2.0, 0.0), (1, "USDC", 0.0, 3090.0),
              (2, "WETH", 3.0, 0.0), (2, "USDC", 0.0, 3400.0)])
    m = MarketModel(b, rules or AaveV3Rules(PARAMS, V3_3), PRICES,
                    {"WETH": ConstantProductPool.from_price_depth("WETH", 2000.0, 2e6)})
    path = linear_shock({"WETH": 2000.0}, {"WETH": -0.25}, duration_blocks=5, n_blocks=10)
    return m, simulate(m, path, Instant(), SimSettings(UNBOUNDED))


def _dtype_ok(col: pd.Series, dtype: str, ids: np.ndarray) -> bool:
    if dtype == ACCOUNT_ID:
        return col.dtype == ids.dtype
    if dtype == "str":
        return pd.api.types.is_string_dtype(col.dtype)
    return str(col.dtype) == dtype


def _check_table(df: pd.DataFrame, schema: TableSchema, ids: np.ndarray) -> None:
    if schema.open_ended:  # the schema's columns in order, somewhere in the row
        names = list(df.columns)
        start = names.index(schema.names[0])
        assert names[start:start + len(schema.names)] == schema.names
    else:
        assert list(df.columns) == schema.names
    wrong = [c.name for c in schema.columns if not _dtype_ok(df[c.name], c.dtype, ids)]
    assert not wrong, f"{schema.name}: columns of another dtype than the schema's: {wrong}"


def test_an_aave_run_writes_every_table_as_its_schema_says():
    m, res = _aave_run()
    assert res.summary["accounts_liquidated"] == 2  # HF 1.5 * 0.75 = 1.125 stays above 1
    for schema in (STEPS, EVENTS, ASSETS, TRADES, SUMMARY):
        _check_table(res[schema.name], schema, m.book.account_ids)
    # steps: one row per block for WETH (on the path); USDC never moved and was not seized,
    # so it has no price rows, but it was repaid, so it has an assets row
    assert len(res["steps"]) == 10 and set(res["steps"]["asset"]) == {"WETH"}
    assert res["assets"]["asset"].tolist() == ["WETH", "USDC"]


def test_a_maker_run_with_auctions_follows_the_schema_and_adds_its_facts_after_it():
    # keepers take once the price has stepped down to 95 % of the market (2340 * 0.99^32 at
    # 90 s a step: 240 blocks after the kick), so the auction ends within the 400 blocks
    rules = MakerRules(mb.PARAMS, auctions=ClipperSettings(buf=1.3, tail=10_000, cut=0.99, step=90, keeper_margin=0.05))
    b = mb.book([(0, "WETH", 1.0, 0.0), (0, "USDC", 0.0, 1500.0), (1, "WETH", 1.0, 0.0), (1, "USDC", 0.0, 1000.0)])
    m = MarketModel(b, rules, mb.PRICES, mb.pool(5e6))
    path = linear_shock({"WETH": 2000.0}, {"WETH": -0.10}, duration_blocks=1, n_blocks=400)
    res = simulate(m, path, Instant(), SimSettings(UNBOUNDED, check_conservation=True))
    assert res.summary["accounts_liquidated"] == 1  # 0.8 * 1800 = 1440 < 1500; 1440 > 1000
    for schema in (STEPS, EVENTS, ASSETS, TRADES, SUMMARY):
        _check_table(res[schema.name], schema, b.account_ids)
    names = list(res["summary"].columns)
    assert names.index("auctions_kicked") > names.index(SUMMARY.names[-1])
    assert res.summary["auctions_finished"] == 1


RULES = {
    AaveV3Rules: Capabilities(
        capped_calls=True, unrecoverable_from_health=True, scans_since=True, priced_by_rows=True,
        debt_free_bound=True,
    ),
    CompoundV2Rules: Capabilities(aftermarket=True, capped_calls=True),
    CometRules: Capabilities(aftermarket=True),
    EulerV2Rules: Capabilities(aftermarket=True, capped_calls=True),
    MorphoBlueRules: Capabilities(aftermarket=True, capped_calls=True),
    MakerRules: Capabilities(aftermarket=True, held_by_limits=True, aftermarket_gas=True),
    LiquityV1Rules: Capabilities(global_effects=True, aftermarket=True),
    LiquityV2Rules: Capabilities(global_effects=True, aftermarket=True),
    CrvUsdRules: Capabilities(soft_liquidation=True, capped_calls=True),
}


@pytest.mark.parametrize("cls", list(RULES), ids=lambda c: c.__name__)
def test_every_rule_set_declares_its_capabilities_and_implements_them(cls):
    caps = cls.capabilities
    assert caps == RULES[cls]
    # a declared capability is the typed protocol's method, present on the class
    assert not caps.aftermarket or callable(getattr(cls, "aftermarket", None))
    assert not caps.held_by_limits or callable(getattr(cls, "held_by_limits", None))
    assert not caps.soft_liquidation or callable(getattr(cls, "soft_step", None))
    assert not caps.aftermarket_gas or caps.aftermarket
    assert not caps.scans_since or callable(getattr(cls, "scan_since", None))


def test_the_typed_protocols_recognise_the_rules_that_declare_them():
    maker = MakerRules(mb.PARAMS)
    assert isinstance(maker, SellsOverTime) and isinstance(maker, HoldsByLimits)
    assert not isinstance(AaveV3Rules(PARAMS, V3_3), HoldsByLimits)
    assert isinstance(CrvUsdRules(PARAMS, debt_asset="DAI"), SoftLiquidates)
    assert not isinstance(AaveV3Rules(PARAMS, V3_3), SoftLiquidates)


@dataclass(frozen=True)
class _AaveWithAnUndeclaredAftermarket(AaveV3Rules):
    def aftermarket(self, n_assets):
        raise AssertionError("the engine asked for an aftermarket the rules do not declare")

    def held_by_limits(self, arrays, prices, accounts):
        raise AssertionError("the engine asked for limits the rules do not declare")


def test_the_engine_reads_the_declaration_not_the_attributes():
    """Methods present but not declared are not called: the run equals the plain rules'."""
    _, plain = _aave_run()
    _, other = _aave_run(_AaveWithAnUndeclaredAftermarket(PARAMS, V3_3))
    for name in ("steps", "events", "assets"):
        pd.testing.assert_frame_equal(plain[name], other[name])


def test_asset_totals_are_the_assets_tables_total_columns_in_order():
    names = [name for name, _ in AssetTotals.zeros(2).items()]
    assert names == ASSETS.names[ASSETS.names.index("seized"):ASSETS.names.index("inventory_end")]


def test_block_records_keep_each_named_field_in_its_own_column():
    rec = BlockRecords.empty(3, 2)
    rec.write(1, np.array([1.0, 2.0]), np.array([3.0, 4.0]), np.array([5.0, 6.0]),
              BlockCounts(eligible=7, liquidated=2, calls=3, unprofitable=4, over_capacity=1, waiting=5),
              BlockUsd(seized_usd=10.0, repaid_usd=9.0, written_off_usd=0.5, shortfall_usd=0.25, gas_gwei=20.0))
    assert rec.eligible.tolist() == [0, 7, 0] and rec.waiting.tolist() == [0, 5, 0]
    assert rec.over_capacity[1] == 1 and rec.unprofitable[1] == 4 and rec.calls[1] == 3 and rec.liquidated[1] == 2
    assert (rec.seized_usd[1], rec.repaid_usd[1], rec.written_off_usd[1], rec.shortfall_usd[1], rec.gas_gwei[1]) == (
        10.0, 9.0, 0.5, 0.25, 20.0)
    assert rec.market[1].tolist() == [3.0, 4.0] and rec.oracle[1].tolist() == [5.0, 6.0]


def test_each_function_of_the_engine_stays_short():
    """The loop delegates to one function per step; none grows back into a long one."""
    long = []
    for path in sorted(DYNAMIC_SRC.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno >= 60:
                long.append(f"{path.name}:{node.name}")
    assert not long
