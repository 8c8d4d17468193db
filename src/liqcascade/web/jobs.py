"""Runs started from the dashboard.

Each run executes in a fresh worker process (``python -m liqcascade.web.worker``), driven by a
thread of a small pool,
so neither the event loop nor the request threads wait for it, and a run that passes the
wall-time cap is stopped by terminating its process. The worker computes and returns the
tables; the server process saves them into the store (DuckDB lets one process write the
catalog at a time), so a stopped or crashed run leaves nothing behind.
"""

from __future__ import annotations

import pickle
import subprocess
import sys
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

from liqcascade.io.store import ResultsStore
from liqcascade.web.limits import Limits
from liqcascade.web.scenarios import RequestError, RunSpec

KEEP_JOBS = 200
"""Finished jobs remembered (oldest forgotten first); their runs stay in the store."""


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
        self._procs: set = set()
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
            else:
                job.status, job.error = "failed", payload
        except Exception as e:  # the store or the process machinery: say so on the job
            job.status, job.error = "failed", f"{type(e).__name__}: {e}"
        finally:
            job.finished_at = _now()

    def _in_process(self, spec: RunSpec) -> tuple[str, Any]:
        """Run ``spec`` in a fresh interpreter (not a fork: the server's threads and open
        files stay out of it) and stop it at the wall-time cap."""
        proc = subprocess.Popen([sys.executable, "-m", "liqcascade.web.worker"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        with self._lock:
            self._procs.add(proc)
        try:
            out, err = proc.communicate(pickle.dumps(spec), timeout=self.limits.max_seconds)
        except subprocess.TimeoutExpired:
            _stop(proc)
            proc.communicate()
            return "error", f"stopped: the run took longer than this server's wall-time cap of {self.limits.max_seconds:g} s"
        finally:
            with self._lock:
                self._procs.discard(proc)
        if proc.returncode != 0 or not out:
            tail = err.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
            return "error", f"the worker process ended without a result (exit code {proc.returncode}) {tail[0]}".strip()
        return pickle.loads(out)

    def shutdown(self) -> None:
        """Stop running workers and drop queued runs (server shutdown)."""
        with self._lock:
            procs = list(self._procs)
        for p in procs:
            _stop(p)
        self._pool.shutdown(wait=False, cancel_futures=True)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

