"""crvUSD / LlamaLend: LLAMMA soft liquidation in bands, then the Controller's hard liquidation.

Rule source: curvefi/curve-stablecoin@cf1d05fb (``curve_stablecoin/AMM.vy``,
``curve_stablecoin/controller.vy``, snekmate ``math._wad_exp``/``_wad_ln``).

- :mod:`~liqcascade.protocols.crvusd.exact`: the contracts' integer rules (band grid and
  prices, deposits, ``get_x_down``/``get_y_up``, trades through bands and the arbitrage that
  soft-liquidates, band placement of a loan, health, ``liquidate``, ``tokens_to_liquidate``);
- :mod:`~liqcascade.protocols.crvusd.fast`: the float64 rule the engines run (the AMM's
  adiabatic limit, per account);
- :mod:`~liqcascade.protocols.crvusd.conformance`: handlers for the vectors in
  ``data/conformance/crvusd/``;
- :mod:`~liqcascade.protocols.crvusd.rules`: the engines' rule set (``[market] protocol = "crvusd"``,
  settings in :mod:`~liqcascade.protocols.crvusd.plugin`).
"""

from liqcascade.protocols.crvusd.exact import (
    AmmState,
    Band,
    CrvusdRevert,
    Grid,
    Liquidation,
    UserBands,
    arbitrage_to,
    calculate_debt_n1,
    exchange,
    f_remove,
    get_x_down,
    get_y_up,
    health,
    liquidate,
    p_oracle_down,
    p_oracle_up,
    tokens_to_liquidate,
)

__all__ = [
    "AmmState",
    "Band",
    "CrvusdRevert",
    "Grid",
    "Liquidation",
    "UserBands",
    "arbitrage_to",
    "calculate_debt_n1",
    "exchange",
    "f_remove",
    "get_x_down",
    "get_y_up",
    "health",
    "liquidate",
    "p_oracle_down",
    "p_oracle_up",
    "tokens_to_liquidate",
]
