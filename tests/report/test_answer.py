"""The headline block (liqcascade.report.answer): units and formatting by hand, the numbers
of the hand-made runs (tests/report/stores.py), and every kind of the store has one."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from liqcascade.report import answer as A
from tests.report.stores import CAL_BUDGET, COMPARE_PROTOCOLS, SWEEP_FACTORS


@pytest.mark.parametrize("x, text", [
    (1_234_567.0, "$1.23M"), (34_449.43, "$34.45k"), (950.0, "$950"), (0.0, "$0"), (2.5e9, "$2.50B"),
    (-1500.0, "-$1.50k"), (999_999.0, "$1.00M"), (999.4, "$999"), (math.inf, "unbounded"), (math.nan, "-"),
])
def test_usd_short_form(x, text):
    assert A.usd(x) == text


def test_percent_multiple_count_and_level():
    assert A.pct(0.1234) == "12.3%" and A.pct(1.0) == "100.0%" and A.pct(math.nan) == "-"
    assert A.times(1.849) == "1.85x" and A.times(math.inf) == "-"
    assert A.count(1234, "account") == "1,234 accounts" and A.count(1, "account") == "1 account"
    assert A.level(0.99) == "99%" and A.level(0.999) == "99.9%"
    assert A.human("bad_debt_usd") == "bad debt"


@given(st.floats(min_value=1.0, max_value=1e12, allow_nan=False))
def test_usd_reads_back_within_half_a_unit_of_the_last_digit(x):
    """Parse the short form back: it is the value to within the rounding of its 2 decimals."""
    text = A.usd(x)
    assert text.startswith("$")
    body = text[1:].replace(",", "")
    scale = {"B": 1e9, "M": 1e6, "k": 1e3}.get(body[-1], 1.0)
    num = float(body[:-1] if scale != 1.0 else body)
    tol = (0.005 if scale != 1.0 else 0.5) * scale
    assert abs(num * scale - x) <= tol * (1 + 1e-9)
    assert scale == 1.0 or 1.0 <= num < 1000.0 + 1e-9


def _figs(faces_bundles, role):
    return {f.label: f for f in A.key_figures(faces_bundles[role])}


def test_montecarlo_headline_is_the_stored_risk(faces_bundles):
    """stores.MC_RISK: VaR 99 % 98,000 [97,000, 99,000], CVaR 99 % 99,000 [98,000, 99,000],
    mean 49,500, P(insolvent) 0.99, 100 paths."""
    f = _figs(faces_bundles, "montecarlo")
    var = f["Bad debt VaR 99%"]
    assert (var.key, var.value, var.detail, var.table) == ("result", "$98.00k", "interval $97.00k to $99.00k", "risk")
    assert f["Bad debt CVaR 99%"].value == "$99.00k"
    assert f["Mean bad debt"].value == "$49.50k" and f["Mean bad debt"].key == "bad_debt"
    assert f["P(bad debt > 0)"].value == "99.0%" and f["Paths"].value == "100"


def test_calibration_headline_is_the_value_kept(faces_bundles):
    """stores.cal_tables: threshold 0.80 kept, budget $1M, estimate 9e5 with [0.9, 1.1] x it."""
    f = _figs(faces_bundles, "calibration")
    kept = f["Calibrated liquidation threshold of WETH"]
    assert (kept.key, kept.value) == ("result", "80.0%")
    assert f["Budget"].value == A.usd(CAL_BUDGET) == "$1.00M"
    at = f["Bad debt at the calibrated value"]
    assert at.value == "$900.00k" and at.detail == "interval $810.00k to $990.00k"


def test_static_headline_reads_the_summary(faces_bundles):
    b = faces_bundles["static"]
    s = b.load(b.target, "summary").iloc[0]
    f = _figs(faces_bundles, "static")
    assert f["Bad debt"].value == A.usd(s["bad_debt_usd"]) and f["Bad debt"].key == "bad_debt"
    assert f["Collateral liquidated"].value == A.usd(s["collateral_seized_usd"])
    # small_book.toml shocks WETH and wstETH by 25 %: the headline asset's shock
    assert f["Amplification"].value == A.times(s["amplification"])
    assert f["Amplification"].detail.startswith(f"{s['headline_asset']}: 25.0% shock")


def test_compare_headline_names_the_protocols_with_least_and_most_bad_debt(faces_bundles):
    b = faces_bundles["compare"]
    c = b.load(b.target, "comparison")
    assert sorted(c["protocol"]) == sorted(COMPARE_PROTOCOLS)
    f = _figs(faces_bundles, "compare")
    worst, best = c.loc[c["bad_debt_usd"].idxmax()], c.loc[c["bad_debt_usd"].idxmin()]
    assert (f["Most bad debt"].value, f["Most bad debt"].detail) == (A.usd(worst["bad_debt_usd"]), worst["protocol"])
    assert (f["Least bad debt"].value, f["Least bad debt"].detail) == (A.usd(best["bad_debt_usd"]), best["protocol"])
    # Liquity's Stability Pool absorbs what it liquidates: no bad debt (docs/scenarios.md)
    assert best["bad_debt_usd"] == 0.0


def test_sweep_headline_counts_the_combinations(faces_bundles):
    f = _figs(faces_bundles, "sweep")
    assert f["Combinations"].value == "4"  # 2 x 2 values of stores.SWEEP_FACTORS
    assert f["Combinations"].detail == ", ".join(x.split("=")[0] for x in SWEEP_FACTORS)
    b = faces_bundles["sweep"]
    s = b.load(b.target, "sweep")
    worst = s.loc[s["bad_debt_usd"].idxmax()]
    assert f["Most bad debt"].value == A.usd(worst["bad_debt_usd"])
    assert f["Most bad debt"].detail == f"shock.WETH = {worst['shock.WETH']:g}, shock.wstETH = {worst['shock.wstETH']:g}"


def test_maker_replay_headline_is_its_score(faces_bundles):
    b = faces_bundles["maker_replay"]
    s = b.load(b.target, "summary").iloc[0]
    f = _figs(faces_bundles, "maker_replay")
    p, r = s["precision"], s["recall"]
    assert f["F1 of the simulated bites"].value == f"{2 * p * r / (p + r):.3f}"
    assert f["Collateral bitten (simulated)"].value == f"{s['sim_collateral_eth']:,.1f} ETH"


@pytest.mark.parametrize("role", ["static", "curve", "walls", "simulation", "montecarlo", "calibration", "replay",
                                  "compare", "sweep", "maker_replay"])
def test_every_kind_has_a_headline_from_its_own_tables(faces_bundles, role):
    b = faces_bundles[role]
    figs = A.key_figures(b)
    assert figs, role
    for f in figs:
        assert f.value and f.value != "-" and f.table in b.tables(b.target), (role, f)
    cols = A.list_columns(figs)
    assert set(cols) == set(A.LIST_KEYS)
    assert any(cols.values()), role
