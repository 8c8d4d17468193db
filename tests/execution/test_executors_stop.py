"""An interrupt stops local workers at once instead of waiting for their running items; an error in
one item still lets the others finish (the executor stays usable)."""

from __future__ import annotations

import os
import time

import pytest

from liqcascade.execution import ProcessExecutor

pytestmark = pytest.mark.slow


def _alive(pid: int) -> bool:
    try:
        state = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads /proc (Linux)")
def test_an_interrupt_terminates_workers_without_waiting_for_their_items():
    ex = ProcessExecutor(2)
    results = ex.map_unordered(time.sleep, [0.0, 60.0, 60.0])
    assert next(results) == (0, None)  # the pool is up; both workers now sleep 60 s
    pids = ex.worker_pids()
    assert len(pids) == 2 and all(_alive(p) for p in pids)
    t0 = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        with ex:
            raise KeyboardInterrupt  # what Ctrl-C raises in the parent
    results.close()
    assert time.monotonic() - t0 < 5.0  # not the 60 s of the running items
    deadline = time.monotonic() + 5.0
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(p) for p in pids)
    ex.close()  # idempotent after terminate


def test_an_ordinary_error_closes_normally():
    with pytest.raises(ZeroDivisionError):
        with ProcessExecutor(1) as ex:
            assert sorted(ex.map_unordered(abs, [-1, -2])) == [(0, 1), (1, 2)]
            1 / 0
    assert not ex._terminated
