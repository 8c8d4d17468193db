"""Start-up of the command line (issue 14): ``liqcascade --help`` imports nothing heavy.

The libraries below cost ~0.4 s of imports together (pandas alone ~0.25 s on the 2-core
machine); a command imports what it needs when it runs, so `--help`, `--version` and a bad
option answer at once. The timed target (< 0.25 s) is ``benchmarks/test_bench_startup.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SRC = str(Path(__file__).resolve().parents[1] / "src")
HEAVY = ("pandas", "numpy", "numba", "duckdb", "pyarrow", "pydantic", "scipy", "jinja2", "networkx")


def _modules_after(argv: list[str]) -> tuple[set[str], str]:
    """The top-level packages loaded in a fresh process that ran ``liqcascade ARGV``, and its stdout."""
    code = (
        "import json, sys\n"
        "from liqcascade.cli import main\n"
        "try:\n"
        f"    main({argv!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    env = {**os.environ, "PYTHONPATH": SRC}
    p = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    *text, last = p.stdout.rstrip("\n").split("\n")
    return set(json.loads(last)), "\n".join(text)


@pytest.mark.parametrize("argv", [["--help"], ["run", "--help"], ["montecarlo", "--help"], ["--version"]])
def test_help_imports_nothing_heavy(argv):
    loaded, out = _modules_after(argv)
    assert "liqcascade" in loaded  # the check ran the real command line
    assert out.strip(), "printed nothing"
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


def test_version_is_the_installed_one():
    from importlib.metadata import PackageNotFoundError, version

    _, out = _modules_after(["--version"])
    try:
        expected = version("liqcascade")
    except PackageNotFoundError:
        expected = "0.0.0+unknown"
    assert out.strip() == f"liqcascade, version {expected}"


def test_the_package_version_attribute_is_looked_up_on_use():
    import liqcascade

    assert isinstance(liqcascade.__version__, str) and liqcascade.__version__
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        liqcascade.nope  # noqa: B018
