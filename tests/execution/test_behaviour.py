"""The owners' behaviour fitted to the shipped ETH-B history (execution/behaviour.py): the
held-aside fortnight is out of the fit, the shipped JSON is what a fresh fit gives, the
command prints it, and [simulation.behaviour] reaches the engine (io/behaviour.py)."""

from __future__ import annotations

import json
import re
import math
import textwrap
from dataclasses import replace
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
    o_got, o_want = shipped["openings"], fresh["openings"]
    assert o_got["rate"] == pytest.approx(o_want["rate"]) and o_got["n"] == o_want["n"]
    for k in ("hf_quantiles", "size_quantiles", "return_range"):
        assert o_got[k] == pytest.approx(list(o_want[k]))
    for k in ("per_account_day", "return_slope", "hf_quantiles", "size_quantiles", "return_range"):
        assert getattr(s.opening, k) == pytest.approx(getattr(p.opening, k))
    r_got, r_want = shipped["returns"], fresh["returns"]
    for act in ("protect", "lever"):
        for got, want in zip(r_got[act], r_want[act]):
            assert got == pytest.approx(want, nan_ok=True)
    for k in ("hours", "return_range", "restore_slope", "restore_slope_se", "protect_slope_se_clustered",
              "lever_slope_se_clustered"):
        assert r_got[k] == pytest.approx(r_want[k])
    for k in ("lever_per_hour", "protect_return_slope", "lever_return_slope", "return_range"):
        assert getattr(s, k) == pytest.approx(getattr(p, k))
    u = shipped_params(react_to_return=False)  # the bins' k / n, as before the slopes
    assert u.protect_per_hour == tuple(b.protect / b.hours for b in fit.bins)
    assert u.lever_per_hour == tuple(b.lever / b.hours for b in fit.bins)
    assert u.protect_return_slope == () and u.lever_return_slope == ()


def test_near_the_line_owners_protect_more_after_a_fall(fit):
    # the finding, as an invariant of the data: in every bin from HF 1 to 2 (d 0 to 1) the
    # protect rate's slope on the 24 h return is negative by more than 4 of its clustered
    # standard errors (by day or by vault, the larger), and from d 0.02 the lever rate's
    # positive by 2; below HF 1 (half act within the hour) and far from it (d 1 to 2) the
    # protect slope is within 3 errors of 0
    rr = fit.returns
    for b, p, q, pc, qc in zip(fit.bins, rr.protect, rr.lever, rr.protect_slope_se_clustered,
                               rr.lever_slope_se_clustered):
        assert pc >= 0.9 * p.slope_se and qc >= 0.9 * q.slope_se  # clustering widens (up to noise)
        if 0.0 <= b.lo < 1.0:
            assert p.slope + 4 * pc < 0, b
        if 0.02 <= b.lo < 1.0:
            assert q.slope - 2 * qc > 0, b
        if not 0.0 <= b.lo < 1.0:
            assert abs(p.slope) < 3 * p.slope_se, b
    # a zero-return rate times exp(slope * r), averaged over the bin's hours, is its k / n (the
    # Poisson likelihood's first equation): the rates at 0 are below k / n near the line,
    # whose hours follow falls
    assert rr.protect[1].rate < fit.bins[1].p_protect
    # the restored HF does not depend on the return (within 2 standard errors)
    assert abs(rr.restore_slope) < 2 * rr.restore_slope_se
    assert rr.return_range == fit.openings.return_range and rr.hours == fit.openings.hours


def test_react_to_return_false_is_the_unconditional_fit():
    p = behaviour_params(BehaviourConfig(react_to_return=False, seed=2), "s.toml")
    assert p == replace(shipped_params(seed=2, react_to_return=False), opening=None)  # no open_pair
    with pytest.raises(ConfigError) as e:
        behaviour_params(BehaviourConfig(react_to_return=False, protect_return_slope=[0.0] * 9), "s.toml")
    assert e.value.key == "simulation.behaviour.protect_return_slope"
    q = behaviour_params(BehaviourConfig(protect_return_slope=[], react_return_range=[-0.1, 0.1]), "s.toml")
    s = shipped_params()
    assert q.protect_return_slope == () and q.lever_return_slope == s.lever_return_slope
    assert q.return_range == (-0.1, 0.1) and q.protect_per_hour == s.protect_per_hour


