"""Compile pure-Python kernels with numba, keeping the plain source as the twin.

Every hot loop is written once, as plain Python in a ``*_python`` module (readable,
coverable, the reference). :func:`jit_functions` returns numba-compiled copies of those
functions in which calls to each other also go to the compiled copies. Setting
``LIQCASCADE_DISABLE_JIT=1`` returns the plain functions instead, so tests and coverage
see real lines and a numba problem can be ruled out in one switch.

Threads. numba's OpenMP threads busy-wait between parallel sections by default; on a
machine where anything else runs, a parallel section then waits for a thread that the
operating system has parked behind a spinning one (measured on the 2-core machine with two
other jobs running: a 1,000-element parallel sum took 6.1 ms on two threads, 1.3 us on one).
:func:`quiet_threads` asks for threads that sleep instead (``OMP_WAIT_POLICY=PASSIVE``,
``KMP_BLOCKTIME=0`` for Intel's runtime) before numba starts its threading layer, unless
the user set any of those variables; and the parallel kernels run on one thread when their
work is too small to pay for waking a second (:data:`SERIAL_BELOW`).
"""

from __future__ import annotations

import inspect
import os
import types
from collections import Counter
from contextlib import contextmanager
from typing import Callable, Iterator, MutableMapping

DISABLE_JIT_ENV = "LIQCASCADE_DISABLE_JIT"

WAIT_POLICY_ENV = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME")
"""The variables that choose how OpenMP threads wait (the standard's, GNU's and Intel's): when
the user set any of them, :func:`quiet_threads` leaves all of them alone."""

SERIAL_BELOW = 20_000
"""A parallel kernel whose work (accounts it may look at) is smaller runs on one thread: waking
a sleeping thread costs a few microseconds on an idle machine and up to a scheduler slice on a
busy one, more than splitting ~20,000 accounts' skip checks (~10 ns each) saves."""


def jit_enabled() -> bool:
    return os.environ.get(DISABLE_JIT_ENV, "").strip().lower() not in {"1", "true", "yes"}


def jit_functions(
    functions: dict[str, Callable], parallel: frozenset[str] = frozenset(), enabled: bool | None = None,
    inline: frozenset[str] = frozenset(),
) -> dict[str, Callable]:
    """Compile ``functions`` (name -> plain function) with numba.

    Each function is rebuilt over a globals dict in which every name in ``functions``
    points at its compiled twin, so a kernel that calls a helper calls the compiled
    helper. Names in ``parallel`` compile with ``parallel=True`` (their ``prange``
    loops run on all numba threads). Names in ``inline`` are compiled into each compiled caller
    (numba's ``inline="always"``) instead of being called: worth it for a helper called per
    account with many array arguments, each of which a call takes and releases. With JIT
    disabled the input is returned as is.
    """
    if enabled is None:
        enabled = jit_enabled()
    if not enabled:
        return dict(functions)
    quiet_threads()
    import numba

    _invalidate_stale_cache(functions.values())
    # One globals dict shared by every clone: the union of the source modules' globals,
    # with each kernel name rebound to its compiled twin. numba compiles lazily, at the
    # first call, by which time every name below is bound.
    shared: dict[str, object] = {}
    for fn in functions.values():
        shared.update(fn.__globals__)
    compiled: dict[str, Callable] = {}
    for name, fn in functions.items():
        clone = types.FunctionType(fn.__code__, shared, fn.__name__, fn.__defaults__, fn.__closure__)
        clone.__doc__ = fn.__doc__
        compiled[name] = numba.njit(
            cache=True, nogil=True, parallel=name in parallel, inline="always" if name in inline else "never"
        )(clone)
    shared.update(compiled)
    # compiled callers keep the dispatchers (``shared``); Python callers get the sized twin
    return {name: SizedKernel(k, *work_argument(functions[name])) if name in parallel else k
            for name, k in compiled.items()}


@contextmanager
def counting_compiles() -> Iterator[Counter[str]]:
    """Within the block, count numba's compilations by kernel name (qualified name of the plain
    function). A kernel loaded from numba's on-disk cache is not a compilation and is not
    counted; neither is anything with the JIT disabled (the counter stays empty)."""
    seen: Counter[str] = Counter()
    if not jit_enabled():
        yield seen
        return
    from numba.core import event

    class _Listener(event.Listener):
        def on_start(self, ev) -> None:
            fn = getattr(ev.data["dispatcher"], "py_func", None)
            seen[getattr(fn, "__qualname__", "?")] += 1

        def on_end(self, ev) -> None:
            pass

    listener = _Listener()
    event.register("numba:compile", listener)
    try:
        yield seen
    finally:
        event.unregister("numba:compile", listener)


def quiet_threads(environ: MutableMapping[str, str] | None = None) -> bool:
    """Ask OpenMP for threads that sleep rather than spin between parallel sections.

    Takes effect only before numba loads its OpenMP runtime (the first parallel call), which
    reads the environment once; :func:`jit_functions` calls it before any kernel exists.
    Leaves the environment as it is when the user set any of :data:`WAIT_POLICY_ENV`.
    Returns whether it set anything. (numba's ``workqueue`` layer never spins; its ``tbb``
    layer ignores these variables.)
    """
    env = os.environ if environ is None else environ
    if any(name in env for name in WAIT_POLICY_ENV):
        return False
    env["OMP_WAIT_POLICY"] = "PASSIVE"
    env["KMP_BLOCKTIME"] = "0"
    return True


