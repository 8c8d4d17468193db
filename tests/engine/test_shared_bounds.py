"""A solver's first run keeps its per-account HF bounds in the HF0 array (issue 14, memory: 8 B an
account fewer for a one-shot run). Whatever comes after -- a second run, a twin, flows replayed,
the curve's tighter first bounds -- sees HF0 made whole again, bit for bit, and gives the numbers
of a fresh solver."""

from __future__ import annotations

import dataclasses

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from liqcascade.engine.static import SortedBook, StaticCascade
from liqcascade.protocols.aave_v3 import V3_3, V3_7

from .test_presorted_book import PRICES, _model
from .test_static_properties import rich_books


def _same_outcome(a, b):
    np.testing.assert_array_equal(a.prices_final, b.prices_final)
    np.testing.assert_array_equal(a.per_account(a.tallies.acct_calls), b.per_account(b.tallies.acct_calls))
    np.testing.assert_array_equal(a.per_account(a.tallies.acct_seized_usd), b.per_account(b.tallies.acct_seized_usd))
    assert a.rounds == b.rounds


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rich_books(), st.sampled_from([V3_3, V3_7]), st.lists(st.floats(-0.3, 0.85), min_size=2, max_size=3),
       st.booleans())
def test_runs_after_the_first_see_hf0_whole(pb, version, shocks, ordered):
    params, book = pb
    model = _model(params, book, version)
    if ordered:
        model = dataclasses.replace(model, book=book.in_health_order(model.rules, PRICES))
    solver = StaticCascade(model)
    for i, s in enumerate(shocks):
        shock = {"WETH": s, "stETH": s}
        got = solver.run(shock)
        if i == 0 and solver._q_dirty:  # the bounds were written into the HF0 array
            assert solver._q is solver._hf0_sorted
        _same_outcome(got, StaticCascade(model).run(shock))
        # HF0 whole again (or never written): that of a book sorted at once
        solver._own_bounds()
        whole = SortedBook.of(model).hf0_sorted
        np.testing.assert_array_equal(solver._hf0_sorted[: solver._book.n_sorted], whole[: solver._book.n_sorted])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rich_books(), st.floats(0.05, 0.85), st.floats(-0.3, 0.85))
def test_a_twin_and_a_replay_after_a_first_run_give_a_fresh_solvers_numbers(pb, first, second):
    params, book = pb
    model = _model(params, book, V3_3)
    solver = StaticCascade(model)
    solver.run({"WETH": first, "stETH": first}, keep_arrays=False)
    other = solver.twin()
    assert other._q is not other._hf0_sorted and solver._q is not solver._hf0_sorted
    shock = {"WETH": second, "stETH": second}
    fresh = StaticCascade(model).run(shock, trades=True)
    for out in (other.run(shock, trades=True), solver.run(shock, trades=True)):
        _same_outcome(out, fresh)
        np.testing.assert_array_equal(out.tallies.flows, fresh.tallies.flows)


def test_a_first_run_replaying_flows_gives_the_recorded_flows():
    """Flows replayed after a solver's first run read HF0 after the cascade wrote its bounds: made
    whole first, the replay gives the flows a cascade recording every row gives."""
    from liqcascade.model import AssetParams, PositionBook, RiskParams

    params = RiskParams.from_assets([AssetParams("WETH", 18, 0.8, 0.85, 0.05, 0.1),
                                     AssetParams("stETH", 18, 0.7, 0.8, 0.07, 0.1),
                                     AssetParams("USDC", 6, 0.75, 0.78, 0.045, 0.1),
                                     AssetParams("GHO", 18, 0.0, 0.0, 0.0, 0.0)])
    # HF0 0.85 * 2000 * 1 / d: 1.7 (d 1000), 1.133 (1500), 0.944 (1800): a 30 % fall takes all three
    book = PositionBook.from_rows(["a", "a", "b", "b", "c", "c"], [0, 2, 0, 2, 0, 2], [1.0, 0, 1.0, 0, 1.0, 0],
                                  [0, 1000.0, 0, 1500.0, 0, 1800.0], params.symbols)
    model = _model(params, book, V3_3)
    shock = {"WETH": 0.3}
    replayed = StaticCascade(model).run(shock, trades=True)
    recorded = StaticCascade(model).run(shock, trades=True, replay_ok=False)
    assert replayed.flow_rows is not None and recorded.flow_rows is None
    assert (replayed.tallies.acct_calls > 0).sum() >= 2  # "b" (0.85 * 1400 / 1500 = 0.79) and "c" (0.66)
    np.testing.assert_array_equal(replayed.tallies.flows, recorded.tallies.flows[replayed.flow_rows])
