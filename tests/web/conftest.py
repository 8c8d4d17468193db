"""Fixtures of the dashboard tests: a private copy of the faces store (see
``tests/report/stores.py``: static run with its curves and walls, a simulation, a hand-made
Monte Carlo and calibration run), apps over it and in-process clients."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pytest

from tests import browser as B
from tests.report.stores import copy_store, session_store
from liqcascade.web.jobs import Job
from liqcascade.web.limits import Limits


def _require_chromium() -> None:
    if Path(B.CHROMIUM).is_file():
        return
    if os.environ.get("LIQCASCADE_SKIP_BROWSER") == "1":
        pytest.skip(f"LIQCASCADE_SKIP_BROWSER=1 and no chromium at {B.CHROMIUM}")
    pytest.fail(f"no chromium at {B.CHROMIUM}: install Debian's chromium (.ci/run does), "
                "or set LIQCASCADE_SKIP_BROWSER=1 to skip the browser tests")


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """Debian's chromium for one test module (screenshots in a temporary folder unless
    LIQCASCADE_ARTIFACTS names one)."""
    _require_chromium()
    if not os.environ.get("LIQCASCADE_ARTIFACTS"):
        B.set_artifacts_dir(tmp_path_factory.mktemp("screenshots"))
    with B.launch() as b:
        yield b


@pytest.fixture(scope="session")
def faces_store(tmp_path_factory):
    """(store root, run ids by role), built once per session and shared with tests/report."""
    return session_store(tmp_path_factory)


@pytest.fixture(scope="module")
def web_store(faces_store, tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """A copy of the faces store this module may write into (runs started from the dashboard)."""
    root, ids = faces_store
    return copy_store(root, tmp_path_factory.mktemp("web") / "store"), ids


BASE = "http://127.0.0.1:8000"
"""Where the in-process client says it talks to (an app's default Host and origin)."""


def test_client(app, origin: str | None = BASE):
    """An in-process client (fastapi's TestClient) that runs the app's lifespan. It sends
    Host 127.0.0.1:8000 and, unless ``origin`` is None, that Origin on every request, as the
    dashboard's own pages do in a browser."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # starlette's note about httpx versions
        from fastapi.testclient import TestClient
    return TestClient(app, base_url=BASE, raise_server_exceptions=False,
                      headers=None if origin is None else {"origin": origin})


test_client.__test__ = False  # a helper, not a test


class FakeRunner:
    """A job runner that records requests and runs nothing (for generated input)."""

    def __init__(self) -> None:
        self.submitted: list = []
        self._jobs: dict[str, Job] = {}

    def submit(self, spec) -> Job:
        job = Job(f"fake{len(self.submitted):08d}", spec.kind, spec.source, spec.request)
        self.submitted.append(spec)
        self._jobs[job.job_id] = job
        return job

    def get(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    def jobs(self) -> list[Job]:
        return list(reversed(self._jobs.values()))

    def start(self) -> None:
        pass

    def shutdown(self) -> None:
        pass


def make_app(root: Path, limits: Limits | None = None, fake_runner: bool = False, access=None):
    from liqcascade.web import create_app

    app = create_app(root, limits, access)
    if fake_runner:
        app.state.dashboard.runner.shutdown()
        app.state.dashboard.runner = FakeRunner()
    return app


@pytest.fixture(scope="module")
def client(web_store):
    """A client of an app (on the shared web store) whose runner records requests and runs nothing."""
    root, _ = web_store
    with test_client(make_app(root, fake_runner=True)) as c:
        yield c
