"""The books' parameters as tables behind a per-row key (issue 14, ``protocols.base.ParamTable``):
the keys and tables by hand, the Aave e-mode table against a per-row definition written out
independently, and the bytes a prepared book no longer holds."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from liqcascade.model import PositionBook
from liqcascade.protocols.aave_v3 import V3_0, V3_3, V3_5, V3_6, V3_7
from liqcascade.protocols.aave_v3.rules import AaveV3Rules
from liqcascade.protocols.base import ParamTable
from ..engine import mechanism_books as MB
from ..engine.test_static_properties import rich_books


def test_per_asset_keys_rows_by_their_asset_column_itself():
    asset = np.array([2, 0, 1, 2], dtype=np.int32)
    t = ParamTable.per_asset(asset, np.array([0.8, 0.7, 0.0]), np.array([0.05, 0.07, 0.0]), np.zeros(3))
    assert t.key is asset  # no copy: a book keyed by asset holds no column for its parameters
    assert t.lt_of(np.arange(4)).tolist() == [0.0, 0.8, 0.7, 0.0]
    assert t.bonus_of(np.array([1, 2])).tolist() == [0.05, 0.07]


def test_per_class_key_is_class_times_assets_plus_asset():
    # 2 classes x 3 assets; account 0 in class 1, account 1 in class 0
    lt = np.array([[0.8, 0.7, 0.5], [0.9, 0.93, 0.5]])
    bonus = np.array([[0.05, 0.07, 0.1], [0.01, 0.02, 0.1]])
    fee = np.broadcast_to(np.array([0.1, 0.2, 0.0]), lt.shape)
    account = np.array([0, 0, 1, 1])
    asset = np.array([0, 1, 1, 2], dtype=np.int32)
    t = ParamTable.per_class(np.array([1, 0]), account, asset, lt, bonus, fee)
    assert t.key.dtype == np.int32  # the asset ids' type: one compiled signature for every book
    assert t.key.tolist() == [3, 4, 1, 2]  # 1*3+0, 1*3+1, 0*3+1, 0*3+2
    rows = np.arange(4)
    assert t.lt_of(rows).tolist() == [0.9, 0.93, 0.7, 0.5]
    assert t.bonus_of(rows).tolist() == [0.01, 0.02, 0.07, 0.1]
    assert t.fee_of(rows).tolist() == [0.1, 0.2, 0.2, 0.0]


def test_per_class_key_widens_when_the_table_outgrows_the_asset_type():
    lt = np.zeros((200, 200))  # 40,000 keys > 32,767, the largest int16
    t = ParamTable.per_class(np.array([199]), np.array([0]), np.array([199], dtype=np.int16), lt, lt, lt)
    assert t.key.dtype == np.int64 and t.key.tolist() == [199 * 200 + 199]
    t = ParamTable.per_class(np.array([199]), np.array([0]), np.array([199], dtype=np.int32), lt, lt, lt)
    assert t.key.dtype == np.int32 and t.key.tolist() == [199 * 200 + 199]


def test_tables_of_different_lengths_are_refused():
    with pytest.raises(ValueError, match="one length"):
        ParamTable(np.zeros(2, dtype=np.int32), np.zeros(3), np.zeros(2), np.zeros(3))


def _row_by_row(rules: AaveV3Rules, book: PositionBook) -> tuple[list, list, list]:
    """Aave's effective parameters of each row written out the long way (the rule in the module
    docstring of ``aave_v3/rules.py``): the account's category's LT and bonus on a member asset
    (before v3.6 not on an asset whose own LT is 0), the asset's own otherwise; the fee always
    the asset's."""
    p = rules.params
    cats = {c.id: c for c in p.emodes}
    lt, bonus, fee = [], [], []
    for r in range(book.n_rows):
        a, k = int(book.asset[r]), int(book.account[r])
        cat = cats.get(int(book.emode[k]))
        member = cat is not None and (p.symbols[a] in cat.assets if cat.assets else p.emode_category[a] == cat.id)
        if member and rules.version < V3_6 and p.liquidation_threshold[a] <= 0:
            member = False
        lt.append(cat.liquidation_threshold if member else float(p.liquidation_threshold[a]))
        bonus.append(cat.liquidation_bonus if member else float(p.liquidation_bonus[a]))
        fee.append(float(p.protocol_fee[a]))
    return lt, bonus, fee


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rich_books(), st.sampled_from([V3_0, V3_3, V3_5, V3_6, V3_7]))
def test_aave_table_gives_every_row_its_emode_parameters(pb, version):
    params, book = pb
    rules = AaveV3Rules(params, version)
    t = rules.prepare(book).params
    rows = np.arange(book.n_rows)
    lt, bonus, fee = _row_by_row(rules, book)
    assert t.lt_of(rows).tolist() == lt
    assert t.bonus_of(rows).tolist() == bonus
    assert t.fee_of(rows).tolist() == fee
    # a book with an account in e-mode keys its rows by (class, asset); otherwise by the asset itself
    if np.any(book.emode):
        assert t.key.dtype == book.asset.dtype and t.lt.shape == (2 * len(params.symbols),)
    else:
        assert t.key is book.asset and t.lt.shape == (len(params.symbols),)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rich_books())
