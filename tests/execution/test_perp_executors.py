"""Perp Monte Carlo and perp calibration on executors (execution/perp_montecarlo.py,
execution/perp_calibrate.py): the executor and the chunking change where paths run, never their
numbers; chunks land as stored parts and an interrupted run resumes with only the missing ones.

The scenario is the hand case of ``test_perps_run.py`` (a 10x long and a well-funded short
along five minutes down from $100,000 to $88,000), whose resampled paths liquidate the long on
some paths and not on others, so the tables compared are not all zeros."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from liqcascade.cli import main
from liqcascade.errors import ConfigError
from liqcascade.execution import DaskExecutor, ProcessExecutor, SerialExecutor
from liqcascade.execution.perp_calibrate import perp_calibrate
from liqcascade.execution.perp_montecarlo import perp_montecarlo
from liqcascade.io.store import ResultsStore
from liqcascade.scenarios.perp_paths import bootstrap_marks, bootstrap_path
from tests.execution.test_perps_run import CLOSES, _files, _scenario


@pytest.fixture
def hand(tmp_path):
    _files(tmp_path, CLOSES)
    return _scenario(tmp_path, 5_000.0)


def test_a_path_depends_on_the_seed_and_its_index_only():
    base = np.array(CLOSES)
    few, many = bootstrap_marks(base, 3, seed=5), bootstrap_marks(base, 40, seed=5)
    assert np.array_equal(few, many[:3])
    assert all(np.array_equal(bootstrap_path(base, 5, i), many[i]) for i in (0, 17, 39))
    assert not np.array_equal(bootstrap_path(base, 6, 0), many[0])  # another seed, other draws
    # each path still starts at the first mark and moves only by the base path's moves
    assert np.all(many[:, 0] == base[0])
    assert set(np.round(np.diff(np.log(many)), 12).ravel()) <= set(np.round(np.diff(np.log(base)), 12))


def test_one_chunk_or_three_give_the_same_paths(hand):
    one = perp_montecarlo(hand, 9, seed=3, chunk_size=9)["paths"]
    three = perp_montecarlo(hand, 9, seed=3, chunk_size=3)["paths"]
    assert one["chunk"].tolist() == [0] * 9 and three["chunk"].tolist() == [0] * 3 + [1] * 3 + [2] * 3
    closed = one["liquidated_usd"] + one["adl_usd"]
    # closed exactly on the paths that reach the long's liquidation price, $90,402.01 (test_perps_run.py)
    assert ((closed > 0) == (one["low_mark"] < 90_402.01)).all() and (closed > 0).any()
    pd.testing.assert_frame_equal(one.drop(columns="chunk"), three.drop(columns="chunk"), check_exact=True)


@pytest.mark.slow
def test_serial_local_processes_and_a_dask_cluster_agree_bit_for_bit(hand):
    runs, cals = {}, {}
    kw = dict(param="oi_cap", budget=0.0, metric="p_adl", paths=4, seed=2, value_range=(0.5, 2.0), grid=3, tol=0.5)
    with SerialExecutor() as ex:
        runs["serial"] = perp_montecarlo(hand, 8, seed=1, chunk_size=3, executor=ex)
        cals["serial"] = perp_calibrate(hand, **kw, executor=ex, chunk_size=2)
    with ProcessExecutor(2) as ex:
        runs["local"] = perp_montecarlo(hand, 8, seed=1, chunk_size=3, executor=ex)
        cals["local"] = perp_calibrate(hand, **kw, executor=ex, chunk_size=2)
    # a real LocalCluster (scheduler, two workers, a Client); its workers are threads of this process
    # (the spawned processes are the local executor's), which also runs two paths at once on one cached scenario
    with DaskExecutor(2, processes=False) as ex:
        assert len(ex._client.scheduler_info()["workers"]) == 2
        runs["dask"] = perp_montecarlo(hand, 8, seed=1, chunk_size=3, executor=ex)
        cals["dask"] = perp_calibrate(hand, **kw, executor=ex, chunk_size=2)
    assert runs["serial"].run_id == runs["local"].run_id == runs["dask"].run_id
    for name in ("local", "dask"):
        for table in ("paths", "risk"):
            pd.testing.assert_frame_equal(runs[name][table], runs["serial"][table], check_exact=True)
        for table in ("candidates", "summary", "candidate_paths"):
            pd.testing.assert_frame_equal(cals[name][table], cals["serial"][table], check_exact=True)
    p = runs["serial"]["paths"]
    assert len(p) == 8 and ((p["liquidated_usd"] + p["adl_usd"]) > 0).any()


def test_chunks_land_as_parts_and_an_interrupted_run_resumes_the_missing_ones(hand, tmp_path):
    whole = perp_montecarlo(hand, 6, seed=4, chunk_size=2, store=tmp_path / "A")
    a = ResultsStore(tmp_path / "A")
    assert a.parts(whole.run_id, "paths") == [0, 1, 2]
    # the same run interrupted after chunk 1 landed: its manifest and that one part
    b = ResultsStore(tmp_path / "B")
    b.begin(whole.run_id, "perps_montecarlo", {}, {"chunk_size": 2})
    b.save_part(whole.run_id, "paths", 1, whole["paths"].iloc[2:4].reset_index(drop=True))
    reports = []
    again = perp_montecarlo(hand, 6, seed=4, store=tmp_path / "B", progress=lambda d, t: reports.append((d, t)))
    assert reports == [(1, 3), (2, 3), (3, 3)]  # one chunk was there; two ran
    pd.testing.assert_frame_equal(again["paths"], whole["paths"], check_exact=True)
    assert b.has(whole.run_id) and b.status(whole.run_id) == "finished"
    with pytest.raises(ConfigError, match="chunk_size"):  # resuming with another cut is refused
        b2 = ResultsStore(tmp_path / "C")
        b2.begin(whole.run_id, "perps_montecarlo", {}, {"chunk_size": 2})
        perp_montecarlo(hand, 6, seed=4, store=tmp_path / "C", chunk_size=3)


def test_a_calibration_stores_each_candidates_chunks_and_resumes(hand, tmp_path):
    kw = dict(param="oi_cap", budget=0.0, metric="p_adl", paths=4, seed=2, value_range=(0.5, 2.0), grid=3, tol=0.5)
    one = perp_calibrate(hand, **kw, chunk_size=4, store=None)
    res = perp_calibrate(hand, **kw, chunk_size=2, store=tmp_path / "S")
    st = ResultsStore(tmp_path / "S")
    n_cand = len(res["candidates"])
    assert st.parts(res.run_id, "candidate_paths") == list(range(2 * n_cand))  # two chunks per candidate
    pd.testing.assert_frame_equal(res["candidates"], one["candidates"], check_exact=True)
    paths = res["candidate_paths"]
    assert len(paths) == 4 * n_cand and paths.groupby("value")["path"].apply(list).map(lambda x: x == [0, 1, 2, 3]).all()
    # every candidate ran on the same four paths: the lowest mark of a path does not depend on the value
    assert (paths.groupby("path")["low_mark"].nunique() == 1).all()


@pytest.mark.parametrize("kw, flag", [(dict(chunk_size=0), "--chunk-size"), (dict(executor="ray"), "--executor"),
                                      (dict(paths=0), "--paths"), (dict(seed=-1), "--seed")])
def test_bad_executor_arguments_are_named_before_anything_is_written(hand, tmp_path, kw, flag):
    args = dict(paths=3, seed=0) | kw
    with pytest.raises(ConfigError) as e:
        perp_montecarlo(hand, args.pop("paths"), args.pop("seed"), store=tmp_path / "S", **args)
    assert e.value.file == flag and not (tmp_path / "S").exists()


def test_cli_runs_a_perp_montecarlo_and_calibration_on_an_executor(hand, tmp_path):
    out = str(tmp_path / "S")
    r = CliRunner().invoke(main, ["montecarlo", str(hand), "--paths", "4", "--executor", "serial", "--chunk-size", "2",
                                  "--out", out, "-q"])
    assert r.exit_code == 0, r.output
    assert "perps Monte Carlo: 4 paths" in r.output
    rid = r.output.split()[1]
    assert ResultsStore(out).parts(rid, "paths") == [0, 1]
    r = CliRunner().invoke(main, ["calibrate", str(hand), "--param", "oi_cap", "--budget", "0", "--paths", "3",
                                  "--executor", "serial", "--chunk-size", "2", "--grid", "2", "--out", out, "-q"])
    assert r.exit_code == 0, r.output and "chosen oi_cap" in r.output
    bad = CliRunner().invoke(main, ["montecarlo", str(hand), "--paths", "2", "--executor", "ray", "--out",
                                    str(tmp_path / "T")])
    assert bad.exit_code == 2 and "--executor" in bad.output and not (tmp_path / "T").exists()


class _Counting(SerialExecutor):
    """In this process, counting the chunks it runs."""

    def __init__(self) -> None:
        self.ran = 0

    def map_unordered(self, fn, items):
        self.ran += len(items)
        return super().map_unordered(fn, items)


def test_an_interrupted_calibration_runs_only_the_chunks_that_had_not_landed(hand, tmp_path):
    kw = dict(param="oi_cap", budget=0.0, metric="p_adl", paths=4, seed=2, value_range=(0.5, 2.0), grid=3, tol=0.5,
              chunk_size=2)
    first = _Counting()
    whole = perp_calibrate(hand, **kw, store=tmp_path / "A", executor=first)
    a = ResultsStore(tmp_path / "A")
    parts = a.parts(whole.run_id, "candidate_paths")
    assert first.ran == len(parts) == 2 * len(whole["candidates"])
    # the same calibration interrupted after the grid's first candidate: its two parts landed
    b = ResultsStore(tmp_path / "B")
    b.begin(whole.run_id, "perps_calibrate", {}, {"chunk_size": 2})
    cp = whole["candidate_paths"]
    for part in (0, 1):
        b.save_part(whole.run_id, "candidate_paths", part, cp.iloc[2 * part: 2 * part + 2].reset_index(drop=True))
    again = _Counting()
    res = perp_calibrate(hand, **kw, store=tmp_path / "B", executor=again)
    assert again.ran == len(parts) - 2
    for table in ("candidates", "summary", "candidate_paths"):
        pd.testing.assert_frame_equal(res[table], whole[table], check_exact=True)
    assert b.status(whole.run_id) == "finished"
