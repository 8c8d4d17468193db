"""The JIT warm-up (``liqcascade warm``, run by ``make demo``): after it, another process's first
run compiles nothing (issue 14); and the compile counter it reports with counts real
compilations only."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from liqcascade import _jit

REPO = Path(__file__).resolve().parents[2]
SRC = str(REPO / "src")


def _python(code: str, timeout: float = 900) -> str:
    env = {**os.environ, "PYTHONPATH": SRC}
    env.pop(_jit.DISABLE_JIT_ENV, None)
    p = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=timeout)
    assert p.returncode == 0, p.stdout + p.stderr
    return p.stdout


def test_the_counter_sees_a_compilation_and_not_a_second_call():
    numba = pytest.importorskip("numba")
    if not _jit.jit_enabled():
        pytest.skip("JIT disabled")

    @numba.njit  # no cache: compiled in this process, whatever ran before
    def twice(x):
        return 2 * x

    with _jit.counting_compiles() as seen:
        assert twice(3) == 6
        assert twice(4) == 8  # same types: no second compilation
        assert twice(1.5) == 3.0  # new types: one more
    assert sum(seen.values()) == 2 and set(seen) == {twice.py_func.__qualname__}
    twice(2j)
    assert sum(seen.values()) == 2  # counted only within the block


def test_the_counter_is_empty_with_the_jit_off(monkeypatch):
    monkeypatch.setenv(_jit.DISABLE_JIT_ENV, "1")
    with _jit.counting_compiles() as seen:
        pass
    assert not seen


@pytest.mark.slow
def test_after_the_warm_up_a_new_process_compiles_nothing():
    if not _jit.jit_enabled():
        pytest.skip("JIT disabled")
    out = _python("from liqcascade.cli import main; main(['warm'])")
    last = out.strip().splitlines()[-1]
    assert re.fullmatch(r"\d+ kernels compiled in [\d.]+ s( \(all were cached\))?", last), out
    # a second process: the demo's scenario (its run and curve, a 200,000-account book the
    # warm-up never saw), a system of four protocols and a block-by-block replay
    examples = REPO / "examples"
    seen = json.loads(_python(
        "import json\n"
        "from liqcascade import _jit, api\n"
        "with _jit.counting_compiles() as seen:\n"
        "    demo = api.default_scenario_path()\n"
        "    api.run(demo, store=None)\n"
        "    api.curve(demo, store=None)\n"
        f"    api.run({str(examples / 'system_shared_eth.toml')!r}, store=None)\n"
        f"    api.simulate({str(examples / 'replay_2021_05_19.toml')!r}, store=None)\n"
        "print(json.dumps(dict(seen)))\n").strip().splitlines()[-1])
    assert seen == {}


def test_with_the_jit_disabled_nothing_runs(monkeypatch):
    from click.testing import CliRunner

    from liqcascade.cli import main
    from liqcascade.execution.warm import warm

    monkeypatch.setenv(_jit.DISABLE_JIT_ENV, "1")
    assert warm() == []
    r = CliRunner().invoke(main, ["warm"])
    assert r.exit_code == 0 and r.output == f"the JIT is disabled ({_jit.DISABLE_JIT_ENV}): nothing to compile\n"


def test_the_bundled_scenarios_load():
    """Both warm-up scenarios are valid (a typo would only show in `make demo`), and small."""
    from liqcascade.execution.runs import load_scenario, load_system
    from liqcascade.execution.warm import scenario_path

    market = load_scenario(scenario_path("market"))
    assert market.model.book.n_accounts == 300
    system = load_system(scenario_path("system"))
    assert len(system.model.markets) == 4
