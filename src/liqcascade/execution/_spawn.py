"""A spawn start method whose workers do not re-run the parent's ``__main__``.

multiprocessing's spawn starts each worker by importing the parent's main script (or ``-m``
module) as ``__mp_main__``, so that functions defined there can be unpickled. A script that calls
``montecarlo(..., executor="local")`` at top level, without an ``if __name__ == "__main__":``
guard, would then run again in every worker, which starts workers of its own: multiprocessing
stops that with a RuntimeError about the bootstrapping phase.

liqcascade's workers never need ``__main__``: the functions they run and the items they get live
in liqcascade's own modules. So while a worker is being started, the main module's ``__file__``
and ``__spec__`` (all that spawn reads to decide what to re-import) are hidden from it. Nothing is
set process-wide: the default start method and ``__main__`` are as before once the worker is up.
The price: a function defined in ``__main__`` cannot run on these workers (unpickling it fails
in the worker with an error naming it), which :class:`~liqcascade.execution.ProcessExecutor`
checks before submitting.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading
from multiprocessing.context import SpawnContext, SpawnProcess

_HIDDEN = ("__file__", "__spec__")
_lock = threading.Lock()
_MISSING = object()


@contextlib.contextmanager
def _main_hidden():
    """``__main__`` without the attributes spawn reads, for as long as a worker starts."""
    main = sys.modules.get("__main__")
    with _lock:
        if main is None:
            yield
            return
        saved = {name: main.__dict__.get(name, _MISSING) for name in _HIDDEN}
        for name, value in saved.items():
            if value is not _MISSING:
                setattr(main, name, None)
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is not _MISSING:
                    setattr(main, name, value)


class _WorkerProcess(SpawnProcess):
    @staticmethod
    def _Popen(process_obj):
        # the preparation data (which main to re-import) is read while the child is launched
        with _main_hidden():
            return SpawnProcess._Popen(process_obj)

    def run(self) -> None:
        """The worker's loop; once it has ended normally (its pool said stop, every result
        sent), the process ends as a forked child does: exit handlers run (multiprocessing's
        own among them) and the standard streams flushed, then ``os._exit``. A spawned child
        would otherwise tear its interpreter down, which with numba's loaded kernels took about
        a second a worker, and the pool's shutdown waits for it."""
        super().run()
        atexit._run_exitfuncs()
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
        os._exit(0)


class WorkerSpawnContext(SpawnContext):
    """The spawn context, with workers that skip the parent's ``__main__`` (module docstring)."""

    Process = _WorkerProcess


def defined_in_main(fn: object) -> bool:
    """Whether ``fn`` (a function, or a callable object by its class) is defined in ``__main__``."""
    function = hasattr(fn, "__code__") or isinstance(fn, type)
    module = getattr(fn, "__module__", None) if function else type(fn).__module__
    return module in ("__main__", "__mp_main__")
