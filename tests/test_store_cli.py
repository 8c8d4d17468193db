"""`runs` and `show` (compact listing, --out/--store aliases), the Monte Carlo amplification
caveat, and the docs' sweep commands and example list (review findings 6, 9, 11, 12, 2)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from liqcascade.cli import _amplification_caveat, main
from liqcascade.io.store import ResultsStore

REPO = Path(__file__).resolve().parents[1]
SMALL = REPO / "examples" / "small_book.toml"


def invoke(*args) -> str:
    r = CliRunner().invoke(main, [str(a) for a in args])
    assert r.exit_code == 0, r.output
    return r.stdout


# ------------------------------------------------------------------ runs / show
def test_runs_lists_one_compact_line_per_run(tmp_path):
    store = tmp_path / "S"
    invoke("run", SMALL, "--store", store)
    invoke("run", SMALL, "--shock", "WETH=0.4", "--out", store)
    invoke("curve", SMALL, "--shocks", "0.1,0.2", "--no-impact", "--store", store)
    lines = invoke("runs", "--store", store).splitlines()
    assert lines == invoke("runs", "--out", store).splitlines()
    assert lines[0].split() == ["run_id", "kind", "created", "(UTC)", "version", "status", "label"]
    rows = lines[1:]
    ids = ResultsStore(store).list_runs()["run_id"].tolist()
    assert len(rows) == len(ids) == 3
    assert [r.split()[0] for r in rows] == ids
    for r in rows:
        assert len(r) < 160 and "{" not in r  # no config JSON
        assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d  ", r)  # UTC, to the second
        assert "finished" in r and "small_book.toml" in r
    assert rows[0].split()[1] == "static" and rows[0].endswith("shock WETH 25%, wstETH 25%")
    assert rows[1].endswith("shock WETH 40%")  # --shock replaces [shock]
    assert rows[2].split()[1] == "curve" and rows[2].endswith("curve of WETH, no impact")


def test_runs_on_an_empty_store(tmp_path):
    ResultsStore(tmp_path / "empty")  # a store with no run yet
    assert "no runs stored" in invoke("runs", "--store", tmp_path / "empty")


@pytest.mark.parametrize("command", [["runs"], ["show", "0123456789abcdef"]])
def test_a_read_command_never_creates_a_store(tmp_path, command):
    """`runs --store typo`: exit 2 naming the folder, and the folder is not created."""
    r = CliRunner().invoke(main, [*command, "--store", str(tmp_path / "typo")])
    assert r.exit_code == 2
    assert f"{tmp_path / 'typo'}: no results store here" in r.output
    assert not (tmp_path / "typo").exists()


def test_show_takes_store_and_out(tmp_path):
    store = tmp_path / "S"
    out = invoke("run", SMALL, "--out", store)
    rid = re.search(r"^run ([0-9a-f]{16})", out, flags=re.M).group(1)
    a = invoke("show", rid, "--store", store, "--table", "assets")
    b = invoke("show", rid, "--out", store, "--table", "assets")
    assert a == b and "WETH" in a and "wstETH" in a


@pytest.mark.parametrize("command", ["run", "curve", "simulate", "montecarlo", "calibrate", "sweep", "compare",
                                     "maker-replay", "runs", "show", "demo", "serve"])
def test_every_store_command_takes_both_names(command):
    opts = {o for p in main.commands[command].params for o in getattr(p, "opts", [])}
    assert {"--out", "--store"} <= opts


def test_report_keeps_o_for_the_html_file():
    params = {p.name: p.opts for p in main.commands["report"].params}
    assert "-o" in params["output"] and params["store"] == ["--store"]


# ------------------------------------------------------------------ Monte Carlo caveat
def _paths(drops: list[float]) -> pd.DataFrame:
    d = np.asarray(drops, dtype=float)
    amp = np.where(d > 0, 1.0 / np.where(d > 0, d, 1.0), np.nan)  # any value; NaN where the headline rose
    return pd.DataFrame({"exogenous_drop": d, "amplification": amp})


def test_caveat_counts_small_drops_among_the_amplification_paths():
    # 50 paths rose (no amplification), 40 fell >= 1 %, 10 fell < 1 %: 10 of 50 = 20 %
    note = _amplification_caveat(_paths([-0.02] * 50 + [0.05] * 40 + [0.004] * 10))
    assert note is not None and "10 of the 50 paths" in note and "(20%)" in note and "exogenous_drop" in note


def test_caveat_threshold_is_one_percent_of_the_paths():
    assert _amplification_caveat(_paths([0.05] * 200)) is None
    assert _amplification_caveat(_paths([0.05] * 199 + [0.001])) is None  # 0.5 %
    assert "2 of the 200" in _amplification_caveat(_paths([0.05] * 198 + [0.001, 0.0099]))  # 1 %
    assert _amplification_caveat(_paths([0.05] * 198 + [0.001, 0.01])) is None  # 0.01 is not below 1 %


def test_montecarlo_prints_the_caveat_after_the_table(capsys):
    from liqcascade.cli import _print_montecarlo
    from liqcascade.engine.result import Result
    from liqcascade.execution.api import _risk

    n = 200
    rng = np.random.default_rng(0)
    drop = np.r_[np.full(150, 0.05), np.full(50, 0.002)]
    paths = pd.DataFrame({
        "path": np.arange(n), "seed": 7, "bad_debt_usd": rng.uniform(0, 10, n),
        "collateral_seized_usd": rng.uniform(0, 10, n), "accounts_liquidated": rng.integers(0, 5, n),
        "exogenous_drop": drop, "amplification": 1.0 + 0.01 / drop, "time_to_clear_s": 600.0,
    })
    risk = _risk(paths, {"levels": [0.95, 0.99], "confidence": 0.95, "reserves_usd": None, "seed": 1})
    res = Result("montecarlo", {"paths": paths, "risk": risk}, {}).with_run_id("x" * 16)
    _print_montecarlo(res)
    lines = capsys.readouterr().out.splitlines()
    assert any(ln.strip().startswith("amplification") for ln in lines)
    assert lines[-1].startswith("caution: 50 of the 200 paths") and "(25%)" in lines[-1]


# ------------------------------------------------------------------ docs
def _doc_commands(text: str) -> list[str]:
    out = []
    for block in re.findall(r"```(?:console|text|sh)\n(.*?)```", text, flags=re.S):
        for cmd in block.replace("\\\n", " ").splitlines():
            cmd = cmd.split(" #")[0].strip().removeprefix("$ ")
            if cmd.startswith("liqcascade ") and "--sweep" in cmd and "FIELD=" not in cmd:
                out.append(cmd)
    return out


DOCS = {p.name: p.read_text() for p in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]}
SWEEPS = [(name, c) for name, text in DOCS.items() for c in _doc_commands(text)]


def test_docs_have_sweep_examples():
    assert {name for name, _ in SWEEPS} >= {"README.md", "calibration.md", "montecarlo.md"}


@pytest.mark.parametrize("name, cmd", SWEEPS, ids=[f"{n}:{c.split()[1]}:{i}" for i, (n, c) in enumerate(SWEEPS)])
def test_documented_sweep_commands_run(tmp_path, monkeypatch, name, cmd):
    """Every documented --sweep command runs as written (Monte Carlo on 2 paths, serial)."""
    monkeypatch.chdir(REPO)
    args = shlex.split(cmd)[1:]
    if "--paths" in args:
        args[args.index("--paths") + 1] = "2"
    if args[0] == "montecarlo" or "montecarlo" in args:
        args += ["--executor", "serial"]
    invoke(*args, "--out", tmp_path / "s")


def test_readme_lists_every_example_scenario():
    import tomllib

    readme = DOCS["README.md"]
    files = sorted(p.name for p in (REPO / "examples").glob("*.toml"))
    for f in files:
        tomllib.loads((REPO / "examples" / f).read_text())  # each is a scenario file
        assert f"`{f}`" in readme, f
    words = {6: "six", 7: "seven", 8: "eight", 9: "nine", 10: "ten", 11: "eleven", 12: "twelve",
             13: "thirteen", 14: "fourteen", 15: "fifteen", 16: "sixteen", 17: "seventeen", 18: "eighteen",
             19: "nineteen", 20: "twenty", 21: "twenty-one", 22: "twenty-two",
             23: "twenty-three"}
    assert f"`examples/` has {words[len(files)]}" in readme


@pytest.mark.parametrize("command", [["run", SMALL], ["runs"]])
def test_a_store_that_cannot_be_created_is_a_clean_error(tmp_path, command):
    """A results folder under a file cannot exist: exit 2, the path named, no traceback."""
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    r = CliRunner().invoke(main, [str(a) for a in command] + ["--out", str(blocker / "store")])
    assert r.exit_code == 2, r.output
    assert "results store" in r.output and str(blocker / "store") in r.output
    assert "Traceback" not in r.output and blocker.read_text() == "not a folder"
