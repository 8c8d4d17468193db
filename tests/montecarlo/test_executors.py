"""The executor decides where chunks run, never what they compute: serial, local processes and
a real Dask LocalCluster give bit-identical tables for the same seed."""

from __future__ import annotations

import pandas as pd
import pytest

from liqcascade.errors import ConfigError
from liqcascade.execution import ProcessExecutor, SerialExecutor, open_executor, parse_executor
from liqcascade.execution.api import montecarlo


def _square(x: int) -> int:
    return x * x


def _explode(x: int) -> int:
    raise ValueError(f"item {x}")


@pytest.mark.slow
def test_serial_processes_and_dask_agree_bit_for_bit(tiny):
    runs = {ex: montecarlo(tiny, 12, executor=ex, workers=2, chunk_size=4, store=None)
            for ex in ("serial", "local", "dask")}
    base = runs["serial"].table("paths")
    assert len(base) == 12 and base["chunk"].tolist() == [0] * 4 + [1] * 4 + [2] * 4
    assert base["accounts_liquidated"].sum() > 0
    for ex in ("local", "dask"):
        pd.testing.assert_frame_equal(runs[ex].table("paths"), base, check_exact=True)
        pd.testing.assert_frame_equal(runs[ex].table("risk"), runs["serial"].table("risk"), check_exact=True)


def test_executors_map_every_item_once():
    items = list(range(7))
    with SerialExecutor() as ex:
        assert list(ex.map_unordered(_square, items)) == [(i, i * i) for i in items]
    with ProcessExecutor(2) as ex:
        assert sorted(ex.map_unordered(_square, items)) == [(i, i * i) for i in items]
        with pytest.raises(ValueError, match="item"):
            list(ex.map_unordered(_explode, items))


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
