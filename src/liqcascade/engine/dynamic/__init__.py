"""The block-by-block simulation: the cascade in time.

Each block (12 s by default):

1. **Reference price.** The exogenous path's price (assets not on the path keep their
   reference price) times the *permanent* part of all liquidation selling so far.
2. **Venues.** Each venue's price is the reference times the *transient* part of the
   selling, which decays with ``recovery_half_life_s`` (arbitrage and refilling depth
   pulling the venue back). A venue whose target moved is re-centred there
   (``Venue.with_mid_price``); one whose target did not move keeps its state, so
   consecutive sales walk down the same curve.
3. **Oracle.** Reads the venues' prices (the market) by its own rules (Chainlink push,
   TWAP, OSM, instant): the protocol sees the oracle's price, not the market's.
   *A protocol's own AMM* (rules declaring ``soft_liquidation``: crvUSD's LLAMMA) then
   trades to the venues' price: the collateral it sells to arbitrageurs is sold on in
   step 6 like liquidators' (:func:`~.steps.soft_liquidate`).
4. **Eligible accounts** at the oracle's prices. Only accounts that can have crossed 1
   are looked at: when no oracle price changed, only last block's eligible accounts;
   otherwise the HF0-sorted prefix with per-account lower bounds (as in the static
   solver), so a quiet block costs next to nothing.
5. **Liquidators** price each eligible account's next call: collateral received times
   the venue price, net of the slippage of this block's total sale of that asset, minus
   the debt repaid at the market price and the gas (``gas_per_call`` at the block's gas
   price, in the gas asset's price). They take the most profitable ones first, each
   above ``min_profit_usd``, up to ``liquidations_per_block`` accounts and
   ``capital_usd`` of debt per block, once an account has been eligible for
   ``latency_blocks``. What is unprofitable or beyond capacity waits; what nobody ever
   liquidates turns into bad debt by the protocol's rules.
6. **Selling.** Liquidators sell a share ``1 / spread_blocks`` of their inventory into the
   venues each block (1 = all at once); each sale's price move is split into the
   permanent part (``permanent_fraction``, into the reference price) and the transient
   part (decaying).

The loop (:mod:`.loop`) is a few lines calling one function per step (:mod:`.steps`)
on a :class:`~.state.SimulationState`; :mod:`.records` names what a block records and
:mod:`.schema` the columns of each stored table. Optional parts of a protocol (an
aftermarket, limits that hold accounts back, global effects) are read from the rules'
declared :class:`~liqcascade.protocols.base.Capabilities`.

In the limit of unbounded liquidators, an instant oracle, no recovery and a one-block
shock, every block is one round of the static cascade, and the simulation ends at the
static fixed point (a test).
"""

from liqcascade.engine.dynamic.loop import simulate
from liqcascade.engine.dynamic.paths import drive_path
from liqcascade.engine.dynamic.settings import ConservationError, Dynamics, Liquidators, SimSettings

__all__ = ["ConservationError", "Dynamics", "Liquidators", "SimSettings", "drive_path", "simulate"]
