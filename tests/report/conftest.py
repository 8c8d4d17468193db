"""The session's faces store (see ``stores.py``)."""

from __future__ import annotations

import pytest

from tests.report.stores import session_store


@pytest.fixture(scope="session")
def faces_store(tmp_path_factory):
    """(store root, run ids by role): static + curves + walls, simulation, Monte Carlo, calibration."""
    return session_store(tmp_path_factory)