def work_argument(fn: Callable) -> tuple[int, int]:
    """Where a parallel kernel's size is among its positional arguments: ``(position, offset)``.

    By the kernels' naming convention, the accounts a kernel may look at are ``upto`` (an
    int; offset 0), else the length of ``accounts`` (offset 0), else the length of
    ``offsets`` less one (one entry per account plus one); a kernel over a book's rows (a
    sorting's gather) names them ``rows`` (their length; a row is less work than an account, so
    such a kernel goes parallel later than one over as many accounts). A kernel with none of these
    is taken to be large (position -1).
    """
    names = list(inspect.signature(fn).parameters)
    for name, offset in (("upto", 0), ("accounts", 0), ("offsets", 1), ("rows", 0)):
        if name in names:
            return names.index(name), offset
    return -1, 0


class SizedKernel:
    """A parallel kernel run on one thread when its work is below :data:`SERIAL_BELOW`, on the
    current numba thread count otherwise. Results do not depend on it: the parallel kernels
    split their work in fixed chunks and add the chunks in order (a test holds them equal)."""

    def __init__(self, kernel: Callable, position: int, offset: int) -> None:
        self.kernel = kernel
        self.position = position
        self.offset = offset
        self.__doc__ = kernel.__doc__
        self.__name__ = getattr(kernel, "__name__", "kernel")

    def work(self, args: tuple) -> int | None:
        """Accounts the call may look at; None when the arguments do not say."""
        if self.position < 0 or self.position >= len(args):
            return None
        a = args[self.position]
        return (len(a) if hasattr(a, "__len__") else int(a)) - self.offset

    def __call__(self, *args):
        n = self.work(args)
        if n is None or n >= SERIAL_BELOW:
            return self.kernel(*args)
        import numba

        threads = numba.get_num_threads()
        if threads == 1:
            return self.kernel(*args)
        numba.set_num_threads(1)
        try:
            return self.kernel(*args)
        finally:
            numba.set_num_threads(threads)


def _invalidate_stale_cache(functions) -> None:
    """Drop numba's on-disk cache when any kernel source file changed.

    numba checks only the file of the function it compiles, not the files of the
    functions it calls, so an edit to ``fast.py`` alone would leave a stale compiled
    ``liquidate_one`` in the cache. A stamp of all the source files involved, kept
    beside each cache (where numba keeps it: ``__pycache__``, or under ``NUMBA_CACHE_DIR``
    when that is set, see :func:`cache_dir`), catches that.
    """
    import hashlib
    from pathlib import Path

    functions = list(functions)
    by_file = {Path(fn.__code__.co_filename): fn for fn in functions}
    files = sorted(by_file)
    h = hashlib.sha256()
    for f in files:
        try:
            h.update(f.read_bytes())
        except OSError:
            return
    digest = h.hexdigest()
    # one stamp per group of kernels: two groups may share a folder (the mechanism kernels
    # call the Aave ones) and must not take each other's stamp for a change
    group = hashlib.sha256("\n".join(str(f) for f in files).encode()).hexdigest()[:12]
    # only this group's own kernels are dropped: a group first seen later in a process (the
    # mechanism kernels, assembled at first use, read the Aave files) must not delete the
    # kernels another group compiled from a shared file (a stamp of its own covers those)
    mine = {f: tuple(_cache_name(fn) for fn in functions if Path(fn.__code__.co_filename) == f) for f in files}
    for f in files:
        cache = cache_dir(by_file[f])
        stamp = cache / f"liqcascade-jit-{group}.stamp"
        try:
            if stamp.is_file() and stamp.read_text() == digest:
                continue
            if cache.is_dir():
                for old in list(cache.glob("*.nbi")) + list(cache.glob("*.nbc")):
                    if old.name.startswith(mine[f]):
                        old.unlink(missing_ok=True)
            cache.mkdir(parents=True, exist_ok=True)
            stamp.write_text(digest)
        except OSError:
            # a read-only install: numba then compiles in memory, nothing is stale
            continue


def _cache_name(fn: Callable) -> str:
    """The start of the names of numba's cache files of ``fn``: the source file's stem, the
    qualified name without angle brackets and the first line (numba's own naming)."""
    from pathlib import Path

    qualname = fn.__qualname__.replace("<", "").replace(">", "")
    return f"{Path(fn.__code__.co_filename).stem}.{qualname}-{fn.__code__.co_firstlineno}."


def cache_dir(fn: Callable):
    """The folder where numba keeps ``fn``'s compiled cache: the first of numba's own cache
    locators that accepts it (``NUMBA_CACHE_DIR`` when set, else the source's ``__pycache__``
    when writable, else the user's cache folder); ``__pycache__`` beside the source when
    numba's locators cannot be asked (they are not public API)."""
    from pathlib import Path

    source = fn.__code__.co_filename
    try:
        from numba.core import caching

        impl = getattr(caching, "CacheImpl", None) or getattr(caching, "_CacheImpl")  # renamed in numba 0.59
        for locator in impl._locator_classes:
            found = locator.from_function(fn, source)
            if found is not None:
                return Path(found.get_cache_path())
    except (ImportError, AttributeError, TypeError):
        pass
    return Path(source).parent / "__pycache__"
