"""The results store: Parquet tables per run plus a DuckDB catalog, queryable in SQL.

Layout under ``root`` (the store never writes anywhere else)::

    root/catalog.duckdb               runs(run_id, kind, created_at, version, config, status, meta)
                                      tables(run_id, "table", path, rows)
                                      parts(run_id, "table", part, path, rows)
    root/runs/<run_id>/<table>.parquet
    root/runs/<run_id>/<table>/part-00012.parquet   a table that lands in parts (Monte Carlo chunks)
    root/runs/<run_id>/run.json       config and meta, so a run directory describes itself
    root/.tmp/                        saves in progress

A run's identity is :func:`run_id`: the hash of its resolved config and the package version.

Atomicity. :meth:`ResultsStore.save` writes every table into a fresh directory under
``root/.tmp``, renames it to ``root/runs/<run_id>`` (one ``rename``, atomic on one file
system) and only then registers the run and its tables in the catalog, in one transaction.
A run exists exactly when it is registered: :meth:`has`, :meth:`load`, :meth:`tables`,
:meth:`list_runs` and :meth:`query` only see registered runs. A save that fails or is killed
midway leaves at most an unregistered directory (in ``.tmp`` or, if it died between the rename
and the registration, under ``runs/``); it is invisible, never touches a finished run, and is
replaced by the next save of that run id or removed by :meth:`remove_partial`.

Saving a run id that is already finished is a **no-op** that returns ``False``: the id is the
hash of everything that determines the results, so a second save would store the same numbers
(a cache hit). Use a different config or version to store different results.

Runs that land in parts. A long run (Monte Carlo) is registered with status ``running`` by
:meth:`ResultsStore.begin` (its config and meta, e.g. the chunk count, in the catalog and in
``run.json``); each part is written to ``.tmp``, renamed into ``runs/<run_id>/<table>/`` and
registered in ``parts`` as it lands (:meth:`ResultsStore.save_part`; a registered part is
never written again); :meth:`ResultsStore.finish` adds the run's other tables and flips the
status to ``finished`` in one transaction. A run killed midway keeps every registered part:
starting it again asks :meth:`ResultsStore.parts` what is done. The full table is the parts
concatenated in part order (:meth:`ResultsStore.load`); SQL sees it as one table.

Concurrency: the catalog is a DuckDB file; each operation opens and closes its own
connection, so several stores in one process are fine, but DuckDB lets only one process hold
the file for writing at a time — run parallel workers' saves through one process.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from liqcascade.errors import LiqcascadeError


class StoreError(LiqcascadeError):
    """A results-store operation was given something it cannot accept (bad id, bad table)."""


class UnknownRunError(StoreError):
    """No finished run with this id is registered in the store."""


class UnknownTableError(StoreError):
    """The run exists but has no table of this name."""


_RUN_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")
_TABLE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_RESERVED_TABLES = {"runs", "tables"}
FINISHED = "finished"
RUNNING = "running"


# --------------------------------------------------------------------------- identity
def _canonical_default(o: Any) -> Any:
    try:
        import numpy as np

        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, np.ndarray):
            return o.tolist()
    except ImportError:  # pragma: no cover - numpy is a dependency
        pass
    if isinstance(o, (set, frozenset)):
        return sorted(o, key=repr)
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"config value of type {type(o).__name__} is not JSON-serializable: {o!r}")


def canonical_json(obj: Any) -> str:
    """JSON with sorted keys, no whitespace, tuples as lists; ``inf``/``nan`` as JSON-like
    ``Infinity``/``NaN`` tokens (Python's spelling), so it is stable across runs and machines."""
    try:
        return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                          allow_nan=True, default=_canonical_default)
    except TypeError as exc:
        raise StoreError(f"cannot hash the config: {exc}") from None


def run_id(resolved_config: Mapping[str, Any], version: str) -> str:
    """First 16 hex characters of sha256 over the canonical JSON of
    ``{"config": resolved_config, "version": version}``."""
    import hashlib

    payload = canonical_json({"config": resolved_config, "version": str(version)})
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]


