"""Runs started from the dashboard.

Runs execute in worker processes (``python -m liqcascade.web.worker``), each driven by a
thread of a small pool, so neither the event loop nor the request threads wait for them. A
worker stays up between runs (its imports and compiled kernels stay warm) and is replaced
when a run passes the wall-time cap (the process is terminated), crashes, or after
:data:`RECYCLE_AFTER` runs. The worker computes and returns the tables; the server process
saves them into the store (one atomic rename per run, beside any CLI process writing the
same store), so a stopped or crashed run leaves nothing behind.
"""

from __future__ import annotations

import logging
import os
import pickle
import select
import struct
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

from liqcascade.io.store import ResultsStore
from liqcascade.web.limits import Limits
from liqcascade.web.scenarios import RequestError, RunSpec
from liqcascade.web.security import scrub

log = logging.getLogger("liqcascade.web")

KEEP_JOBS = 200
"""Finished jobs remembered (oldest forgotten first); their runs stay in the store."""
RECYCLE_AFTER = 50
"""Runs one worker process executes before it is replaced by a fresh one."""


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


@dataclass
class Job:
    """One run request and what became of it."""

    job_id: str
    kind: str
    scenario: str
    request: dict[str, Any]
    created_at: str = field(default_factory=_now)
    status: str = "queued"
    """queued, running, finished or failed."""
    started_at: str | None = None
    finished_at: str | None = None
    run_id: str | None = None
    error: str | None = None

    @property
    def done(self) -> bool:
        return self.status in ("finished", "failed")

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["links"] = {"html": f"/jobs/{self.job_id}", "api": f"/api/jobs/{self.job_id}"}
        if self.run_id:
            d["links"]["run"] = f"/runs/{self.run_id}"
        return d


class JobRunner:
    """Queue, run and remember dashboard runs within the server's :class:`Limits`."""

    def __init__(self, store: ResultsStore, limits: Limits) -> None:
        self.store = store
        self.limits = limits
        self._pool = ThreadPoolExecutor(max_workers=limits.workers, thread_name_prefix="liqcascade-run")
        self._jobs: dict[str, Job] = {}
        self._idle: list[_Worker] = []
        self._busy: set[_Worker] = set()
        self._closed = False
        self._lock = threading.Lock()

    def submit(self, spec: RunSpec) -> Job:
        """Queue a run; :class:`RequestError` (429) when the server already has its cap of runs pending."""
        with self._lock:
            pending = sum(not j.done for j in self._jobs.values())
            if pending >= self.limits.max_pending:
                raise RequestError(f"{pending} runs are already queued or running (this server's cap is "
                                   f"{self.limits.max_pending}); try again when one has finished", 429)
            job = Job(uuid.uuid4().hex[:12], spec.kind, spec.source, spec.request)
            self._jobs[job.job_id] = job
            self._forget_old()
        self._pool.submit(self._run, job, spec)
        return job

    def _forget_old(self) -> None:
        done = [k for k, j in self._jobs.items() if j.done]
        for k in done[: max(0, len(self._jobs) - KEEP_JOBS)]:
            del self._jobs[k]

    def get(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    def jobs(self) -> list[Job]:
        """All remembered jobs, newest first."""
        with self._lock:
            return list(reversed(self._jobs.values()))

    def _run(self, job: Job, spec: RunSpec) -> None:
        job.status, job.started_at = "running", _now()
        try:
            outcome, payload = self._in_process(spec)
            if outcome == "ok":
                rid, kind, cfg, tables, meta = payload
                self.store.save(rid, kind, cfg, tables, meta)  # False when already stored: same numbers
                job.run_id = rid
                job.status = "finished"
            else:  # a config or data error names its file: under <store>, never by its server path
                job.status, job.error = "failed", scrub(str(payload), self.store.root)
        except Exception as e:  # the store or the process machinery: its text (paths, PIDs) goes to the log
            log.exception("job %s could not be completed", job.job_id)
            job.status, job.error = "failed", f"the run could not be completed ({type(e).__name__}); the server log has the details"
        finally:
            job.finished_at = _now()

    def start(self) -> None:
        """Start the worker processes ahead of the first run (their imports take seconds)."""
        with self._lock:
            while len(self._idle) < self.limits.workers:
                self._idle.append(_Worker())

    def _in_process(self, spec: RunSpec) -> tuple[str, Any]:
        """Run ``spec`` in a worker process and stop it at the wall-time cap."""
        with self._lock:
            w = self._idle.pop() if self._idle else None
        if w is None or not w.alive():
            if w is not None:
                w.stop()
            w = _Worker()
        with self._lock:
            self._busy.add(w)
        keep = False
        try:
            answer = w.call(spec, self.limits.max_seconds)
            keep = w.runs < RECYCLE_AFTER
            return answer
        except TimeoutError:
            return "error", f"stopped: the run took longer than this server's wall-time cap of {self.limits.max_seconds:g} s"
        except (EOFError, OSError, pickle.UnpicklingError) as e:
            code = w.proc.poll()
            return "error", (f"the worker process ended without a result (exit code {code}, {type(e).__name__}); "
                             "the server log has its output")
        finally:
            with self._lock:
                self._busy.discard(w)
                if keep and not self._closed:
                    self._idle.append(w)
                    w = None
            if w is not None:
                w.stop()

    def shutdown(self) -> None:
        """Stop the workers (a running run is stopped) and drop queued runs (server shutdown)."""
        with self._lock:
            self._closed = True
            workers = self._idle + list(self._busy)
            self._idle = []
        for w in workers:
            w.stop()
        self._pool.shutdown(wait=False, cancel_futures=True)


class _Worker:
    """One worker process and its pipe: a request is a length-prefixed pickle of a
    :class:`RunSpec` on its stdin, the answer one on its stdout. Its stderr is the server's."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "liqcascade.web.worker"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=None)
        self.runs = 0

    def alive(self) -> bool:
        return self.proc.poll() is None

    def call(self, spec: RunSpec, timeout: float) -> tuple[str, Any]:
        deadline = time.monotonic() + timeout
        self.runs += 1
        write_frame(self.proc.stdin, pickle.dumps(spec, protocol=pickle.HIGHEST_PROTOCOL))
        fd = self.proc.stdout.fileno()
        (n,) = struct.unpack(">Q", _read_exact(fd, 8, deadline))
        return pickle.loads(_read_exact(fd, n, deadline))

    def stop(self) -> None:
        _stop(self.proc)


def write_frame(stream, payload: bytes) -> None:
    """One message: its length (8 bytes, big-endian), then the bytes."""
    stream.write(struct.pack(">Q", len(payload)) + payload)
    stream.flush()


def _read_exact(fd: int, n: int, deadline: float) -> bytes:
    """``n`` bytes from ``fd`` before ``deadline`` (``TimeoutError``), or ``EOFError``."""
    buf = bytearray()
    while len(buf) < n:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise TimeoutError
        chunk = os.read(fd, min(n - len(buf), 1 << 20))
        if not chunk:
            raise EOFError("the worker closed its output")
        buf += chunk
    return bytes(buf)


def _stop(proc: subprocess.Popen) -> None:
    for stream in (proc.stdin, proc.stdout):
        try:
            stream.close()
        except OSError:
            pass
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
