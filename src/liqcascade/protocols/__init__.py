"""Each protocol's liquidation rules. Knows nothing of venues or engines."""
