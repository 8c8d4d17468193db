"""Books kept in health order (issue 14): ``PositionBook.in_health_order`` puts the accounts in the
order the solver's stable sort of HF0 gives them, and a solver at those prices works on the book's
own layout (no sorted copy). Every table is the same as for the book it was made from, ties in HF
included; a marker that does not hold (other prices, or a book not in that order) is checked and
the solver sorts as before."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from liqcascade.engine.run import run_static
from liqcascade.engine.static import MarketModel, SortedBook, StaticCascade
from liqcascade.markets.cpmm import ConstantProductPool
from liqcascade.model import AssetParams, HealthOrder, PositionBook, RiskParams
from liqcascade.protocols.aave_v3 import V3_3, V3_7
from liqcascade.protocols.aave_v3.rules import AaveV3Rules

from .test_static_properties import rich_books

PRICES = np.array([2000.0, 1900.0, 1.0, 1.0])


def _model(params, book, version=V3_3, prices=PRICES):
    venues = {"WETH": ConstantProductPool.from_price_depth("WETH", 2000.0, 1e4),
              "stETH": ConstantProductPool.from_price_depth("stETH", 1900.0, 5e3)}
    return MarketModel(book, AaveV3Rules(params, version), prices, venues)


def _relabelled(book: PositionBook, labels: list[str]) -> PositionBook:
    """The same holdings under text labels whose sorted order is ``labels``' (from_rows orders
    accounts by label, so the accounts come in another order than the integer book's)."""
    ids = np.asarray(labels, dtype=object)[book.account]
    return PositionBook.from_rows(ids, book.asset, book.collateral, book.debt, book.assets,
                                  emode=book.emode[book.account])


def _same_tables(a, b):
    assert list(a.tables) == list(b.tables)
    for name in a.tables:
        pd.testing.assert_frame_equal(a[name], b[name], check_exact=True)


def _tie_book():
    """Five accounts, three of them with the very same holdings (equal HF), labels not in
    health order: a tie the order must break as the solver's stable sort does."""
    params = RiskParams.from_assets([AssetParams("WETH", 18, 0.8, 0.85, 0.05, 0.1),
                                     AssetParams("USDC", 6, 0.75, 0.78, 0.045, 0.1)])
    # HF0 at WETH 2000: 0.85 * 2000 / 1500 = 1.1333 for the three twins, 0.85*2000/1000 = 1.7,
    # 0.85 * 2000 / 1800 = 0.944 (eligible before any shock)
    ids = ["e", "e", "b", "b", "d", "d", "a", "a", "c", "c"]
    assets = [0, 1] * 5
    coll = [1.0, 0.0] * 5
    debt = [0.0, 1500.0, 0.0, 1500.0, 0.0, 1000.0, 0.0, 1800.0, 0.0, 1500.0]
    book = PositionBook.from_rows(ids, assets, coll, debt, params.symbols)
    return params, book


def test_a_tie_in_hf_is_broken_as_the_solver_sorts():
    params, book = _tie_book()
    prices = np.array([2000.0, 1.0])
    model = MarketModel(book, AaveV3Rules(params, V3_3), prices,
                        {"WETH": ConstantProductPool.from_price_depth("WETH", 2000.0, 50.0)})
    ordered = book.in_health_order(model.rules, prices)
    # by label the accounts are a, b, c, d, e; by HF a (0.944), then the twins b, c, e in label
    # order (the stable sort keeps the book's order among equals), then d (1.7)
    assert ordered.account_ids.tolist() == ["a", "b", "c", "e", "d"]
    assert ordered.health_order.rank.tolist() == [0, 1, 2, 4, 3]
    assert ordered.health_order.prices == (2000.0, 1.0)
    np.testing.assert_array_equal(SortedBook.of(model).perm, [0, 1, 2, 4, 3])
    fast = SortedBook.partial(dataclasses.replace(model, book=ordered), 0.0)
    assert (fast.n_sorted, fast.sorted_below) == (5, np.inf)
    np.testing.assert_array_equal(fast.perm, np.arange(5))
    a = run_static(model, {"WETH": 0.2})
    b = run_static(dataclasses.replace(model, book=ordered), {"WETH": 0.2})
    ids = a["accounts"]["account_id"].tolist()
    assert {"a", "b", "c", "e"} <= set(ids) and ids == sorted(ids)  # by label, as the book lists them
    _same_tables(a, b)


