"""Flows kept only for the liquidated accounts' rows (``engine/flow_replay.py``): the replay of
those accounts at each round's prices gives the flows the cascade records for every row, bit for
bit, and a replay that does not end where the cascade did is refused (the cascade then records
every row's flows)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from liqcascade.engine import flow_replay
from liqcascade.engine.static import CascadeSettings, MarketModel, StaticCascade, _row_index
from liqcascade.engine.trades import static_trades
from liqcascade.protocols.aave_v3 import V3_0, V3_3
from liqcascade.protocols.aave_v3.rules import AaveV3Rules
from liqcascade.protocols.base import LiquidationLimits

from . import mechanism_books as mb
from .mechanism_books import PARAMS, PRICES

QUIET = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]

pytestmark = pytest.mark.usefixtures("one_numba_thread")


def rules_of(protocol: str):
    if protocol.startswith("aave"):
        return AaveV3Rules(PARAMS, V3_3 if protocol == "aave_v3.3" else V3_0)
    return mb.make_rules(protocol)


def both(model: MarketModel, cascade: CascadeSettings, shocks):
    """The cascade with flows kept the replay's way (where the rules allow) and for every row."""
    kept = StaticCascade(model, cascade).run(shocks, trades=True)
    every = StaticCascade(model, cascade).run(shocks, trades=True, replay_ok=False)
    return kept, every


@pytest.mark.parametrize("protocol", ("aave_v3.0", "aave_v3.3") + mb.PROTOCOLS)
@settings(max_examples=15, deadline=None, suppress_health_check=QUIET)
@given(data=st.data())
def test_replayed_flows_are_the_recorded_ones(protocol, data):
    b = data.draw(mb.books("compound_v2" if protocol.startswith("aave") else protocol, 5, 40))
    shocks = {"WETH": data.draw(st.floats(0.0, 0.6)), "WBTC": data.draw(st.floats(-0.2, 0.5))}
    limits = LiquidationLimits(max_calls_per_account=data.draw(st.integers(1, 64)),
                               min_repay_usd=data.draw(st.sampled_from([0.0, 50.0])))
    cascade = CascadeSettings(limits=limits, buy_debt=data.draw(st.booleans()),
                              sell_fraction=data.draw(st.sampled_from([1.0, 0.5])))
    model = MarketModel(b, rules_of(protocol), PRICES, mb.pool(data.draw(st.sampled_from([2e4, 2e5, 2e7]))))
    kept, every = both(model, cascade, shocks)
    assert every.flow_rows is None and every.tallies.flows.shape == (b.n_rows, every.tallies.flows.shape[1])
    # Liquity's redistribution moves other troves' rows: those record every row
    assert (kept.flow_rows is None) == (protocol in mb.LIQUITY)
    if kept.flow_rows is not None:
        rows = kept.flow_rows
        assert np.array_equal(kept.tallies.flows, every.tallies.flows[rows])  # bit for bit
        rest = np.ones(b.n_rows, dtype=bool)
        rest[rows] = False
        assert not every.tallies.flows[rest].any()
        # only the rows of liquidated (touched) accounts are kept, in book order
        touched_rows = np.repeat(kept.touched, np.diff(kept.arrays.offsets))
        assert np.array_equal(np.sort(rows), np.flatnonzero(touched_rows))
        owner = kept.account_order[np.searchsorted(kept.arrays.offsets, rows, side="right") - 1]
        assert np.all((np.diff(owner) > 0) | ((np.diff(owner) == 0) & (np.diff(rows) == 1)))
        assert np.array_equal(kept.flow_accounts, owner)
    pd.testing.assert_frame_equal(static_trades(model, kept), static_trades(model, every), check_exact=True)


def test_a_replay_that_ends_elsewhere_is_refused():
    """Two accounts, the second liquidated only in the cascade's second round: at WETH 1440 (a
    28 % shock) account 0's HF is 0.8 * 1440 / 1450 = 0.79 and account 1's 0.8 * 1440 / 1150 =
    1.0017; the first's sale into a thin pool pushes WETH below 1437.5, where the second's HF is
    below 1. Without the second round's prices the replay cannot end where the cascade did."""
    b = mb.book([(0, "WETH", 1.0, 0.0), (0, "USDC", 0.0, 1450.0), (1, "WETH", 1.0, 0.0), (1, "USDC", 0.0, 1150.0)])
    model = MarketModel(b, rules_of("aave_v3.3"), PRICES, mb.pool(2e4))
    solver = StaticCascade(model)
    swept = []
    real = solver.start

    def recording(index, trades=False):
        part = real(index, trades)
        part.swept = swept
        return part

    solver.start = recording
    out = solver.run({"WETH": 0.28})
    assert out.rounds >= 2 and (out.tallies.acct_calls > 0).all()
    solver._own_bounds()  # a first run wrote its HF bounds into the HF0 array: HF0 whole again, as run() does
    args = (model.rules, solver._kept_base(), out.arrays, out.tallies, out.touched, out.account_order, solver._hf0_sorted)
    tail = (solver.settings.limits, _row_index)
    kept = flow_replay.replay_flows(*args, swept, *tail)
    assert kept is not None and kept.rows.tolist() == [0, 1, 2, 3]
    assert flow_replay.replay_flows(*args, swept[:1], *tail) is None


def test_a_refused_replay_records_every_row(monkeypatch):
    b = mb.book([(0, "WETH", 1.0, 0.0), (0, "USDC", 0.0, 1450.0), (1, "WBTC", 0.1, 0.0), (1, "USDC", 0.0, 100.0)])
    model = MarketModel(b, rules_of("aave_v3.3"), PRICES, mb.pool(2e4))
    monkeypatch.setattr(flow_replay, "replay_flows", lambda *a: None)
    out = StaticCascade(model).run({"WETH": 0.3}, trades=True)
    assert out.flow_rows is None and out.tallies.flows.shape[0] == b.n_rows
    assert out.tallies.flows[:2].any() and not out.tallies.flows[2:].any()
