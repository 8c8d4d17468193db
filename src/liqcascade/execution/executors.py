"""Executors: where chunks of work run — never what they compute.

An :class:`Executor` maps a module-level function over a list of picklable items and yields
``(position, result)`` pairs as results arrive (in any order). The function must be pure: it
gets everything it needs in its item, so the same item gives the same result in this process,
in a local worker process or on a Dask worker. Three executors:

- :class:`SerialExecutor` — in this process, one item after the other (debugging, tiny runs);
- :class:`ProcessExecutor` — local worker processes (:class:`concurrent.futures.ProcessPoolExecutor`)
  started with the **spawn** method (whose workers here do not re-run the caller's script, so
  a script without a ``__main__`` guard works: :mod:`liqcascade.execution._spawn`). Not fork:
  the parent may already hold threads (numba's thread pool once a parallel kernel ran,
  DuckDB's and Arrow's pools, OpenBLAS), and a forked child inherits their locks but not the threads, so it can deadlock; numba documents its
  workqueue/OpenMP layers as not fork-safe. Not forkserver either: it needs a preload list set
  process-wide for speed, a side effect we keep out of a library. Spawn starts each worker
  clean on every platform; its cost (importing liqcascade and loading numba's on-disk cache,
  about a second per worker) is paid once per run. Each worker runs numba on
  ``threads_per_worker`` threads (default: the numba threads shared out among the workers) so
  that the processes do not oversubscribe the cores;
- :class:`DaskExecutor` — Dask distributed: a ``LocalCluster(n_workers, threads_per_worker=1)``
  started for the run (worker processes; threads of this process with ``processes=False``),
  or an existing scheduler at ``tcp://HOST:PORT``. numba's thread count is set inside each
  task (it is per calling thread, and Dask runs tasks in its own thread pool). Functions and items
  travel by pickle (cloudpickle); a remote worker must have liqcascade installed and see the
  files the items name.

:func:`open_executor` builds one from the command-line spelling (``serial``, ``local``,
``dask``, ``dask://HOST:PORT``) and checks it before any work: an unknown name, a bad worker
count or an unreachable scheduler is a :class:`~liqcascade.errors.ConfigError`.

Local workers end with their parent. They never see Ctrl-C: SIGINT is blocked while they are
spawned (the mask is inherited across exec, so it covers their start-up imports too) and
ignored once they run, so only the parent answers it; when it is interrupted
(``KeyboardInterrupt``) it calls :meth:`Executor.terminate`, which stops the workers at once
instead of waiting for their chunks. When the parent dies without that (``kill -9``), a
watchdog thread in each worker sees its parent process change (``os.getppid()``, polled every
:data:`PARENT_POLL_S`) and ends the worker. ``prctl(PR_SET_PDEATHSIG)`` is not used: it fires
when the *thread* that spawned the worker ends, which would kill a pool started from a
short-lived thread of a live process (a server's request thread).
"""

from __future__ import annotations

import os
import re
import signal
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any

from liqcascade.errors import ConfigError
from liqcascade.execution._spawn import WorkerSpawnContext, defined_in_main

EXECUTORS = ("serial", "local", "dask", "dask://HOST:PORT")
"""Spellings :func:`open_executor` accepts (``processes`` is an alias of ``local``)."""

DASK_CONNECT_TIMEOUT_S = 5.0
"""How long to wait for a Dask scheduler before saying it is unreachable."""

PARENT_POLL_S = 0.25
"""How often a local worker checks that its parent is alive."""

ORPHAN_EXIT_CODE = 3
"""Exit status of a local worker whose parent died."""

_ADDRESS = re.compile(r"^(?:dask|tcp)://(?P<host>[A-Za-z0-9_.\-]+|\[[0-9A-Fa-f:]+\]):(?P<port>[0-9]{1,5})$")


def default_workers() -> int:
    """All cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def set_worker_threads(threads: int) -> None:
    """Run numba's parallel kernels on ``threads`` threads in this (worker) process.

    Results do not depend on the thread count (the kernels' reductions are deterministic: a
    test), only speed does."""
    import numba

    numba.set_num_threads(max(1, min(int(threads), numba.config.NUMBA_NUM_THREADS)))


def _start_worker(threads: int, parent: int) -> None:
    """Initializer of a local worker process: ignore Ctrl-C (the parent stops us), end when
    ``parent`` is gone, and run numba on ``threads`` threads."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    watch_parent(parent)
    set_worker_threads(threads)


