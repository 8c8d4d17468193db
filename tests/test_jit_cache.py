"""numba's on-disk cache of the kernels (``liqcascade._jit``): a change to any file of a group of
kernels drops that group's cache where numba keeps it, ``NUMBA_CACHE_DIR`` included (numba itself
checks only the compiled function's own file, not its callees')."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from liqcascade import _jit


def _load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_a_changed_callee_drops_the_cache_under_numba_cache_dir(tmp_path, monkeypatch):
    config = pytest.importorskip("numba.core.config")
    cache_root = tmp_path / "cache"
    monkeypatch.setattr(config, "CACHE_DIR", str(cache_root))
    src = tmp_path / "src"
    src.mkdir()
    (src / "kern_a.py").write_text("def f(x):\n    return g(x)\n")
    (src / "kern_b.py").write_text("def g(x):\n    return x + 1\n")
    fns = [_load(src / "kern_a.py").f, _load(src / "kern_b.py").g]

    where = _jit.cache_dir(fns[0])
    assert cache_root in where.parents  # numba's folder for this source, not __pycache__
    _jit._invalidate_stale_cache(fns)
    assert len(list(where.glob("liqcascade-jit-*.stamp"))) == 1
    mine, other = where / "kern_a.f-1.py311.nbi", where / "unrelated.h-1.py311.nbi"
    mine.write_text("compiled f")
    other.write_text("compiled h")

    _jit._invalidate_stale_cache(fns)  # nothing changed: the cache stays
    assert mine.exists() and other.exists()

    (src / "kern_b.py").write_text("def g(x):\n    return x + 2\n")  # the callee only
    _jit._invalidate_stale_cache(fns)
    assert not mine.exists()  # f was compiled with the old g
    assert other.exists()  # another file's cache is not this group's


def test_without_numba_cache_dir_the_cache_is_beside_the_source(tmp_path, monkeypatch):
    config = pytest.importorskip("numba.core.config")
    monkeypatch.setattr(config, "CACHE_DIR", "")
    (tmp_path / "kern.py").write_text("def f(x):\n    return x\n")
    assert _jit.cache_dir(_load(tmp_path / "kern.py").f) == tmp_path / "__pycache__"


def test_a_group_first_seen_later_keeps_another_groups_kernels(tmp_path, monkeypatch):
    """The mechanism kernels are assembled at first use and read the Aave files: a group seen for
    the first time drops only its own kernels' cache, not what another group compiled from a file
    they share (its own stamp guards that)."""
    config = pytest.importorskip("numba.core.config")
    monkeypatch.setattr(config, "CACHE_DIR", str(tmp_path / "cache"))
    src = tmp_path / "src"
    src.mkdir()
    (src / "kern_a.py").write_text("def f(x):\n    return g(x)\n\n\ndef g(x):\n    return x + 1\n")
    (src / "kern_c.py").write_text("def h(x):\n    return g(x)\n")
    a = _load(src / "kern_a.py")
    _jit._invalidate_stale_cache([a.f, a.g])
    where = _jit.cache_dir(a.f)
    f_cache, g_cache = where / "kern_a.f-1.py311.nbi", where / "kern_a.g-5.py311.nbi"
    f_cache.write_text("compiled f")
    g_cache.write_text("compiled g")

    _jit._invalidate_stale_cache([_load(src / "kern_c.py").h, a.g])  # a new group: h and the shared g
    assert f_cache.exists()  # the first group's own kernel stays
    assert not g_cache.exists()  # the new group's own kernels start afresh (it compiles them)
