"""Shared checks for every venue: the Venue contract as properties.

``venue_contract(venue, a, b, path_independent)`` asserts, for amounts 0 < a < b:
quotes never change state and equal the trade; proceeds increase and are concave;
the marginal price never rises with the amount sold; ``amount_to_price`` inverts the
marginal price; and (when ``path_independent``) two chunks equal one sale.
"""

from __future__ import annotations

import math

import pytest

from liqcascade.markets.base import Venue

REL = 1e-9


def _close(x: float, y: float, rel: float = REL, abs_: float = 0.0) -> bool:
    return math.isclose(x, y, rel_tol=rel, abs_tol=abs_)


def check_venue_contract(v, a: float, b: float, path_independent: bool, rel: float = REL) -> None:
    assert isinstance(v, Venue)
    assert 0.0 < a < b
    m0 = v.mid_price()
    qa, qb = v.quote_sell(a), v.quote_sell(b)
    # quotes change nothing
    assert v.mid_price() == m0 and v.quote_sell(a) == qa
    v.quote_buy(a)
    assert v.mid_price() == m0
    # the trade pays what was quoted
    pa, va = v.sell(a)
    assert _close(pa, qa, 1e-12)
    pb, vb = v.sell(b)
    # proceeds increase, never above the pre-trade marginal price
    assert qb >= qa >= 0.0
    assert qa <= a * m0 * (1 + 1e-12)
    # concavity: the midpoint amount earns at least the average
    qm = v.quote_sell(0.5 * (a + b))
    assert qm >= 0.5 * (qa + qb) * (1 - rel) - 1e-9 * m0
    # marginal price non-increasing in the amount sold
    assert m0 * (1 + 1e-12) >= va.mid_price() >= vb.mid_price() * (1 - 1e-12)
    # amount_to_price inverts the marginal price
    pa_after = va.mid_price()
    if pa_after < m0 * (1 - 1e-9):
        assert _close(v.amount_to_price(pa_after), a, 1e-7, 1e-9 * b)
        target = 0.5 * (m0 + pa_after)
        n = v.amount_to_price(target)
        assert 0.0 <= n <= a * (1 + 1e-7)
        if n > 0:
            assert _close(v.sell(n)[1].mid_price(), target, 1e-7)
    assert v.amount_to_price(m0) == 0.0
    assert v.amount_to_price(m0 * 1.5) == 0.0
    if path_independent:
        p1, w = v.sell(a)
        p2, w = w.sell(b - a)
        assert _close(p1 + p2, pb, 1e-9, 1e-9 * m0)
        assert _close(w.mid_price(), vb.mid_price(), 1e-9)


@pytest.fixture(scope="session")
def venue_contract():
    return check_venue_contract
