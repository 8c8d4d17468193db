"""Liquity v2 (BOLD) as a :class:`~liqcascade.protocols.base.LiquidationRules` plug-in:
one collateral branch. No Recovery Mode; the Stability Pool takes at most
``debt * (1 + penalty_sp)`` of collateral and redistribution at most
``debt * (1 + penalty_redistribution)``, the rest is the owner's surplus; the gas
compensation is 0.5 % of the offset collateral (at most 2 tokens) plus 0.0375 WETH
(valued at the branch collateral's price). A branch is shut down when its TCR falls below
the SCR (reported by :meth:`LiquityV2Rules.shutdown`; liquidations go on).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from liqcascade.protocols.liquity_v1.rules import LiquityRules
from liqcascade.protocols.liquity_v2.exact import BRANCHES
from liqcascade.protocols.mechanisms import kernels_python as K
from liqcascade.protocols.liquity_v1.kernels_python import LiquityParams
from liqcascade.protocols.liquity_v2.kernels_python import KERNEL

_W = 1e18


@dataclass(frozen=True)
class LiquityV2Rules(LiquityRules):
    debt_asset: str = "BOLD"
    gas_cap: float = 2.0
    eth_gas_compensation: float = 0.0375

    kernel = KERNEL
    name = "liquity_v2"

    @property
    def branch(self):
        return BRANCHES.get(self.collateral, BRANCHES["LST"])

    @property
    def mcr(self) -> float:  # type: ignore[override]
        return self.branch.mcr / _W

    def scalars(self):
        b = self.branch
        return LiquityParams(
            mcr=b.mcr / _W, ccr=0.0, gas_share=0.005, gas_cap=self.gas_cap,
            penalty_sp=b.liquidation_penalty_sp / _W, penalty_redist=b.liquidation_penalty_redistribution / _W,
            sp_sell_share=self.sp_sell_fraction, sp_floor=1.0,  # MIN_BOLD_IN_SP
            debt_gas_comp=0.0, coll_gas_comp=self.eth_gas_compensation,
        )

    def shutdown(self, arrays, prices) -> bool:
        """Whether the branch's TCR is below its SCR at ``prices``."""
        self.before_pass(arrays, prices)
        st = arrays.state
        c = self.params.symbols.index(self.collateral)
        d = self.params.symbols.index(self.debt_asset)
        if st[K.ST_SYS_DEBT] <= 0.0:
            return False
        return st[K.ST_SYS_COLL] * prices[c] / (st[K.ST_SYS_DEBT] * prices[d]) < self.branch.scr / _W

    def facts(self):
        b = self.branch
        return {**super().facts(), "branch": b.name, "mcr": b.mcr / _W, "scr": b.scr / _W}
