"""The owners' behaviour fitted to the shipped ETH-B history (execution/behaviour.py): the
held-aside fortnight is out of the fit, the shipped JSON is what a fresh fit gives, the
command prints it, and [simulation.behaviour] reaches the engine (io/behaviour.py)."""

from __future__ import annotations

import json
import re
import math
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from liqcascade import api
from liqcascade.cli import main
from liqcascade.errors import ConfigError
from liqcascade.execution import behaviour as B
from liqcascade.io.behaviour import behaviour_params, fit_path, shipped_params
from liqcascade.io.config import BehaviourConfig
from liqcascade.model.behaviour import build_panel

@pytest.fixture
def one_thread():
    """Books of a few thousand accounts: numba's thread team costs more than it saves on a
    busy machine (as in tests/engine/conftest.py); results do not depend on the thread count."""
    from liqcascade._jit import jit_enabled

    if not jit_enabled():
        yield
        return
    import numba

    before = numba.get_num_threads()
    numba.set_num_threads(1)
    yield
    numba.set_num_threads(before)


LO, HI = (pd.Timestamp(t, tz="UTC").timestamp() for t in ("2021-05-17", "2021-06-01"))


@pytest.fixture(scope="module")
def ethb():
    return B.ethb_inputs()


@pytest.fixture(scope="module")
def fit():
    return B.fit_ethb()


def test_the_held_aside_fortnight_is_out_of_the_panel(ethb):
    events, hours = ethb
    assert B.held_aside() == ((LO, HI),)
    inside = lambda p: (hours.start[p.hour] + 3600 > LO) & (hours.start[p.hour] < HI)  # noqa: E731
    full = build_panel(events, hours)
    assert inside(full).sum() > 1000  # the fortnight has vault-hours to leave out ...
    kept = build_panel(events, hours, exclude=B.held_aside())
    assert inside(kept).sum() == 0  # ... and the fit's panel has none of them


def test_the_fit_counts_only_the_panel_outside_the_fortnight(ethb, fit):
    events, hours = ethb
    kept = build_panel(events, hours, exclude=B.held_aside())
    assert sum(b.hours for b in fit.bins) == int(((kept.d >= fit.bins[0].lo) & (kept.d < fit.bins[-1].hi)).sum())
    assert fit.excluded == B.held_aside()
    r = fit.refill
    # days of the hourly file (2021-04-05 .. 2022-12-30 whole days) less the 15 held-aside days
    assert r.days == 635 - 15


def test_owners_act_more_often_nearer_liquidation(fit):
    # an invariant of the data, not a number pasted from a run: the hourly probability of a
    # protect falls from the bin just above HF 1 to the bins far from it, beyond their errors
    near, far = fit.bins[1], fit.bins[-1]
    assert near.lo == 0.0 and near.p_protect - 3 * near.se_protect > far.p_protect + 3 * far.se_protect
    assert 1.0 < fit.restore_hf < 1.5 and fit.restore_iqr[0] <= fit.restore_hf <= fit.restore_iqr[1]


def test_the_shipped_fit_is_a_fresh_fit(fit):
    shipped = json.loads(fit_path().read_text())
    fresh = B.fit_to_dict(fit)
    for got, want in zip(shipped["bins"], fresh["bins"]):
        assert got == pytest.approx(want, nan_ok=True)
    for k in ("restore_hf", "lever_hf", "repay_share", "close_share", "restore_n", "lever_n"):
        assert shipped[k] == pytest.approx(fresh[k])
    p = fit.params()
    s = shipped_params()
    assert s.protect_per_hour == pytest.approx(p.protect_per_hour) and s.edges == pytest.approx(p.edges)


def test_fit_behaviour_command_prints_the_fit():
    r = CliRunner().invoke(main, ["fit-behaviour"])
    assert r.exit_code == 0, r.output
    assert "held aside: 2021-05-17 to 2021-06-01, excluded" in r.output and "restore_hf" in r.output
    assert len([ln for ln in r.output.splitlines() if ln.strip().startswith(("-0.30", "0.", "1.00"))]) == 9


def test_table_keys_replace_the_fit():
    p = behaviour_params(BehaviourConfig(restore_hf=1.3, protect_scale=2.0, seed=5), "s.toml")
    s = shipped_params()
    assert p.restore_hf == 1.3 and p.lever_hf == s.lever_hf and p.seed == 5
    assert p.protect_per_hour == pytest.approx(tuple(min(1.0, 2 * x) for x in s.protect_per_hour))
    assert behaviour_params(None, "s.toml") is None


