"""Engines: the static cascade solver (and, later, the block simulator)."""
