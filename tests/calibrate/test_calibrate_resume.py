"""A Monte Carlo calibration interrupted half-way and started again computes only the chunks that
had not landed and ends with exactly the tables an uninterrupted calibration gives.

The interruption is deterministic: path evaluation raises at its ``k``-th call (serial executor,
so chunks and their paths run in order). Book and closed forms: ``conftest.py``."""

from __future__ import annotations

import pandas as pd
import pytest
from click.testing import CliRunner

from liqcascade.execution import calibrate as cal
from liqcascade.cli import main
from liqcascade.errors import ConfigError, LiqcascadeError
from liqcascade.execution import montecarlo as mc
from liqcascade.io.store import ResultsStore

from .conftest import best_lt

PATHS, CHUNK, GRID = 3, 2, 4  # chunks of paths (0, 1) and (2,): two parts per candidate
ARGS = dict(param="liquidation_threshold", asset="WETH", budget=5000.0, paths=PATHS, executor="serial", grid=GRID,
            tol=1e-2)


@pytest.fixture
def counted(monkeypatch):
    """Path evaluations as (seed, index), in order; ``fail_at[0] = k`` makes the k-th call (0-based) raise."""
    evaluate = mc.Prepared.evaluate
    calls: list[int] = []
    fail_at = [None]

    def counting(self, seed, index):
        if fail_at[0] is not None and len(calls) == fail_at[0]:
            raise LiqcascadeError("injected interruption")
        calls.append(index)
        return evaluate(self, seed, index)

    monkeypatch.setattr(mc.Prepared, "evaluate", counting)
    return calls, fail_at


def _no_wall(df: pd.DataFrame) -> pd.DataFrame:
    return df.drop(columns="wall_s")


# 5: in the grid (candidate 0's two parts and candidate 1's first have landed); 13: in the
# first bisection step (all 8 grid parts have landed, the step's first chunk fails on its 2nd path)
@pytest.mark.parametrize("fail_at, landed", [(5, [0, 1, 2]), (13, list(range(2 * GRID)))])
def test_an_interrupted_calibration_resumes_the_missing_chunks(one, tmp_path, counted, fail_at, landed):
    calls, fail = counted
    whole = cal.calibrate(one, store=None, chunk_size=CHUNK, **ARGS)
    total = len(calls)
    n_cand = len(whole.table("candidates"))
    assert total == n_cand * PATHS and n_cand > GRID  # the search bisected after the grid

    store = tmp_path / "store"
    calls.clear()
    fail[0] = fail_at
    with pytest.raises(mc.ChunkFailed, match="injected interruption"):
        cal.calibrate(one, store=store, chunk_size=CHUNK, **ARGS)
    st = ResultsStore(store)
    (rid,) = st.list_runs()["run_id"]
    assert st.status(rid) == "running" and st.parts(rid, "candidate_paths") == landed

    calls.clear()
    fail[0] = None
    done = cal.calibrate(one, store=store, **ARGS)  # no --chunk-size: the interrupted run's is reused
    assert len(calls) == total - 2 * len(landed) + sum(p % 2 for p in landed)  # part 2k: 2 paths, 2k+1: 1 path
    assert done.run_id == rid and st.status(rid) == "finished"
    for name in ("candidates", "candidate_paths"):
        pd.testing.assert_frame_equal(done.table(name), whole.table(name), check_exact=True)
        pd.testing.assert_frame_equal(st.load(rid, name), whole.table(name), check_exact=True)
    pd.testing.assert_frame_equal(_no_wall(st.load(rid, "summary")), _no_wall(whole.table("summary")),
                                  check_exact=True)
    want = best_lt(5000.0)
    assert want - 1e-2 <= done.summary["chosen"] <= want

    calls.clear()  # finished: loaded, nothing runs
    again = cal.calibrate(one, store=store, chunk_size=CHUNK, **ARGS)
    assert calls == [] and again.run_id == rid and again.summary["chosen"] == done.summary["chosen"]


def test_resuming_with_another_chunk_size_is_refused(one, tmp_path, counted):
    _, fail = counted
    store = tmp_path / "store"
    fail[0] = 4
    with pytest.raises(LiqcascadeError):
        cal.calibrate(one, store=store, chunk_size=CHUNK, **ARGS)
    st = ResultsStore(store)
    (rid,) = st.list_runs()["run_id"]
    before = st.parts(rid, "candidate_paths")
    fail[0] = None
    with pytest.raises(ConfigError) as e:
        cal.calibrate(one, store=store, chunk_size=1, **ARGS)
    assert e.value.key == "chunk_size" and "2" in e.value.expected
    assert st.parts(rid, "candidate_paths") == before and st.status(rid) == "running"


def test_cli_calibrate_resumes(one, tmp_path, counted):
    calls, fail = counted
    out = tmp_path / "store"
    args = ["calibrate", str(one), "--param", "liquidation_threshold", "--asset", "WETH", "--budget", "5000",
            "--paths", str(PATHS), "--chunk-size", str(CHUNK), "--executor", "serial", "--grid", str(GRID),
            "--tol", "0.01", "--out", str(out), "--quiet"]
    fail[0] = 8
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 2 and "injected interruption" in r.stderr
    calls.clear()
    fail[0] = None
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    first = len(calls)
    calls.clear()
    whole = CliRunner().invoke(main, args[:-3] + ["--out", str(tmp_path / "fresh"), "--quiet"])
    assert whole.exit_code == 0, whole.output
    # 8 paths had landed (candidates 0, 1 and the first part of 2): the rerun computed the rest
    assert first == len(calls) - 8
    strip = lambda text: [x for x in text.splitlines() if "evaluations" not in x and "tables:" not in x]  # noqa: E731
    assert strip(r.stdout) == strip(whole.stdout)


@pytest.mark.parametrize("paths, size", [(1, 1), (3, 1), (25, 1), (26, 2), (100, 4), (1000, 40), (10_000, 50)])
def test_default_chunk_size_is_about_25_chunks_per_candidate(paths, size):
    assert cal.default_chunk_size(paths) == size
