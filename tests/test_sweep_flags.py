"""``--sweep FIELD=V1,V2,...`` on ``run``, ``simulate`` and ``montecarlo``: the same sweep as
``liqcascade sweep --kind static|simulate|montecarlo`` (same run ids, same numbers, same printed
table, each computed in a store of its own), the command's own options composed with it, and bad
factors refused before anything is stored.

Numbers by hand on the one-account book of ``tests/calibrate/conftest.py``: 100 WETH at $2,000
against 128,000 USDC of debt, bonus 5 %, no venue (no impact), unbounded liquidators: after a
drop ``d`` the whole position is closed and the bad debt is ``128000 - 200000 (1 - d) / 1.05``
when positive.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from liqcascade.cli import main
from liqcascade.io.store import ResultsStore
from tests.calibrate.conftest import ONE, write_one

SMALL = Path(__file__).resolve().parents[1] / "examples" / "small_book.toml"


def bad_debt(drop: float, bonus: float = 0.05) -> float:
    return max(0.0, 128000.0 - 200000.0 * (1.0 - drop) / (1.0 + bonus))


@pytest.fixture
def one(tmp_path) -> Path:
    return write_one(tmp_path)


@pytest.fixture(autouse=True)
def one_numba_thread():
    """Tiny books: thread start-up would be all the cost of the parallel kernels."""
    import numba

    before = numba.get_num_threads()
    numba.set_num_threads(1)
    yield
    numba.set_num_threads(before)


@pytest.fixture
def sim_one(one) -> Path:
    """The book with a ``[simulation]`` `liqcascade simulate` can run: the shock path moves WETH."""
    one.write_text(ONE.replace('drive = { ETH = ["WETH"] }', 'drive = { WETH = ["WETH"] }'))
    return one


def invoke(*args) -> tuple[str, str]:
    r = CliRunner().invoke(main, [str(a) for a in args])
    assert r.exit_code == 0, r.output
    return r.stdout, r.stderr


def sweep_table(out: Path, stdout: str) -> tuple[str, pd.DataFrame]:
    rid = stdout.split()[1]  # "run <id>  sweep of ..."
    return rid, ResultsStore(out).load(rid, "sweep")


def same_sweep(tmp_path: Path, option_args: list, sweep_args: list) -> tuple[str, pd.DataFrame, ResultsStore]:
    """Run the option form and the ``sweep`` form into two stores; both must agree exactly."""
    a, b = tmp_path / "via_option", tmp_path / "via_sweep"
    out_a, _ = invoke(*option_args, "--out", a)
    out_b, _ = invoke(*sweep_args, "--out", b)
    assert out_a.replace(str(a), "OUT") == out_b.replace(str(b), "OUT")  # the same printed table
    rid_a, t_a = sweep_table(a, out_a)
    rid_b, t_b = sweep_table(b, out_b)
    assert rid_a == rid_b
    pd.testing.assert_frame_equal(t_a, t_b, check_exact=True)
    return rid_a, t_a, ResultsStore(a)


def test_run_sweep_is_the_static_sweep(tmp_path):
    factors = ["--sweep", "shock.WETH=0.2,0.3", "--sweep", "assets.WETH.liquidation_bonus=0.05,0.08"]
    _, t, st = same_sweep(tmp_path, ["run", SMALL, *factors], ["sweep", SMALL, *factors, "--kind", "static"])
    assert list(t.columns[:2]) == ["shock.WETH", "assets.WETH.liquidation_bonus"] and len(t) == 4
    assert sorted(zip(t["shock.WETH"], t["assets.WETH.liquidation_bonus"])) == [
        (0.2, 0.05), (0.2, 0.08), (0.3, 0.05), (0.3, 0.08)]
    # each row is the plain run of that combination: the file's wstETH shock stays, WETH's is swept
    row = t[(t["shock.WETH"] == 0.3) & (t["assets.WETH.liquidation_bonus"] == 0.05)].iloc[0]
    plain, _ = invoke("run", SMALL, "--shock", "WETH=0.3", "--shock", "wstETH=0.25", "--out", tmp_path / "plain")
    assert plain.split()[1] == row["run_id"]
    assert st.load(row["run_id"], "summary")["bad_debt_usd"].iloc[0] == row["bad_debt_usd"]


def test_run_shock_composes_with_the_sweep_and_conflicts_are_refused(one, tmp_path):
    out = tmp_path / "st"
    stdout, _ = invoke("run", one, "--shock", "USDC=0.0", "--sweep", "shock.WETH=0.3,0.4", "--out", out)
    _, t = sweep_table(out, stdout)
    assert t["bad_debt_usd"].tolist() == pytest.approx([bad_debt(0.3), bad_debt(0.4)], abs=1e-6)
    # --shock replaced [shock] before the sweep set WETH: the same runs as --shock alone
    for d, rid in zip((0.3, 0.4), t["run_id"]):
        plain, _ = invoke("run", one, "--shock", "USDC=0.0", "--shock", f"WETH={d}", "--out", tmp_path / "plain")
        assert plain.split()[1] == rid
    none = tmp_path / "none"
    for args, named in [
        (["--shock", "WETH=0.3", "--sweep", "shock.WETH=0.2,0.3"], "shock.WETH"),  # both set it
        (["--shock", "WETH=0.3", "--sweep", "shock={WETH=0.2}"], "shock"),
        (["--shock", "DOGE=0.1", "--sweep", "shock.WETH=0.2"], "shock.DOGE"),
        (["--shock", "WETH=1.5", "--sweep", "shock.USDC=0.0"], "--shock: shock"),  # names the option and [shock]
    ]:
        r = CliRunner().invoke(main, ["run", str(one), *args, "--out", str(none)])
        assert r.exit_code == 2 and named in r.stderr, (args, r.output)
        assert "combination" not in r.stderr
    assert not none.exists()


def test_simulate_sweep_is_the_simulate_sweep(sim_one, tmp_path):
    f = ["--sweep", "shock.WETH=0.3,0.4"]
    _, t, st = same_sweep(tmp_path, ["simulate", sim_one, *f, "--quiet"], ["sweep", sim_one, *f, "--kind", "simulate"])
    assert t["bad_debt_usd"].tolist() == pytest.approx([bad_debt(0.3), bad_debt(0.4)], abs=1e-6)
    assert {"steps", "events"} <= set(st.tables(t["run_id"].iloc[0]))  # each combination: a simulation run


def test_montecarlo_sweep_passes_its_options_through(one, tmp_path):
    f = ["--sweep", "montecarlo.depeg.0.drop=0.3,0.4"]
    opts = ["--paths", "3", "--seed", "5", "--chunk-size", "2", "--executor", "serial"]
    _, t, st = same_sweep(tmp_path, ["montecarlo", one, *f, *opts, "--quiet"],
                          ["sweep", one, *f, "--kind", "montecarlo", *opts])
    # every path loses the same: a certain depeg of ETH over a zero-volatility GBM
    assert t["bad_debt_usd_mean"].tolist() == pytest.approx([bad_debt(0.3), bad_debt(0.4)], abs=1e-6)
    for rid in t["run_id"]:
        p = st.load(rid, "paths")
        assert p["path"].tolist() == [0, 1, 2] and set(p["seed"]) == {5} and set(p["chunk"]) == {0, 1}


def test_montecarlo_reserves_compose_with_the_sweep(one, tmp_path):
    out = tmp_path / "st"
    stdout, _ = invoke("montecarlo", one, "--sweep", "montecarlo.depeg.0.drop=0.3,0.4", "--reserves", "1000",
                       "--paths", "2", "--executor", "serial", "--out", out, "--quiet")
    rid, _ = sweep_table(out, stdout)
    r = ResultsStore(out).load(rid, "sweep_risk")
    p = r[(r["metric"] == "bad_debt_usd") & (r["statistic"] == "p_exceeds_reserves")]
    # bad debt 0 at -30 %, 13,714 > 1,000 at -40 %, on every path
    assert dict(zip(p["montecarlo.depeg.0.drop"], p["estimate"])) == {0.3: 0.0, 0.4: 1.0}
    none = tmp_path / "none"
    r = CliRunner().invoke(main, ["montecarlo", str(one), "--sweep", "montecarlo.reserves_usd=0,10", "--reserves",
                                  "1000", "--paths", "2", "--out", str(none)])
    assert r.exit_code == 2 and "montecarlo.reserves_usd" in r.stderr and "--reserves" in r.stderr
    assert not none.exists()


@pytest.mark.parametrize("command", ["run", "simulate", "montecarlo"])
@pytest.mark.parametrize("factor, named", [
    ("assets.WETH.liquidation_treshold=0.8", "assets.WETH.liquidation_treshold"),  # no such field
    ("engine.max_round=3", "engine.max_round"),
    ("shock.WETH=", "shock.WETH"),  # an empty value list
    ("shock.WETH=0.2,,0.3", "shock.WETH"),
    ("shock.WETH=abc", "shock.WETH"),  # a value of the wrong type
    ("engine.max_rounds=0.5", "engine.max_rounds"),
    ("shock.DOGE=0.2", "shock.DOGE"),  # an asset the market does not have
])
def test_bad_factors_are_refused_before_anything_is_stored(one, tmp_path, command, factor, named):
    out = tmp_path / "none"
    r = CliRunner().invoke(main, [command, str(one), "--sweep", factor, "--out", str(out)])
    assert r.exit_code == 2, r.output
    assert r.stderr.startswith(f"error: --sweep: {named}:"), r.stderr
    assert "combination" not in r.stderr and not out.exists()


def test_a_simulation_the_base_cannot_run_is_refused_before_any_combination(one, tmp_path):
    # the base's [simulation] drives path asset ETH, but the shock path moves WETH
    out = tmp_path / "none"
    r = CliRunner().invoke(main, ["simulate", str(one), "--sweep", "shock.WETH=0.3,0.4", "--out", str(out)])
    assert r.exit_code == 2 and "simulation.drive" in r.stderr and "combination" not in r.stderr
    assert not out.exists()