def test_a_prepared_book_holds_no_per_row_parameters(pb):
    """The bytes per row of a prepared book: asset (2, int16 ids), collateral and debt (8 + 8), and a
    2-byte key (the asset ids' type) when some account is in e-mode; the tables are a few numbers per asset
    (formerly three float64 a row more: 24 B)."""
    params, book = pb
    a = AaveV3Rules(params, V3_3).prepare(book)
    rows = {id(x): x.nbytes for x in (a.asset, a.coll, a.debt, a.params.key)}
    assert sum(rows.values()) == book.n_rows * (18 + (2 if np.any(book.emode) else 0))
    assert sum(x.nbytes for x in (a.params.lt, a.params.bonus, a.params.fee)) <= 3 * 8 * 2 * len(params.symbols)


@pytest.mark.parametrize("protocol", MB.PROTOCOLS)
def test_every_mechanism_keys_rows_by_asset(protocol):
    """The other families' parameters are a function of the row's asset: the key is the book's
    asset column and each table has one entry per asset."""
    book = MB.troves([(10.0, 12000.0), (5.0, 3000.0)])
    a = MB.make_rules(protocol).prepare(book)
    assert a.params.key is a.asset and a.params.lt.shape == a.params.bonus.shape == (3,)


def test_the_overridden_tables_by_hand():
    """Liquity's LT is 1 / MCR on its collateral (0 elsewhere) and no bonus; Morpho's bonus is
    its LIF - 1, LIF = 1 / (0.3 LLTV + 0.7) (capped at 1.15): WETH 1 / 0.94, WBTC 1 / 0.925."""
    book = MB.troves([(10.0, 12000.0)])
    liq = MB.make_rules("liquity_v1").prepare(book).params
    assert liq.lt.tolist() == [1.0 / 1.1, 0.0, 0.0] and liq.bonus.tolist() == [0.0, 0.0, 0.0]
    morpho = MB.make_rules("morpho_blue").prepare(book).params
    np.testing.assert_allclose(morpho.bonus[:2], [1 / 0.94 - 1, 1 / 0.925 - 1], rtol=1e-15)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rich_books())
def test_a_sorted_book_moves_the_key_with_its_rows(pb):
    """After a solver sorts its book, the key is still the asset column itself when the rows are
    keyed by asset, or a column of its own (e-mode) moved with the rows: every sorted row
    keeps the parameters it had in the model's book."""
    from liqcascade.engine.static import MarketModel, StaticCascade

    params, book = pb
    rules = AaveV3Rules(params, V3_3)
    solver = StaticCascade(MarketModel(book, rules, np.array([2000.0, 1900.0, 1.0, 1.0])))
    solver.sort_all()
    b, perm = solver._base, solver._perm
    assert (b.params.key is b.asset) == (not np.any(book.emode))
    # the sorted rows are the model's accounts in ``perm`` order, each account's rows in order
    orig_rows = np.concatenate([np.arange(book.offsets[k], book.offsets[k + 1]) for k in perm] + [np.zeros(0, int)])
    want = rules.prepare(book).params
    np.testing.assert_array_equal(b.params.lt_of(np.arange(book.n_rows)), want.lt_of(orig_rows))
    np.testing.assert_array_equal(b.params.bonus_of(np.arange(book.n_rows)), want.bonus_of(orig_rows))


def test_account_class_by_table_and_by_comparison_by_hand():
    from liqcascade.protocols.aave_v3.rules import _account_class
    # ids 3, -2, 3 again (the later class wins), 70000 (no int16 holds it: no account's)
    ids = [3, -2, 3, 70000]
    emode = np.array([0, 3, -2, 5, 3, -1], dtype=np.int16)
    want = [0, 3, 2, 0, 3, 0]
    narrow = _account_class(emode, ids)
    assert narrow.dtype == np.int16 and narrow.tolist() == want
    wide = _account_class(emode.astype(np.int64), ids)  # compared id by id
    assert wide.dtype == np.int16 and wide.tolist() == want
    unsigned = _account_class(np.array([65535, 3, 0], dtype=np.uint16), [65535, 3])
    assert unsigned.tolist() == [1, 2, 0]
    assert _account_class(np.zeros(0, dtype=np.int16), [1]).shape == (0,)


def test_per_class_key_from_negative_free_classes_of_a_narrow_type():
    # classes as int16 (what the Aave rules now give); keys 2 * 4 + asset and 0 * 4 + asset
    lt = np.zeros((3, 4))
    t = ParamTable.per_class(np.array([2, 0], dtype=np.int16), np.array([0, 1, 1], dtype=np.int32),
                             np.array([3, 0, 1], dtype=np.int16), lt, lt, lt)
    assert t.key.dtype == np.int16 and t.key.tolist() == [11, 0, 1]
