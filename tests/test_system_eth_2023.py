"""examples/system_eth_2023.toml: the 2023-10-31 Ethereum system.

Held here: each market's book total is its ``debt_usd`` and each ``debt_usd`` is the cited
arithmetic of the scenario's comments (recomputed by hand below); the pools are calibrated to
Gauntlet's 25 %-slippage depth (x = 3 d in x·y = k, a closed form); the protocols' parameters are
the cited ones in liqcascade's reading; and every number docs/system.md states about the example
is what a run gives, to the rounding the text uses. The report and the dashboard show its
contagion curve and network.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import numpy as np
import pytest

from liqcascade.io.system import load_system

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "system_eth_2023.toml"
DOC = (REPO / "docs" / "system.md").read_text()
SECTION = DOC[DOC.index("## The 2023-10-31 Ethereum system"):DOC.index("## What is not modelled yet")]
ETH = 1816.0097  # Chainlink ETH/USD, last round of 2023-10-31: 181600970000 / 1e8
WSTETH = ETH * 2080.52489524 / 1816.85499606  # the Aave snapshot's wstETH/WETH oracle ratio


@pytest.fixture(scope="module")
def system():
    return load_system(EXAMPLE)


@pytest.fixture(scope="module")
def toml():
    return tomllib.loads(EXAMPLE.read_text())


def _says(text: str) -> None:
    assert text in SECTION, f"docs/system.md no longer says {text!r}"


def test_the_markets_and_their_reference_prices(system):
    assert system.model.names == ("aave_v3", "compound_v3_usdc", "maker_eth_a", "maker_eth_b", "morpho_wsteth_weth",
                                  "liquity_v1", "crvusd_wsteth")
    assert list(system.model.venues) == ["WETH", "wstETH"]
    for name, m in system.model.markets.items():
        for a, want in (("WETH", ETH), ("wstETH", WSTETH)):
            if a in m.assets:
                assert m.prices[m.assets.index(a)] == pytest.approx(want, rel=1e-9), (name, a)


def test_every_book_owes_its_debt_usd(system, toml):
    for entry in toml["markets"]:
        m = system.model.markets[entry["name"]]
        assert m.book.debt_value(m.prices).sum() == pytest.approx(entry["positions"]["debt_usd"], rel=1e-12)


def test_each_debt_usd_is_the_cited_arithmetic(toml):
    debt = {e["name"]: e["positions"]["debt_usd"] for e in toml["markets"]}
    # Aave: borrow cap x usage (Gauntlet, week 2024-01-12..18) and USDT cap x 73 % (2023-09-25)
    aave = 1_400e3 * 0.2725 * ETH + 1_580e6 * 0.3350 + 271e6 * 0.3507 + 250e6 * 0.73
    assert debt["aave_v3"] == pytest.approx(aave, abs=0.05e6)  # stated to 0.1M
    # Comet: borrows x WETH's share of the collateral (0.607 x 350k WETH at $669M / 350k)
    comet = 361.45e6 * (0.607 * 669e6) / 742.87e6
    assert debt["compound_v3_usdc"] == pytest.approx(comet, abs=0.05e6)
    assert debt["morpho_wsteth_weth"] == pytest.approx(0.54 * 50e6)
    assert debt["liquity_v1"] == 212e6
    assert debt["crvusd_wsteth"] == 160e6 - 80e6
    # the doc's table states the same totals
    for name, value in debt.items():
        row = re.search(rf"^\| `{name}` \| ([\d,.]+)M \|", SECTION, flags=re.M)
        assert row is not None, name
        assert float(row.group(1).replace(",", "")) * 1e6 == pytest.approx(value, abs=0.05e6), name


@pytest.mark.parametrize(("asset", "depth", "price"), [("WETH", 142.39e3, ETH), ("wstETH", 65.10e3, WSTETH)])
def test_selling_gauntlets_depth_averages_25_percent_below(system, asset, depth, price):
    """In x·y = k without fee, selling d into reserve x = 3 d pays p·x·d / (x + d) = 0.75 p·d."""
    pool = system.model.venues[asset]
    assert pool.fee == 0.0
    assert pool.reserve_asset == pytest.approx(3 * depth, rel=1e-9)
    assert pool.quote_sell(depth) == pytest.approx(0.75 * price * depth, rel=1e-9)


def test_the_protocols_parameters_in_liqcascades_reading(system):
    p = {n: m.rules.params for n, m in system.model.markets.items()}
    # Maker: liquidation threshold = 1 / mat, bonus = chop - 1 (spell of 2023-10-11)
    for name, mat in (("maker_eth_a", 1.45), ("maker_eth_b", 1.30)):
        w = p[name].asset("WETH")
        assert w.liquidation_threshold == pytest.approx(1 / mat, rel=1e-15)
        assert w.liquidation_bonus == pytest.approx(0.13)
    # Comet: liquidateCF 0.90, liquidationFactor 0.95 -> bonus 0.05
    w = p["compound_v3_usdc"].asset("WETH")
    assert (w.ltv, w.liquidation_threshold, w.liquidation_bonus) == (0.82, 0.90, 0.05)
    # Morpho: LLTV 94.5 %, incentive 1 / (0.3 LLTV + 0.7)
    morpho = system.model.markets["morpho_wsteth_weth"]
    assert p["morpho_wsteth_weth"].asset("wstETH").liquidation_threshold == 0.945
    held = morpho.book.collateral > 0  # the bonus is the collateral's (rows of the debt carry their own)
    np.testing.assert_allclose(morpho.rules.row_bonus(morpho.book)[held], 1 / (0.3 * 0.945 + 0.7) - 1, rtol=1e-12)


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    """One store with the example's network run (which holds the system run's tables) and its
    contagion curve, at the example's own size: the docs' numbers, the report and the dashboard
    all read it."""
    from liqcascade.execution.runs import network, system_curve

    store = tmp_path_factory.mktemp("eth2023") / "res"
    return store, network(EXAMPLE, store=store), system_curve(EXAMPLE, store=store)


@pytest.mark.slow
def test_the_run_is_what_the_docs_say(stored):
    run = stored[1]
    s = run["summary"].iloc[0]
    assert (s["shock_WETH"], s["shock_wstETH"]) == (0.30, 0.30)
    _says("bad debt $310.7M together against $176.4M alone")
    assert s["bad_debt_usd"] == pytest.approx(310.7e6, abs=0.05e6)
    assert s["alone_bad_debt_usd"] == pytest.approx(176.4e6, abs=0.05e6)
    _says("10,554 accounts liquidated\nagainst 9,643")
    assert (s["accounts_liquidated"], s["alone_accounts_liquidated"]) == (10_554, 9_643)
    # contagion is together minus alone, market by market and for the system
    m = run["markets"]
    for col in ("bad_debt_usd", "collateral_seized_usd", "accounts_liquidated"):
        np.testing.assert_allclose(m[f"contagion_{col}"], m[col] - m[f"alone_{col}"], rtol=0, atol=1e-6)
        assert s[col] == pytest.approx(m[col].sum(), rel=1e-12)
    # Morpho's loop is never liquidated: WETH (its debt) ends further down than wstETH
    _says("Morpho's wstETH/WETH loans are never liquidated")
    morpho = m.set_index("market").loc["morpho_wsteth_weth"]
    assert morpho["accounts_liquidated"] == 0 and morpho["alone_accounts_liquidated"] == 0
    a = run["assets"].set_index("asset")
    drop = 1 - a["price_final"] / a["price_reference"]
    assert drop["WETH"] > drop["wstETH"] > 0.30 - 1e-12


@pytest.mark.slow
def test_the_contagion_curve_is_what_the_docs_say(stored):
    from liqcascade.execution.runs import system_curve

    store, _, curve = stored
    _says("ETH -0..60 % (13 shocks)")
    c = curve["curve"].set_index("shock")
    assert np.allclose(c.index, np.arange(13) * 0.05)
    assert (c.loc[0.0, ["collateral_seized_usd", "bad_debt_usd", "alone_bad_debt_usd"]] == 0).all()
    hit = c.index >= 0.05 - 1e-12
    _says("WETH ends\nmore than 92 % down at every shock from 5 %")
    assert (c.loc[hit, "final_drop"] > 0.92).all()
    _says("the system's bad debt exceeds the sum of the\nmarkets alone at every shock")
    assert (c.loc[hit, "bad_debt_usd"] > c.loc[hit, "alone_bad_debt_usd"]).all()
    np.testing.assert_allclose(c["contagion_bad_debt_usd"], c["bad_debt_usd"] - c["alone_bad_debt_usd"], atol=1e-6)
    _says("In USD the collateral seized\ntogether is less than alone at every shock from 5 %")
    assert (c.loc[hit, "collateral_seized_usd"] < c.loc[hit, "alone_collateral_seized_usd"]).all()
    _says("largest at 15 % ($228.1M) and falls\nto $28.3M at 60 %")
    assert c["contagion_bad_debt_usd"].idxmax() == pytest.approx(0.15)
    assert c["contagion_bad_debt_usd"].max() == pytest.approx(228.1e6, abs=0.05e6)
    assert c["contagion_bad_debt_usd"].iloc[-1] == pytest.approx(28.3e6, abs=0.05e6)
    # where it starts: a 0.1 % move
    _says("`liqcascade curve examples/system_eth_2023.toml --shocks 0.001 --out tip`")
    p = system_curve(EXAMPLE, shocks="0.001", store=store.parent / "tip")["curve"].iloc[0]
    _says("alone seize $333.7M of collateral in total and leave $0.24M of bad debt")
    assert p["alone_collateral_seized_usd"] == pytest.approx(333.7e6, abs=0.05e6)
    assert p["alone_bad_debt_usd"] == pytest.approx(0.24e6, abs=0.005e6)
    _says("together they seize\n$1.27B, WETH ends 92.2 % down and the bad debt is $262.1M")
    assert p["collateral_seized_usd"] == pytest.approx(1.27e9, abs=0.005e9)
    assert p["final_drop"] == pytest.approx(0.922, abs=0.0005)
    assert p["bad_debt_usd"] == pytest.approx(262.1e6, abs=0.05e6)


@pytest.mark.slow
def test_the_network_ranking_is_what_the_docs_say(stored):
    imp = stored[1]["importance"].sort_values("rank")
    _says("ranks Maker ETH-A first by the bad debt its presence adds to\nthe others ($39.3M), then Aave v3 ($33.3M)")
    assert list(imp["market"][:2]) == ["maker_eth_a", "aave_v3"]
    _says("negative `adds_collateral_seized_usd` for\nevery market but Morpho's")
    assert (imp.set_index("market").drop("morpho_wsteth_weth")["adds_collateral_seized_usd"] < 0).all()
    assert imp["adds_bad_debt_usd"].iloc[0] == pytest.approx(39.3e6, abs=0.05e6)
    assert imp["adds_bad_debt_usd"].iloc[1] == pytest.approx(33.3e6, abs=0.05e6)


@pytest.mark.slow
def test_report_and_dashboard_show_its_curve_and_network(stored):
    """The report of the example (its network run and curve, found in the store) has the
    contagion curve and network views, and the dashboard serves them."""
    from liqcascade.io.store import ResultsStore
    from liqcascade.report import make_report
    from liqcascade.report.bundle import find
    from tests.web.conftest import make_app, test_client

    store, net, curve = stored
    rep = make_report(store, EXAMPLE)
    assert rep.run_id == net.run_id  # found, not run again
    assert find(ResultsStore(store), rep.run_id).curve.run_id == curve.run_id  # the [curve] grid's curve
    keys = [v.key for v in rep.views]
    for k in ("markets", "contagion_curve", "contagion", "network"):
        assert k in keys, k
    client = test_client(make_app(store))
    assert client.get(f"/runs/{rep.run_id}").status_code == 200
    for key in ("contagion_curve", "network"):
        r = client.get(f"/api/runs/{rep.run_id}/views/{key}")
        assert r.status_code == 200, key