def test_openings_are_first_draws_outside_the_fortnight(ethb, fit):
    events, hours = ethb
    o = fit.openings
    # every vault that ever borrows has one first draw; those in the grid, outside the held-aside
    # fortnight and after the grid's first day are the ones measured
    first = {}
    for v, t, k in zip(events.vault.tolist(), events.t.tolist(), events.kind.tolist()):
        if k == 2 and (v not in first or t < first[v]):
            first[v] = t
    t = np.array(sorted(first.values()))
    inside = (t >= hours.start[0] + 86400) & (t < hours.start[-1]) & ~((t >= LO - 3600) & (t < HI))
    # a first draw repaid within its hour (under 1 DAI owed at the hour's end) is not an opening
    assert 0 <= int(inside.sum()) - o.n <= 0.03 * int(inside.sum())
    assert o.hf_quantiles[0] > 1.0 and o.below_one >= 0
    # the rate is openings per owing vault-day: about 0.7 new vaults a day on about 100 owing vaults
    assert 0.003 < o.rate.rate < 0.012 and o.rate.slope_se > 0
    lo, hi = o.return_range
    assert lo < 0 < hi


def test_fit_behaviour_command_prints_the_fit():
    r = CliRunner().invoke(main, ["fit-behaviour"])
    assert r.exit_code == 0, r.output
    assert "held aside: 2021-05-17 to 2021-06-01, excluded" in r.output and "restore_hf" in r.output
    # the nine bins twice: the hazards, then their rates at a zero return and slopes
    assert len([ln for ln in r.output.splitlines() if ln.strip().startswith(("-0.30", "0.", "1.00"))]) == 18
    assert "on ETH's 24 h log return" in r.output


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
    ({"open_per_account_day": 0.1}, "simulation.behaviour.open_pair"),
    ({"open_pair": ["WETH", "USDC"], "open_per_account_day": -1.0}, "simulation.behaviour.open_per_account_day"),
    ({"open_pair": ["WETH", "USDC"], "fit": "none", "edges": [0.0, 1.0], "protect_per_hour": [0.1],
      "lever_per_hour": [0.1], "restore_hf": 1.2, "lever_hf": 1.1, "repay_share": 0.5}, "simulation.behaviour.open_per_account_day"),
    ({"open_pair": ["WETH", "BTC"]}, "simulation.behaviour.open_pair"),
])
def test_bad_tables_name_the_key(kw, key):
    with pytest.raises(ConfigError) as e:
        behaviour_params(BehaviourConfig(**kw), "s.toml", ("WETH", "USDC"))
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


SYSTEM = """
name = "sys"
[[markets]]
name = "aave"
protocol = "aave_v3"
version = "3.3-3.4"
assets = ["WETH", "USDC"]
[markets.positions]
source = "synthetic"
n_accounts = 300
seed = 1
pair = ["WETH", "USDC"]
[[markets]]
name = "morpho"
protocol = "morpho_blue"
assets = ["WETH", "USDC"]
[markets.positions]
source = "synthetic"
n_accounts = 200
seed = 2
pair = ["WETH", "USDC"]
[shock]
WETH = 0.3
[[venues]]
kind = "cpmm"
asset = "WETH"
reserve_usd = 20e6
[simulation]
path = "linear"
blocks = 48
duration_blocks = 24
block_seconds = 3600
[simulation.oracle]
kind = "instant"
"""


def _system(tmp_path, extra=""):
    p = tmp_path / "sys.toml"
    p.write_text(textwrap.dedent(SYSTEM) + extra)
    return p


