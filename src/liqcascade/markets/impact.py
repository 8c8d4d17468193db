"""A power-law price-impact venue (the "square-root law").

The impact of a cumulative net sale of ``Q`` tokens at reference price ``p0`` is

    I(Q) = Y · (Q·p0 / D)^δ                  (dimensionless, a fraction of p0)

with ``D`` a depth scale in numeraire (USD), ``Y`` a dimensionless coefficient and ``δ``
the exponent; ``δ = 1/2`` is the square-root law. The form is the one fitted by Almgren,
Thum, Hauptmann & Li, "Direct estimation of equity market impact", *Risk* 18 (2005)
(temporary impact ∝ size^0.6, permanent ∝ size) and by Tóth, Lempérière, Deremble,
de Lataillade, Kockelkoren & Bouchaud, "Anomalous price impact and the critical nature of
liquidity in financial markets", *Phys. Rev. X* 1, 021006 (2011) (``Δp/p = Y·σ·√(Q/V)``,
``Y`` of order 1). To use Tóth's form, set ``D = V / σ²`` with ``V`` the daily volume in
USD and ``σ`` the daily volatility (then ``Y`` keeps its meaning), or calibrate ``D`` as
"the notional that moves the price by ``Y``".

**Convention (exact).** ``Q`` (``net_sold``) is the venue's state: tokens sold since it
was centred at ``p0`` (negative after net buying); ``I`` is odd in ``Q``
(``I(−Q) = −I(Q)``).

* Marginal (reference) price, returned by ``mid_price()``:
  ``p(Q) = p0 · max(1 − φ·I(Q), 1e-12)`` with ``φ = permanent`` ∈ [0, 1] — the level the
  price keeps after the transient part of the impact has gone (clamped above zero).
* Execution ("temporary") price of the marginal token: ``p_t(q) = p0 · max(1 − I(q), 0)``.
  A sale of ``a`` tokens from state ``Q`` earns ``∫_Q^{Q+a} p_t(q) dq``; a purchase of ``a``
  costs ``∫_{Q−a}^{Q} p_t(q) dq``. For ``0 ≤ q ≤ q*`` (``q*`` where ``I = 1``)

      ∫_0^q p_t = p0 · (q − Y·(p0/D)^δ · q^{1+δ} / (1+δ)),

  beyond ``q*`` tokens fetch nothing.

So impact is a function of the cumulative net flow: the venue is path-independent
(chunks = one sale), and a round trip costs nothing. With ``φ = 1`` (the default) the
marginal execution price equals ``mid_price()``; with ``φ < 1`` execution is worse than
the price left behind, which is what the engine, the oracle and the router see.
``with_mid_price(p)`` re-centres at ``p0 = p`` with ``Q = 0``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import ClassVar

import numpy as np

from liqcascade._jit import jit_functions
from liqcascade.errors import ConfigError
from liqcascade.markets import impact_python as _py
from liqcascade.markets.base import VenueCapabilities, checked_copy

__all__ = ["PowerLawImpact"]

_K = jit_functions(_py.FUNCTIONS, parallel=_py.PARALLEL)

_PRICE_FLOOR = 1e-12
"""Marginal price never falls below ``p0 · _PRICE_FLOOR`` (kept > 0)."""


def _check_amount(amount: float) -> float:
    amount = float(amount)
    if not (amount >= 0.0 and math.isfinite(amount)):
        raise ConfigError("<python>", "amount", "a finite amount >= 0", amount)
    return amount


@dataclass(frozen=True)
class PowerLawImpact:
    """Venue with impact ``I(Q) = Y·(Q·p0/D)^δ``; see the module docstring for the convention."""

    capabilities: ClassVar[VenueCapabilities] = VenueCapabilities(quotes_buy=True, requotes=True, quotes_many=True)

    asset: str
    price: float
    """``p0``: the reference price the impact is measured from (numeraire per token)."""
    depth_usd: float
    """``D``: numeraire notional scale of the depth."""
    coefficient: float = 1.0
    """``Y``: dimensionless prefactor."""
    exponent: float = 0.5
    """``δ``: 0.5 is the square-root law."""
    permanent: float = 1.0
    """``φ``: share of the impact that stays in the marginal price."""
    net_sold: float = 0.0
    """``Q``: tokens sold since centring (negative after net buying)."""

    def __post_init__(self) -> None:
        checks = (
            ("price", self.price > 0.0 and math.isfinite(self.price), "a finite price > 0"),
            ("depth_usd", self.depth_usd > 0.0 and math.isfinite(self.depth_usd), "a finite depth > 0"),
            ("coefficient", self.coefficient > 0.0 and math.isfinite(self.coefficient), "a finite Y > 0"),
            ("exponent", 0.0 < self.exponent <= 2.0, "an exponent in (0, 2]"),
            ("permanent", 0.0 <= self.permanent <= 1.0, "a fraction in [0, 1]"),
            ("net_sold", math.isfinite(self.net_sold), "a finite amount"),
        )
        for key, ok, expected in checks:
            if not ok:
                raise ConfigError("<python>", f"PowerLawImpact.{key}", expected, getattr(self, key))

    # ----------------------------------------------------------------- the law
    def impact(self, q: float) -> float:
        """``I(q)``, odd in ``q``."""
        if q == 0.0:
            return 0.0
        return math.copysign(self.coefficient * (abs(q) * self.price / self.depth_usd) ** self.exponent, q)

    def _q_for_impact(self, i: float) -> float:
        """The ``q`` with ``I(q) = i``."""
        if i == 0.0:
            return 0.0
        return math.copysign((self.depth_usd / self.price) * (abs(i) / self.coefficient) ** (1.0 / self.exponent), i)

    def _cash(self, q: float) -> float:
        """``∫_0^q p_t(u) du`` (negative for q < 0)."""
        p0, d = self.price, self.exponent
        k = self.coefficient * (p0 / self.depth_usd) ** d / (1.0 + d)
        if q >= 0.0:
            q = min(q, self._q_for_impact(1.0))  # tokens beyond q* fetch nothing
            return p0 * (q - k * q ** (1.0 + d))
        a = -q
        return -p0 * (a + k * a ** (1.0 + d))

    # ----------------------------------------------------------------- Venue
    def mid_price(self) -> float:
        """``p0 · max(1 − φ·I(Q), 1e-12)``."""
        return self.price * max(1.0 - self.permanent * self.impact(self.net_sold), _PRICE_FLOOR)

    def execution_price(self) -> float:
        """Marginal execution (temporary) price ``p0 · max(1 − I(Q), 0)``."""
        return self.price * max(1.0 - self.impact(self.net_sold), 0.0)

    def quote_sell(self, amount: float) -> float:
        a = _check_amount(amount)
        if a == 0.0:
            return 0.0
        return max(self._cash(self.net_sold + a) - self._cash(self.net_sold), 0.0)

    def quote_sells(self, amounts: list[float]) -> list[float]:
        """:meth:`quote_sell` of each amount: :meth:`_cash`'s expressions, in the same order, with
        its constants (``k``, ``q*``, the cash at ``Q``) computed once, in one compiled loop
        (:func:`~liqcascade.markets.impact_python.impact_quotes`)."""
        ns, p0, d = self.net_sold, self.price, self.exponent
        k = self.coefficient * (p0 / self.depth_usd) ** d / (1.0 + d)
        q_star, c0 = self._q_for_impact(1.0), self._cash(ns)
        a = np.asarray(amounts, dtype=np.float64)
        out = np.empty(a.shape[0])
        bad = int(_K["impact_quotes"](a, float(ns), float(p0), float(d), float(k), float(q_star), float(c0), out))
        if bad >= 0:
            _check_amount(amounts[bad])  # raises, naming the amount
        return out.tolist()

    def sell(self, amount: float) -> tuple[float, "PowerLawImpact"]:
        proceeds = self.quote_sell(amount)
        if amount == 0.0:
            return 0.0, self
        return proceeds, replace(self, net_sold=self.net_sold + float(amount))

    def quote_buy(self, amount: float) -> float:
        a = _check_amount(amount)
        if a == 0.0:
            return 0.0
        return self._cash(self.net_sold) - self._cash(self.net_sold - a)

    def buy(self, amount: float) -> tuple[float, "PowerLawImpact"]:
        cost = self.quote_buy(amount)
        if amount == 0.0:
            return 0.0, self
        return cost, replace(self, net_sold=self.net_sold - float(amount))

    def _q_at_price(self, price: float) -> float:
        """State ``Q`` whose marginal price is ``price`` (inf if unreachable)."""
        if self.permanent == 0.0 or price <= self.price * _PRICE_FLOOR:
            return math.inf if price < self.price else -math.inf
        return self._q_for_impact((1.0 - price / self.price) / self.permanent)

    def amount_to_price(self, price: float) -> float:
        """Closed form: ``Q_t − Q`` with ``Q_t = (D/p0)·((1 − p/p0)/(φY))^{1/δ}``; inf if φ = 0."""
        p = float(price)
        if p >= self.mid_price():
            return 0.0
        return max(self._q_at_price(p) - self.net_sold, 0.0)

    def buy_price(self) -> float:
        """Marginal purchase price: the execution price ``p0·max(1 − I(Q), 0)``."""
        return self.execution_price()

    def amount_to_buy_price(self, price: float) -> float:
        """Tokens to buy until the execution price ``p0·(1 − I(Q))`` rises to ``price``."""
        p = float(price)
        if p <= self.buy_price():
            return 0.0
        if math.isinf(p):
            return math.inf
        return max(self.net_sold - self._q_for_impact(1.0 - p / self.price), 0.0)

    def with_mid_price(self, price: float) -> "PowerLawImpact":
        """Re-centred at ``p0 = price`` with no impact outstanding (``Q = 0``)."""
        p = float(price)
        if not (p > 0.0 and math.isfinite(p)):
            raise ConfigError("<python>", "price", "a finite price > 0", p)
        return checked_copy(self, price=p, net_sold=0.0)  # p checked here, the rest unchanged
