"""The session's faces store (see ``stores.py``)."""

from __future__ import annotations

import pytest

from tests.report.stores import session_store


@pytest.fixture(scope="session")
def faces_store(tmp_path_factory):
    """(store root, run ids by role): static + curves + walls, simulation, Monte Carlo, calibration."""
    return session_store(tmp_path_factory)


@pytest.fixture(scope="session")
def faces_bundles(faces_store):
    """Role -> the bundle of that run (built once; bundles cache the tables they read)."""
    from liqcascade.io.store import ResultsStore
    from liqcascade.report import bundle

    root, ids = faces_store
    st = ResultsStore(root)
    return {role: bundle.find(st, rid) for role, rid in ids.items()}
