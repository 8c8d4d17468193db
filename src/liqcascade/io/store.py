"""The results store: Parquet tables per run, each run described by its own manifest.

Layout under ``root`` (the store never writes anywhere else)::

    root/store.json                   marks the folder as a store (format 2)
    root/runs/<run_id>/run.json       the run's manifest: run_id, kind, status, created_at,
                                      version, config, meta and its tables (path, rows, parts)
    root/runs/<run_id>/<table>.parquet
    root/runs/<run_id>/<table>/part-00012.parquet   a table that lands in parts (Monte Carlo chunks)
    root/journal                      one line per change (time, event, run id), appended
    root/.tmp/                        saves in progress

A run's identity is :func:`run_id`: the hash of its resolved config and the package version.

Many processes, one store. There is no shared index file and no database file lock: every
change is one atomic rename on one file system, and readers only read files.

- :meth:`ResultsStore.save` writes every table and the manifest (status ``finished``) into a
  fresh directory under ``root/.tmp`` and renames it to ``root/runs/<run_id>``: the rename is
  the commit. A save killed before it leaves only a directory under ``.tmp``; no reader ever
  sees half a run. Two processes saving the same run id: one rename wins, the other finds a
  finished run and returns ``False`` (the same numbers: a cache hit).
- A run that lands in parts (Monte Carlo, calibration) is begun by renaming a directory whose
  manifest says ``running``; each part is written under ``.tmp`` and renamed to
  ``runs/<run_id>/<table>/part-NNNNN.parquet`` (a part at its final name is whole, so it is
  landed); :meth:`ResultsStore.finish` writes the other tables, then replaces the manifest
  with one saying ``finished`` (``os.replace``, atomic). A run killed midway is ``running``
  with every landed part kept; starting it again asks :meth:`ResultsStore.parts`.
- Readers (:meth:`list_runs`, :meth:`load`, :meth:`query`, ...) read manifests and Parquet
  files, and SQL runs in an in-memory DuckDB over them. They take no lock, so readers never
  block writers or each other, and a read-only store (``chmod -R a-w``, a read-only mount) is
  fully readable. ``ResultsStore(root, create=False)`` opens only an existing store and never
  writes (a store folder that does not exist is a :class:`StoreError` naming it).

Saving a run id that is already finished is a **no-op** that returns ``False``: the id is the
hash of everything that determines the results, so a second save would store the same numbers.

Stores written before format 2 (a ``catalog.duckdb`` and no ``store.json``) still open: a
store opened for writing is migrated once (a manifest written for every catalogued run, under
an exclusive file lock; ``catalog.duckdb`` is then no longer read), and a reader of such a
store reads the old catalog read-only instead, without writing anything.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import time
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator, Mapping

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from liqcascade.errors import LiqcascadeError


class StoreError(LiqcascadeError):
    """A results-store operation was given something it cannot accept (bad id, bad table, no store)."""


class UnknownRunError(StoreError):
    """No finished run with this id is registered in the store."""


class UnknownTableError(StoreError):
    """The run exists but has no table of this name."""


_RUN_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")
_TABLE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_PART_RE = re.compile(r"^part-(\d{5,})\.parquet$")
_RESERVED_TABLES = {"runs", "tables"}
FINISHED = "finished"
RUNNING = "running"
FORMAT = 2
STORE_FILE = "store.json"
MANIFEST = "run.json"
LEGACY_CATALOG = "catalog.duckdb"
RUN_COLUMNS = ["run_id", "kind", "created_at", "version", "config", "status", "meta"]
LOCK_TIMEOUT_S = 60.0


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


def is_store(root: str | Path) -> bool:
    """True when ``root`` holds a results store (``store.json``, or the ``catalog.duckdb`` of
    a store written before format 2)."""
    root = Path(root)
    return (root / STORE_FILE).is_file() or (root / LEGACY_CATALOG).is_file()


def _commit(src: Path, dst: Path) -> None:
    """Move a finished file into place, replacing ``dst`` atomically (a seam for tests)."""
    os.replace(src, dst)


def _rename_dir(src: Path, dst: Path) -> None:
    """Rename a finished run directory into place; fails if ``dst`` is a non-empty directory,
    so two processes saving one run id cannot both win (a seam for tests)."""
    os.rename(src, dst)


def _dump(obj: Any) -> str:
    return json.dumps(obj, indent=1, allow_nan=True, ensure_ascii=False)


def _landed_rows(path: Path) -> int | None:
    """Rows of a whole Parquet file, or None when ``path`` is not one (missing or torn)."""
    try:
        return int(pq.read_metadata(path).num_rows)
    except (OSError, ValueError, pa.ArrowException):
        return None


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock (``flock``) on ``path``, waited for at most ``LOCK_TIMEOUT_S``."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - no flock on this platform; migration is idempotent
        yield
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        timeout = LOCK_TIMEOUT_S
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise StoreError(f"{path}: another process has held this lock for over {timeout:g} s "
                                     "(upgrading the store); expected it to finish, try again") from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _legacy_index(root: Path) -> dict[str, dict[str, Any]]:
    """Manifests of every run registered in a format-1 ``catalog.duckdb``, read read-only."""
    import duckdb

    path = root / LEGACY_CATALOG
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as e:
        raise StoreError(f"{path}: the catalog of a store written by an older liqcascade cannot be read ({e}); "
                         "expected no older liqcascade process to be writing it") from None
    try:
        runs = con.execute("SELECT * FROM runs").fetchall()
        tables = con.execute('SELECT run_id, "table", path, rows FROM tables').fetchall()
        parts = con.execute('SELECT run_id, "table", part FROM parts ORDER BY part').fetchall()
    finally:
        con.close()
    index: dict[str, dict[str, Any]] = {}
    for rid, kind, created, version, config, status, meta in runs:
        index[rid] = {"store_format": FORMAT, "run_id": rid, "kind": kind, "status": status,
                      "created_at": created.isoformat(timespec="microseconds"), "version": version,
                      "config": json.loads(config), "meta": json.loads(meta), "tables": {}}
    for rid, name, rel, rows in tables:
        if rid in index and index[rid]["status"] == FINISHED:
            index[rid]["tables"][name] = {"path": rel, "rows": int(rows)}
    for rid, name, part in parts:
        entry = index.get(rid, {}).get("tables", {}).get(name)
        if entry is not None and index[rid]["status"] == FINISHED:
            entry.setdefault("parts", []).append(int(part))
    return index


# --------------------------------------------------------------------------- the store
class ResultsStore:
    """Runs' tables as Parquet under ``root``, each run described by ``runs/<run_id>/run.json``.

    ``create=True`` (the default) makes the folder a store when it is not one yet (and
    upgrades a store written before format 2); ``create=False`` opens only an existing store
    and writes nothing: what every read-only face uses.
    """

    def __init__(self, root: str | Path, create: bool = True) -> None:
        self.root = Path(root).resolve()
        self.runs_dir = self.root / "runs"
        self._legacy: tuple[Any, dict[str, dict[str, Any]]] | None = None
        if not is_store(self.root):
            if not create:
                raise StoreError(f"{root}: no results store here (no {STORE_FILE}, nor the {LEGACY_CATALOG} of an older "
                                 "store); expected the folder runs were stored in (--store DIR)")
            self._create(root)
        elif create and self._is_legacy() and os.access(self.root, os.W_OK):
            # (a read-only archive of an old store stays as it is, read through its old catalog)
            self._upgrade()

    def __repr__(self) -> str:
        return f"ResultsStore({str(self.root)!r})"

    # ------------------------------------------------------------------ layout
    def _create(self, given: str | Path) -> None:
        try:
            self.runs_dir.mkdir(parents=True, exist_ok=True)
            if not (self.root / STORE_FILE).is_file():
                tmp = self.root / f".{STORE_FILE}.{os.getpid()}.{uuid.uuid4().hex[:8]}"
                tmp.write_text(_dump({"store_format": FORMAT, "layout": "runs/<run_id>/run.json"}), encoding="utf-8")
                _commit(tmp, self.root / STORE_FILE)  # written last: a folder is a store only once whole
        except OSError as e:
            raise StoreError(f"results store {str(given)!r}: expected a folder that exists or can be created, "
                             f"got {e.strerror or e}") from None

    def _is_legacy(self) -> bool:
        return not (self.root / STORE_FILE).is_file() and (self.root / LEGACY_CATALOG).is_file()

    def _upgrade(self) -> None:
        """Write a manifest for every run of a format-1 catalog, then ``store.json`` (once, locked)."""
        with _file_lock(self.root / ".upgrade.lock"):
            if not self._is_legacy():
                return  # another process upgraded it while this one waited
            for rid, m in _legacy_index(self.root).items():
                folder = self.runs_dir / rid
                if folder.is_dir():
                    self._write_manifest(folder, m)
            self._create(self.root)

    def _run_dir(self, rid: str) -> Path:
        d = (self.runs_dir / _check_run_id(rid)).resolve()
        if d.parent != self.runs_dir.resolve():  # belt and braces: never leave root/runs
            raise StoreError(f"run id {rid!r} resolves outside the store")
        return d

    def _tmp(self, rid: str, name: str) -> Path:
        tmp_root = self.root / ".tmp"
        try:
            tmp_root.mkdir(exist_ok=True)
            if not os.access(tmp_root, os.W_OK | os.X_OK):
                raise PermissionError(errno.EACCES, "Permission denied")
        except OSError as e:
            raise StoreError(f"{self.root}: cannot write to this store ({e.strerror or e}); "
                             "expected a writable folder (a read-only store can be read, not written)") from None
        return tmp_root / f"{rid}.{name}.{os.getpid()}.{uuid.uuid4().hex[:8]}"

    def _writable(self) -> None:
        if self._is_legacy():
            self._upgrade()

    def _journal(self, event: str, rid: str) -> None:
        """Append one line per change; readers watch its size (:meth:`stamp`)."""
        line = f"{datetime.now(timezone.utc).isoformat(timespec='microseconds')} {event} {rid}\n"
        try:
            with open(self.root / "journal", "a", encoding="utf-8") as f:
                f.write(line)  # one small O_APPEND write: whole lines even with many writers
        except OSError:
            pass  # the change is already committed; the journal only tells readers sooner

    # ------------------------------------------------------------------ manifests
    def _read_manifest(self, folder: Path) -> dict[str, Any] | None:
        path = folder / MANIFEST
        try:
            text = path.read_text(encoding="utf-8")
        except (FileNotFoundError, NotADirectoryError):
            return None
        try:
            m = json.loads(text)
        except ValueError:
            raise StoreError(f"{path}: not a valid run manifest (expected JSON written by liqcascade)") from None
        # a run.json without the format is a format-1 directory the old catalog never registered
        return m if isinstance(m, dict) and m.get("store_format") == FORMAT else None

    def _write_manifest(self, folder: Path, m: Mapping[str, Any]) -> None:
        tmp = self._tmp(str(m["run_id"]), MANIFEST)
        try:
            tmp.write_text(_dump(dict(m)), encoding="utf-8")
            _commit(tmp, folder / MANIFEST)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def _legacy_runs(self) -> dict[str, dict[str, Any]]:
        """The old catalog's runs, read again only when the catalog file changes."""
        st = (self.root / LEGACY_CATALOG).stat()
        key = (st.st_mtime_ns, st.st_size)
        if self._legacy is None or self._legacy[0] != key:
            self._legacy = (key, _legacy_index(self.root))
        return self._legacy[1]

    def _manifest(self, rid: str) -> dict[str, Any] | None:
        if self._is_legacy():
            return self._legacy_runs().get(_check_run_id(rid))
        return self._read_manifest(self._run_dir(rid))

    def _manifests(self) -> list[dict[str, Any]]:
        if self._is_legacy():
            return list(self._legacy_runs().values())
        out = []
        for d in sorted(self.runs_dir.iterdir()) if self.runs_dir.is_dir() else []:
            if _RUN_ID_RE.match(d.name) and d.is_dir():
                m = self._read_manifest(d)
                if m is not None:
                    out.append(m)
        return out

    def _require(self, rid: str) -> dict[str, Any]:
        m = self._manifest(_check_run_id(rid))
        if m is None or m["status"] != FINISHED:
            raise UnknownRunError(f"{self.root}: no finished run {rid!r}; list_runs() shows the stored runs")
        return m

    def stamp(self) -> tuple:
        """Changes whenever a run is begun, saved or finished (by any process)."""
        out = []
        for p in (self.root / "journal", self.runs_dir, self.root / LEGACY_CATALOG):
            try:
                st = p.stat()
                out.append((st.st_mtime_ns, st.st_size))
            except OSError:
                out.append(None)
        return tuple(out)

    # ------------------------------------------------------------------ queries
    def has(self, run_id: str) -> bool:
        """True when a finished run with this id is stored."""
        m = self._manifest(_check_run_id(run_id))
        return m is not None and m["status"] == FINISHED

    def tables(self, run_id: str) -> list[str]:
        """Names of the run's tables, sorted."""
        return sorted(self._require(run_id)["tables"])

    def list_runs(self) -> pd.DataFrame:
        """All runs, oldest first: run_id, kind, created_at, version, config, status, meta (status
        is ``finished``, or ``running`` for a run landing in parts that has not finished)."""
        rows = [[m["run_id"], m["kind"], m["created_at"], m["version"], canonical_json(m["config"]), m["status"],
                 canonical_json(m["meta"])] for m in self._manifests()]
        df = pd.DataFrame(rows, columns=RUN_COLUMNS)
        df["created_at"] = pd.to_datetime(df["created_at"], format="ISO8601").astype("datetime64[us]")
        return df.sort_values(["created_at", "run_id"], kind="stable").reset_index(drop=True)

    def path(self, run_id: str, table: str) -> Path:
        """Absolute path of a stored table's Parquet file (its folder for a table stored in parts)."""
        return self.root / self._entry(run_id, table)["path"]

    def _entry(self, run_id: str, table: str) -> dict[str, Any]:
        m = self._require(run_id)
        _check_table(table)
        if table not in m["tables"]:
            raise UnknownTableError(f"run {run_id!r} has no table {table!r}; it has {sorted(m['tables'])}")
        return m["tables"][table]

    def load(self, run_id: str, table: str) -> pd.DataFrame:
        """One stored table as a pandas DataFrame (index and dtypes as saved; a table stored in
        parts is its parts concatenated in part order)."""
        entry = self._entry(run_id, table)
        if "parts" in entry:
            return self._concat([self.root / entry["path"] / _part_name(i) for i in entry["parts"]])
        return pq.read_table(self.root / entry["path"]).to_pandas()

    def meta(self, run_id: str) -> dict[str, Any]:
        """The ``config`` and ``meta`` a run was saved with."""
        m = self._require(run_id)
        return {"config": m["config"], "meta": m["meta"]}

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
        listing; the rest of ``meta`` is kept as JSON. Table names must be SQL identifiers.
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
        manifest = self._new_manifest(run_id, kind, str(meta.get("version", __version__)), config, meta, FINISHED)
        if self.has(run_id):
            return False
        self._writable()
        tmp = self._tmp(run_id, "save")
        try:
            tmp.mkdir()
            for name, df in tables.items():
                manifest["tables"][name] = {"path": f"runs/{run_id}/{name}.parquet",
                                            "rows": _write_table(df, tmp / f"{name}.parquet")}
            (tmp / MANIFEST).write_text(_dump(manifest), encoding="utf-8")
            existing = self._place(tmp, final, run_id)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        if existing is None:
            self._journal("saved", run_id)
            return True
        shutil.rmtree(tmp, ignore_errors=True)
        if existing["status"] != FINISHED:
            raise StoreError(f"run {run_id!r} is running (landing in parts) in this store; expected it to finish "
                             "before the same run is saved whole")
        return False  # another process stored the same run first: the same numbers

    def _new_manifest(self, rid: str, kind: str, version: str, config: Mapping[str, Any], meta: Mapping[str, Any],
                      status: str) -> dict[str, Any]:
        return {"store_format": FORMAT, "run_id": rid, "kind": kind, "status": status,
                "created_at": datetime.now(timezone.utc).replace(tzinfo=None).isoformat(timespec="microseconds"),
                "version": version, "config": json.loads(canonical_json(dict(config))),
                "meta": json.loads(canonical_json(dict(meta))), "tables": {}}

    def _place(self, tmp: Path, final: Path, rid: str) -> dict[str, Any] | None:
        """Rename the run directory ``tmp`` to ``final``: None when it landed, else the manifest of
        the run already there. A directory there without a manifest is debris of a failed save
        (or one the old catalog never registered): moved aside, then the rename is tried again."""
        for _ in range(20):
            try:
                _rename_dir(tmp, final)
                return None
            except OSError as e:
                if e.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                    raise
            existing = self._read_manifest(final)
            if existing is not None:
                return existing
            self._discard(final, rid)
        raise StoreError(f"{final}: could not be replaced (another process keeps writing there); try again")

    def _discard(self, path: Path, rid: str) -> None:
        aside = self._tmp(rid, "discarded")
        try:
            os.rename(path, aside)  # atomic: no reader or writer sees a half-deleted run
        except FileNotFoundError:
            return  # another process moved it first
        shutil.rmtree(aside, ignore_errors=True)

    def remove_partial(self) -> list[Path]:
        """Delete what failed saves left behind (``.tmp`` and run directories without a manifest).

        Call it only when no save is running. Returns the paths removed.
        """
        self._writable()
        removed: list[Path] = []
        tmp_root = self.root / ".tmp"
        if tmp_root.exists():
            for p in tmp_root.iterdir():
                shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink()
                removed.append(p)
        for p in self.runs_dir.iterdir():
            if not (p.is_dir() and self._read_manifest(p) is not None):
                shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink()
                removed.append(p)
        return removed

    # ------------------------------------------------------------------ runs in parts
    def status(self, run_id: str) -> str | None:
        """``finished``, ``running`` (begun, landing in parts) or None (not stored)."""
        m = self._manifest(_check_run_id(run_id))
        return None if m is None else m["status"]

    def info(self, run_id: str) -> dict[str, Any] | None:
        """``status``, ``config`` and ``meta`` of a stored run (finished or running), else None."""
        m = self._manifest(_check_run_id(run_id))
        return None if m is None else {"status": m["status"], "config": m["config"], "meta": m["meta"]}

    def begin(self, run_id: str, kind: str, config: Mapping[str, Any], meta: Mapping[str, Any]) -> dict[str, Any]:
        """Register a run whose tables land in parts (status ``running``); returns its meta.

        When the run is already running (a restart, or another process began it first),
        nothing changes and the meta it was begun with is returned, so the caller can check it
        resumes the same layout. A finished run raises :class:`StoreError`.
        """
        from liqcascade import __version__

        final = self._run_dir(run_id)
        meta = dict(meta)
        manifest = self._new_manifest(run_id, kind, str(meta.get("version", __version__)), config, meta, RUNNING)
        existing = self._manifest(run_id)
        if existing is None:
            self._writable()
            tmp = self._tmp(run_id, "begin")
            try:
                tmp.mkdir()
                (tmp / MANIFEST).write_text(_dump(manifest), encoding="utf-8")
                existing = self._place(tmp, final, run_id)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)  # gone already when it landed
            if existing is None:
                self._journal("begun", run_id)
                return manifest["meta"]
        if existing["status"] == FINISHED:
            raise StoreError(f"run {run_id!r} is already finished; load it instead of beginning it")
        return existing["meta"]

    def _require_running(self, run_id: str) -> dict[str, Any]:
        m = self._manifest(_check_run_id(run_id))
        if m is None or m["status"] != RUNNING:
            raise StoreError(f"run {run_id!r} is not running (begin() it first; a finished run takes no parts)")
        return m

    def _landed(self, run_id: str, table: str) -> dict[int, int]:
        """Part number -> rows of every whole part file of a running run's table."""
        folder = self._run_dir(run_id) / table
        out: dict[int, int] = {}
        for p in folder.iterdir() if folder.is_dir() else []:
            match = _PART_RE.match(p.name)
            if match and (rows := _landed_rows(p)) is not None:
                out[int(match.group(1))] = rows
        return dict(sorted(out.items()))

    def save_part(self, run_id: str, table: str, part: int, df: pd.DataFrame) -> bool:
        """Store part ``part`` (an integer >= 0) of ``table`` of a running run; False if that part
        has landed already (it is then left untouched: a landed part is never rewritten), also
        in a run another process has finished meanwhile.

        The part is written to ``.tmp`` and renamed to ``runs/<run_id>/<table>/part-NNNNN.parquet``:
        a part file at its final name is whole, and that rename is what lands it.
        """
        _check_table(table)
        if isinstance(part, bool) or not isinstance(part, int) or part < 0:
            raise StoreError(f"run {run_id!r}: part must be an integer >= 0, got {part!r}")
        if not isinstance(df, pd.DataFrame):
            raise StoreError(f"run {run_id!r}: part {part} of {table!r} must be a pandas DataFrame, got {type(df).__name__}")
        m = self._manifest(_check_run_id(run_id))
        if m is not None and m["status"] == FINISHED and part in m["tables"].get(table, {}).get("parts", []):
            return False  # the same run, started twice at once, finished meanwhile with this part
        self._require_running(run_id)
        target = self._run_dir(run_id) / table / _part_name(part)
        if _landed_rows(target) is not None:
            return False
        target.parent.mkdir(exist_ok=True)
        tmp = self._tmp(run_id, f"{table}.{part}.parquet")
        try:
            pq.write_table(pa.Table.from_pandas(df, preserve_index=False), tmp)
            _commit(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return True

    def parts(self, run_id: str, table: str) -> list[int]:
        """The landed parts of ``table`` of a run (running or finished), ascending."""
        _check_table(table)
        m = self._manifest(_check_run_id(run_id))
        if m is None:
            return []
        if m["status"] == FINISHED:
            return list(m["tables"].get(table, {}).get("parts", []))
        return list(self._landed(run_id, table))

    def _concat(self, paths: list[Path]) -> pd.DataFrame:
        if not paths:
            return pd.DataFrame()
        return pa.concat_tables([pq.read_table(p) for p in paths]).to_pandas()

    def load_parts(self, run_id: str, table: str) -> pd.DataFrame:
        """The parts of ``table`` landed so far (a running or finished run), in part order."""
        _check_table(table)
        if self.status(run_id) is None:
            raise UnknownRunError(f"{self.root}: no run {run_id!r}; list_runs() shows the stored runs")
        folder = self._run_dir(run_id) / table
        return self._concat([folder / _part_name(i) for i in self.parts(run_id, table)])

    def finish(self, run_id: str, tables: Mapping[str, pd.DataFrame], meta: Mapping[str, Any] | None = None) -> None:
        """Finish a running run: store ``tables`` (whole tables beside the parted ones), list
        every parted table as one table, merge ``meta`` into the run's meta and mark the run
        ``finished`` — by replacing its manifest, atomically. Check that every part has landed
        before calling it."""
        m = self._require_running(run_id)
        for name, df in tables.items():
            _check_table(name)
            if not isinstance(df, pd.DataFrame):
                raise StoreError(f"run {run_id!r}: table {name!r} must be a pandas DataFrame, got {type(df).__name__}")
        self._writable()
        final = self._run_dir(run_id)
        done: dict[str, Any] = {}
        for sub in sorted(final.iterdir()):
            if sub.is_dir() and _TABLE_RE.match(sub.name) and (landed := self._landed(run_id, sub.name)):
                done[sub.name] = {"path": f"runs/{run_id}/{sub.name}", "rows": sum(landed.values()),
                                  "parts": list(landed)}
        for name, df in tables.items():
            tmp = self._tmp(run_id, f"{name}.parquet")
            try:
                done[name] = {"path": f"runs/{run_id}/{name}.parquet", "rows": _write_table(df, tmp)}
                _commit(tmp, final / f"{name}.parquet")
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
        meta_json = canonical_json({**m["meta"], **dict(meta or {})})
        self._write_manifest(final, {**m, "status": FINISHED, "meta": json.loads(meta_json), "tables": done})
        self._journal("finished", run_id)

    # ------------------------------------------------------------------ SQL
    def _catalog(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The ``runs`` listing and the ``tables`` of finished runs (with their part files)."""
        runs = self.list_runs()
        manifests = {m["run_id"]: m for m in self._manifests()}
        rows = []
        for rid in runs["run_id"][runs["status"] == FINISHED]:
            for name, entry in sorted(manifests[rid]["tables"].items()):
                files = ([f"{entry['path']}/{_part_name(i)}" for i in entry["parts"]] if "parts" in entry
                         else [entry["path"]])
                rows.append([rid, name, entry["path"], int(entry["rows"]), files])
        tabs = pd.DataFrame(rows, columns=["run_id", "table", "path", "rows", "files"])
        tabs["rows"] = tabs["rows"].astype("int64")
        return runs, tabs

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
        read the store but write nothing anywhere, and they take no lock on the store.
        """
        import duckdb
        import pyarrow.dataset as ds

        if run_id is not None:
            self._require(run_id)
        runs, tabs = self._catalog()
        con = duckdb.connect(config={"enable_external_access": False})
        try:
            con.register("_runs", runs)
            con.register("_tables", tabs.drop(columns="files"))
            con.execute("CREATE VIEW runs AS SELECT * FROM _runs")
            con.execute('CREATE VIEW "tables" AS SELECT * FROM _tables')
            for name, grp in tabs.groupby("table", sort=True):
                parts, columns = [], set()
                for i, (rid, files) in enumerate(zip(grp["run_id"], grp["files"])):
                    reg = f"_{name}_{i}"
                    data = ds.dataset([str(self.root / f) for f in files], format="parquet")
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
    "is_store",
    "run_id",
]
