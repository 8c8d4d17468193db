"""One results store, many processes: real `liqcascade` processes writing one store while
others read it, a read-only store, a writer killed mid-save, and a store of format 1.

No mock of DuckDB or of the file system: the writers are the real CLI in subprocesses."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pandas as pd
import pytest

from liqcascade.io.store import ResultsStore, StoreError, run_id

REPO = Path(__file__).resolve().parents[1]
SMALL = REPO / "examples" / "small_book.toml"
ENV = {**os.environ, "NUMBA_NUM_THREADS": "1", "PYTHONPATH": str(REPO / "src")}
CLI = [sys.executable, "-m", "liqcascade.cli"]

# a child that runs the CLI with one store function patched to SIGKILL the process at a
# chosen moment (deterministic, not a race against the clock)
KILLER = """
import os, signal, sys
from pathlib import Path
from liqcascade.io import store

real = getattr(store, {seam!r})

def killing(*args):
    if {when}:
        os.kill(os.getpid(), signal.SIGKILL)
    return real(*args)

setattr(store, {seam!r}, killing)
from liqcascade.cli import main
main(sys.argv[1:], prog_name="liqcascade")
"""


def _cli(*args, **kw) -> subprocess.Popen:
    return subprocess.Popen([*CLI, *map(str, args)], env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, **kw)


def _tree(root: Path) -> dict[str, tuple]:
    """Every path under root with its size and mtime: equal before and after means nothing written."""
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(root.rglob("*"))}


def _dashboard(store: Path):
    """An in-process client of the dashboard over ``store`` (GET requests only)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # starlette's note about httpx versions
        from fastapi.testclient import TestClient
    from liqcascade.web import create_app

    return TestClient(create_app(store), base_url="http://127.0.0.1:8000", raise_server_exceptions=False)


@pytest.mark.slow
def test_concurrent_cli_runs_and_readers_on_one_store(tmp_path):
    """Five `liqcascade run` at once (two of them the same run) while this process keeps
    listing, loading and querying the store and asking the dashboard for its runs: every
    writer exits 0, every run is listed once and finished, every table reads, and no reader
    or page ever failed or saw a half run."""
    store = tmp_path / "store"
    ResultsStore(store)
    web = _dashboard(store)
    shocks = ["0.10", "0.20", "0.30", "0.40", "0.30"]  # the last repeats a run: one is stored
    procs = [_cli("run", SMALL, "--shock", f"WETH={s}", "--out", store) for s in shocks]
    reader, seen, errors, pages = ResultsStore(store, create=False), set(), [], []
    while any(p.poll() is None for p in procs):
        try:
            runs = reader.list_runs()
            assert set(runs["status"]) <= {"finished"}  # a whole run or nothing
            for rid in runs["run_id"]:
                reader.load(rid, "summary")
            seen |= set(runs["run_id"])
            if len(runs):
                reader.query("SELECT run_id, count(*) FROM accounts GROUP BY run_id")
                pages.append(web.get(f"/api/runs/{runs['run_id'].iloc[-1]}").status_code)
            pages.append(web.get("/api/runs").status_code)
        except Exception as e:  # noqa: BLE001 - any failure of a reader is what this test counts
            errors.append(repr(e))
    outs = [p.communicate() for p in procs]
    assert [p.returncode for p in procs] == [0] * 5, [e[-800:] for _, e in outs]
    assert errors == [] and pages and set(pages) == {200}
    runs = ResultsStore(store, create=False).list_runs()
    assert len(runs) == 4 and set(runs["status"]) == {"finished"} and seen <= set(runs["run_id"])
    assert len(web.get("/api/runs").json()["runs"]) == 4
    st = ResultsStore(store, create=False)
    for rid in runs["run_id"]:
        assert st.tables(rid) == ["accounts", "assets", "rounds", "summary", "trades"]
        for t in st.tables(rid):
            assert len(st.load(rid, t)) == json.loads((store / "runs" / rid / "run.json").read_text())["tables"][t]["rows"]
    drops = st.query("SELECT DISTINCT round(initial_drop, 2) AS d FROM summary ORDER BY d")["d"].tolist()
    assert drops == [0.1, 0.2, 0.3, 0.4]
    assert not list((store / ".tmp").iterdir())  # no save left debris


