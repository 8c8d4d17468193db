"""A Monte Carlo run killed half-way and started again loses nothing, recomputes no landed
chunk, rewrites no landed part, and ends with the table an uninterrupted run gives.

The kill is deterministic, not a race against the clock: the child process (the real
``liqcascade montecarlo`` command) SIGKILLs itself when part 4 is written in full but not yet
renamed into place (the rename is what lands a part), the worst moment; parts 0-3 have
landed by then (serial chunks land in order)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pandas as pd
import pytest

from liqcascade.errors import LiqcascadeError
from liqcascade.execution import montecarlo as mc
from liqcascade.execution.api import montecarlo
from liqcascade.io.store import ResultsStore

N_PATHS = 10
KILL_AT_PART = 4

# the child: the CLI, with the store's commit patched to SIGKILL the process when part
# KILL_AT_PART, written whole under .tmp, is about to be renamed into place
CHILD = """
import os, signal, sys
from pathlib import Path
from liqcascade.io import store

_commit = store._commit

def killing_commit(src, dst):
    if Path(dst).name == "part-{part:05d}.parquet":
        os.kill(os.getpid(), signal.SIGKILL)
    return _commit(src, dst)

store._commit = killing_commit
from liqcascade.cli import main
main(sys.argv[1:], prog_name="liqcascade")
"""


def _args(scenario, store) -> list[str]:
    return ["montecarlo", str(scenario), "--paths", str(N_PATHS), "--chunk-size", "1", "--executor", "serial",
            "--out", str(store), "--quiet"]


def test_killed_run_resumes_and_loses_nothing(tiny, tmp_path, monkeypatch):
    store = tmp_path / "store"
    env = {**os.environ, "NUMBA_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", CHILD.format(part=KILL_AT_PART), *_args(tiny, store)],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]

    st = ResultsStore(store)
    (rid,) = st.list_runs()["run_id"]
    assert st.status(rid) == "running" and not st.has(rid)
    assert st.parts(rid, "paths") == list(range(KILL_AT_PART))
    folder = store / "runs" / rid / "paths"
    assert not (folder / f"part-{KILL_AT_PART:05d}.parquet").exists()  # written, never landed
    assert len(list((store / ".tmp").glob(f"{rid}.paths.{KILL_AT_PART}.parquet.*"))) == 1
    stamps = {i: (folder / f"part-{i:05d}.parquet").stat() for i in range(KILL_AT_PART)}

    computed: list[int] = []
    evaluate = mc.Prepared.evaluate

    def counting(self, seed, index):
        computed.append(index)
        return evaluate(self, seed, index)

    reports: list[tuple[int, int]] = []
    monkeypatch.setattr(mc.Prepared, "evaluate", counting)
    done = montecarlo(tiny, N_PATHS, executor="serial", store=store, progress=lambda d, t: reports.append((d, t)))
    assert sorted(computed) == list(range(KILL_AT_PART, N_PATHS))  # nothing landed was recomputed
    assert reports[0] == (KILL_AT_PART, N_PATHS) and reports[-1] == (N_PATHS, N_PATHS)
    assert done.run_id == rid and st.status(rid) == "finished"
    assert st.parts(rid, "paths") == list(range(N_PATHS))
    for i, before in stamps.items():  # landed parts were not written again
        after = (folder / f"part-{i:05d}.parquet").stat()
        assert (after.st_ino, after.st_mtime_ns, after.st_size) == (before.st_ino, before.st_mtime_ns, before.st_size)

    whole = montecarlo(tiny, N_PATHS, executor="serial", chunk_size=1, store=None)
    pd.testing.assert_frame_equal(st.load(rid, "paths"), whole.table("paths"), check_exact=True)
    pd.testing.assert_frame_equal(st.load(rid, "risk"), whole.table("risk"), check_exact=True)
    pd.testing.assert_frame_equal(done.table("paths"), whole.table("paths"), check_exact=True)


def test_a_chunk_that_fails_keeps_the_landed_ones(tiny, tmp_path, monkeypatch):
    """A chunk raising in the middle (here: path 5) stops the run with the error; the chunks
    that landed stay registered and the next start runs only the others."""
    store = tmp_path / "store"
    evaluate = mc.Prepared.evaluate
    computed: list[int] = []

    def failing(self, seed, index):
        if index == 5:
            raise LiqcascadeError("injected failure")
        computed.append(index)
        return evaluate(self, seed, index)

    monkeypatch.setattr(mc.Prepared, "evaluate", failing)
    with pytest.raises(mc.ChunkFailed, match="chunk 2 .*paths 4..5.*injected failure"):
        montecarlo(tiny, 8, executor="serial", chunk_size=2, store=store)
    st = ResultsStore(store)
    (rid,) = st.list_runs()["run_id"]
    assert st.parts(rid, "paths") == [0, 1] and st.status(rid) == "running"

    monkeypatch.setattr(mc.Prepared, "evaluate", lambda self, seed, index: (computed.append(index),
                                                                             evaluate(self, seed, index))[1])
    computed.clear()
    done = montecarlo(tiny, 8, executor="serial", store=store)
    assert computed == [4, 5, 6, 7]
    whole = montecarlo(tiny, 8, executor="serial", chunk_size=2, store=None)
    pd.testing.assert_frame_equal(done.table("paths"), whole.table("paths"), check_exact=True)
