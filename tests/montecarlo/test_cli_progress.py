"""Progress of the commands on stderr when it is a pipe (CliRunner's is not a terminal): plain lines,
no carriage returns, nothing with -q/--quiet or LIQCASCADE_QUIET=1; the same numbers with and
without progress; and one Ctrl-C ends a command with exit 130 and what to do next."""

from __future__ import annotations

import signal
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from liqcascade.cli import main
from liqcascade.execution.api import montecarlo
from tests.montecarlo.conftest import TINY, write_scenario

SMALL = Path(__file__).parents[2] / "examples" / "small_book.toml"


def _mc(tiny, out, *extra):
    return CliRunner().invoke(main, ["montecarlo", str(tiny), "--paths", "6", "--executor", "serial",
                                     "--chunk-size", "2", "--out", str(out), *extra])


@pytest.fixture(autouse=True)
def progress_on(monkeypatch):
    """Progress on, as outside the tests (tests/conftest.py turns it off elsewhere)."""
    monkeypatch.delenv("LIQCASCADE_QUIET", raising=False)


def test_montecarlo_progress_in_a_pipe_and_quiet(tiny, tmp_path, monkeypatch):
    res = _mc(tiny, tmp_path / "a")
    assert res.exit_code == 0, res.output
    assert "montecarlo: 3/3 chunks (100%)" in res.stderr and "\r" not in res.stderr
    assert "montecarlo:" not in res.stdout
    for flag in ("-q", "--quiet"):
        assert _mc(tiny, tmp_path / flag.strip("-"), flag).stderr == ""
    monkeypatch.setenv("LIQCASCADE_QUIET", "1")
    assert _mc(tiny, tmp_path / "env").stderr == ""
    # the three stores hold the same paths
    from liqcascade.io.store import ResultsStore

    tables = [ResultsStore(tmp_path / d).query("select * from paths order by path") for d in ("a", "q", "env")]
    for t in tables[1:]:
        pd.testing.assert_frame_equal(t.drop(columns="run_id", errors="ignore"),
                                      tables[0].drop(columns="run_id", errors="ignore"), check_exact=True)


def test_the_same_numbers_with_and_without_progress(tiny, capsys):
    seen = []
    plain = montecarlo(tiny, 8, executor="serial", chunk_size=3, store=None)
    counted = montecarlo(tiny, 8, executor="serial", chunk_size=3, store=None, progress=lambda d, t: seen.append((d, t)))
    drawn = montecarlo(tiny, 8, executor="serial", chunk_size=3, store=None, progress=True)
    assert seen == [(0, 3), (1, 3), (2, 3), (3, 3)]
    assert "montecarlo" in capsys.readouterr().err  # progress=True draws on stderr
    for other in (counted, drawn):
        pd.testing.assert_frame_equal(other.table("paths"), plain.table("paths"), check_exact=True)
        pd.testing.assert_frame_equal(other.table("risk"), plain.table("risk"), check_exact=True)


def test_a_bad_progress_argument_stops_before_any_write(tiny, tmp_path):
    from liqcascade.errors import ConfigError

    with pytest.raises(ConfigError, match="progress"):
        montecarlo(tiny, 4, executor="serial", store=tmp_path / "s", progress="yes")
    assert not (tmp_path / "s").exists()


def test_compare_curve_and_sweeps_report_progress(tiny, tmp_path):
    r = CliRunner().invoke(main, ["compare", str(SMALL), "--protocols", "aave_v3,compound_v2",
                                  "--out", str(tmp_path / "c")])
    assert r.exit_code == 0, r.output
    assert "compare: 2/2 runs (100%)" in r.stderr and "\r" not in r.stderr
    # --dynamic: a static run and a simulation per protocol
    shocked = write_scenario(tmp_path, TINY.replace('drive = { ETH = ["WETH", "wstETH"], BTC = ["WBTC"] }', "blocks = 10")
                             + "\n[shock]\nWETH = 0.3\n", "shocked.toml")
    r = CliRunner().invoke(main, ["compare", str(shocked), "--protocols", "aave_v3,compound_v2", "--dynamic",
                                  "--out", str(tmp_path / "c")])
    assert r.exit_code == 0, r.output
    assert "compare: 4/4 runs (100%)" in r.stderr
    r = CliRunner().invoke(main, ["curve", str(SMALL), "--asset", "WETH", "--shocks", "0:0.3:0.1",
                                  "--out", str(tmp_path / "c")])
    assert r.exit_code == 0, r.output
    assert "curve: 4/4 shocks (100%)" in r.stderr
    r = CliRunner().invoke(main, ["montecarlo", str(tiny), "--paths", "4", "--executor", "serial", "--chunk-size", "2",
                                  "--sweep", "montecarlo.vol.ETH=2.0,3.0", "--out", str(tmp_path / "s")])
    assert r.exit_code == 0, r.output
    assert "sweep: 2/2 combinations (100%)" in r.stderr
    assert r.stderr.count("  chunks: 2/2 chunks (100%)") == 2  # each combination's chunks
    q = CliRunner().invoke(main, ["compare", str(SMALL), "--protocols", "aave_v3", "-q", "--out", str(tmp_path / "c")])
    assert q.exit_code == 0 and q.stderr == ""


@pytest.fixture
def sigint_restored():
    """The Ctrl-C handler ignores further SIGINTs (as the command ends): give pytest its own back."""
    before = signal.getsignal(signal.SIGINT)
    yield
    signal.signal(signal.SIGINT, before)


@pytest.mark.parametrize("args, target, kept", [
    (["montecarlo", "{tiny}"], "liqcascade.execution.api.montecarlo", True),
    (["sweep", "{tiny}", "--kind", "montecarlo", "--sweep", "montecarlo.vol.ETH=2.0,3.0"], "liqcascade.execution.sweep.sweep", True),
    (["run", "{tiny}", "--sweep", "shock.WETH=0.1,0.2"], "liqcascade.execution.sweep.sweep", True),
    (["calibrate", "{tiny}", "--param", "liquidation_bonus", "--asset", "WETH", "--budget", "1000"],
     "liqcascade.execution.calibrate.calibrate", True),
    (["calibrate", "{tiny}", "--param", "liquidation_bonus", "--asset", "WETH", "--budget", "1000", "--kind", "static"],
     "liqcascade.execution.calibrate.calibrate", False),  # a static calibration is stored only at the end
    (["compare", "{tiny}"], "liqcascade.api.compare", False),
    (["simulate", "{tiny}"], "liqcascade.api.simulate", False),
])
def test_ctrl_c_exits_130_and_says_what_to_do(tiny, tmp_path, monkeypatch, sigint_restored, args, target, kept):
    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(target, interrupted)
    argv = [a.format(tiny=tiny) for a in args] + ["--out", str(tmp_path / "s")]
    monkeypatch.setattr("sys.argv", ["liqcascade", *argv])
    r = CliRunner().invoke(main, argv)
    assert r.exit_code == 130, r.output
    assert "Traceback" not in r.stderr and "Aborted" not in r.output
    assert "liqcascade " + " ".join(argv) in r.stderr
    assert ("run the same command again (same --out) to resume" in r.stderr) is kept
    assert ("nothing of the unfinished run was stored" in r.stderr) is not kept
