"""ResultsStore.query over stores holding several runs of one table (review finding 1).

Counts are by hand: a view ``T`` stacks every finished run's rows of ``T`` with the holding
run's id in ``run_id`` (or ``parent_run_id`` when ``T`` has a ``run_id`` column of its own).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from liqcascade import api
from liqcascade.io.store import ResultsStore, StoreError
from liqcascade.execution.sweep import sweep

EX = Path(__file__).resolve().parents[1] / "examples"


def test_tables_with_their_own_run_id_get_parent_run_id(tmp_path):
    s = ResultsStore(tmp_path)
    s.save("sw1", "sweep", {"n": 1}, {"sweep": pd.DataFrame({"x": [1, 2], "run_id": ["c1", "c2"]})})
    s.save("sw2", "sweep", {"n": 2}, {"sweep": pd.DataFrame({"x": [3], "run_id": ["c3"]})})
    s.save("c1", "static", {"n": 3}, {"summary": pd.DataFrame({"bad": [10.0]})})
    s.save("c3", "static", {"n": 4}, {"summary": pd.DataFrame({"bad": [30.0]})})
    got = s.query("SELECT parent_run_id, run_id, x FROM sweep ORDER BY x")
    assert got.to_dict("list") == {"parent_run_id": ["sw1", "sw1", "sw2"], "run_id": ["c1", "c2", "c3"], "x": [1, 2, 3]}
    # the combination's run id joins to that run's tables
    joined = s.query("SELECT x, bad FROM sweep JOIN summary USING (run_id) ORDER BY x")
    assert joined.to_dict("list") == {"x": [1, 3], "bad": [10.0, 30.0]}
    # pinned to one run, and the *_all twin
    assert s.query("SELECT count(*) AS n FROM sweep", run_id="sw2")["n"].tolist() == [1]
    assert s.query("SELECT count(*) AS n FROM sweep_all", run_id="sw2")["n"].tolist() == [3]
    assert s.query("SELECT run_id FROM summary ORDER BY run_id")["run_id"].tolist() == ["c1", "c3"]


def test_runs_with_different_columns_stack_by_name(tmp_path):
    s = ResultsStore(tmp_path)
    s.save("a", "static", {"n": 1}, {"summary": pd.DataFrame({"x": [1.0]})})
    s.save("b", "static", {"n": 2}, {"summary": pd.DataFrame({"x": [2.0], "y": [5.0]})})
    got = s.query("SELECT run_id, x, y FROM summary ORDER BY x")
    assert got["run_id"].tolist() == ["a", "b"]
    assert pd.isna(got["y"].iloc[0]) and got["y"].iloc[1] == 5.0


def test_bad_sql_names_the_views(tmp_path):
    s = ResultsStore(tmp_path)
    s.save("a", "static", {"n": 1}, {"summary": pd.DataFrame({"x": [1.0]})})
    with pytest.raises(StoreError, match="summary_all"):
        s.query("SELECT * FROM nope")


def test_two_sweeps_in_one_store(tmp_path):
    store = tmp_path / "q"
    book = EX / "small_book.toml"
    first = sweep(book, ["shock.WETH=0.2,0.3"], store=store)
    second = sweep(book, ["shock.WETH=0.2,0.4"], store=store)
    s = ResultsStore(store)
    # 0.2 is one run shared by both sweeps: 3 static runs, each one summary row
    assert s.query("SELECT count(*) AS n FROM summary")["n"].tolist() == [3]
    assert s.query("SELECT count(DISTINCT run_id) AS n FROM summary")["n"].tolist() == [3]
    per = s.query("SELECT parent_run_id, count(*) AS n FROM sweep GROUP BY 1 ORDER BY 1")
    assert per["parent_run_id"].tolist() == sorted([first.run_id, second.run_id])
    assert per["n"].tolist() == [2, 2]
    rows = s.query('SELECT "shock.WETH" AS w, run_id FROM sweep ORDER BY w')
    assert rows["w"].tolist() == [0.2, 0.2, 0.3, 0.4]
    assert rows["run_id"].iloc[0] == rows["run_id"].iloc[1]  # the same combination, stored once


def test_two_curves_in_one_store(tmp_path):
    store = tmp_path / "q"
    book = EX / "small_book.toml"
    a = api.curve(book, "WETH", "0.1,0.2,0.3", store)
    b = api.curve(book, "WETH", "0.1,0.2,0.3", store, impact=False)
    assert a.run_id != b.run_id
    s = ResultsStore(store)
    got = s.query("SELECT run_id, count(*) AS n FROM curve GROUP BY run_id ORDER BY run_id")
    assert got["run_id"].tolist() == sorted([a.run_id, b.run_id])
    assert got["n"].tolist() == [3, 3]
    one = s.query(f"SELECT shock FROM curve WHERE run_id = '{b.run_id}' ORDER BY shock")
    assert one["shock"].tolist() == pytest.approx([0.1, 0.2, 0.3])