def test_the_ordered_book_holds_each_account_with_its_own_rows():
    params, book = _tie_book()
    ordered = book.in_health_order(AaveV3Rules(params, V3_3), np.array([2000.0, 1.0]))
    assert np.all(np.diff(ordered.account) >= 0) and ordered.offsets[-1] == book.n_rows
    for k, label in enumerate(ordered.account_ids.tolist()):
        j = book.account_ids.tolist().index(label)
        s, e = ordered.offsets[k], ordered.offsets[k + 1]
        s0, e0 = book.offsets[j], book.offsets[j + 1]
        for new, old in ((ordered.asset, book.asset), (ordered.collateral, book.collateral),
                         (ordered.debt, book.debt)):
            np.testing.assert_array_equal(new[s:e], old[s0:e0])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rich_books(), st.sampled_from([V3_3, V3_7]), st.lists(st.floats(-0.3, 0.85), min_size=1, max_size=3),
       st.randoms(use_true_random=False))
def test_an_ordered_book_gives_the_same_tables_without_a_sorted_copy(pb, version, shocks, rnd):
    params, book = pb
    labels = [f"acct-{i:03d}" for i in range(book.n_accounts)]
    rnd.shuffle(labels)
    book = _relabelled(book, labels)
    model = _model(params, book, version)
    ordered_model = dataclasses.replace(model, book=book.in_health_order(model.rules, PRICES))
    fast = SortedBook.partial(ordered_model, 0.0)
    assert fast.n_sorted == book.n_accounts  # in order: nothing to sort, nothing gathered
    np.testing.assert_array_equal(fast.perm, np.arange(book.n_accounts))
    np.testing.assert_array_equal(fast.hf0_sorted, SortedBook.of(model).hf0_sorted)
    assert np.all(np.diff(fast.hf0_sorted) >= 0) or np.isnan(fast.hf0_sorted).any()
    warm = StaticCascade(ordered_model)  # one solver, several runs: the reused buffers too
    for s in shocks:
        shock = {"WETH": s, "stETH": s}
        _same_tables(run_static(model, shock), run_static(ordered_model, shock))
        a, b = StaticCascade(model).run(shock), warm.run(shock)
        np.testing.assert_array_equal(a.prices_final, b.prices_final)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rich_books(), st.floats(0.5, 0.95), st.randoms(use_true_random=False))
def test_a_marker_that_does_not_hold_is_checked_and_the_book_sorted(pb, move, rnd):
    """A book ordered at other prices, and one whose marker names the run's prices though its
    accounts are shuffled: the solver sorts them (the check fails) and the tables are the same."""
    params, book = pb
    model = _model(params, book)
    other = PRICES * np.array([move, 1.0, 1.0, 1.0])
    at_other = dataclasses.replace(model, book=book.in_health_order(model.rules, other))
    order = list(range(book.n_accounts))
    rnd.shuffle(order)
    shuffled = book.permuted(np.array(order), HealthOrder(tuple(PRICES), np.array(order)))
    full = SortedBook.of(model)
    for m in (at_other, dataclasses.replace(model, book=shuffled)):
        sb = SortedBook.partial(m, np.inf)
        # the same accounts in the same working order (ties included), whichever path was taken
        np.testing.assert_array_equal(m.book.output_rank[sb.perm], full.perm)
        np.testing.assert_array_equal(sb.hf0_sorted, full.hf0_sorted)
        for shock in (0.4, -0.2):
            _same_tables(run_static(model, {"WETH": shock}), run_static(m, {"WETH": shock}))


def test_a_rank_must_be_a_permutation():
    import pytest

    from liqcascade.errors import DataError

    with pytest.raises(DataError, match="permutation"):
        HealthOrder((1.0,), np.array([0, 0, 2]))
    _, book = _tie_book()
    with pytest.raises(DataError, match="permutation"):
        book.permuted(np.array([0, 1, 2, 3, 5]), None)