def test_a_writer_process_succeeds_while_this_process_holds_the_store_open(tmp_path):
    """A reader that keeps the store open and queries it without pause (the dashboard's way)
    does not stop a writer process, and sees its run once it lands."""
    store = tmp_path / "store"
    st = ResultsStore(store)
    st.save("aaaaaaaaaaaaaaaa", "static", {"a": 1}, {"summary": pd.DataFrame({"x": [1.0]})})
    stop, errors, polls = threading.Event(), [], [0]

    def read_forever():
        reader = ResultsStore(store, create=False)
        while not stop.is_set():
            try:
                reader.query("SELECT count(*) FROM summary")
                polls[0] += 1
            except Exception as e:  # noqa: BLE001
                errors.append(repr(e))

    t = threading.Thread(target=read_forever)
    t.start()
    try:
        p = _cli("run", SMALL, "--out", store)
        out, err = p.communicate(timeout=300)
    finally:
        stop.set()
        t.join()
    assert p.returncode == 0, err[-2000:]
    assert errors == [] and polls[0] > 0
    assert len(st.list_runs()) == 2
    assert st.query("SELECT count(*) AS n FROM summary")["n"].iloc[0] == 2


def test_a_run_killed_mid_save_leaves_no_run(tmp_path):
    """SIGKILL after the first table of the save is written: nothing is listed, nothing is
    under runs/, and the same command then stores the run."""
    store = tmp_path / "store"
    ResultsStore(store)
    child = KILLER.format(seam="_write_table", when="Path(args[1]).name == 'rounds.parquet'")
    p = subprocess.run([sys.executable, "-c", child, "run", str(SMALL), "--out", str(store)], env=ENV,
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == -signal.SIGKILL, p.stderr[-2000:]
    st = ResultsStore(store, create=False)
    assert st.list_runs().empty and os.listdir(store / "runs") == []
    assert len(os.listdir(store / ".tmp")) == 1  # the dead save's directory, invisible
    again = _cli("run", SMALL, "--out", store)
    _, err = again.communicate(timeout=300)
    assert again.returncode == 0, err[-2000:]
    assert st.list_runs()["status"].tolist() == ["finished"]


@pytest.mark.slow
def test_a_run_killed_while_finishing_is_not_finished(tmp_path):
    """SIGKILL of a Monte Carlo run as its manifest is about to say ``finished`` (every part
    and the risk table written): the run stays ``running``, invisible to the finished-run API
    and to SQL, and the same command then finishes it."""
    store = tmp_path / "store"
    scenario = REPO / "examples" / "montecarlo_eth_day.toml"
    args = ["montecarlo", str(scenario), "--paths", "4", "--chunk-size", "2", "--executor", "serial",
            "--out", str(store), "--quiet"]
    child = KILLER.format(seam="_commit", when="Path(args[1]).name == 'run.json'")
    p = subprocess.run([sys.executable, "-c", child, *args], env=ENV, capture_output=True, text=True, timeout=600)
    assert p.returncode == -signal.SIGKILL, p.stderr[-2000:]
    st = ResultsStore(store, create=False)
    (rid,) = st.list_runs()["run_id"]
    assert st.status(rid) == "running" and not st.has(rid) and st.parts(rid, "paths") == [0, 1]
    assert "paths" not in st.query("SELECT \"table\" FROM \"tables\"")["table"].tolist()
    done = subprocess.run([*CLI, *args], env=ENV, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert st.status(rid) == "finished" and len(st.load(rid, "paths")) == 4


@pytest.mark.slow
def test_the_same_monte_carlo_run_started_twice_at_once(tmp_path):
    """Two identical `liqcascade montecarlo` commands at once (two analysts, one question):
    both exit 0 and the store holds the run once, whole."""
    store = tmp_path / "store"
    args = ["montecarlo", REPO / "examples" / "montecarlo_eth_day.toml", "--paths", "4", "--chunk-size", "1",
            "--executor", "serial", "--out", store, "--quiet"]
    procs = [_cli(*args), _cli(*args)]
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [e[-1500:] for _, e in outs]
    st = ResultsStore(store, create=False)
    (rid,) = st.list_runs()["run_id"]
    assert st.status(rid) == "finished" and st.parts(rid, "paths") == [0, 1, 2, 3]
    assert sorted(st.load(rid, "paths")["path"]) == [0, 1, 2, 3]


# ----------------------------------------------------------------------------- read-only
READER = """
import sys, warnings
from pathlib import Path
from liqcascade.io.store import ResultsStore
store, rid = Path(sys.argv[1]), sys.argv[2]
st = ResultsStore(store, create=False)
assert st.list_runs()["run_id"].tolist() == [rid]
assert st.query("SELECT count(*) AS n FROM summary")["n"].iloc[0] == 1
assert len(st.load(rid, "accounts")) > 0
warnings.simplefilter("ignore")
from fastapi.testclient import TestClient
from liqcascade.web import create_app
c = TestClient(create_app(store), base_url="http://127.0.0.1:8000", raise_server_exceptions=False)
for url in ("/api/runs", f"/api/runs/{rid}", f"/runs/{rid}", f"/api/runs/{rid}/tables/accounts"):
    r = c.get(url)
    assert r.status_code == 200, (url, r.status_code, r.text[:500])
assert [x["run_id"] for x in c.get("/api/runs").json()["runs"]] == [rid]
print("read-only ok")
"""


def _as_reader() -> list[str]:
    """Run as a user who cannot write the store: under root, `nobody` (root ignores chmod)."""
    return ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"] if os.geteuid() == 0 else []


@pytest.mark.slow
def test_a_read_only_store_is_fully_readable():
    """`chmod -R a-w` on a store: runs, show, report, SQL and the dashboard all read it, as a
    user who cannot write there, and not one byte of it changes."""
    if os.geteuid() == 0:
        probe = subprocess.run([*_as_reader(), *CLI, "--help"], env=ENV, capture_output=True, text=True, timeout=120)
        if probe.returncode != 0:  # e.g. a checkout inside a 0700 `mktemp -d` folder: nobody cannot import it
            pytest.skip(f"user nobody cannot run liqcascade from this checkout: {probe.stderr.strip()[-200:]}")
    root = Path(tempfile.mkdtemp(prefix="liqcascade-ro-"))  # not under pytest's private tmp: others must read it
    try:
        os.chmod(root, 0o755)
        store = root / "store"
        p = _cli("run", SMALL, "--out", store)
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        (rid,) = ResultsStore(store, create=False).list_runs()["run_id"]
        for p in [store, *store.rglob("*")]:
            p.chmod(p.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
        before = _tree(store)
        env = {**ENV, "NUMBA_CACHE_DIR": str(root / "numba"), "HOME": str(root)}
        os.chmod(root, 0o777)  # the reader's report and caches go beside the store, not into it
        for args, says in ((["runs", "--store", store], rid), (["show", rid, "--store", store, "--table", "assets"], "WETH"),
                           (["report", rid, "--store", store, "-o", root / "r.html", "--no-complete"], "")):
            r = subprocess.run([*_as_reader(), *CLI, *map(str, args)], env=env, capture_output=True, text=True,
                               timeout=300)
            assert r.returncode == 0 and says in r.stdout, (args, r.stderr[-2000:])
        assert (root / "r.html").stat().st_size > 100_000
        r = subprocess.run([*_as_reader(), sys.executable, "-c", READER, str(store), rid], env=env,
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == 0 and "read-only ok" in r.stdout, r.stderr[-3000:]
        if os.geteuid() == 0:  # the user really could not write: a save there fails, saying so
            w = subprocess.run([*_as_reader(), *CLI, "run", str(SMALL), "--shock", "WETH=0.5", "--out", str(store)],
                               env=env, capture_output=True, text=True, timeout=300)
            assert w.returncode == 2 and "cannot write to this store" in w.stderr, w.stderr[-2000:]
        assert _tree(store) == before
    finally:
        for p in [root, *root.rglob("*")]:
            if not p.is_symlink():
                p.chmod(0o755)
        import shutil

        shutil.rmtree(root)


# ----------------------------------------------------------------------------- format 1
def _format_1_store(root: Path) -> tuple[str, str]:
    """A store as liqcascade wrote it before format 2 (the DuckDB catalog and run.json of
    that version, written here by hand): one finished run, one running run with one part."""
    import duckdb
    import pyarrow as pa
    import pyarrow.parquet as pq

    done, running = "aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb"
    (root / "runs" / done).mkdir(parents=True)
    (root / "runs" / running / "paths").mkdir(parents=True)
    (root / ".tmp").mkdir()
    pq.write_table(pa.table({"x": [1.0, 2.0]}), root / "runs" / done / "summary.parquet")
    pq.write_table(pa.table({"loss": [5.0]}), root / "runs" / running / "paths" / "part-00000.parquet")
    (root / "runs" / done / "run.json").write_text(json.dumps({"run_id": done, "kind": "static", "version": "0.1.0",
                                                               "config": {"a": 1}, "meta": {}}))
    con = duckdb.connect(str(root / "catalog.duckdb"))
    con.execute("CREATE TABLE runs (run_id VARCHAR PRIMARY KEY, kind VARCHAR NOT NULL, created_at TIMESTAMP NOT NULL, "
                "version VARCHAR NOT NULL, config VARCHAR NOT NULL, status VARCHAR NOT NULL, meta VARCHAR NOT NULL)")
    con.execute('CREATE TABLE tables (run_id VARCHAR NOT NULL, "table" VARCHAR NOT NULL, path VARCHAR NOT NULL, '
                'rows BIGINT NOT NULL, PRIMARY KEY (run_id, "table"))')
    con.execute('CREATE TABLE parts (run_id VARCHAR NOT NULL, "table" VARCHAR NOT NULL, part INTEGER NOT NULL, '
                'path VARCHAR NOT NULL, rows BIGINT NOT NULL, PRIMARY KEY (run_id, "table", part))')
    con.execute("INSERT INTO runs VALUES (?, 'static', '2026-01-02 03:04:05', '0.1.0', '{\"a\":1}', 'finished', '{}')",
                [done])
    con.execute("INSERT INTO runs VALUES (?, 'montecarlo', '2026-01-03 00:00:00', '0.1.0', '{}', 'running', "
                "'{\"chunk_size\":1}')", [running])
    con.execute("INSERT INTO tables VALUES (?, 'summary', ?, 2)", [done, f"runs/{done}/summary.parquet"])
    con.execute("INSERT INTO parts VALUES (?, 'paths', 0, ?, 1)", [running, f"runs/{running}/paths/part-00000.parquet"])
    con.close()
    return done, running


def test_a_format_1_store_is_read_as_it_is_by_readers(tmp_path):
    done, running = _format_1_store(tmp_path)
    before = _tree(tmp_path)
    st = ResultsStore(tmp_path, create=False)
    runs = st.list_runs()
    assert runs["run_id"].tolist() == [done, running] and runs["status"].tolist() == ["finished", "running"]
    assert str(runs["created_at"].iloc[0]) == "2026-01-02 03:04:05"
    assert st.load(done, "summary")["x"].tolist() == [1.0, 2.0]
    assert st.parts(running, "paths") == [0] and st.info(running)["meta"] == {"chunk_size": 1}
    assert st.query("SELECT sum(x) AS s FROM summary")["s"].iloc[0] == 3.0
    assert _tree(tmp_path) == before  # a reader writes nothing


def test_a_format_1_store_opened_for_writing_is_upgraded_once(tmp_path):
    done, running = _format_1_store(tmp_path)
    st = ResultsStore(tmp_path)
    assert (tmp_path / "store.json").is_file()
    assert json.loads((tmp_path / "runs" / done / "run.json").read_text())["status"] == "finished"
    assert st.list_runs()["run_id"].tolist() == [done, running]
    assert st.load(done, "summary")["x"].tolist() == [1.0, 2.0]
    # the interrupted run resumes where it stopped and finishes
    assert st.begin(running, "montecarlo", {}, {"chunk_size": 9}) == {"chunk_size": 1}
    st.save_part(running, "paths", 1, pd.DataFrame({"loss": [7.0]}))
    st.finish(running, {})
    assert st.load(running, "paths")["loss"].tolist() == [5.0, 7.0]
    # the old catalog is no longer what the store reads: a new run is listed beside the old ones
    st.save(run_id({"b": 2}, "v"), "static", {"b": 2}, {"summary": pd.DataFrame({"x": [4.0]})})
    assert ResultsStore(tmp_path, create=False).query("SELECT sum(x) AS s FROM summary")["s"].iloc[0] == 7.0


def test_a_busy_old_catalog_is_a_clear_error(tmp_path):
    """A format-1 catalog held for writing by an older liqcascade process cannot be read:
    the error names the file and what was expected, no DuckDB traceback."""
    _format_1_store(tmp_path)
    holder = subprocess.Popen([sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
                               "print('held', flush=True); time.sleep(60)", str(tmp_path / "catalog.duckdb")],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(StoreError, match="catalog.duckdb: the catalog of a store written by an older liqcascade"):
            ResultsStore(tmp_path, create=False).list_runs()
    finally:
        holder.kill()
        holder.wait()


def test_the_upgrade_of_a_format_1_store_waits_for_the_lock_then_says_so(tmp_path, monkeypatch):
    """Two writers opening a format-1 store upgrade it once: one holds the lock, the other
    waits for it, at most LOCK_TIMEOUT_S, then stops with a clear error and writes nothing."""
    import liqcascade.io.store as store_mod

    _format_1_store(tmp_path)
    holder = subprocess.Popen([sys.executable, "-c", "import fcntl, sys, time; f = open(sys.argv[1], 'w'); "
                               "fcntl.flock(f, fcntl.LOCK_EX); print('held', flush=True); time.sleep(60)",
                               str(tmp_path / ".upgrade.lock")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        monkeypatch.setattr(store_mod, "LOCK_TIMEOUT_S", 0.3)
        with pytest.raises(StoreError, match="upgrade.lock: another process has held this lock for over 0.3 s"):
            ResultsStore(tmp_path)
        assert not (tmp_path / "store.json").exists()
    finally:
        holder.kill()
        holder.wait()
    ResultsStore(tmp_path)  # the lock is free again: upgraded
    assert (tmp_path / "store.json").is_file()
