"""Shared test settings.

Hypothesis runs under the profile named by ``$HYPOTHESIS_PROFILE``: ``dev`` (the default)
draws new examples every run, which is how the property tests keep finding cases; ``ci``
(set by ``.ci/run``) derandomizes them, so the examples CI checks are fixed per test and a
submission is judged on the same cases every time. Both print the reproduction blob of a
failure.

``SHARED_DATA`` is the team's real-data folder (``../shared/data`` beside the repo, or
``$LIQCASCADE_SHARED_DATA``). Tests that calibrate from the raw files use it; the data
the package itself needs is shipped inside it (``src/liqcascade/data``).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

# No per-example deadline: speed is judged in the benchmarks, not in unit tests, and on a shared
# machine a first example that waits for a core (or compiles) would fail as "flaky".
settings.register_profile("dev", print_blob=True, deadline=None)
settings.register_profile("ci", print_blob=True, derandomize=True, database=None, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("LIQCASCADE_SHARED_DATA", REPO.parent / "shared" / "data"))


def shared_file(name: str) -> Path:
    """A file of the shared data folder; skips the test (saying why) when it is absent."""
    p = SHARED_DATA / name
    if not p.is_file():
        pytest.skip(f"shared data file {p} not present (set LIQCASCADE_SHARED_DATA)")
    return p


def pytest_configure(config):
    """Register the ``browser`` marker (Playwright + Debian chromium tests; report and dashboard)."""
    config.addinivalue_line("markers", "browser: drives headless Debian chromium via Playwright")


@pytest.fixture(autouse=True)
def no_progress(monkeypatch):
    """Commands draw progress on stderr, which click's test runner mixes into ``output``: off
    here (``LIQCASCADE_QUIET``). The tests of progress itself delete the variable."""
    monkeypatch.setenv("LIQCASCADE_QUIET", "1")
