"""A Monte Carlo run killed half-way (SIGKILL, from outside) and started again loses nothing,
rewrites no landed part, and ends with the table an uninterrupted run gives."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from liqcascade.execution.api import montecarlo
from liqcascade.io.store import ResultsStore
from tests.montecarlo.conftest import TINY, write_scenario

N_PATHS = 40
# paths of ~50 ms (2,000 accounts, 100 blocks), one per chunk: the run is still going when a few
# chunks have landed, whatever the machine's speed
SLOWER = TINY.replace("n_accounts = 200", "n_accounts = 2000").replace("blocks = 30", "blocks = 100")


def _command(scenario, store) -> list[str]:
    return [sys.executable, "-m", "liqcascade.cli", "montecarlo", str(scenario), "--paths", str(N_PATHS),
            "--chunk-size", "1", "--executor", "serial", "--out", str(store), "--quiet"]


def _landed(store) -> list:
    return sorted(store.glob("runs/*/paths/part-*.parquet"))


@pytest.mark.slow
def test_killed_run_resumes_and_loses_nothing(tmp_path):
    scenario = write_scenario(tmp_path, SLOWER)
    store = tmp_path / "store"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(_command(scenario, store), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    deadline = time.monotonic() + 300
    while len(_landed(store)) < 3 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert proc.poll() is None, f"the run ended before it could be killed: {proc.stderr.read().decode()[-2000:]}"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL

    st = ResultsStore(store)
    (rid,) = st.list_runs()["run_id"]
    assert st.status(rid) == "running" and not st.has(rid)
    registered = st.parts(rid, "paths")
    assert 3 <= len(registered) < N_PATHS
    folder = store / "runs" / rid / "paths"
    stamps = {i: (folder / f"part-{i:05d}.parquet").stat() for i in registered}

    again = subprocess.run(_command(scenario, store), capture_output=True, text=True, env=env, timeout=600)
    assert again.returncode == 0, again.stderr[-2000:]
    assert st.status(rid) == "finished"
    assert st.parts(rid, "paths") == list(range(N_PATHS))
    for i, before in stamps.items():  # landed parts were not written again
        after = (folder / f"part-{i:05d}.parquet").stat()
        assert (after.st_ino, after.st_mtime_ns, after.st_size) == (before.st_ino, before.st_mtime_ns, before.st_size)

    whole = montecarlo(scenario, N_PATHS, executor="serial", chunk_size=1, store=None)
    pd.testing.assert_frame_equal(st.load(rid, "paths"), whole.table("paths"), check_exact=True)
    pd.testing.assert_frame_equal(st.load(rid, "risk"), whole.table("risk"), check_exact=True)