def watch_parent(parent: int, poll_s: float = PARENT_POLL_S) -> threading.Thread:
    """A daemon thread that ends this process (status :data:`ORPHAN_EXIT_CODE`) once its parent
    process is no longer ``parent``: an orphan is re-parented (to init or a subreaper), so its
    ``getppid()`` changes. ``os._exit`` because the main thread may be deep in a kernel."""
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll_s)
        os._exit(ORPHAN_EXIT_CODE)

    t = threading.Thread(target=watch, name="liqcascade-parent-watch", daemon=True)
    t.start()
    return t


class _NoInterrupt:
    """SIGINT blocked in this thread for the duration (a Ctrl-C meanwhile waits, and is delivered
    after): processes spawned inside inherit the blocked signal across exec, so a Ctrl-C during
    their start-up imports cannot print a traceback from them. No-op off the main thread or
    where ``pthread_sigmask`` does not exist."""

    def __enter__(self) -> "_NoInterrupt":
        self._old = None
        if hasattr(signal, "pthread_sigmask") and threading.current_thread() is threading.main_thread():
            self._old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        return self

    def __exit__(self, *exc: object) -> None:
        if self._old is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, self._old)


def _threads_each(workers: int) -> int:
    import numba

    return max(1, numba.config.NUMBA_NUM_THREADS // workers)


class Executor(ABC):
    """Runs ``fn`` over items somewhere; see the module docstring. Use as a context manager."""

    name: str = ""
    workers: int = 1

    @abstractmethod
    def map_unordered(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> Iterator[tuple[int, Any]]:
        """Yield ``(i, fn(items[i]))`` for every item, in the order results arrive.

        The first exception a call raises is raised here, and the items not yet started are
        cancelled."""

    def close(self) -> None:
        """Release workers (idempotent), letting running items finish."""

    def terminate(self) -> None:
        """Stop now: drop queued items and end running ones without waiting (Ctrl-C). The
        executor cannot be used afterwards. Default: :meth:`close`."""
        self.close()

    def __enter__(self) -> "Executor":
        return self

    def __exit__(self, exc_type, *exc: object) -> None:
        # an interrupt (KeyboardInterrupt, SystemExit) must not wait for running chunks
        if exc_type is not None and not issubclass(exc_type, Exception):
            self.terminate()
        else:
            self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(workers={self.workers})"


class SerialExecutor(Executor):
    """Every item in this process, in order."""

    name = "serial"

    def map_unordered(self, fn, items):
        for i, item in enumerate(items):
            yield i, fn(item)


class ProcessExecutor(Executor):
    """Local worker processes, started with spawn (see the module docstring for why)."""

    name = "local"

    def __init__(self, workers: int | None = None, threads_per_worker: int | None = None) -> None:
        self.workers = _check_workers(workers)
        threads = threads_per_worker or _threads_each(self.workers)
        self._pool = ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=WorkerSpawnContext(),  # spawn, without re-running the caller's script
            initializer=_start_worker,
            initargs=(threads, os.getpid()),
        )
        self._terminated = False

    def map_unordered(self, fn, items):
        if defined_in_main(fn):
            raise ConfigError("--executor", "executor", "a function importable from a module (the local "
                              "workers do not import the calling script)", getattr(fn, "__qualname__", fn))
        with _NoInterrupt():  # workers are spawned by the submits
            pending = {self._pool.submit(fn, item): i for i, item in enumerate(items)}
        try:
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    i = pending.pop(fut)
                    yield i, fut.result()
        finally:
            for fut in pending:
                fut.cancel()

    def worker_pids(self) -> list[int]:
        """PIDs of the worker processes started so far."""
        return [p.pid for p in list((self._pool._processes or {}).values())]

    def close(self) -> None:
        if not self._terminated:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def terminate(self) -> None:
        if self._terminated:
            return
        self._terminated = True
        # the pool has no public way to stop running calls before Python 3.14's terminate_workers
        procs = list((self._pool._processes or {}).values())
        self._pool.shutdown(wait=False, cancel_futures=True)
        for p in procs:
            p.terminate()  # SIGTERM: default action, the worker ends without a traceback
        for p in procs:
            p.join(timeout=5.0)


class _NumbaThreads:
    """``fn`` run with numba's parallel kernels on ``threads`` threads in the calling thread.

    numba's thread count is per calling thread, and a Dask worker runs tasks in its own
    thread pool (not where ``Client.run`` runs), so the count is set in the task itself."""

    def __init__(self, fn: Callable[[Any], Any], threads: int) -> None:
        self.fn, self.threads = fn, threads

    def __call__(self, item: Any) -> Any:
        set_worker_threads(self.threads)
        return self.fn(item)


class DaskExecutor(Executor):
    """Dask distributed: a local cluster of ``workers`` single-threaded workers (processes,
    or threads of this process with ``processes=False``: cheap to start, for tests and
    small runs), or the scheduler at ``address`` (``tcp://HOST:PORT``).

    On a local cluster each task runs numba on ``threads_per_worker`` threads (default: the
    numba threads shared out among the workers); on a remote scheduler the workers keep
    their own setting unless ``threads_per_worker`` is given."""

    name = "dask"

    def __init__(self, workers: int | None = None, address: str | None = None,
                 connect_timeout_s: float | None = None, processes: bool = True,
                 threads_per_worker: int | None = None) -> None:
        from dask.distributed import Client, LocalCluster

        connect_timeout_s = DASK_CONNECT_TIMEOUT_S if connect_timeout_s is None else connect_timeout_s
        self._cluster = None
        self._threads = threads_per_worker
        if address is None:
            self.workers = _check_workers(workers)
            if self._threads is None:
                self._threads = _threads_each(self.workers)
            self._cluster = LocalCluster(n_workers=self.workers, threads_per_worker=1, processes=processes,
                                         dashboard_address=None, silence_logs=40)
            self._client = Client(self._cluster)
        else:
            try:
                self._client = Client(address, timeout=connect_timeout_s)
            except (OSError, TimeoutError) as e:
                raise ConfigError("--executor", "executor",
                                  f"a reachable Dask scheduler (none answered at {address} within "
                                  f"{connect_timeout_s:g} s: {type(e).__name__})", address) from None
            self.workers = max(1, len(self._client.scheduler_info().get("workers", {})))

    def map_unordered(self, fn, items):
        from dask.distributed import as_completed

        task = fn if self._threads is None else _NumbaThreads(fn, self._threads)
        futures = [self._client.submit(task, item, pure=False) for item in items]
        index = {f.key: i for i, f in enumerate(futures)}
        try:
            for fut in as_completed(futures):
                yield index[fut.key], fut.result()
        finally:
            for fut in futures:
                if not fut.done():
                    fut.cancel()

    def close(self) -> None:
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()

    def terminate(self) -> None:
        # futures were cancelled by map_unordered; a local cluster's nannies stop their workers
        self.close()


def _check_workers(workers: int | None) -> int:
    if workers is None:
        return default_workers()
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ConfigError("--workers", "workers", "an integer >= 1 (default: all cores)", workers)
    return workers


def parse_executor(spec: str) -> tuple[str, str | None]:
    """``(kind, address)`` of an executor spelling; :class:`ConfigError` for an unknown one."""
    text = str(spec).strip()
    if text in ("serial", "local", "processes", "dask"):
        return ("local" if text == "processes" else text), None
    m = _ADDRESS.match(text)
    if m is None or not (0 < int(m.group("port")) < 65536):
        raise ConfigError("--executor", "executor", f"one of {list(EXECUTORS)} (e.g. dask://127.0.0.1:8786)", spec)
    return "dask", f"tcp://{m.group('host')}:{m.group('port')}"


def open_executor(spec: str = "local", workers: int | None = None) -> Executor:
    """An executor from its command-line spelling (module docstring), checked and connected."""
    kind, address = parse_executor(spec)
    if workers is not None:
        _check_workers(workers)
    if kind == "serial":
        return SerialExecutor()
    if kind == "local":
        return ProcessExecutor(workers)
    return DaskExecutor(workers, address)