def _check_run_id(rid: str) -> str:
    if not isinstance(rid, str) or not _RUN_ID_RE.match(rid):
        raise StoreError(
            f"invalid run id {rid!r}: expected 1-128 characters of letters, digits, '-' or '_' "
            "(such as the 16 hex characters run_id() returns)"
        )
    return rid


def _check_table(name: str) -> str:
    if not isinstance(name, str) or not _TABLE_RE.match(name) or name.lower() in _RESERVED_TABLES:
        raise StoreError(
            f"invalid table name {name!r}: expected a SQL identifier (letters, digits, '_', not starting "
            f"with a digit), not one of {sorted(_RESERVED_TABLES)}"
        )
    return name


def _part_name(part: int) -> str:
    return f"part-{part:05d}.parquet"


def _write_table(df: pd.DataFrame, path: Path) -> int:
    """Write one table as Parquet; returns its row count. (A seam for tests to fail a save.)"""
    table = pa.Table.from_pandas(df)
    pq.write_table(table, path)
    return table.num_rows


# --------------------------------------------------------------------------- the store
class ResultsStore:
    """Runs' tables as Parquet under ``root``, catalogued in ``root/catalog.duckdb``."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            (self.root / "runs").mkdir(exist_ok=True)
        except OSError as e:
            raise StoreError(f"results store {str(root)!r}: expected a folder that exists or can be created, "
                             f"got {e.strerror or e}") from None
        self.catalog_path = self.root / "catalog.duckdb"
        with self._connect() as con:
            con.execute(
                """
                CREATE TABLE IF NOT EXISTS runs (
                    run_id VARCHAR PRIMARY KEY,
                    kind VARCHAR NOT NULL,
                    created_at TIMESTAMP NOT NULL,
                    version VARCHAR NOT NULL,
                    config VARCHAR NOT NULL,
                    status VARCHAR NOT NULL,
                    meta VARCHAR NOT NULL
                )
                """
            )
            con.execute(
                """
                CREATE TABLE IF NOT EXISTS tables (
                    run_id VARCHAR NOT NULL,
                    "table" VARCHAR NOT NULL,
                    path VARCHAR NOT NULL,
                    rows BIGINT NOT NULL,
                    PRIMARY KEY (run_id, "table")
                )
                """
            )
            con.execute(
                """
                CREATE TABLE IF NOT EXISTS parts (
                    run_id VARCHAR NOT NULL,
                    "table" VARCHAR NOT NULL,
                    part INTEGER NOT NULL,
                    path VARCHAR NOT NULL,
                    rows BIGINT NOT NULL,
                    PRIMARY KEY (run_id, "table", part)
                )
                """
            )

    def __repr__(self) -> str:
        return f"ResultsStore({str(self.root)!r})"

    # ------------------------------------------------------------------ internals
    def _connect(self, read_only: bool = False) -> duckdb.DuckDBPyConnection:
        return duckdb.connect(str(self.catalog_path), read_only=read_only)

    def _run_dir(self, rid: str) -> Path:
        d = (self.root / "runs" / _check_run_id(rid)).resolve()
        if d.parent != (self.root / "runs").resolve():  # belt and braces: never leave root/runs
            raise StoreError(f"run id {rid!r} resolves outside the store")
        return d

    def _require(self, rid: str) -> None:
        _check_run_id(rid)
        if not self.has(rid):
            raise UnknownRunError(f"{self.root}: no finished run {rid!r}; list_runs() shows the stored runs")

    # ------------------------------------------------------------------ queries
    def has(self, run_id: str) -> bool:
        """True when a finished run with this id is registered."""
        _check_run_id(run_id)
        with self._connect() as con:
            row = con.execute("SELECT status FROM runs WHERE run_id = ?", [run_id]).fetchone()
        return row is not None and row[0] == FINISHED

    def tables(self, run_id: str) -> list[str]:
        """Names of the run's tables, sorted."""
        self._require(run_id)
        with self._connect() as con:
            rows = con.execute('SELECT "table" FROM tables WHERE run_id = ? ORDER BY "table"', [run_id]).fetchall()
        return [r[0] for r in rows]

    def list_runs(self) -> pd.DataFrame:
        """All runs, oldest first: run_id, kind, created_at, version, config, status, meta (status
        is ``finished``, or ``running`` for a run landing in parts that has not finished)."""
        with self._connect() as con:
            return con.execute("SELECT * FROM runs ORDER BY created_at, run_id").df()

    def path(self, run_id: str, table: str) -> Path:
        """Absolute path of a stored table's Parquet file."""
        self._require(run_id)
        _check_table(table)
        with self._connect() as con:
            row = con.execute('SELECT path FROM tables WHERE run_id = ? AND "table" = ?', [run_id, table]).fetchone()
        if row is None:
            raise UnknownTableError(f"run {run_id!r} has no table {table!r}; it has {self.tables(run_id)}")
        return self.root / row[0]

    def load(self, run_id: str, table: str) -> pd.DataFrame:
        """One stored table as a pandas DataFrame (index and dtypes as saved; a table stored in
        parts is its parts concatenated in part order)."""
        p = self.path(run_id, table)
        if p.is_dir():
            return self._read_parts(run_id, table)
        return pq.read_table(p).to_pandas()

    def meta(self, run_id: str) -> dict[str, Any]:
        """The ``config`` and ``meta`` a run was saved with."""
        self._require(run_id)
        with self._connect() as con:
            cfg, meta = con.execute("SELECT config, meta FROM runs WHERE run_id = ?", [run_id]).fetchone()
        return {"config": json.loads(cfg), "meta": json.loads(meta)}

    # ------------------------------------------------------------------ save
    def save(
        self,
        run_id: str,
        kind: str,
        config: Mapping[str, Any],
        tables: Mapping[str, pd.DataFrame],
        meta: Mapping[str, Any] | None = None,
    ) -> bool:
        """Store a finished run atomically; returns True, or False if it was already stored.

        ``meta["version"]`` (default: the installed liqcascade version) goes into the runs
        table; the rest of ``meta`` is kept as JSON. Table names must be SQL identifiers.
        """
        from liqcascade import __version__

        final = self._run_dir(run_id)
        if not isinstance(kind, str) or not kind:
            raise StoreError(f"run {run_id!r}: kind must be a non-empty string, got {kind!r}")
        if not tables:
            raise StoreError(f"run {run_id!r}: expected at least one table")
        for name, df in tables.items():
            _check_table(name)
            if not isinstance(df, pd.DataFrame):
                raise StoreError(f"run {run_id!r}: table {name!r} must be a pandas DataFrame, got {type(df).__name__}")
        meta = dict(meta or {})
        version = str(meta.get("version", __version__))
        config_json = canonical_json(dict(config))
        meta_json = canonical_json(meta)
        if self.has(run_id):
            return False

        tmp_root = self.root / ".tmp"
        tmp_root.mkdir(exist_ok=True)
        tmp = tmp_root / f"{run_id}.{os.getpid()}.{uuid.uuid4().hex[:8]}"
        tmp.mkdir()
        try:
            rows: dict[str, int] = {}
            for name, df in tables.items():
                rows[name] = _write_table(df, tmp / f"{name}.parquet")
            (tmp / "run.json").write_text(
                json.dumps({"run_id": run_id, "kind": kind, "version": version,
                            "config": json.loads(config_json), "meta": json.loads(meta_json)},
                           indent=1, allow_nan=True),
                encoding="utf-8",
            )
            if final.exists():
                # an unregistered leftover of a save that died after its rename: not a finished run
                shutil.rmtree(final)
            os.rename(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        try:
            with self._connect() as con:
                con.execute("BEGIN TRANSACTION")
                con.execute(
                    "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [run_id, kind, datetime.now(timezone.utc).replace(tzinfo=None), version,
                     config_json, FINISHED, meta_json],
                )
                con.executemany(
                    "INSERT INTO tables VALUES (?, ?, ?, ?)",
                    [[run_id, name, f"runs/{run_id}/{name}.parquet", n] for name, n in rows.items()],
                )
                con.execute("COMMIT")
        except BaseException:
            # never leave files that look like a run without its registration
            if not self.has(run_id):
                shutil.rmtree(final, ignore_errors=True)
            raise
        return True

    def remove_partial(self) -> list[Path]:
        """Delete what failed saves left behind (``.tmp`` and unregistered run directories).

        Call it only when no save is running. Returns the paths removed.
        """
        removed: list[Path] = []
        tmp_root = self.root / ".tmp"
        if tmp_root.exists():
            for p in tmp_root.iterdir():
                shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink()
                removed.append(p)
        with self._connect() as con:
            known = {r[0] for r in con.execute("SELECT run_id FROM runs").fetchall()}
        for p in (self.root / "runs").iterdir():
            if p.name not in known:
                shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink()
                removed.append(p)
        return removed

    # ------------------------------------------------------------------ runs in parts
    def status(self, run_id: str) -> str | None:
        """``finished``, ``running`` (begun, landing in parts) or None (not registered)."""
        _check_run_id(run_id)
        with self._connect() as con:
            row = con.execute("SELECT status FROM runs WHERE run_id = ?", [run_id]).fetchone()
        return None if row is None else row[0]

    def info(self, run_id: str) -> dict[str, Any] | None:
        """``status``, ``config`` and ``meta`` of a registered run (finished or running), else None."""
        _check_run_id(run_id)
        with self._connect() as con:
            row = con.execute("SELECT status, config, meta FROM runs WHERE run_id = ?", [run_id]).fetchone()
        if row is None:
            return None
        return {"status": row[0], "config": json.loads(row[1]), "meta": json.loads(row[2])}

    def begin(self, run_id: str, kind: str, config: Mapping[str, Any], meta: Mapping[str, Any]) -> dict[str, Any]:
        """Register a run whose tables land in parts (status ``running``); returns its meta.

        Writes ``run.json`` (config and meta) into the run directory, then the catalog row.
        When the run is already running (a restart), nothing changes and the meta it was begun
        with is returned, so the caller can check it resumes the same layout. A finished run
        raises :class:`StoreError`.
        """
        from liqcascade import __version__

        final = self._run_dir(run_id)
        state = self.status(run_id)
        if state == FINISHED:
            raise StoreError(f"run {run_id!r} is already finished; load it instead of beginning it")
        if state == RUNNING:
            with self._connect() as con:
                (stored,) = con.execute("SELECT meta FROM runs WHERE run_id = ?", [run_id]).fetchone()
            return json.loads(stored)
        meta = dict(meta)
        version = str(meta.get("version", __version__))
        config_json, meta_json = canonical_json(dict(config)), canonical_json(meta)
        final.mkdir(parents=True, exist_ok=True)
        self._write_run_json(final, run_id, kind, version, config_json, meta_json, complete=False)
        with self._connect() as con:
            con.execute(
                "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?)",
                [run_id, kind, datetime.now(timezone.utc).replace(tzinfo=None), version, config_json, RUNNING, meta_json],
            )
        return json.loads(meta_json)

    def _write_run_json(self, run_dir: Path, run_id: str, kind: str, version: str, config_json: str, meta_json: str,
                        complete: bool) -> None:
        tmp = self._tmp_file(run_id, "run.json")
        tmp.write_text(
            json.dumps({"run_id": run_id, "kind": kind, "version": version, "complete": complete,
                        "config": json.loads(config_json), "meta": json.loads(meta_json)}, indent=1, allow_nan=True),
            encoding="utf-8",
        )
        os.replace(tmp, run_dir / "run.json")

    def _tmp_file(self, run_id: str, name: str) -> Path:
        tmp_root = self.root / ".tmp"
        tmp_root.mkdir(exist_ok=True)
        return tmp_root / f"{run_id}.{name}.{os.getpid()}.{uuid.uuid4().hex[:8]}"

    def _require_running(self, run_id: str) -> None:
        if self.status(run_id) != RUNNING:
            raise StoreError(f"run {run_id!r} is not running (begin() it first; a finished run takes no parts)")

    def save_part(self, run_id: str, table: str, part: int, df: pd.DataFrame) -> bool:
        """Store part ``part`` (an integer >= 0) of ``table`` of a running run; False if that part
        is already registered (it is then left untouched: a landed part is never rewritten).

        The part is written to ``.tmp``, renamed to ``runs/<run_id>/<table>/part-NNNNN.parquet``
        and only then registered, so a registered part is always whole.
        """
        _check_table(table)
        if isinstance(part, bool) or not isinstance(part, int) or part < 0:
            raise StoreError(f"run {run_id!r}: part must be an integer >= 0, got {part!r}")
        if not isinstance(df, pd.DataFrame):
            raise StoreError(f"run {run_id!r}: part {part} of {table!r} must be a pandas DataFrame, got {type(df).__name__}")
        self._require_running(run_id)
        if part in self.parts(run_id, table):
            return False
        folder = self._run_dir(run_id) / table
        folder.mkdir(exist_ok=True)
        tmp = self._tmp_file(run_id, f"{table}.{part}.parquet")
        try:
            arrow = pa.Table.from_pandas(df, preserve_index=False)
            pq.write_table(arrow, tmp)
            os.replace(tmp, folder / _part_name(part))
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        with self._connect() as con:
            con.execute(
                "INSERT INTO parts VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                [run_id, table, part, f"runs/{run_id}/{table}/{_part_name(part)}", arrow.num_rows],
            )
        return True

    def parts(self, run_id: str, table: str) -> list[int]:
        """The registered parts of ``table`` of a run (running or finished), ascending."""
        _check_run_id(run_id)
        _check_table(table)
        with self._connect() as con:
            rows = con.execute('SELECT part FROM parts WHERE run_id = ? AND "table" = ? ORDER BY part',
                               [run_id, table]).fetchall()
        return [r[0] for r in rows]

    def _read_parts(self, run_id: str, table: str) -> pd.DataFrame:
        with self._connect() as con:
            paths = [r[0] for r in con.execute('SELECT path FROM parts WHERE run_id = ? AND "table" = ? ORDER BY part',
                                                [run_id, table]).fetchall()]
        if not paths:
            return pd.DataFrame()
        return pa.concat_tables([pq.read_table(self.root / p) for p in paths]).to_pandas()

    def load_parts(self, run_id: str, table: str) -> pd.DataFrame:
        """The parts of ``table`` landed so far (a running or finished run), in part order."""
        _check_table(table)
        if self.status(run_id) is None:
            raise UnknownRunError(f"{self.root}: no run {run_id!r}; list_runs() shows the stored runs")
        return self._read_parts(run_id, table)

    def finish(self, run_id: str, tables: Mapping[str, pd.DataFrame], meta: Mapping[str, Any] | None = None) -> None:
        """Finish a running run: store ``tables`` (whole tables beside the parted ones), register
        every parted table as one table, merge ``meta`` into the run's meta and mark the run
        ``finished`` — the registration in one transaction. Check that every part has landed
        before calling it."""
        self._require_running(run_id)
        for name, df in tables.items():
            _check_table(name)
            if not isinstance(df, pd.DataFrame):
                raise StoreError(f"run {run_id!r}: table {name!r} must be a pandas DataFrame, got {type(df).__name__}")
        final = self._run_dir(run_id)
        with self._connect() as con:
            kind, version, config_json, meta_json = con.execute(
                "SELECT kind, version, config, meta FROM runs WHERE run_id = ?", [run_id]).fetchone()
            parted = con.execute('SELECT "table", SUM(rows) FROM parts WHERE run_id = ? GROUP BY "table"',
                                 [run_id]).fetchall()
        rows: dict[str, tuple[str, int]] = {}
        for name, df in tables.items():
            tmp = self._tmp_file(run_id, f"{name}.parquet")
            try:
                n = _write_table(df, tmp)
                os.replace(tmp, final / f"{name}.parquet")
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
            rows[name] = (f"runs/{run_id}/{name}.parquet", n)
        for name, n in parted:
            rows[name] = (f"runs/{run_id}/{name}", int(n))
        meta_json = canonical_json({**json.loads(meta_json), **dict(meta or {})})
        self._write_run_json(final, run_id, kind, version, config_json, meta_json, complete=True)
        with self._connect() as con:
            con.execute("BEGIN TRANSACTION")
            con.execute('DELETE FROM tables WHERE run_id = ?', [run_id])
            if rows:
                con.executemany("INSERT INTO tables VALUES (?, ?, ?, ?)", [[run_id, k, p, n] for k, (p, n) in rows.items()])
            con.execute("UPDATE runs SET status = ?, meta = ? WHERE run_id = ?", [FINISHED, meta_json, run_id])
            con.execute("COMMIT")

    # ------------------------------------------------------------------ SQL
    def query(self, sql: str, run_id: str | None = None) -> pd.DataFrame:
        """Run DuckDB SQL over the store; returns a DataFrame.

        Views: ``runs`` and ``tables`` (the catalog), and for each stored table name ``T`` a
        view ``T``: the rows of ``T`` of **every** finished run that has it, stacked (columns
        matched by name; a column one run lacks is NULL), with the id of the run that holds
        each row in a leading column ``run_id`` (filter on it: ``... FROM curve WHERE run_id =
        '...'``). A table that has a ``run_id`` column of its own keeps it (the ``sweep`` and
        ``sweep_risk`` tables: each combination's run, which joins to that run's tables), and
        the holding run's id is then the leading column ``parent_run_id``. With ``run_id=``
        given, ``T`` holds only that run's rows; ``T_all`` is always every run's rows (the same
        columns). The connection is in memory and has no file-system access, so queries can
        read the store but write nothing anywhere.
        """
        import pyarrow.dataset as ds

        if run_id is not None:
            self._require(run_id)
        with self._connect() as cat:
            runs = cat.execute("SELECT * FROM runs ORDER BY created_at, run_id").df()
            tabs = cat.execute(
                'SELECT t.run_id, t."table", t.path, t.rows, r.created_at FROM tables t '
                "JOIN runs r USING (run_id) WHERE r.status = ? ORDER BY r.created_at, t.run_id",
                [FINISHED],
            ).df()
        con = duckdb.connect(config={"enable_external_access": False})
        try:
            con.register("_runs", runs)
            con.register("_tables", tabs.drop(columns="created_at"))
            con.execute("CREATE VIEW runs AS SELECT * FROM _runs")
            con.execute('CREATE VIEW "tables" AS SELECT * FROM _tables')
            for name, grp in tabs.groupby("table", sort=True):
                parts, columns = [], set()
                for i, (rid, rel) in enumerate(zip(grp["run_id"], grp["path"])):
                    reg = f"_{name}_{i}"
                    data = ds.dataset(str(self.root / rel), format="parquet")
                    columns.update(data.schema.names)
                    con.register(reg, data)
                    parts.append((rid, reg))
                # run ids and table names are checked identifiers, safe to inline
                id_col = next(c for c in ("run_id", "parent_run_id", "stored_run_id") if c not in columns)
                select = [f"SELECT '{rid}' AS {id_col}, * FROM {reg}" for rid, reg in parts]
                con.execute(f'CREATE VIEW "{name}_all" AS ' + " UNION ALL BY NAME ".join(select))
                if run_id is None:
                    con.execute(f'CREATE VIEW "{name}" AS SELECT * FROM "{name}_all"')
                else:
                    mine = [q for q, (rid, _) in zip(select, parts) if rid == run_id]
                    if mine:
                        con.execute(f'CREATE VIEW "{name}" AS {mine[0]}')
            con.execute("SET lock_configuration = true")
            try:
                return con.execute(sql).df()
            except duckdb.Error as e:
                views = ["runs", "tables"] + sorted({f"{t}" for t in tabs["table"]} | {f"{t}_all" for t in tabs["table"]})
                raise StoreError(f"{self.root}: query failed: {e}\nviews in this store: {views}") from None
        finally:
            con.close()


__all__ = [
    "ResultsStore",
    "StoreError",
    "UnknownRunError",
    "UnknownTableError",
    "canonical_json",
    "run_id",
]
