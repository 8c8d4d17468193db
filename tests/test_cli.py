"""The command line, end to end through click (same process, real files)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from liqcascade import api
from liqcascade.cli import main
from liqcascade.io.store import ResultsStore

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "small_book.toml"


@pytest.fixture
def example(tmp_path):
    for f in ("small_book.toml", "small_book.csv"):
        shutil.copy(REPO / "examples" / f, tmp_path / f)
    return tmp_path / "small_book.toml"


def test_help_on_every_command():
    r = CliRunner()
    top = r.invoke(main, ["--help"])
    assert top.exit_code == 0
    names = list(main.commands)
    assert {"run", "curve", "demo", "conformance", "runs", "show", "schema"} <= set(names)
    for name in names:
        out = r.invoke(main, [name, "--help"])
        assert out.exit_code == 0, name
        # every command explains itself in more than its usage line
        assert len(main.commands[name].help or "") > 20, name


def test_run_stores_and_finds_the_same_run(example, tmp_path):
    out = tmp_path / "store"
    r = CliRunner().invoke(main, ["run", str(example), "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "accounts liquidated" in r.output
    store = ResultsStore(out)
    runs = store.list_runs()
    assert len(runs) == 1
    rid = runs["run_id"].iloc[0]
    assert set(store.tables(rid)) == {"summary", "assets", "rounds", "accounts", "trades"}
    mtime = (out / "runs" / rid / "summary.parquet").stat().st_mtime_ns
    again = CliRunner().invoke(main, ["run", str(example), "--out", str(out)])
    assert again.exit_code == 0 and rid in again.output
    assert (out / "runs" / rid / "summary.parquet").stat().st_mtime_ns == mtime  # found, not rewritten
    assert len(ResultsStore(out).list_runs()) == 1
    # a different shock is a different run
    other = CliRunner().invoke(main, ["run", str(example), "--out", str(out), "--shock", "WETH=0.1"])
    assert other.exit_code == 0, other.output
    assert len(ResultsStore(out).list_runs()) == 2


def test_curve_command(example, tmp_path):
    r = CliRunner().invoke(
        main, ["curve", str(example), "--asset", "WETH", "--shocks", "0:0.5:0.25", "--out", str(tmp_path / "s")]
    )
    assert r.exit_code == 0, r.output
    c = ResultsStore(tmp_path / "s").query("select shock, final_drop from curve order by shock")
    assert list(c["shock"]) == [0.0, 0.25, 0.5]
    assert (c["final_drop"] >= c["shock"] - 1e-12).all()


def test_bad_input_is_one_line_and_exit_2(example, tmp_path):
    r = CliRunner().invoke(main, ["run", str(example), "--out", str(tmp_path / "s"), "--shock", "WETH=abc"])
    assert r.exit_code == 2
    assert "error:" in r.output and "ASSET=DROP" in r.output
    r = CliRunner().invoke(main, ["curve", str(example), "--asset", "WETH", "--shocks", "0.5:0.1:0.1"])
    assert r.exit_code == 2 and "shocks" in r.output
    assert not (tmp_path / "s").exists()


def test_conformance_command_passes_bundled_vectors():
    r = CliRunner().invoke(main, ["conformance"])
    assert r.exit_code == 0, r.output[-2000:]
    import re

    m = re.search(r"(\d+) passed, (\d+) failed", r.output)
    assert m and int(m.group(1)) >= 100 and int(m.group(2)) == 0, r.output[-500:]


def test_show_unknown_run(tmp_path):
    ResultsStore(tmp_path)  # a store without that run (a folder that is no store: tests/test_store_cli.py)
    r = CliRunner().invoke(main, ["show", "0123456789abcdef", "--out", str(tmp_path)])
    assert r.exit_code == 2 and "0123456789abcdef" in r.output


def test_python_api_tables_convert(example, tmp_path):
    res = api.run(example, store=tmp_path / "s")
    assert res.run_id
    df = res.to_pandas("accounts")
    # the accounts table holds every account the cascade touched
    assert (df["liquidation_calls"] > 0).sum() == res.summary["accounts_liquidated"]
    assert res.to_arrow("rounds").num_rows == len(res.table("rounds"))
    assert res.to_polars("summary").height == 1


def test_simulate_command(tmp_path):
    import tomllib

    src = REPO / "examples" / "replay_2021_05_19.toml"
    text = src.read_text().replace("n_accounts = 20000", "n_accounts = 1500")
    assert text != src.read_text()
    p = tmp_path / "sim.toml"
    p.write_text(text)
    assert tomllib.loads(text)["simulation"]["replay"] == "2021-05-19"
    r = CliRunner().invoke(main, ["simulate", str(p), "--out", str(tmp_path / "s"), "--quiet"])
    assert r.exit_code == 0, r.output
    assert "accounts liquidated" in r.output and "time to clear" in r.output
    store = ResultsStore(tmp_path / "s")
    rid = store.list_runs()["run_id"].iloc[0]
    assert set(store.tables(rid)) == {"summary", "steps", "events", "assets", "trades"}
    n = store.query("select count(distinct block) as n from steps")["n"].iloc[0]
    assert n == 276 * 5  # 276 one-minute candles, five 12-second blocks each


def test_simulate_without_simulation_table_is_a_clear_error(example, tmp_path):
    r = CliRunner().invoke(main, ["simulate", str(example), "--out", str(tmp_path / "s"), "--quiet"])
    assert r.exit_code == 2 and "simulation" in r.output


@pytest.mark.parametrize("protocol", ["liquity_v1", "morpho_blue", "compound_v3"])
def test_run_prints_protocols_without_a_rule_version(tmp_path, protocol):
    """The run line names the protocol and, only where it has one, its rule version (a run of
    Liquity, Morpho or Comet used to stop with KeyError 'version')."""
    from click.testing import CliRunner

    from liqcascade.cli import main

    src = Path(__file__).resolve().parents[1] / "examples" / "compare_mechanisms.toml"
    text = src.read_text().replace('protocol = "aave_v3"\nversion = "3.3-3.4"', f'protocol = "{protocol}"')
    text = text.replace("n_accounts = 20000", "n_accounts = 300")
    p = tmp_path / "s.toml"
    p.write_text(text)
    r = CliRunner().invoke(main, ["run", str(p), "--out", str(tmp_path / "res")])
    assert r.exit_code == 0, r.output
    assert f"({protocol}, 300 accounts" in r.output