def test_new_amounts_keep_the_order_but_not_the_prices():
    params, book = _tie_book()
    ordered = book.in_health_order(AaveV3Rules(params, V3_3), np.array([2000.0, 1.0]))
    half = ordered.with_amounts(ordered.collateral * 0.5, ordered.debt)
    assert half.health_order.prices == () and not half.health_order.at(np.array([2000.0, 1.0]))
    np.testing.assert_array_equal(half.output_rank, ordered.output_rank)
    moved = ordered.reindex_assets(("USDC", "WETH"))
    assert moved.health_order.prices == (1.0, 2000.0)


def test_liquidators_with_one_call_a_round_break_a_profit_tie_as_for_the_source_book(one_numba_thread):
    """Two accounts with the same debt (16,000 USDC) and so the same first call and profit at WETH
    -10 %, "a" (10.2 WETH, HF 0.975 at 1,800) listed before "b" (10 WETH, HF 0.956); in health
    order "b" comes first. One call a round: "a" goes in round 1 in both books, "b" in round 2 at
    the price the first sale left, so the tables are the same only if the tie falls in listing order."""
    from liqcascade.engine.system import SystemModel
    from liqcascade.engine.system_liquidators import StaticLiquidators
    from liqcascade.engine.system_run import run_system

    from .conftest import PARAMS, PRICES, book

    drawn = book([("a", "WETH", 10.2, 0), ("a", "USDC", 0, 16_000.0), ("b", "WETH", 10.0, 0), ("b", "USDC", 0, 16_000.0)])
    rules = AaveV3Rules(PARAMS, V3_3)
    ordered = drawn.in_health_order(rules, PRICES)
    assert ordered.account_ids.tolist() == ["b", "a"]
    venue = {"WETH": ConstantProductPool.from_price_depth("WETH", 2000.0, 50.0)}

    def system(b):
        return SystemModel(PARAMS.symbols, PRICES, {"M": MarketModel(b, rules, PRICES, {})}, venue,
                           liquidators=(StaticLiquidators(calls_per_round=1),))

    a, b = run_system(system(drawn), {"WETH": 0.1}), run_system(system(ordered), {"WETH": 0.1})
    assert set(a.tables) == set(b.tables)
    for name in a.tables:
        pd.testing.assert_frame_equal(a[name], b[name], check_exact=True)
    trades = a["trades"]
    first = trades[(trades["party"] == "account") & (trades["account_id"] == "a")]
    assert len(first)  # "a" was liquidated


def test_a_simulation_on_a_book_in_health_order_gives_the_same_tables(one_numba_thread):
    """The dynamic engine (one liquidation a block, so accounts go one by one, and a trades
    table listing accounts in book order) on the book as drawn and in health order: the same
    tables, bit for bit."""
    import math

    from liqcascade.engine.dynamic import Liquidators, SimSettings, simulate
    from liqcascade.markets.oracle import Instant
    from liqcascade.scenarios import instant_shock

    from .conftest import PARAMS, book

    rng = np.random.default_rng(3)
    rows = []
    for k in rng.permutation(60):  # labels not in health order
        weth = float(rng.lognormal(1, 0.5))
        rows += [(f"acct-{k:02d}", "WETH", weth, 0.0), (f"acct-{k:02d}", "USDC", 0.0, weth * 2000 * 0.85 / (1.0 + rng.beta(1.2, 5)))]
    drawn = book(rows)
    prices = np.array([2000.0, 1.0, 1.0])
    rules = AaveV3Rules(PARAMS, V3_3)
    ordered = drawn.in_health_order(rules, prices)
    assert ordered.account_ids.tolist() != drawn.account_ids.tolist()
    venues = {"WETH": ConstantProductPool.from_price_depth("WETH", 2000.0, 2e5)}
    path = instant_shock({"WETH": 2000.0}, {"WETH": -0.15}, n_blocks=40)
    settings_ = SimSettings(Liquidators(liquidations_per_block=1, gas_asset=None, min_profit_usd=-math.inf))
    a = simulate(MarketModel(drawn, rules, prices, venues), path, Instant(), settings_)
    b = simulate(MarketModel(ordered, rules, prices, venues), path, Instant(), settings_)
    assert a.summary["accounts_liquidated"] > 1
    for name in a.tables:
        pd.testing.assert_frame_equal(a[name], b[name], check_exact=True)
