"""The columns of the per-row trades the liquidation kernels record (``Tallies.flows``):
one column per kind of flow in tokens, then the same kinds in USD at the prices of the
calls. The table built from them is ``engine/trades.py``'s.

:func:`add_flow` is in every kernel group (``FUNCTIONS``), so that this file is among those
whose change drops numba's on-disk cache (``_jit``): compiled kernels bake these
constants in.
"""

from __future__ import annotations

FLOW_SEIZED = 0
"""Collateral taken from the row (tokens; the protocol's fee included)."""
FLOW_FEE = 1
"""The part of it the protocol (or Liquity's Stability Pool) keeps."""
FLOW_REPAID = 2
"""Debt of the row cleared by a liquidator (or the Stability Pool)."""
FLOW_WRITTEN_OFF = 3
"""Debt of the row written off (the protocol's deficit, its suppliers' or reserves' loss)."""
FLOW_REDIST_COLL = 4
"""Collateral moved to or from the row by redistribution to other accounts (Liquity), signed:
negative on the liquidated trove, positive on the troves that receive it."""
FLOW_REDIST_DEBT = 5
"""Debt moved to or from the row by redistribution, signed as :data:`FLOW_REDIST_COLL`."""
FLOW_RECEIVED = 6
"""What the row received in exchange for collateral taken from the account's other rows
(crvUSD's soft liquidation: the stablecoin the bands receive for the collateral they sell)."""
FLOW_RETURNED = 7
"""Collateral the protocol's own sales handed back to the row (Maker: the lot left once the
tab is covered; dynamic engine)."""
FLOW_USD = 8
"""Column ``FLOW_USD + kind`` holds kind's value in USD at the prices of the calls."""
N_FLOWS = 16


def add_flow(flows, r, kind, amount, price):
    """Add ``amount`` tokens of ``kind`` (and their value at ``price``) to row ``r``; nothing
    when ``flows`` has no rows (the caller keeps no per-row trades)."""
    if flows.shape[0] > 0:
        flows[r, kind] += amount
        flows[r, FLOW_USD + kind] += amount * price
