"""Compound v2 as a :class:`~liqcascade.protocols.base.LiquidationRules` plug-in.

Per asset: the collateral factor is the market's ``liquidation_threshold`` (Compound v2
liquidates at the same factor it lends at) and the liquidation incentive is
``1 + liquidation_bonus``. The close factor and the protocol seize share are the
Comptroller's and the cToken's (0.5 and 2.8 % on mainnet). ``deprecated_markets`` names the
assets whose borrow market is deprecated (``Comptroller.isDeprecated``: collateral factor 0,
borrowing paused, reserve factor 100 %): there the close factor does not apply and a
liquidator may repay the whole borrow. The engines liquidate only accounts in shortfall;
the contract also lets a deprecated borrow of a healthy account be liquidated, which they
do not model (docs/protocols.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from liqcascade.errors import ConfigError
from liqcascade.protocols.base import Capabilities
from liqcascade.protocols.calls import FixedSpread
from liqcascade.protocols.mechanisms import kernels_python as K
from liqcascade.protocols.compound_v2.kernels_python import KERNEL, CompoundV2Params
from liqcascade.protocols.mechanisms.rules import MechanismRules


@dataclass(frozen=True)
class CompoundV2Rules(MechanismRules):
    close_factor: float = 0.5
    protocol_seize_share: float = 0.028
    deprecated_markets: tuple[str, ...] = ()

    kernel = KERNEL
    name = "compound_v2"
    capabilities = Capabilities(aftermarket=True, capped_calls=True)
    """``liquidateBorrow`` takes the amount the liquidator sends (at most the close factor's share)."""

    def __post_init__(self) -> None:
        if not (0.05 <= self.close_factor <= 0.9):
            raise ConfigError(self.params.source, "close_factor", "a fraction in [0.05, 0.9] (Comptroller bounds)",
                              self.close_factor)
        if not (0.0 <= self.protocol_seize_share < 1.0):
            raise ConfigError(self.params.source, "protocol_seize_share", "a fraction in [0, 1)",
                              self.protocol_seize_share)
        for sym in self.deprecated_markets:
            if sym not in self.params.symbols:
                raise ConfigError(self.params.source, "deprecated_markets", "symbols of the market's assets "
                                  f"({', '.join(self.params.symbols)})", sym)

    def call_rule(self, bonus: float, fee: float, debt_symbol: str) -> FixedSpread:
        """One ``liquidateBorrow``: at most ``close_factor`` of the borrow (all of it in a
        deprecated market), seizing ``repay · incentive`` in collateral value, of which the
        protocol keeps ``protocol_seize_share`` of *all* seized tokens (``fee`` unused)."""
        cf = 1.0 if debt_symbol in self.deprecated_markets else self.close_factor
        return FixedSpread(close_factor=cf, bonus=bonus, protocol_fee=self.protocol_seize_share, fee_on_seized=True,
                           protocol=self.name)

    def scalars(self):
        return CompoundV2Params(self.close_factor, self.protocol_seize_share)

    def initial_state(self, book):
        """Read-only per-asset flags after the kernels' scalars: ``state[N_STATE + a]`` is 1
        when asset ``a``'s borrow market is deprecated."""
        if not self.deprecated_markets:
            return None
        st = np.zeros(K.N_STATE + len(book.assets))
        for a, sym in enumerate(book.assets):
            st[K.N_STATE + a] = 1.0 if sym in self.deprecated_markets else 0.0
        return st

    def facts(self):
        f: dict[str, object] = {"close_factor": self.close_factor, "protocol_seize_share": self.protocol_seize_share}
        if self.deprecated_markets:
            f["deprecated_markets"] = ",".join(self.deprecated_markets)
        return f
