"""Shared Playwright helpers for the browser tests (report file and dashboard).

Stable API (the dashboard tests import it):

- ``launch()``: context manager yielding a headless Debian-chromium ``Browser``; fails the
  test when ``/usr/bin/chromium`` (or ``$LIQCASCADE_CHROMIUM``) is missing (CI installs it),
  skips it only when ``LIQCASCADE_SKIP_BROWSER=1``. Never downloads a browser (no
  ``playwright install``).
- ``block_network(page, allow_prefixes)``: aborts every request whose URL does not start
  with one of ``allow_prefixes`` (e.g. ``["file:///tmp/x/report.html"]`` or
  ``["http://127.0.0.1:8123/"]``); returns the list of blocked URLs (filled as they come).
- ``screenshot(page, name)``: full-page PNG under ``$LIQCASCADE_ARTIFACTS`` (default: a
  temporary directory, or the one set by ``set_artifacts_dir``); returns its path.
- ``console_errors(page)``: list filled with console errors and uncaught page errors.
- ``plotly_traces(page)``: ``{div id: number of traces}`` of every rendered plotly chart.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("LIQCASCADE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]

_artifacts_dir: Path | None = None


def set_artifacts_dir(path: Path) -> None:
    """Default screenshot folder when ``$LIQCASCADE_ARTIFACTS`` is unset (tests pass ``tmp_path``)."""
    global _artifacts_dir
    _artifacts_dir = Path(path)


def artifacts_dir() -> Path:
    """The screenshot folder: ``$LIQCASCADE_ARTIFACTS``, else the one set, else a temp folder."""
    global _artifacts_dir
    env = os.environ.get("LIQCASCADE_ARTIFACTS")
    if env:
        d = Path(env)
    else:
        if _artifacts_dir is None:
            _artifacts_dir = Path(tempfile.mkdtemp(prefix="liqcascade-artifacts-"))
        d = _artifacts_dir
    d.mkdir(parents=True, exist_ok=True)
    return d


@contextmanager
def launch() -> Iterator[Any]:
    """Headless Debian chromium via Playwright's sync API."""
    if os.environ.get("LIQCASCADE_SKIP_BROWSER") == "1":
        pytest.skip("LIQCASCADE_SKIP_BROWSER=1")
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        pytest.fail(f"chromium not found at {CHROMIUM}: `apt-get install chromium` (as .ci/run does), "
                    "set LIQCASCADE_CHROMIUM, or LIQCASCADE_SKIP_BROWSER=1 to skip the browser tests")
    from playwright import sync_api
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def block_network(page: Any, allow_prefixes: list[str]) -> list[str]:
    """Abort every request not starting with one of ``allow_prefixes``; returns the blocked URLs."""
    blocked: list[str] = []
    prefixes = tuple(allow_prefixes)

    def _route(route: Any) -> None:
        url = route.request.url
        if prefixes and url.startswith(prefixes):
            route.continue_()
        else:
            blocked.append(url)
            route.abort()

    page.route("**/*", _route)
    return blocked


def console_errors(page: Any) -> list[str]:
    """Collect console ``error`` messages and uncaught page errors of ``page`` (filled live)."""
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    return errors


def plotly_traces(page: Any) -> dict[str, int]:
    """``{div id: len(div.data)}`` for every rendered plotly chart on the page."""
    return page.evaluate(
        """() => Object.fromEntries(
            Array.from(document.querySelectorAll('.js-plotly-plot')).map(
                (el, i) => [el.id || ('plot' + i), (el.data || []).length]))"""
    )


def screenshot(page: Any, name: str) -> Path:
    """Save a full-page PNG named after ``name`` in the artifacts folder; returns its path."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "page"
    if not safe.endswith(".png"):
        safe += ".png"
    path = artifacts_dir() / safe
    page.screenshot(path=str(path), full_page=True)
    return path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve_store(store: Path | str, log: Path, *extra: str) -> Iterator[str]:
    """Run the real ``liqcascade serve`` over ``store`` (its output in ``log``) and yield its
    base URL once ``/-/versions`` answers; fail the test if it does not start within 60 s;
    stop it on exit."""
    import subprocess
    import sys
    import time

    import httpx

    port = free_port()
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "liqcascade.cli", "serve", "--store", str(store),
                                 "--port", str(port), *extra], stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/-/versions", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the server did not start: {log.read_text()[-2000:]}")
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