@pytest.mark.parametrize("kw, key", [
    ({"fit": "none", "restore_hf": 1.2}, "simulation.behaviour.edges"),
    ({"edges": [0.0, 0.5]}, "simulation.behaviour.edges"),
    ({"restore_hf": 0.9}, "simulation.behaviour.restore_hf"),
])
def test_bad_tables_name_the_key(kw, key):
    with pytest.raises(ConfigError) as e:
        behaviour_params(BehaviourConfig(**kw), "s.toml")
    assert e.value.key == key and e.value.file == "s.toml"


SCENARIO = """
name = "react"
[market]
protocol = "aave_v3"
version = "3.3-3.4"
assets = ["WETH", "USDC"]
[positions]
source = "file"
path = "book.csv"
[prices.overrides]
WETH = 2000.0
USDC = 1.0
[simulation]
path = "linear"
blocks = 30
duration_blocks = 24
block_seconds = 3600
[simulation.oracle]
kind = "instant"
[simulation.liquidators]
gas_asset = "WETH"
gas_gwei = 1
[shock]
WETH = 0.3
"""


def _book(n=40):
    rows = ["account,asset,collateral,debt"]
    for i, hf in enumerate(np.linspace(1.02, 1.5, n)):
        rows += [f"a{i},WETH,1,0", f"a{i},USDC,0,{2000 * 0.83 / hf:.6f}"]
    return "\n".join(rows) + "\n"


def test_scenario_table_reaches_the_engine(tmp_path, one_thread):
    (tmp_path / "book.csv").write_text(_book())
    plain = tmp_path / "plain.toml"
    plain.write_text(textwrap.dedent(SCENARIO))
    off = tmp_path / "off.toml"
    off.write_text(textwrap.dedent(SCENARIO) + "[simulation.behaviour]\nprotect_scale = 0\nlever_scale = 0\n")
    on = tmp_path / "on.toml"
    on.write_text(textwrap.dedent(SCENARIO) + "[simulation.behaviour]\nseed = 3\n")
    a, b, c = (api.simulate(p, store=None) for p in (plain, off, on))
    pd.testing.assert_frame_equal(a["events"], b["events"])
    assert b.summary["owner_protects"] == 0 and "owner_protects" not in a.summary
    assert a.summary["accounts_liquidated"] > 0 and c.summary["owner_protects"] > 0


@pytest.fixture(scope="module")
def books():
    return B.fit_books()


@pytest.mark.slow
def test_shipped_hf_presets_are_a_fresh_fit_and_closer_than_the_default(books):
    from liqcascade.io.behaviour import books_path

    shipped = json.loads(books_path().read_text())
    assert list(shipped) == list(B.BOOK_DATES) == list(books)
    for d, v in books.items():
        assert shipped[d]["ks"] == pytest.approx(v["ks"]) and shipped[d]["vaults"] == v["vaults"]
        for k, x in v["knobs"].items():
            assert shipped[d]["knobs"][k] == pytest.approx(x)
        # below the 95 % KS critical value 1.36 / sqrt(n), and closer than the hand-set default
        assert v["ks"] < 1.36 / math.sqrt(v["vaults"]) and v["ks"] < v["ks_default"]


def test_a_rebuilt_book_by_hand_count():
    hf, below = B.ethb_hf_at("2022-05-01")
    assert hf.min() >= 1.0 and below >= 0 and hf.size >= 30
    with pytest.raises(Exception, match="no hourly ETH price"):
        B.ethb_hf_at("2021-01-01")


PRESET = """
name = "preset"
[market]
protocol = "aave_v3"
version = "3.3-3.4"
assets = ["WETH", "USDC"]
[positions]
source = "synthetic"
n_accounts = 3000
pair = ["WETH", "USDC"]
hf_preset = "ethb-2022-05-01"
"""


