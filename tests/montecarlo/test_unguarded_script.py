"""``montecarlo(..., executor="local")`` from a script without an ``if __name__ == "__main__":``
guard: spawned workers must not run the script again (multiprocessing's spawn re-imports the
parent's main module; liqcascade's workers skip it, execution/_spawn.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from liqcascade.errors import ConfigError
from liqcascade.execution import ProcessExecutor
from liqcascade.execution.api import montecarlo

from .conftest import write_scenario

SCRIPT = """
from liqcascade import api

print("script body runs")
res = api.montecarlo({scenario!r}, 4, store=None, executor="local", workers=2, chunk_size=2)
print("bad debt", repr(float(res.table("paths")["bad_debt_usd"].sum())))
"""


@pytest.mark.slow
def test_script_without_main_guard_runs_on_local_workers(tmp_path):
    scenario = write_scenario(tmp_path)
    script = tmp_path / "unguarded.py"
    script.write_text(SCRIPT.format(scenario=str(scenario)))
    src = str(Path(__file__).resolve().parents[2] / "src")
    env = {**os.environ, "PYTHONPATH": src, "NUMBA_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    # the body ran once: in the script's own process, never again in a worker
    assert out.stdout.count("script body runs") == 1, out.stdout
    serial = montecarlo(scenario, 4, executor="serial", chunk_size=2, store=None)
    assert f"bad debt {float(serial.table('paths')['bad_debt_usd'].sum())!r}" in out.stdout


def test_a_function_of_main_is_refused_before_any_work():
    def job(x):
        return x

    job.__module__ = "__main__"  # as if defined in the calling script, which the workers do not import
    with ProcessExecutor(1) as ex, pytest.raises(ConfigError, match="importable from a module"):
        list(ex.map_unordered(job, [1]))
