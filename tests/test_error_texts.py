"""Error texts a user reads: each says what was wrong, where and what was expected, in the
words of the interface that raised it (review finding 7, and 4 for ``report -o``)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from liqcascade.cli import main
from liqcascade.errors import ConfigError, DataError, LiqcascadeError, plain, rehint
from liqcascade.io.config import parse_scenario

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def example(tmp_path):
    for f in ("small_book.toml", "small_book.csv"):
        shutil.copy(REPO / "examples" / f, tmp_path / f)
    return tmp_path / "small_book.toml"


def _cli(*args: str):
    r = CliRunner().invoke(main, list(args))
    return r.exit_code, r.output


# ----------------------------------------------------------------- numbers as plain numbers
@given(st.floats(allow_nan=False, allow_infinity=True) | st.integers(-10**12, 10**12))
def test_numpy_scalars_read_as_plain_numbers(x):
    for v in (np.float64(x) if isinstance(x, float) else np.int64(x),):
        assert "np." not in str(ConfigError("f.toml", "k", "something", v))
        assert "np." not in str(DataError("f.csv", 3, f"column 'debt' got {v!r}"))
        assert str(ConfigError("f.toml", "k", "x", v)).endswith(f"got {plain(v)!r}")
        assert repr(plain(v)) == repr(x if isinstance(x, int) else float(x))


def test_plain_unwraps_containers():
    assert plain([np.float64(1.5), np.int64(2)]) == [1.5, 2]
    assert plain(np.array([0.25, 0.5])) == [0.25, 0.5]
    assert plain({"WETH": np.float64(0.3)}) == {"WETH": 0.3}
    assert type(plain(np.str_("0xa2"))) is str


def test_numpy_repr_scrubbed_from_any_message():
    e = DataError("p.csv", 3, "column 'collateral' must be a finite number >= 0, got np.float64(-10.0); "
                              "account np.str_('0xa2'), e-mode np.int64(1)")
    assert str(e) == ("p.csv: row 3: column 'collateral' must be a finite number >= 0, got -10.0; "
                      "account '0xa2', e-mode 1")


def test_negative_amount_in_positions_file(example, tmp_path):
    csv = tmp_path / "small_book.csv"
    lines = csv.read_text().splitlines()
    # third data row (file line 4) gets a negative collateral
    cells = lines[3].split(",")
    cells[2] = "-10"
    lines[3] = ",".join(cells)
    csv.write_text("\n".join(lines) + "\n")
    code, out = _cli("run", str(example), "--out", str(tmp_path / "store"))
    assert code == 2
    assert "row 3: column 'collateral' must be a finite number >= 0, got -10.0" in out
    assert "np." not in out and "Traceback" not in out


# ----------------------------------------------------------------- shock > 1 in a TOML file
def test_toml_shock_above_one_reads_like_the_flag(example, tmp_path):
    text = example.read_text()
    import tomllib

    data = tomllib.loads(text)
    data["shock"] = {"WETH": 1.5, "wstETH": 0.25}
    with pytest.raises(ConfigError) as ei:
        parse_scenario(data, "s.toml")
    msg = str(ei.value)
    assert msg.startswith("s.toml: shock.WETH: expected a fractional drop below 1")
    assert msg.endswith("got 1.5")
    assert msg.count("got") == 1 and "{" not in msg and "wstETH" not in msg
    assert ei.value.key == "shock.WETH" and ei.value.got == 1.5
    # the --shock flag says the same about the same value
    code, out = _cli("run", str(example), "--shock", "WETH=1.5", "--out", str(tmp_path / "st"))
    assert code == 2 and "shock.WETH: expected a fractional drop below 1" in out and out.count("got") == 1


def _example_data() -> dict:
    import tomllib

    return tomllib.loads((REPO / "examples" / "small_book.toml").read_text())


@pytest.mark.parametrize("bad", [float("nan"), -10.0, 1.0, 7.0])
def test_toml_shock_bounds(bad):
    data = _example_data()
    data["shock"] = {"WETH": 0.3, "WBTC": bad}
    with pytest.raises(ConfigError) as ei:
        parse_scenario(data, "s.toml")
    assert ei.value.key == "shock.WBTC" and str(ei.value).count("got") == 1 and "WETH" not in str(ei.value)


def test_toml_shock_in_bounds_passes():
    data = _example_data()
    data["shock"] = {"WETH": 0.99, "WBTC": -9.5}
    assert parse_scenario(data, "s.toml").shock == {"WETH": 0.99, "WBTC": -9.5}


def test_curve_grid_message_says_got_once():
    data = _example_data()
    data["curve"] = {"asset": "WETH", "shocks": "0:2:x"}
    with pytest.raises(ConfigError) as ei:
        parse_scenario(data, "c.toml")
    assert ei.value.key == "curve.shocks"
    assert str(ei.value).count("got") == 1 and str(ei.value).endswith("got '0:2:x'")


# ----------------------------------------------------------------- advice in the interface's words
def test_rehint_replaces_only_the_closing_advice():
    assert rehint("S: no run 'x'; list_runs() shows the stored runs", "`liqcascade runs` lists them") == \
        "S: no run 'x'; `liqcascade runs` lists them"
    assert rehint("no advice here", "do this") == "no advice here; do this"


def test_renamed_speaks_in_options():
    e = ConfigError("<python>", "date", "a shipped day (or pass price_file)", "2021-05-19").renamed(
        "liqcascade maker-replay", {"date": "--date", "price_file": "--price-file"})
    assert str(e) == "liqcascade maker-replay: --date: expected a shipped day (or pass --price-file), got '2021-05-19'"
    same = ConfigError("a.toml", "date", "price_file").renamed("x", {"date": "--date"})
    assert str(same) == "a.toml: date: expected price_file"  # only <python> labels are renamed


@pytest.mark.parametrize("command", ["show", "report"])
def test_unknown_run_id_names_the_runs_command(example, tmp_path, command):
    store = tmp_path / "store"
    assert _cli("run", str(example), "--out", str(store))[0] == 0
    opt = "--out" if command == "show" else "--store"
    code, out = _cli(command, "feedfacefeedface", opt, str(store))
    assert code == 2
    assert "no finished run 'feedfacefeedface'" in out
    assert "`liqcascade runs --out" in out and "list_runs()" not in out and "Traceback" not in out


def test_maker_replay_names_the_price_file_option(tmp_path):
    code, out = _cli("maker-replay", "--date", "2021-05-19", "--out", str(tmp_path / "s"))
    assert code == 2
    assert "--date" in out and "--price-file" in out and "'2021-05-19'" in out
    assert "<python>" not in out and "price_file" not in out
    assert not (tmp_path / "s" / "runs").exists()


def test_calibrate_range_out_of_bounds_blames_range(example, tmp_path):
    # small_book: WETH threshold 0.83, bonus 0.05 -> a threshold may go up to 1 / 1.05
    code, out = _cli("calibrate", str(example), "--param", "liquidation_threshold", "--asset", "WETH",
                     "--kind", "static", "--budget", "1e6", "--range", "0.5:1.5", "--out", str(tmp_path / "s"))
    assert code == 2
    line = out.strip().splitlines()[-1]
    assert line.startswith("error: --range:")
    assert f"{1 / 1.05:.6g}" in line and "HI = 1.5" in line and "got '0.5:1.5'" in line
    assert "market.overrides" not in line and "small_book.toml" not in line


def test_calibrate_bonus_range_names_its_bound(example, tmp_path):
    code, out = _cli("calibrate", str(example), "--param", "liquidation_bonus", "--asset", "WETH",
                     "--kind", "static", "--budget", "1e6", "--range", "0:0.5", "--out", str(tmp_path / "s"))
    assert code == 2 and "error: --range:" in out and f"{1 / 0.83 - 1:.6g}" in out


def test_simulate_without_simulation_table_prints_only_the_error(example, tmp_path):
    r = CliRunner().invoke(main, ["simulate", str(example), "--out", str(tmp_path / "s")])
    assert r.exit_code == 2
    assert r.output.startswith("error: ") and "[simulation]" in r.output
    assert "blocks" not in r.output.split("error: ")[0]
    assert r.output.count("\n") == 1


# ----------------------------------------------------------------- report -o (finding 4)
@pytest.mark.parametrize("where", ["missing", "file"])
def test_report_output_in_a_folder_that_is_not_there(example, tmp_path, where):
    store = tmp_path / "store"
    assert _cli("run", str(example), "--out", str(store))[0] == 0
    from liqcascade.io.store import ResultsStore

    rid = ResultsStore(store).list_runs()["run_id"].iloc[0]
    n_runs = len(ResultsStore(store).list_runs())
    if where == "missing":
        out_path = tmp_path / "nonexistent" / "dir" / "x.html"
    else:
        (tmp_path / "afile").write_text("x")
        out_path = tmp_path / "afile" / "x.html"
    code, out = _cli("report", rid, "-o", str(out_path), "--store", str(store))
    assert code == 2
    assert out.startswith("error: -o/--output: ") and str(out_path) in out and "Traceback" not in out
    assert not out_path.exists()
    assert len(ResultsStore(store).list_runs()) == n_runs  # nothing was run (no companions completed)


def test_check_output_accepts_a_writable_path(tmp_path):
    from liqcascade.report import check_output

    assert check_output(tmp_path / "r.html") == tmp_path / "r.html"
    with pytest.raises(ConfigError, match="not a folder|a file name"):
        check_output(tmp_path, "-o")


def test_write_failure_leaves_nothing_behind(tmp_path, monkeypatch):
    import liqcascade.report as R

    class Fake:
        html = "<html></html>"

    monkeypatch.setattr(R, "make_report", lambda *a, **k: Fake())

    def boom(self, *a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "write_text", boom)
    with pytest.raises(LiqcascadeError, match="No space left on device"):
        R.write_report(tmp_path / "store", "x", tmp_path / "r.html", option="-o")
    assert list(tmp_path.iterdir()) == []