def test_hf_preset_draws_the_fitted_mixture(tmp_path):
    from liqcascade.io import scenario as S
    from liqcascade.io.behaviour import hf_preset_knobs
    from liqcascade.model.hf_fit import HfMixture, ks_distance

    p = tmp_path / "s.toml"
    p.write_text(textwrap.dedent(PRESET))
    sc = S.load(p)
    book, px = sc.model.book, np.asarray(sc.model.prices)
    lt = np.asarray(sc.model.rules.params.liquidation_threshold)
    w = book.segment_sum(book.collateral * px[book.asset] * lt[book.asset])
    hf = w / book.debt_value(px)
    k = hf_preset_knobs("ethb-2022-05-01", "s.toml")
    mix = HfMixture(**k)
    assert ks_distance(hf, mix) < 1.63 / math.sqrt(hf.size)
    # an hf_* key given with the preset replaces the preset's value, the others stay
    p.write_text(textwrap.dedent(PRESET) + "hf_near_weight = 0.1\n")
    sc = S.load(p)
    book = sc.model.book
    hf = book.segment_sum(book.collateral * px[book.asset] * lt[book.asset]) / book.debt_value(px)
    assert ks_distance(hf, HfMixture(**{**k, "hf_near_weight": 0.1})) < 1.63 / math.sqrt(hf.size)
    assert ks_distance(hf, mix) > 1.63 / math.sqrt(hf.size)
    p.write_text(textwrap.dedent(PRESET).replace("ethb-2022-05-01", "ethb-1999-01-01"))
    with pytest.raises(ConfigError) as e:
        S.load(p)
    assert "positions.hf_preset" in str(e.value)


DOC = Path(__file__).resolve().parents[2] / "docs" / "behaviour.md"


def _doc_block(lang: str, index: int = 0) -> str:
    return re.findall(rf"^```{lang}\n(.*?)^```", DOC.read_text(), flags=re.S | re.M)[index]


def test_docs_print_what_the_command_prints(fit, books):
    # the first text block of docs/behaviour.md is `liqcascade fit-behaviour --books`' output
    assert _doc_block("text", 0).rstrip("\n") == B.format_fit(fit) + "\n" + B.format_books(books)


@pytest.mark.slow
def test_docs_forward_run_table(tmp_path, one_thread):
    base = _doc_block("toml")
    variants = {"frozen (no table)": "", "fitted, seed 0": "[simulation.behaviour]\nseed = 0\n",
                "fitted, seed 1": "[simulation.behaviour]\nseed = 1\n",
                "protect only (`lever_scale = 0`)": "[simulation.behaviour]\nlever_scale = 0\n",
                "lever only (`protect_scale = 0`)": "[simulation.behaviour]\nprotect_scale = 0\n"}
    rows = {r.split("|")[1].strip(): [c.strip() for c in r.split("|")[2:-1]]
            for r in DOC.read_text().splitlines() if r.startswith("| ") and r.split("|")[1].strip() in variants}
    assert len(rows) == len(variants)
    for name, extra in variants.items():
        p = tmp_path / "s.toml"
        p.write_text(base + "\n" + extra)
        s = api.simulate(p, store=None).summary
        got = [s["accounts_liquidated"], round(s["debt_repaid_usd"]), s.get("owner_protects", 0),
               s.get("owner_levers", 0), round(s["bad_debt_usd"])]
        assert [str(x) for x in got] == rows[name], name


def test_a_system_scenario_refuses_the_table():
    from liqcascade.io.system import parse_system

    with pytest.raises(ConfigError) as e:
        parse_system({"name": "s", "simulation": {"path": "shock", "behaviour": {}}}, "sys.toml")
    assert e.value.key == "simulation.behaviour" and e.value.file == "sys.toml"


def test_write_books_needs_books(tmp_path):
    r = CliRunner().invoke(main, ["fit-behaviour", "--write-books", str(tmp_path / "b.json")])
    assert r.exit_code == 2 and "--write-books" in r.output and not (tmp_path / "b.json").exists()
    assert "restore_hf" not in r.output  # refused before any fitting


def test_hf_preset_is_for_synthetic_books_only(tmp_path):
    from liqcascade.io import scenario as S

    (tmp_path / "book.csv").write_text(_book(3))
    p = tmp_path / "s.toml"
    p.write_text(textwrap.dedent(SCENARIO).replace('path = "book.csv"', 'path = "book.csv"\nhf_preset = "ethb-2022-05-01"'))
    with pytest.raises(ConfigError) as e:
        S.load(p)
    assert e.value.key == "positions.hf_preset"


def test_a_system_config_dump_without_the_table_still_parses():
    # a built system's config travels to Monte Carlo workers as a dump, behaviour = None in it
    from liqcascade.io.system import parse_system

    with pytest.raises(ConfigError) as e:
        parse_system({"name": "s", "simulation": {"path": "shock", "behaviour": None}}, "sys.toml")
    assert e.value.key != "simulation.behaviour"  # refused for what it lacks (markets), not for the table
