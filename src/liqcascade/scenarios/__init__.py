"""Exogenous price paths on a block grid: shocks, correlated GBM with jumps, block bootstrap and
historical replay, plus the validated loaders and the shipped replay data they are built from.

The layer knows nothing of protocols or venues; the engine consumes a :class:`PricePath`.
"""

from liqcascade.scenarios.loaders import (
    FILL_POLICIES,
    REPLAY_NAMES,
    Replay,
    load_binance_klines,
    load_gas_percentiles,
    load_univ2_reserves,
    load_univ3_pool_blocks,
    replay_data,
    replay_file,
    replay_path,
    split_at_gaps,
    to_blocks,
)
from liqcascade.scenarios.paths import (
    DEFAULT_BLOCK_SECONDS,
    INTRABAR_RULES,
    SECONDS_PER_YEAR,
    Jumps,
    PricePath,
    block_bootstrap,
    check_correlation,
    gbm,
    historical,
    instant_shock,
    linear_shock,
)

__all__ = [
    "DEFAULT_BLOCK_SECONDS",
    "FILL_POLICIES",
    "INTRABAR_RULES",
    "REPLAY_NAMES",
    "SECONDS_PER_YEAR",
    "Jumps",
    "PricePath",
    "Replay",
    "block_bootstrap",
    "check_correlation",
    "gbm",
    "historical",
    "instant_shock",
    "linear_shock",
    "load_binance_klines",
    "load_gas_percentiles",
    "load_univ2_reserves",
    "load_univ3_pool_blocks",
    "replay_data",
    "replay_file",
    "replay_path",
    "split_at_gaps",
    "to_blocks",
]
