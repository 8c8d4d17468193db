"""The executor decides where chunks run, never what they compute: serial, local (spawned)
processes and a real Dask distributed cluster give bit-identical tables for the same seed.

The Dask cluster is a real ``LocalCluster`` with a scheduler, two workers and a ``Client``
(tasks submitted, scheduled on the workers and gathered as on any cluster); its workers
are threads of the test process (``processes=False``), so the test does not pay two more
interpreter spawns; spawned processes are covered by the ``local`` executor, whose pool is
shared by the tests here."""

from __future__ import annotations

import pandas as pd
import pytest

from liqcascade.errors import ConfigError
from liqcascade.execution import DaskExecutor, ProcessExecutor, SerialExecutor, open_executor, parse_executor
from liqcascade.execution.api import montecarlo


def _square(x: int) -> int:
    return x * x


def _explode(x: int) -> int:
    raise ValueError(f"item {x}")


def _note_at_exit(path: str) -> int:
    """Register an exit handler in this worker that writes its pid to ``path``."""
    import atexit
    import os

    atexit.register(lambda: open(path, "a").write(f"{os.getpid()}\n"))
    return os.getpid()


def test_a_local_worker_runs_its_exit_handlers_and_ends_with_status_0(tmp_path):
    """A worker whose pool is closed skips the interpreter's teardown (``os._exit``) but still
    runs its exit handlers (multiprocessing's, coverage's) first and ends with status 0."""
    note = tmp_path / "exits.txt"
    ex = ProcessExecutor(1)
    pids = {pid for _, pid in ex.map_unordered(_note_at_exit, [str(note)] * 3)}
    procs = list(ex._pool._processes.values())
    ex.close()
    assert [p.exitcode for p in procs] == [0]
    assert {int(x) for x in note.read_text().split()} == pids and len(note.read_text().split()) == 3


@pytest.fixture(scope="module")
def pool():
    with ProcessExecutor(2) as ex:
        yield ex


def test_serial_processes_and_dask_agree_bit_for_bit(tiny, pool):
    runs = {"serial": montecarlo(tiny, 12, executor="serial", chunk_size=4, store=None),
            "local": montecarlo(tiny, 12, executor=pool, chunk_size=4, store=None)}
    with DaskExecutor(2, processes=False) as dask:
        assert len(dask._client.scheduler_info()["workers"]) == 2
        runs["dask"] = montecarlo(tiny, 12, executor=dask, chunk_size=4, store=None)
    base = runs["serial"].table("paths")
    assert len(base) == 12 and base["chunk"].tolist() == [0] * 4 + [1] * 4 + [2] * 4
    assert base["accounts_liquidated"].sum() > 0
    for ex in ("local", "dask"):
        pd.testing.assert_frame_equal(runs[ex].table("paths"), base, check_exact=True)
        pd.testing.assert_frame_equal(runs[ex].table("risk"), runs["serial"].table("risk"), check_exact=True)


def test_executors_map_every_item_once(pool):
    items = list(range(7))
    with SerialExecutor() as ex:
        assert list(ex.map_unordered(_square, items)) == [(i, i * i) for i in items]
    assert sorted(pool.map_unordered(_square, items)) == [(i, i * i) for i in items]
    with pytest.raises(ValueError, match="item"):
        list(pool.map_unordered(_explode, items))
    assert sorted(pool.map_unordered(_square, items)) == [(i, i * i) for i in items]  # the pool survives


@pytest.mark.parametrize("text, want", [
    ("serial", ("serial", None)), ("local", ("local", None)), ("processes", ("local", None)), ("dask", ("dask", None)),
    ("dask://127.0.0.1:8786", ("dask", "tcp://127.0.0.1:8786")), ("tcp://scheduler.lan:9000", ("dask", "tcp://scheduler.lan:9000")),
])
def test_executor_spellings(text, want):
    assert parse_executor(text) == want


@pytest.mark.parametrize("text", ["ray", "dask://host", "dask://host:0", "dask://host:70000", "http://h:1", ""])
def test_unknown_executors_are_refused(text):
    with pytest.raises(ConfigError, match="executor"):
        open_executor(text)
