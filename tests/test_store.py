"""Results store: identity, round trips, atomic saves, SQL, and path safety."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest

import liqcascade.io.store as store_mod
from liqcascade.errors import LiqcascadeError
from liqcascade.io.store import ResultsStore, StoreError, UnknownRunError, UnknownTableError, run_id


def _tables(seed: int = 0):
    rng = np.random.default_rng(seed)
    accounts = pd.DataFrame(
        {"account": np.arange(5), "hf": rng.random(5) + 0.5, "asset": list("abcde"), "liquidated": [True, False] * 2 + [True]}
    )
    summary = pd.DataFrame({"bad_debt_usd": [123.5], "liquidated_usd": [1e6]})
    return {"accounts": accounts, "summary": summary}


CFG = {"scenario": {"shock": -0.3, "asset": "WETH"}, "seed": 1, "assets": ["WETH", "USDC"]}


# ----------------------------------------------------------------------- identity
def test_run_id_is_sha256_of_canonical_json():
    expected = hashlib.sha256(
        json.dumps({"config": CFG, "version": "0.1.0"}, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()[:16]
    assert run_id(CFG, "0.1.0") == expected
    assert len(expected) == 16 and all(c in "0123456789abcdef" for c in expected)


def test_run_id_stable_and_sensitive():
    reordered = {"seed": 1, "assets": ["WETH", "USDC"], "scenario": {"asset": "WETH", "shock": -0.3}}
    assert run_id(CFG, "0.1.0") == run_id(reordered, "0.1.0")
    assert run_id(CFG, "0.1.0") != run_id({**CFG, "seed": 2}, "0.1.0")
    assert run_id(CFG, "0.1.0") != run_id({**CFG, "scenario": {"shock": -0.31, "asset": "WETH"}}, "0.1.0")
    assert run_id(CFG, "0.1.0") != run_id(CFG, "0.1.1")
    # numpy scalars hash like the Python numbers they equal
    assert run_id({"seed": np.int64(1)}, "v") == run_id({"seed": 1}, "v")


def test_run_id_rejects_unhashable_config():
    with pytest.raises(StoreError):
        run_id({"x": object()}, "v")


# ----------------------------------------------------------------------- round trip
def test_save_load_round_trip(tmp_path):
    s = ResultsStore(tmp_path / "store")
    rid = run_id(CFG, "0.1.0")
    t = _tables()
    assert not s.has(rid)
    assert s.save(rid, "scenario", CFG, t, {"version": "0.1.0", "wall_s": 1.5}) is True
    assert s.has(rid)
    assert s.tables(rid) == ["accounts", "summary"]
    for name, df in t.items():
        pd.testing.assert_frame_equal(s.load(rid, name), df)
    runs = s.list_runs()
    assert runs["run_id"].tolist() == [rid]
    row = runs.iloc[0]
    assert row["kind"] == "scenario" and row["status"] == "finished" and row["version"] == "0.1.0"
    assert json.loads(row["config"]) == CFG
    assert s.meta(rid)["meta"]["wall_s"] == 1.5
    # files live where the layout says
    assert (tmp_path / "store" / "runs" / rid / "accounts.parquet").is_file()
    assert (tmp_path / "store" / "store.json").is_file()
    manifest = json.loads((tmp_path / "store" / "runs" / rid / "run.json").read_text())
    assert manifest["status"] == "finished" and manifest["tables"]["accounts"] == {
        "path": f"runs/{rid}/accounts.parquet", "rows": 5}
    assert not (tmp_path / "store" / "catalog.duckdb").exists()  # no database file to lock
    # a fresh store object on the same root sees the same run
    assert ResultsStore(tmp_path / "store").tables(rid) == ["accounts", "summary"]


def test_saving_a_finished_run_again_is_a_no_op(tmp_path):
    s = ResultsStore(tmp_path)
    rid = run_id(CFG, "v")
    s.save(rid, "scenario", CFG, _tables(0), {})
    assert s.save(rid, "scenario", CFG, _tables(1), {}) is False
    pd.testing.assert_frame_equal(s.load(rid, "accounts"), _tables(0)["accounts"])
    assert len(s.list_runs()) == 1


def test_unknown_run_and_table(tmp_path):
    s = ResultsStore(tmp_path)
    with pytest.raises(UnknownRunError, match="deadbeefdeadbeef") as ei:
        s.load("deadbeefdeadbeef", "accounts")
    assert isinstance(ei.value, LiqcascadeError)
    with pytest.raises(UnknownRunError):
        s.tables("deadbeefdeadbeef")
    rid = run_id(CFG, "v")
    s.save(rid, "scenario", CFG, _tables(), {})
    with pytest.raises(UnknownTableError, match="accounts"):
        s.load(rid, "events")


# ----------------------------------------------------------------------- atomicity
def _files(root):
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_interrupted_save_leaves_nothing_and_keeps_finished_run(tmp_path, monkeypatch):
    s = ResultsStore(tmp_path)
    done = run_id(CFG, "v")
    s.save(done, "scenario", CFG, _tables(0), {})
    before = {p: (tmp_path / "runs" / p).read_bytes() for p in _files(tmp_path / "runs")}
    assert len(before) == 3  # two tables and run.json

    real = store_mod._write_table
    calls = {"n": 0}

    def failing(df, path):
        calls["n"] += 1
        if calls["n"] == 2:  # first table written, second one dies
            raise OSError("disk full (simulated)")
        return real(df, path)

    monkeypatch.setattr(store_mod, "_write_table", failing)
    new = run_id({**CFG, "seed": 99}, "v")
    with pytest.raises(OSError, match="simulated"):
        s.save(new, "scenario", {**CFG, "seed": 99}, _tables(1), {})
    monkeypatch.setattr(store_mod, "_write_table", real)

    assert not s.has(new)
    assert s.list_runs()["run_id"].tolist() == [done]
    assert not (tmp_path / "runs" / new).exists()
    assert not list((tmp_path / ".tmp").iterdir())
    with pytest.raises(UnknownRunError):
        s.load(new, "accounts")
    # the finished run is byte-for-byte untouched, and SQL sees only it
    assert {p: (tmp_path / "runs" / p).read_bytes() for p in _files(tmp_path / "runs")} == before
    assert s.query("SELECT DISTINCT run_id FROM accounts_all")["run_id"].tolist() == [done]
    # the same run can be saved once the fault is gone
    assert s.save(new, "scenario", {**CFG, "seed": 99}, _tables(1), {}) is True


def test_a_save_that_dies_at_its_rename_leaves_no_run(tmp_path, monkeypatch):
    """The rename of the run directory is the commit: a save that dies there (here: the rename
    fails) leaves nothing under runs/ and nothing listed, and the same save works afterwards."""
    s = ResultsStore(tmp_path)
    rid = run_id(CFG, "v")

    def broken_rename(src, dst):
        raise OSError("rename failed (simulated)")

    monkeypatch.setattr(store_mod, "_rename_dir", broken_rename)
    with pytest.raises(OSError, match="simulated"):
        s.save(rid, "scenario", CFG, _tables(), {})
    monkeypatch.undo()
    assert not s.has(rid) and s.status(rid) is None
    assert not (tmp_path / "runs" / rid).exists() and not list((tmp_path / ".tmp").iterdir())
    assert s.list_runs().empty
    assert s.save(rid, "scenario", CFG, _tables(), {}) is True
    assert s.tables(rid) == ["accounts", "summary"]


def test_unregistered_leftover_directory_is_invisible_and_replaced(tmp_path):
    s = ResultsStore(tmp_path)
    rid = run_id(CFG, "v")
    leftover = tmp_path / "runs" / rid
    leftover.mkdir()
    (leftover / "accounts.parquet").write_bytes(b"half a file")
    assert not s.has(rid)
    with pytest.raises(UnknownRunError):
        s.load(rid, "accounts")
    s.save(rid, "scenario", CFG, _tables(), {})
    pd.testing.assert_frame_equal(s.load(rid, "accounts"), _tables()["accounts"])
    assert s.remove_partial() == []


# ----------------------------------------------------------------------- SQL
def test_query_views(tmp_path):
    s = ResultsStore(tmp_path)
    a = run_id(CFG, "v")
    b = run_id({**CFG, "seed": 2}, "v")
    s.save(a, "scenario", CFG, _tables(0), {})
    s.save(b, "montecarlo", {**CFG, "seed": 2}, _tables(1), {})
    assert s.query("SELECT count(*) AS n FROM runs")["n"].tolist() == [2]
    assert s.query("SELECT kind FROM runs ORDER BY kind")["kind"].tolist() == ["montecarlo", "scenario"]
    # bare view = every run's rows with a leading run_id; pin one run with run_id=
    every = s.query("SELECT run_id, hf FROM accounts ORDER BY run_id, account")
    assert every["run_id"].tolist() == sorted([a] * 5 + [b] * 5)
    latest = s.query(f"SELECT hf FROM accounts WHERE run_id = '{b}' ORDER BY account")["hf"].to_numpy()
    np.testing.assert_allclose(latest, _tables(1)["accounts"]["hf"].to_numpy())
    pinned = s.query("SELECT hf FROM accounts ORDER BY account", run_id=a)["hf"].to_numpy()
    np.testing.assert_allclose(pinned, _tables(0)["accounts"]["hf"].to_numpy())
    both = s.query("SELECT run_id, count(*) AS n, sum(liquidated::INT) AS liq FROM accounts_all GROUP BY run_id ORDER BY run_id")
    assert both["n"].tolist() == [5, 5] and both["liq"].tolist() == [3, 3]
    joined = s.query(
        'SELECT r.kind, t.rows FROM runs r JOIN "tables" t USING (run_id) WHERE t."table" = \'summary\' ORDER BY r.kind'
    )
    assert joined["rows"].tolist() == [1, 1]


def test_query_cannot_touch_the_file_system(tmp_path):
    s = ResultsStore(tmp_path / "store")
    s.save(run_id(CFG, "v"), "scenario", CFG, _tables(), {})
    outside = tmp_path / "leak.csv"
    with pytest.raises(Exception):
        s.query(f"COPY (SELECT * FROM accounts) TO '{outside}'")
    assert not outside.exists()
    with pytest.raises(Exception):
        s.query(f"COPY (SELECT 1) TO '{tmp_path / 'store' / 'runs' / 'x.csv'}'")


# ----------------------------------------------------------------------- path safety
@pytest.mark.parametrize("bad", ["../x", "..", "a/b", "/etc/passwd", "", ".hidden", "a\\b", "x" * 200, "ok id"])
def test_path_tricks_rejected(tmp_path, bad):
    s = ResultsStore(tmp_path / "store")
    with pytest.raises(StoreError):
        s.save(bad, "scenario", CFG, _tables(), {})
    with pytest.raises(StoreError):
        s.has(bad)
    with pytest.raises(StoreError):
        s.load(bad, "accounts")
    assert not (tmp_path / "x").exists()
    assert [p.name for p in (tmp_path / "store" / "runs").iterdir()] == []


@pytest.mark.parametrize("bad", ["../t", "runs", "tables", "1abc", "a-b", "a.b"])
def test_bad_table_names_rejected(tmp_path, bad):
    s = ResultsStore(tmp_path)
    with pytest.raises(StoreError):
        s.save(run_id(CFG, "v"), "scenario", CFG, {bad: pd.DataFrame({"x": [1]})}, {})
    assert s.list_runs().empty


# ----------------------------------------------------------------------- two writers, one model
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_OPS = st.lists(st.tuples(st.sampled_from(["save", "begin", "part", "finish"]), st.integers(0, 1),
                          st.integers(0, 2), st.integers(0, 3)), max_size=14)


@settings(max_examples=25, deadline=None)
@given(ops=_OPS)
def test_two_store_objects_interleaved_agree_with_a_model(tmp_path_factory, ops):
    """Any interleaving of saves, begins, parts and finishes through two store objects on one
    folder (each as another process would: no state shared in memory) leaves exactly the runs
    a plain model of the rules predicts: a finished run never changes, a running run keeps
    every landed part, and both objects list the same runs."""
    root = tmp_path_factory.mktemp("two")
    stores = [ResultsStore(root), ResultsStore(root)]
    ids = ["a000000000000000", "b000000000000000", "c000000000000000"]
    status: dict[str, str] = {}
    data: dict[str, dict[str, list[float]]] = {}
    landed: dict[str, dict[int, float]] = {}
    for op, who, i, v in ops:
        s, rid = stores[who], ids[i]
        if op == "save":
            if status.get(rid) == "running":
                with pytest.raises(StoreError, match="running"):
                    s.save(rid, "static", {}, {"t": pd.DataFrame({"x": [float(v)]})})
            else:
                assert s.save(rid, "static", {}, {"t": pd.DataFrame({"x": [float(v)]})}) is (rid not in status)
                if rid not in status:
                    status[rid], data[rid] = "finished", {"t": [float(v)]}
        elif op == "begin":
            if status.get(rid) == "finished":
                with pytest.raises(StoreError, match="already finished"):
                    s.begin(rid, "montecarlo", {}, {"first": v})
            else:
                first = s.begin(rid, "montecarlo", {}, {"first": v})
                if rid not in status:
                    status[rid], landed[rid] = "running", {}
                    data[rid] = {"meta": [float(v)]}
                assert first == {"first": int(data[rid]["meta"][0])}
        elif op == "part" and status.get(rid) == "running":
            assert s.save_part(rid, "p", v, pd.DataFrame({"y": [float(v)]})) is (v not in landed[rid])
            landed[rid].setdefault(v, float(v))
        elif op == "finish" and status.get(rid) == "running":
            s.finish(rid, {})
            status[rid] = "finished"
            data[rid] = {"p": [landed[rid][k] for k in sorted(landed[rid])]} if landed[rid] else {}
    for s in stores:
        runs = s.list_runs()
        assert dict(zip(runs["run_id"], runs["status"])) == status
        for rid, state in status.items():
            assert s.has(rid) is (state == "finished")
            if state == "finished":
                assert s.tables(rid) == sorted(data[rid])
                for t, values in data[rid].items():
                    assert s.load(rid, t).iloc[:, 0].tolist() == values
            else:
                assert s.parts(rid, "p") == sorted(landed[rid])
    assert not list((root / ".tmp").glob("*"))  # no save, begin or part left debris
