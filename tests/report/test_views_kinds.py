"""Figures of every run kind: the Monte Carlo tail, compare, sweep and Maker replay views,
UTC time axes of replays and one colour per asset across a report's figures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from liqcascade.report import views as V
from tests.report.stores import COMPARE_PROTOCOLS, N_PATHS, REPLAY_START, traces, values
from tests.report.test_views import assert_sources_stored, assert_units


# ------------------------------------------------------------------ exceedance
def test_exceedance_of_the_hand_made_paths(faces_bundles):
    """stores.mc_tables: bad debt 1,000 k for k = 0..99. P(X > 1,000 j) = (99 - j) / 100 for
    j = 1..98 (j = 0 is no bad debt, j = 99 has no path above it)."""
    v = V.view(faces_bundles["montecarlo"], "exceedance")
    (curve,) = traces(v.figure, "P(bad debt > x), paths")
    j = np.arange(1, 99)
    np.testing.assert_allclose(values(curve["x"]), 1000.0 * j)
    np.testing.assert_allclose(values(curve["y"]), (99 - j) / N_PATHS)
    assert v.figure["layout"]["xaxis"]["type"] == "log" and v.figure["layout"]["yaxis"]["type"] == "log"
    # VaR lines of the risk table: 95 % at 94,000 and 99 % at 98,000 (stores.MC_RISK)
    for name, at in (("VaR 95%", 94_000.0), ("VaR 99%", 98_000.0)):
        (line,) = traces(v.figure, name)
        assert set(values(line["x"])) == {at}
    assert "99 (99.0%) left bad debt" in v.caption
    assert_units(v.figure)


@given(arrays(np.float64, st.integers(1, 60), elements=st.floats(0, 1e6).map(lambda x: round(x, -3))))
def test_exceedance_is_the_share_strictly_above(v):
    x, p = V.exceedance(v)
    assert np.all(x > 0) and np.all(np.diff(x) > 0) and np.all(p > 0)
    for xi, pi in zip(x, p):
        assert pi == pytest.approx(np.mean(v > xi))
    # every positive value but the largest is a step
    pos = np.unique(v[v > 0])
    assert list(x) == list(pos[:-1])


# ------------------------------------------------------------------ compare, sweep, maker replay
def test_compare_view_draws_the_comparison_table(faces_bundles, faces_store):
    b = faces_bundles["compare"]
    c = b.load(b.target, "comparison")
    v = V.view(b, "compare")
    bars = v.figure["data"]
    assert [t["name"] for t in bars] == ["Bad debt", "Collateral liquidated", "Amplification"]
    for t, col in zip(bars, ("bad_debt_usd", "collateral_seized_usd", "amplification")):
        assert list(t["x"]) == COMPARE_PROTOCOLS
        np.testing.assert_allclose(values(t["y"]), c[col].to_numpy(float))
    assert v.table is not None and len(v.table) == len(COMPARE_PROTOCOLS)
    assert_units(v.figure)
    assert_sources_stored(v, faces_store[0])


def test_sweep_view_one_line_per_value_of_the_other_factor(faces_bundles, faces_store):
    """SWEEP_FACTORS: shock.WETH = 0.2, 0.4 along x; one line per shock.wstETH = 0.1, 0.3."""
    b = faces_bundles["sweep"]
    s = b.load(b.target, "sweep")
    v = V.view(b, "sweep")
    for other in (0.1, 0.3):
        lines = traces(v.figure, f"shock.wstETH = {other}")
        assert len(lines) == 3  # bad debt, collateral liquidated, amplification
        rows = s[s["shock.wstETH"] == other].sort_values("shock.WETH")
        np.testing.assert_allclose(values(lines[0]["x"]), [0.2, 0.4])
        np.testing.assert_allclose(values(lines[0]["y"]), rows["bad_debt_usd"].to_numpy(float))
    assert_units(v.figure)
    assert_sources_stored(v, faces_store[0])


def test_maker_replay_views_on_utc_time(faces_bundles, faces_store):
    b = faces_bundles["maker_replay"]
    s = b.load(b.target, "summary").iloc[0]
    prices = V.view(b, "maker_prices")
    (pool,) = traces(prices.figure, "ETH pool price (Uniswap v2)")
    # the shipped 2021-01-21 file: 144 ten-minute steps from 08:00 UTC (the summary's window)
    assert pool["x"][0] == "2021-01-21T08:00:00" == s["window_start"].rstrip("Z")
    assert len(pool["x"]) == 144 and pool["x"][1] == "2021-01-21T08:10:00"
    vaults = V.view(b, "maker_vaults")
    (bar,) = [t for t in vaults.figure["data"] if t["type"] == "bar"]
    counts = dict(zip(bar["x"], values(bar["y"])))
    assert counts["TP"] == s["true_positives"] and counts["FP"] == s["false_positives"]
    assert counts["FN"] == s["false_negatives"]
    assert sum(counts.values()) == s["vaults_in_book"]
    for v in (prices, vaults):
        assert_units(v.figure)
        assert_sources_stored(v, faces_store[0])


def test_a_maker_replay_is_not_drawn_as_a_simulation(faces_bundles):
    """Its steps table has no asset column: the simulation views leave it alone (this was a crash)."""
    keys = [v.key for v in V.views_for(faces_bundles["maker_replay"])]
    assert keys == ["maker_prices", "maker_vaults"]


# ------------------------------------------------------------------ time axes
def test_replay_time_axis_is_utc(faces_bundles):
    b = faces_bundles["replay"]
    for key in ("prices", "liquidations"):
        v = V.view(b, key)
        first = v.figure["data"][0]["x"][0]
        assert first == pd.Timestamp(REPLAY_START).isoformat() == "2021-05-19T12:50:00"
        titles = [ax.get("title", {}).get("text") for k, ax in v.figure["layout"].items() if k.startswith("xaxis")]
        assert "Time (UTC)" in titles
        assert_units(v.figure)


def test_synthetic_simulation_time_axis_is_minutes(faces_bundles):
    v = V.view(faces_bundles["simulation"], "prices")
    x = values(v.figure["data"][0]["x"])
    # stores.SIM_TABLE: 30 blocks of 12 s -> 0, 0.2, ..., 5.8 minutes
    np.testing.assert_allclose(x, np.arange(30) * 12 / 60)


# ------------------------------------------------------------------ colours
def _asset_colors(views) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for v in views:
        for t in v.figure["data"]:
            asset = (t.get("meta") or {}).get("asset") if isinstance(t.get("meta"), dict) else None
            if asset is None:
                continue
            color = (t.get("line") or {}).get("color") if t["type"] == "scatter" else (t.get("marker") or {}).get("color")
            out.setdefault(asset, set()).add(color)
    return out


@pytest.mark.parametrize("role", ["static", "simulation", "replay", "maker_replay"])
def test_one_colour_per_asset_in_every_figure(faces_bundles, role):
    colors = _asset_colors(V.views_for(faces_bundles[role]))
    assert colors, role
    for asset, cs in colors.items():
        assert cs == {V.asset_color(asset)}, (role, asset, cs)
    used = [V.asset_color(a) for a in colors]
    assert len(set(used)) == len(used), f"two assets share a colour: {colors}"


def test_asset_colours_are_stable_and_keyed_by_name():
    assert V.asset_color("WETH") == V.ASSET_COLORS["WETH"]
    # an asset without a fixed colour gets the same palette entry every time (CRC-32 of its name)
    import zlib

    assert V.asset_color("FOO") == V._PALETTE[zlib.crc32(b"FOO") % len(V._PALETTE)] == V.asset_color("FOO")
