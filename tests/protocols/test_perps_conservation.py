"""A round of perp liquidations end to end -- margin, orders, fills, settlement with the fund,
ADL -- conserves money: what the bankrupt accounts lose beyond their collateral is covered by
the fund, given up by the deleveraged side, or socialised."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liqcascade.model.perps import AccountColumns, PerpBook, PositionColumns
from liqcascade.protocols import perps_adl
from liqcascade.protocols.cex_perp.rules import CexEngine
from liqcascade.protocols.hyperliquid.rules import HyperliquidEngine
from liqcascade.protocols.perps_base import BACKSTOP, Fills

ENGINES = {"hyperliquid": (HyperliquidEngine(), "BTC"), "cex_perp": (CexEngine(), "BTCUSDT")}


@st.composite
def _rounds(draw):
    n = draw(st.integers(2, 10))
    size = draw(st.lists(st.floats(0.05, 3) | st.floats(-3, -0.05), min_size=n, max_size=n))
    leverage = draw(st.lists(st.floats(1.5, 40), min_size=n, max_size=n))
    entry = draw(st.lists(st.floats(90_000, 110_000), min_size=n, max_size=n))
    slip = draw(st.lists(st.floats(0.0, 0.08), min_size=n, max_size=n))  # fills worse than the mark by this
    move = draw(st.floats(-0.3, 0.3))
    fund = draw(st.floats(0, 5_000))
    return size, leverage, entry, slip, move, fund


@settings(max_examples=60, deadline=None)
@given(_rounds(), st.sampled_from(sorted(ENGINES)), st.sampled_from(sorted(perps_adl.POLICIES)))
def test_the_bankrupts_loss_is_the_funds_cover_plus_what_adl_takes_plus_what_is_socialised(case, name, policy):
    size, leverage, entry, slip, move, fund = case
    engine, market = ENGINES[name]
    n = len(size)
    size, entry = np.array(size), np.array(entry)
    collateral = np.abs(size) * entry / np.array(leverage)
    book = PerpBook.from_rows(AccountColumns(list(range(n)), collateral, np.ones(n, dtype=bool)),
                              PositionColumns(list(range(n)), [0] * n, size, entry), (market,))
    mark = np.array([100_000.0 * (1 + move)])
    state = engine.margin(book, mark)
    accounts = np.flatnonzero(engine.liquidatable(book, state))
    orders = engine.orders(book, state, mark, accounts)
    # every order fills in full, a sale below the mark and a purchase above it (the backstop at the mark)
    worse = np.where(orders.route == BACKSTOP, 0.0, np.array(slip)[book.account[orders.position]])
    price = mark[0] * (1 - np.sign(book.size[orders.position]) * worse)
    r = engine.settle_round(book, orders, Fills(orders.close.copy(), price), fund)
    s = r.settlement
    # the fund ends at or above zero and only the fund's cover separates loss from deficit
    assert fund + s.fund_delta >= -1e-6
    # isolated accounts: closed when their one order is for the whole position (not a slice)
    closed = np.zeros(n, dtype=bool)
    closed[book.account[orders.position[orders.close == -book.size[orders.position]]]] = True
    loss = np.where(closed, np.maximum(-(book.collateral + r.realised - r.fees - r.taken), 0.0), 0.0)
    np.testing.assert_allclose(loss, r.covered + s.deficit, rtol=1e-9, atol=1e-6)
    adl = perps_adl.POLICIES[policy](book, s.deficit, mark)
    assert loss.sum() == pytest.approx(r.covered.sum() + adl.given_up.sum() + adl.socialised.sum(),
                                       rel=1e-9, abs=1e-6)
