"""What a simulation is configured with: the liquidator population and how venues recover."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from liqcascade.engine.strategies import STRATEGIES
from liqcascade.errors import ConfigError, LiqcascadeError


@dataclass(frozen=True)
class Liquidators:
    """The liquidator population (in aggregate)."""

    liquidations_per_block: float = math.inf
    """Accounts liquidated per block at most (block space / bot count); inf = unbounded."""
    calls_per_account: int = 1
    """Liquidation calls on one account per block at most."""
    gas_per_call: float = 500_000.0
    """Gas units one liquidation costs (call plus the swap that sells the collateral)."""
    gas_asset: str | None = "WETH"
    """Asset whose price converts gas (in gwei) to USD; None = gas costs nothing."""
    gas_gwei: float = 20.0
    """Gas price when the path carries none."""
    min_profit_usd: float = 0.0
    """Smallest profit after slippage and gas that a liquidator acts on."""
    capital_usd: float = math.inf
    """Debt (USD) liquidators can repay per block; inf = flash loans."""
    latency_blocks: int = 0
    """Blocks an account must have been eligible before a liquidator acts."""
    spread_blocks: int = 1
    """Liquidators sell 1/spread_blocks of their inventory each block (1 = at once)."""
    min_repay_usd: float = 0.0
    """Calls repaying less than this are not made."""
    strategy: str = "max_close"
    """How much each liquidation repays (``engine/strategies.py``): ``max_close`` the most the
    protocol allows, in ``calls_per_account`` calls; ``two_step`` Qin et al.'s optimal two calls
    in one block (the first leaves the account just liquidatable, the second is a max close);
    ``profit_max`` one call sized to maximise profit after selling into the collateral's venue
    and gas, none when unprofitable. Other than max_close: protocols whose liquidator chooses
    the amount (``capabilities.capped_calls``: aave_v3, compound_v2, morpho_blue, euler_v2, crvusd)."""

    def __post_init__(self) -> None:
        checks = [
            ("liquidations_per_block", self.liquidations_per_block > 0, "a number > 0 (inf = unbounded)"),
            ("calls_per_account", int(self.calls_per_account) >= 1, "an integer >= 1"),
            ("gas_per_call", self.gas_per_call >= 0 and math.isfinite(self.gas_per_call), "a finite number >= 0"),
            ("gas_gwei", self.gas_gwei >= 0 and math.isfinite(self.gas_gwei), "a finite number >= 0"),
            ("capital_usd", self.capital_usd > 0, "a number > 0 (inf = flash loans)"),
            ("latency_blocks", int(self.latency_blocks) >= 0, "an integer >= 0"),
            ("spread_blocks", int(self.spread_blocks) >= 1, "an integer >= 1"),
            ("min_repay_usd", self.min_repay_usd >= 0, "a number >= 0"),
            ("strategy", self.strategy in STRATEGIES, f"one of {list(STRATEGIES)}"),
        ]
        for key, ok, expected in checks:
            if not ok:
                raise ConfigError("<liquidators>", f"liquidators.{key}", expected, getattr(self, key))


@dataclass(frozen=True)
class Dynamics:
    """How venues recover from liquidation selling."""

    recovery_half_life_s: float = 600.0
    """Half-life of the transient price impact (0 = arbitraged away within a block, inf = never)."""
    permanent_fraction: float = 0.5
    """Share of each sale's price move that stays in the reference price."""
    depth_half_life_s: float | None = None
    """Order books and impact laws: half-life of the depth consumed by selling. None: they
    are re-centred at full depth and their price recovers with ``recovery_half_life_s``.
    Set: market makers re-quote around the reference price (exogenous path and permanent
    impact) while the consumed depth refills with this half-life, so the price recovers
    as the depth does."""
    arb_capital_usd: float = math.inf
    """Capital (USD) arbitrageurs can put into each AMM pool per block. Finite: they trade
    the pool toward the reference price (buying or selling) with at most this much, and
    the half-life does not apply to pools; inf: pools follow the half-life exactly."""
    impact_on_path: str = "full"
    """``full``: each sale's price move enters the reference (permanent) and the venue
    (transient). ``none``: sales get their slippage within the block, but the prices stay
    the path's (a replayed path already contains the market's reaction to the real
    liquidations: adding the simulated sales' impact counts it twice). ``excess``: only the
    sales beyond a baseline (what the path's own liquidations sold, given to ``simulate``)
    keep their impact (:mod:`.baseline`)."""

    def __post_init__(self) -> None:
        if not (self.recovery_half_life_s >= 0):
            raise ConfigError("<dynamics>", "dynamics.recovery_half_life_s", "a number >= 0 (inf = no recovery)",
                              self.recovery_half_life_s)
        if not (0.0 <= self.permanent_fraction <= 1.0):
            raise ConfigError("<dynamics>", "dynamics.permanent_fraction", "a fraction in [0, 1]",
                              self.permanent_fraction)
        if self.depth_half_life_s is not None and not (self.depth_half_life_s > 0):
            raise ConfigError("<dynamics>", "dynamics.depth_half_life_s", "a number of seconds > 0 (inf: never refills)",
                              self.depth_half_life_s)
        if self.impact_on_path not in ("full", "none", "excess"):
            raise ConfigError("<dynamics>", "simulation.impact_on_path", "full, none or excess", self.impact_on_path)
        if self.impact_on_path != "full" and (self.depth_half_life_s is not None or not math.isinf(self.arb_capital_usd)):
            # venues that remember consumed depth or are arbitraged would carry the sales' impact on
            raise ConfigError("<dynamics>", "simulation.impact_on_path", "full with dynamics.depth_half_life_s or a "
                              "finite dynamics.arb_capital_usd", self.impact_on_path)
        if not (self.arb_capital_usd > 0):
            raise ConfigError("<dynamics>", "dynamics.arb_capital_usd", "a number > 0 (inf = unlimited)",
                              self.arb_capital_usd)

    def depth_decay(self, block_seconds: float) -> float:
        h = self.depth_half_life_s
        return 1.0 if h is None or math.isinf(h) else 0.5 ** (block_seconds / h)

    def decay(self, block_seconds: float) -> float:
        """Factor on the log transient impact per block."""
        if self.recovery_half_life_s == 0:
            return 0.0
        if math.isinf(self.recovery_half_life_s):
            return 1.0
        return 0.5 ** (block_seconds / self.recovery_half_life_s)


@dataclass(frozen=True)
class SimSettings:
    liquidators: Liquidators = field(default_factory=Liquidators)
    dynamics: Dynamics = field(default_factory=Dynamics)
    check_conservation: bool = False
    """Check conservation every block (debug; costs a pass over the book per block)."""
    skip_quiet_blocks: bool = True
    """Advance over runs of quiet blocks at once (:mod:`.quiet`: the same results, bit for bit;
    off only to compare the two)."""


class ConservationError(LiqcascadeError):
    """A conservation identity failed during a simulation (a bug: please report it)."""
