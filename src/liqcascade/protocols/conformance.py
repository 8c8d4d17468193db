"""Run protocol conformance vectors kept as YAML data files.

A vector file names its protocol and rule version and lists vectors; each vector cites its
source (``repo@commit:path::test``), says how its numbers were obtained (``kind``: ``src``
copied from that test, ``re`` recomputed by hand from the test's setup, ``der`` derived from
the formula), names the rule it exercises (``function``) and gives ``inputs`` and the
``expected`` outputs. Integers are written as strings so YAML never turns them into floats.

Dispatch goes through :data:`REGISTRY`, keyed by ``(protocol, function)``. A protocol adds
its handlers with :func:`register`; when a key is missing the runner imports
``liqcascade.protocols.<protocol>.conformance`` once, so a new protocol plugs in by
shipping that module, without touching this one. Aave v3's are in
``liqcascade.protocols.aave_v3.conformance`` like every protocol's.

This module belongs to the protocols layer: it imports ``liqcascade.protocols`` only.
"""

from __future__ import annotations

import importlib
import importlib.resources
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from liqcascade.errors import DataError, LiqcascadeError

KINDS = ("src", "re", "der")
Handler = Callable[[str, Mapping[str, Any], "VectorContext"], dict[str, Any]]
REGISTRY: dict[tuple[str, str], Handler] = {}
_IMPORTED: set[str] = set()


@dataclass(frozen=True)
class VectorContext:
    """Where a vector came from, so handlers can name it in a ``DataError``."""

    file: str
    vector_id: str

    def error(self, why: str) -> DataError:
        return DataError(self.file, None, f"vector {self.vector_id!r}: {why}")


@dataclass(frozen=True)
class Vector:
    id: str
    source: str
    kind: str
    function: str
    inputs: dict[str, Any]
    expected: dict[str, Any]
    note: str = ""


@dataclass(frozen=True)
class VectorFile:
    path: str
    protocol: str
    version: str
    vectors: list[Vector] = field(default_factory=list)


@dataclass(frozen=True)
class VectorResult:
    file: str
    id: str
    passed: bool
    detail: str = ""


def register(protocol: str, function: str) -> Callable[[Handler], Handler]:
    """Decorator: make ``handler(version, inputs, ctx) -> outputs`` the rule for a key."""

    def deco(fn: Handler) -> Handler:
        REGISTRY[(protocol, function)] = fn
        return fn

    return deco


def _lookup(protocol: str, function: str) -> Handler | None:
    key = (protocol, function)
    if key not in REGISTRY and protocol not in _IMPORTED:
        _IMPORTED.add(protocol)
        try:
            importlib.import_module(f"liqcascade.protocols.{protocol}.conformance")
        except ModuleNotFoundError:
            pass
    return REGISTRY.get(key)


# --- loading ---------------------------------------------------------------------------------


def _require(mapping: Mapping[str, Any], key: str, typ: type | tuple[type, ...], file: str, where: str) -> Any:
    if not isinstance(mapping, Mapping) or key not in mapping:
        raise DataError(file, None, f"{where}: missing key {key!r}")
    value = mapping[key]
    if not isinstance(value, typ):
        raise DataError(file, None, f"{where}: key {key!r} must be {typ}, got {type(value).__name__}")
    return value