def test_a_system_scenario_applies_the_table_per_market(tmp_path, one_thread):
    from liqcascade.io.system import load_system, system_market_sims

    top = '[simulation.behaviour]\nseed = 2\nopen_pair = ["WETH", "USDC"]\n'
    ss = load_system(_system(tmp_path, top))
    sims = system_market_sims(ss)
    assert set(sims) == {"aave", "morpho"} and sims["aave"].behaviour.opening.pair == ("WETH", "USDC")
    r = api.simulate(_system(tmp_path, top), store=None)
    ms = r["market_summaries"].set_index("market")
    assert (ms["accounts_opened"] > 0).all() and (ms["owner_protects"] > 0).all()
    # the market's own table replaces the system's for that market only
    p = tmp_path / "own.toml"
    p.write_text(textwrap.dedent(SYSTEM).replace(
        'seed = 1\npair = ["WETH", "USDC"]\n', 'seed = 1\npair = ["WETH", "USDC"]\n[markets.simulation.behaviour]\n'
        'protect_scale = 0\n') + top)
    sims = system_market_sims(load_system(p))
    assert sims["aave"].behaviour.opening is None and max(sims["aave"].behaviour.protect_per_hour) == 0
    assert sims["morpho"].behaviour.opening.pair == ("WETH", "USDC")


@pytest.mark.parametrize("extra, key", [
    ('[simulation.behaviour]\nopen_pair = ["WETH", "DAI"]\n', "simulation.behaviour.open_pair"),
    ('[simulation.behaviour]\nopen_scale = -1\n', "simulation.behaviour.open_scale"),
    ('[simulation.behaviour]\nopen_pair = ["WETH", "USDC"]\nopen_hf_quantiles = [0.9, 1.2]\n',
     "simulation.behaviour.open_hf_quantiles"),
])
def test_bad_system_tables_name_the_key(tmp_path, extra, key):
    from liqcascade.io.system import load_system, system_market_sims

    with pytest.raises(ConfigError) as e:
        system_market_sims(load_system(_system(tmp_path, extra)))
    assert e.value.key == key and e.value.file.endswith("sys.toml")


def test_a_market_table_error_names_the_market(tmp_path):
    from liqcascade.io.system import load_system, system_market_sims

    text = textwrap.dedent(SYSTEM).replace('seed = 2\npair = ["WETH", "USDC"]\n', 'seed = 2\npair = ["WETH", "USDC"]\n'
                                           '[markets.simulation.behaviour]\nopen_pair = ["USDC", "USDC"]\n')
    p = tmp_path / "m.toml"
    p.write_text(text)
    with pytest.raises(ConfigError) as e:
        system_market_sims(load_system(p))
    assert e.value.key == "markets.1.simulation.behaviour.open_pair"


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


@pytest.mark.slow
def test_docs_refill_table(tmp_path, one_thread):
    base = _doc_block("toml", 1)
    variants = {"frozen book (no table)": "", "reacting, seed 0": "[simulation.behaviour]\nseed = 0\n"}
    for seed in range(4):
        variants[f"reacting and opening, seed {seed}"] = (f"[simulation.behaviour]\nseed = {seed}\n"
                                                          'open_pair = ["WETH", "USDC"]\n')
    rows = {r.split("|")[1].strip(): [c.strip() for c in r.split("|")[2:-1]]
            for r in DOC.read_text().splitlines() if r.startswith("| ") and r.split("|")[1].strip() in variants}
    assert len(rows) == len(variants)
    for name, extra in variants.items():
        p = tmp_path / "s.toml"
        p.write_text(base + "\n" + extra)
        r = api.simulate(p, store=None)
        s, ev = r.summary, r["events"]
        day = pd.to_datetime(ev["time"], unit="s").dt.strftime("%m-%d")
        new = ev["account_id"].astype(str).str.startswith("opened-")
        got = [str(s.get("accounts_opened", 0))]
        for d in ("05-19", "05-21", "05-23"):
            got.append(f"{ev.loc[day == d, 'account_id'].nunique()} ({ev.loc[(day == d) & new, 'account_id'].nunique()})")
        got += [str(s["accounts_liquidated"]), str(round(s["debt_repaid_usd"]))]
        assert got == rows[name], name


PROTOCOL = """
name = "p"
[market]
protocol = "{proto}"
assets = ["WETH", "{debt}"]
{extra}
[positions]
source = "synthetic"
n_accounts = 300
seed = 1
pair = ["WETH", "{debt}"]
[shock]
WETH = 0.3
[[venues]]
kind = "cpmm"
asset = "WETH"
reserve_usd = 20e6
[simulation]
path = "linear"
blocks = 48
duration_blocks = 24
block_seconds = 3600
check_conservation = true
[simulation.oracle]
kind = "instant"
[simulation.behaviour]
open_pair = ["WETH", "{debt}"]
open_scale = 5
"""


