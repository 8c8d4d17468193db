"""Hyperliquid's margin engine (from its public documentation; see :mod:`.rules`)."""
