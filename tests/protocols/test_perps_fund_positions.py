"""The insurance fund's own position (protocols/perps_fund.py): its trades at average entry
prices and the share of a takeover its net notional limit admits, by hand."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from liqcascade.protocols.perps_fund import FundPosition, fund_trade, takeover_fraction


def test_a_trade_with_the_position_averages_its_entry():
    t = fund_trade(fund_trade(FundPosition(), 1.0, 100.0).position, 3.0, 200.0)
    assert t.position == FundPosition(4.0, 175.0) and t.realised == 0.0  # (100 + 600) / 4


def test_a_trade_against_the_position_realises_against_its_entry():
    t = fund_trade(FundPosition(2.0, 49_000.0), -1.0, 49_500.0)
    assert t.position == FundPosition(1.0, 49_000.0) and t.realised == 500.0
    # a short bought back above its entry loses; the rest of the trade opens a long there
    t = fund_trade(FundPosition(-1.0, 3_000.0), 3.0, 3_100.0)
    assert t.position == FundPosition(2.0, 3_100.0) and t.realised == -100.0
    t = fund_trade(FundPosition(1.0, 49_000.0), -1.0, 48_000.0)
    assert t.position == FundPosition(0.0, 0.0) and t.realised == -1_000.0


def test_the_takeover_fraction_stops_at_the_limit():
    assert takeover_fraction(0.0, 2.0, 48_800.0, 1e6) == 1.0
    assert takeover_fraction(0.0, 2.0, 48_800.0, 50_000.0) == pytest.approx(50_000.0 / 97_600.0)
    # from +1 toward −2 through zero: 2/3 of −3 reaches |−1| · 100 = the limit of 100
    assert takeover_fraction(1.0, -3.0, 100.0, 100.0) == pytest.approx(2.0 / 3.0)
    assert takeover_fraction(5.0, 1.0, 100.0, 100.0) == 0.0  # already beyond it on that side
    assert takeover_fraction(5.0, -1.0, 100.0, 100.0) == 1.0  # a take toward zero is never refused


@given(st.floats(-10, 10), st.floats(-10, 10).filter(lambda x: abs(x) > 1e-6), st.floats(1, 1e5), st.floats(0, 1e6))
def test_the_taken_share_never_takes_the_net_further_beyond_the_limit(net, add, mark, limit):
    phi = takeover_fraction(net, add, mark, limit)
    after = abs(net + phi * add) * mark
    assert 0.0 <= phi <= 1.0
    assert after <= max(limit, abs(net) * mark) * (1 + 1e-9) + 1e-9
    if phi < 1.0:  # stopped: at the limit, or refused because the net is already beyond it
        assert after == pytest.approx(limit, rel=1e-9, abs=1e-6) or phi == 0.0


@given(st.floats(-10, 10), st.floats(1, 1e5), st.floats(-10, 10), st.floats(1, 1e5), st.floats(1, 1e5))
def test_money_is_conserved_by_a_fund_trade(size, entry, delta, price, mark):
    # value at any mark: realised + the position's PnL after = the PnL before + the trade's at the mark
    before = FundPosition(size, entry if size else 0.0)
    t = fund_trade(before, delta, price)
    lhs = t.realised + t.position.size * (mark - t.position.entry)
    rhs = before.size * (mark - before.entry) + delta * (mark - price)
    assert lhs == pytest.approx(rhs, rel=1e-9, abs=1e-6 * (1 + abs(size) + abs(delta)) * max(mark, price, entry))
