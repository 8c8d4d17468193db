"""Real processes: a local Monte Carlo stopped by one Ctrl-C, or its parent killed with SIGKILL,
leaves no worker behind; Ctrl-C exits 130 with the resume hint and no traceback, and the run
stays registered for the rerun.

The command runs in its own session, and Ctrl-C is sent to the whole process group, as a
terminal does (so the workers receive SIGINT too, which is what used to print their tracebacks).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.montecarlo.conftest import write_scenario

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc (Linux)")]

STOP_WITHIN_S = 10.0
"""The brief asks for ~5 s; the bound leaves room for a loaded 2-core machine."""


def _stat(pid: int) -> tuple[int, str] | None:
    """(parent pid, state) of ``pid``; None once it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = text.rsplit(")", 1)[1].split()
    return int(fields[1]), fields[0]


def _alive(pid: int) -> bool:
    st = _stat(pid)
    return st is not None and st[1] != "Z"  # a zombie has ended; only its exit status is left


def _workers(parent: int) -> list[int]:
    """The spawned worker processes of ``parent`` (multiprocessing's spawn entry point)."""
    out = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        st = _stat(int(d.name))
        if st is None or st[0] != parent:
            continue
        try:
            cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if b"spawn_main" in cmd:
            out.append(int(d.name))
    return out


def _start(tiny: Path, store: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[2] / "src"),
                                                        os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen(
        [sys.executable, "-m", "liqcascade.cli", "montecarlo", str(tiny), "--paths", "20000", "--chunk-size", "1000",
         "--executor", "local", "--workers", "2", "--out", str(store)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True, env=env, text=True)


def _wait_for_work(proc: subprocess.Popen, store: Path, parts: int, timeout: float = 240.0) -> list[int]:
    """Both workers up and ``parts`` chunk files landed. Chunks are 1000 paths, about 40 s: longer
    than a stop may take, so a stop that waits for running chunks fails the test."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        assert proc.poll() is None, proc.communicate()
        pids = _workers(proc.pid)
        if len(pids) == 2 and len(list(store.glob("runs/*/paths/part-*.parquet"))) >= parts:
            return pids
        time.sleep(0.1)
    proc.kill()
    pytest.fail("the Monte Carlo did not start its workers and land a chunk in time")


def _gone_within(pids: list[int], seconds: float) -> float:
    t0 = time.monotonic()
    while any(_alive(p) for p in pids) and time.monotonic() - t0 < seconds:
        time.sleep(0.05)
    return time.monotonic() - t0


def test_one_ctrl_c_stops_workers_and_says_how_to_resume(tmp_path):
    tiny, store = write_scenario(tmp_path), tmp_path / "store"
    proc = _start(tiny, store)
    pids = _wait_for_work(proc, store, parts=0)
    time.sleep(3.0)  # into their first chunks (about 40 s each)
    t0 = time.monotonic()
    os.killpg(proc.pid, signal.SIGINT)  # one Ctrl-C, to the whole foreground group
    try:
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    took = time.monotonic() - t0
    assert proc.returncode == 130, err
    assert took < STOP_WITHIN_S, (took, err)
    assert _gone_within(pids, 2.0) < 2.0, [p for p in pids if _alive(p)]
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert "run the same command again (same --out) to resume" in err, err
    assert f"liqcascade montecarlo {tiny}" in err, err
    # the run waits, registered and resumable, for the same command (test_resume.py: a rerun
    # computes only the chunks that had not landed)
    from liqcascade.io.store import ResultsStore

    assert ResultsStore(store).list_runs()["status"].tolist() == ["running"]


def test_sigkill_of_the_parent_leaves_no_worker(tmp_path):
    tiny, store = write_scenario(tmp_path), tmp_path / "store"
    proc = _start(tiny, store)
    pids = _wait_for_work(proc, store, parts=0)
    time.sleep(2.0)  # into their first chunk
    os.kill(proc.pid, signal.SIGKILL)  # the parent alone: no chance to clean up
    proc.wait(timeout=10)
    took = _gone_within(pids, 10.0)
    left = [p for p in pids if _alive(p)]
    for p in left:  # do not leave them behind on failure either
        os.kill(p, signal.SIGKILL)
    assert not left and took < 5.0, (left, took)