def load_vector_file(path: str | Path) -> VectorFile:
    """Parse and validate one vector file; raises ``DataError`` naming the file and vector."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise DataError(file, None, f"cannot read vector file: {exc}") from exc
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise DataError(file, None, f"not valid YAML: {exc}") from exc
    if not isinstance(doc, dict):
        raise DataError(file, None, "top level must be a mapping with protocol, version, vectors")
    protocol = _require(doc, "protocol", str, file, "top level")
    version = _require(doc, "version", str, file, "top level")
    raw = _require(doc, "vectors", list, file, "top level")
    vectors: list[Vector] = []
    seen: set[str] = set()
    for i, v in enumerate(raw):
        vid = v.get("id") if isinstance(v, dict) else None
        where = f"vector {vid!r}" if vid is not None else f"vector #{i + 1}"
        if not isinstance(v, dict):
            raise DataError(file, None, f"{where}: must be a mapping")
        vid = str(_require(v, "id", (str, int), file, where))
        if vid in seen:
            raise DataError(file, None, f"{where}: duplicate id")
        seen.add(vid)
        source = _require(v, "source", str, file, where)
        if "@" not in source or ":" not in source:
            raise DataError(file, None, f"{where}: source must read repo@commit:path::test, got {source!r}")
        kind = _require(v, "kind", str, file, where)
        if kind not in KINDS:
            raise DataError(file, None, f"{where}: kind must be one of {KINDS}, got {kind!r}")
        function = _require(v, "function", str, file, where)
        inputs = _require(v, "inputs", dict, file, where)
        expected = _require(v, "expected", dict, file, where)
        if not expected:
            raise DataError(file, None, f"{where}: expected is empty")
        vectors.append(Vector(vid, source, kind, function, inputs, expected, str(v.get("note", ""))))
    return VectorFile(file, protocol, version, vectors)


# --- running ---------------------------------------------------------------------------------


def _compare(expected: Any, actual: Any, path: str, diffs: list[str]) -> None:
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            diffs.append(f"{path}: expected a mapping, got {actual!r}")
            return
        for k, ev in expected.items():
            if k not in actual:
                diffs.append(f"{path}.{k}: not produced")
            else:
                _compare(ev, actual[k], f"{path}.{k}", diffs)
        return
    if isinstance(expected, bool) or isinstance(actual, bool):
        ok = expected == actual
    elif isinstance(actual, int):
        try:
            ok = int(str(expected)) == actual
        except ValueError:
            ok = False
    else:
        ok = str(expected) == str(actual)
    if not ok:
        diffs.append(f"{path}: expected {expected}, got {actual}")


def run_vector(vf: VectorFile, v: Vector) -> VectorResult:
    """Run one vector; a handler ``DataError`` (malformed inputs) propagates."""
    ctx = VectorContext(vf.path, v.id)
    handler = _lookup(vf.protocol, v.function)
    if handler is None:
        raise ctx.error(f"no rule registered for protocol {vf.protocol!r}, function {v.function!r}")
    want_revert = v.expected.get("revert")
    try:
        actual = handler(vf.version, v.inputs, ctx)
    except DataError:
        raise
    except LiqcascadeError as exc:
        name = type(exc).__name__
        if want_revert is not None and str(want_revert) == name:
            return VectorResult(vf.path, v.id, True, f"reverted {name} as expected")
        return VectorResult(vf.path, v.id, False, f"raised {name}: {exc}")
    if want_revert is not None:
        return VectorResult(vf.path, v.id, False, f"expected revert {want_revert}, call succeeded")
    diffs: list[str] = []
    _compare(v.expected, actual, "expected", diffs)
    return VectorResult(vf.path, v.id, not diffs, "; ".join(diffs))


def run_vector_file(path: str | Path) -> list[VectorResult]:
    """Load and run every vector in one file."""
    vf = load_vector_file(path)
    return [run_vector(vf, v) for v in vf.vectors]


def bundled_vector_files() -> list[Path]:
    """Every ``*.yaml`` under the package's ``data/conformance`` directory, sorted."""
    root = importlib.resources.files("liqcascade") / "data" / "conformance"
    with importlib.resources.as_file(root) as base:
        return sorted(Path(base).rglob("*.yaml"))


def run_paths(paths: list[Path] | None = None) -> list[VectorResult]:
    """Run the given files (directories are searched for ``*.yaml``), or every bundled file."""
    files: list[Path] = []
    if paths is None:
        files = bundled_vector_files()
    else:
        for p in map(Path, paths):
            files.extend(sorted(p.rglob("*.yaml")) if p.is_dir() else [p])
    results: list[VectorResult] = []
    for f in files:
        results.extend(run_vector_file(f))
    return results


def format_results(results: list[VectorResult]) -> str:
    """One line per vector (PASS/FAIL, file, id, detail on failure) and a summary line."""
    lines = []
    for r in results:
        status = "PASS" if r.passed else "FAIL"
        line = f"{status}  {Path(r.file).name}::{r.id}"
        if not r.passed and r.detail:
            line += f"  -- {r.detail}"
        lines.append(line)
    failed = sum(not r.passed for r in results)
    lines.append(f"{len(results) - failed} passed, {failed} failed, {len(results)} vectors")
    return "\n".join(lines)


# --- input helpers -----------------------------------------------------------------------------


def as_int(value: Any, key: str, ctx: VectorContext) -> int:
    """An integer written as a decimal string (or a small YAML int); floats are refused."""
    if isinstance(value, bool):
        raise ctx.error(f"{key}: expected an integer, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        s = value.strip().replace("_", "")
        if s == "max":
            return 2**256 - 1
        if s.isdigit():
            return int(s)
    raise ctx.error(f"{key}: expected an integer written as a string, got {value!r}")


def get_input(m: Mapping[str, Any], key: str, ctx: VectorContext, where: str) -> Any:
    if not isinstance(m, Mapping) or key not in m:
        raise ctx.error(f"{where}: missing key {key!r}")
    return m[key]


# --- Aave v3 handlers ---------------------------------------------------------------------------

# releases to rule-set names; "3.5", "3.6" and "3.7" are rule-set names themselves (versions.py)
