"""dYdX v4's perp margin engine (issue 13).

- :mod:`~liqcascade.protocols.dydx_v4.exact`: the rules integer-exact in quote quantums, as
  v4-chain computes them; checked against ``data/conformance/dydx_v4/``;
- :mod:`~liqcascade.protocols.dydx_v4.conformance`: the vectors' handlers;
- :mod:`~liqcascade.protocols.dydx_v4.rules`: the float64 margin engine the perp engine runs;
- :mod:`~liqcascade.protocols.dydx_v4.plugin`: its entry in the perp registry.
"""
