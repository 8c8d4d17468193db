"""`liqcascade montecarlo`: the printed risk summary, and bad input exiting 2 with nothing written."""

from __future__ import annotations

from click.testing import CliRunner

from liqcascade.cli import main


def test_montecarlo_prints_the_risk_summary(tiny, tmp_path, monkeypatch):
    monkeypatch.delenv("LIQCASCADE_QUIET")  # progress on, as outside the tests
    out = tmp_path / "store"
    res = CliRunner().invoke(main, ["montecarlo", str(tiny), "--paths", "12", "--executor", "serial",
                                    "--chunk-size", "4", "--reserves", "500", "--out", str(out)])
    assert res.exit_code == 0, res.output
    text = res.stdout  # the progress bar goes to stderr
    assert "chunks" in res.stderr and "chunks" not in text
    for want in ("12 paths, root seed 11", "VaR of bad debt", "CVaR (ES) of bad debt", "99.9%",
                 "P(bad debt > 0)", "P(bad debt > reserves)", "paths for +-10 %", "collateral_seized_usd",
                 "tables: paths, risk"):
        assert want in text, want
    assert len(list(out.glob("runs/*/paths/part-*.parquet"))) == 3
    # the same command again finds the stored run
    again = CliRunner().invoke(main, ["montecarlo", str(tiny), "--paths", "12", "--executor", "serial",
                                      "--reserves", "500", "--out", str(out), "--quiet"])
    assert again.exit_code == 0 and again.stdout.splitlines()[0] == text.splitlines()[0]
    assert again.stderr == ""  # --quiet: no bar


def test_montecarlo_bad_input_exits_2_and_writes_nothing(tiny, tmp_path):
    out = tmp_path / "store"
    for args in (["--paths", "0"], ["--executor", "spark"], ["--chunk-size", "0"], ["--workers", "0"]):
        res = CliRunner().invoke(main, ["montecarlo", str(tiny), *args, "--out", str(out)])
        assert res.exit_code == 2, res.output
        assert res.output.startswith("error: ")
    assert not out.exists()
