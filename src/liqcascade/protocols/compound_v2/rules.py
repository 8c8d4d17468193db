"""Compound v2 as a :class:`~liqcascade.protocols.base.LiquidationRules` plug-in.

Per asset: the collateral factor is the market's ``liquidation_threshold`` (Compound v2
liquidates at the same factor it lends at) and the liquidation incentive is
``1 + liquidation_bonus``. The close factor and the protocol seize share are the
Comptroller's and the cToken's (0.5 and 2.8 % on mainnet).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from liqcascade.errors import ConfigError
from liqcascade.protocols.mechanisms import kernels_python as K
from liqcascade.protocols.mechanisms.rules import N_MP, MechanismRules


@dataclass(frozen=True)
class CompoundV2Rules(MechanismRules):
    close_factor: float = 0.5
    protocol_seize_share: float = 0.028

    mech = K.MECH_COMPOUND_V2
    name = "compound_v2"

    def __post_init__(self) -> None:
        if not (0.05 <= self.close_factor <= 0.9):
            raise ConfigError(self.params.source, "close_factor", "a fraction in [0.05, 0.9] (Comptroller bounds)",
                              self.close_factor)
        if not (0.0 <= self.protocol_seize_share < 1.0):
            raise ConfigError(self.params.source, "protocol_seize_share", "a fraction in [0, 1)",
                              self.protocol_seize_share)

    def scalars(self):
        mp = np.zeros(N_MP)
        mp[0] = self.close_factor
        mp[1] = self.protocol_seize_share
        return mp

    def facts(self):
        return {"close_factor": self.close_factor, "protocol_seize_share": self.protocol_seize_share}