@pytest.mark.parametrize("proto, debt, extra", [
    ("compound_v3", "USDC", ""),  # Comet's store front
    ("maker", "DAI", "[market.maker.auctions]"),  # Clipper auctions, the Dog's limits
    ("liquity_v1", "DAI", ""),  # redistribution: global effects
    ("morpho_blue", "USDC", ""),
])
def test_new_accounts_open_under_every_kind_of_rules(tmp_path, one_thread, proto, debt, extra):
    # the book's conservation is checked every block (check_conservation), openings included
    p = tmp_path / "p.toml"
    p.write_text(PROTOCOL.format(proto=proto, debt=debt, extra=extra))
    s = api.simulate(p, store=None).summary
    assert s["accounts_opened"] > 0 and s["openings_clamped"] == 0
    assert s[f"opened_debt_{debt}"] > 0 and s["opened_collateral_WETH"] > 0


def test_soft_liquidation_refuses_new_accounts(tmp_path):
    from liqcascade.io import scenario as S

    p = tmp_path / "p.toml"
    p.write_text(PROTOCOL.format(proto="crvusd", debt="DAI", extra=""))
    with pytest.raises(ConfigError) as e:
        S.behaviour_inputs(S.load(p))
    assert e.value.key == "simulation.behaviour.open_pair" and e.value.file == str(p)


def test_owners_across_markets_still_add_up_when_books_grow(tmp_path, one_thread):
    # new accounts make a market's labels text: the owners' table still finds its accounts
    from liqcascade.io.system import load_system

    links = '[owners]\nlinks = [{from_market = "aave", to_market = "morpho", share = 1.0}]\n'
    top = '[simulation.behaviour]\nseed = 2\nopen_pair = ["WETH", "USDC"]\nopen_scale = 3\n'
    p = tmp_path / "owned.toml"
    p.write_text(textwrap.dedent(SYSTEM) + top + links)
    r = api.simulate(p, store=None)
    ev = r["events"]
    assert r["market_summaries"]["accounts_opened"].min() > 0
    system = load_system(p).model
    want = 0
    for name, labels in system.owners.items():
        ids = set(np.asarray(system.markets[name].book.account_ids)[pd.notna(np.asarray(labels, dtype=object))]
                  .astype(str).tolist())
        mine = ev[ev["market"] == name]["account_id"].astype(str)
        want += mine[mine.isin(ids)].nunique()
    assert want > 0 and r["owners"]["accounts_liquidated"].sum() == want


@pytest.mark.slow
def test_black_thursday_table_of_maker_flip_md(tmp_path, one_thread):
    # docs/maker_flip.md: the ETH-A replay with ETH-B owners' reactions added (two runs of the
    # example, about 20 s each); the frozen row is the example's own Measured block
    page = (Path(__file__).parents[2] / "docs" / "maker_flip.md").read_text()
    ex = Path(__file__).parents[2] / "examples" / "replay_2020_03_12_eth_a.toml"
    variants = {"reacting to the market, seed 0": "[simulation.behaviour]\nseed = 0\n",
                "not on the market (`react_to_return = false`), seed 0":
                    "[simulation.behaviour]\nseed = 0\nreact_to_return = false\n"}
    rows = {r.split("|")[1].strip(): [c.strip() for c in r.split("|")[2:-1]]
            for r in page.splitlines() if r.strip().startswith("| ") and r.split("|")[1].strip() in variants}
    assert len(rows) == len(variants)
    text = ex.read_text().replace("replay_2020_03_12_eth_a_vaults.csv", str(ex.parent / "replay_2020_03_12_eth_a_vaults.csv"))
    for name, extra in variants.items():
        p = tmp_path / "bt.toml"
        p.write_text(text + "\n" + extra)
        s = api.simulate(p, store=None).summary
        got = [str(s["accounts_liquidated"]), f"{s['debt_repaid_usd'] / 1e6:.2f}", f"{s['bad_debt_usd'] / 1e6:.2f}",
               f"{s['auction_share_won_zero']:.3f}", str(s["owner_protects"]), f"{s.get('owner_repaid_DAI', 0.0) / 1e6:.2f}"]
        assert got == rows[name], name
