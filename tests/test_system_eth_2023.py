"""examples/system_eth_2023.toml: the 2023-10-31 Ethereum system.

Held here: each market's book total is its ``debt_usd`` and each ``debt_usd`` is the cited
arithmetic of the scenario's comments (recomputed by hand below); the books' shapes are the cited
ones (Liquity's TCR and lowest ICR, Maker ETH-A's aggregate collateral ratio, no account below
health 1); the WETH pool is calibrated to Gauntlet's 25 %-slippage depth (x = 3 d in x·y = k, a
closed form) and the Binance impact law to the October 2023 candles (recomputed from the shared
data when present); the protocols' parameters are the cited ones in liqcascade's reading; and
every number docs/system.md states about the example is what a run gives, to the rounding the
text uses. The report and the dashboard show its contagion curve and network.
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
    assert list(system.model.venues) == ["WETH", "LUSD"]  # wstETH has none (the oracles' reading)
    assert [(c.asset, c.issuer, c.buy_share) for c in system.model.issued] == [("LUSD", "liquity_v1", 0.0)]
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


@pytest.mark.parametrize(("asset", "depth", "price"), [("WETH", 142.39e3, ETH), ("LUSD", 18.2e6, None)])
def test_selling_gauntlets_depth_averages_25_percent_below(system, asset, depth, price):
    """In x·y = k without fee, selling d into reserve x = 3 d pays p·x·d / (x + d) = 0.75 p·d."""
    venue = system.model.venues[asset]
    pool = venue.venues[0] if asset == "WETH" else venue  # WETH's router: the pool, then the book
    if price is None:  # Gauntlet's LUSD figure is in USD: the tokens at the reference price
        price = pool.mid_price()
        depth = depth / price
    assert pool.fee == 0.0
    assert pool.reserve_asset == pytest.approx(3 * depth, rel=1e-9)
    assert pool.quote_sell(depth) == pytest.approx(0.75 * price * depth, rel=1e-9)


def test_binance_impact_law(system, toml):
    """Tóth's law: a sale of Q USD moves the price by σ·√(Q/V), i.e. depth_usd = V / σ² and
    coefficient 1; the doc's 0.95 % for $100M and 3.0 % for $1B follow."""
    router = system.model.venues["WETH"]
    assert [type(v).__name__ for v in router.venues] == ["ConstantProductPool", "PowerLawImpact"]
    book = router.venues[1]
    assert (book.coefficient, book.exponent, book.permanent) == (1.0, 0.5, 1.0)
    assert book.depth_usd == pytest.approx(440.07e6 / 0.019928**2, rel=1e-4)  # stated to 5 digits
    for usd, move in ((100e6, 0.0095), (1e9, 0.030)):
        assert 1 - book.sell(usd / ETH)[1].mid_price() / ETH == pytest.approx(move, abs=0.00005 if move < 0.01 else 0.0005)
    _says("selling $100M moves ETH by 0.95 %, $1B by 3.0 %")
    _says("V = 440.07M USD")
    _says("σ = 1.9928 %")


def test_binance_figures_are_octobers_candles():
    """V and σ recomputed from the shipped Binance ETH/USDT candles: mean daily USD volume (hourly
    volume × close) over 2023-10-01..31 and the sample deviation of the 31 daily log returns from
    the close of 2023-09-30."""
    import pandas as pd

    from tests.conftest import shared_file

    d = pd.read_csv(shared_file("binance_ethusdt_1h_2021-04_2023-12.csv"), parse_dates=["date"])
    d = d[(d["date"] >= "2023-09-30") & (d["date"] < "2023-11-01")].set_index("date")
    day = pd.DataFrame({"close": d["close"].resample("1D").last(),
                        "usd": (d["volume"] * d["close"]).resample("1D").sum()})
    r = np.log(day["close"]).diff().loc["2023-10-01":]
    assert len(r) == 31
    assert day["usd"].loc["2023-10-01":].mean() == pytest.approx(440.07e6, abs=0.005e6)
    assert r.std(ddof=1) == pytest.approx(0.019928, abs=5e-7)


def test_the_books_shapes_are_the_cited_ones(system):
    """Liquity: TCR = Σ collateral / Σ debt 270 %, lowest ICR 240 %, Recovery Mode (TCR < 150 %)
    from ETH −44 %; Maker ETH-A: 362 % in aggregate; no account below health 1 anywhere."""
    m = system.model.markets

    def coll_and_debt(name):
        b, px = m[name].book, m[name].prices
        return b.segment_sum(b.collateral * px[b.asset]), b.debt_value(px)

    c, d = coll_and_debt("liquity_v1")
    tcr = c.sum() / d.sum()
    assert tcr == pytest.approx(2.70, abs=0.005)
    assert 2.40 - 1e-9 <= (c / d).min() < 2.41  # the Pareto tail starts there
    assert 1 - 1.5 / tcr == pytest.approx(0.44, abs=0.005)
    _says("total\ncollateral ratio of 270 % with none below 240 %")
    _says("Recovery Mode starts at ETH −44 %")
    c, d = coll_and_debt("maker_eth_a")
    assert c.sum() / d.sum() == pytest.approx(3.62, abs=0.005)
    _says("362 % in aggregate")
    for name, mk in m.items():
        h = mk.rules.health(mk.rules.prepare(mk.book), np.asarray(mk.prices, dtype=float))
        assert (h.hf >= 1.0).all(), name


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
    np.testing.assert_allclose(morpho.rules.asset_bonus()[morpho.book.asset][held], 1 / (0.3 * 0.945 + 0.7) - 1, rtol=1e-12)


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
    _says("2,249 accounts liquidated against 2,203 alone, bad debt\n$57.3M in both, WETH 31.4 % down")
    assert (s["accounts_liquidated"], s["alone_accounts_liquidated"]) == (2_249, 2_203)
    assert s["bad_debt_usd"] == pytest.approx(57.3e6, abs=0.05e6)
    assert s["alone_bad_debt_usd"] == pytest.approx(57.3e6, abs=0.05e6)
    assert s["final_drop"] == pytest.approx(0.314, abs=0.0005)
    # contagion is together minus alone, market by market and for the system
    m = run["markets"]
    for col in ("bad_debt_usd", "collateral_seized_usd", "accounts_liquidated"):
        np.testing.assert_allclose(m[f"contagion_{col}"], m[col] - m[f"alone_{col}"], rtol=0, atol=1e-6)
        assert s[col] == pytest.approx(m[col].sum(), rel=1e-12)
    # Morpho's loop is never liquidated: WETH (its debt) ends further down than wstETH
    _says("Morpho's wstETH/WETH loans\nare never liquidated")
    morpho = m.set_index("market").loc["morpho_wsteth_weth"]
    assert morpho["accounts_liquidated"] == 0 and morpho["alone_accounts_liquidated"] == 0
    a = run["assets"].set_index("asset")
    drop = 1 - a["price_final"] / a["price_reference"]
    assert drop["WETH"] > drop["wstETH"] == pytest.approx(0.30, abs=1e-12)  # wstETH: no venue, the shock only


@pytest.mark.slow
def test_the_contagion_curve_is_what_the_docs_say(stored):
    from liqcascade.execution.runs import system_curve

    store, _, curve = stored
    _says("ETH -0..60 % (13 shocks)")
    c = curve["curve"].set_index("shock")
    assert np.allclose(c.index, np.arange(13) * 0.05)
    assert (c.loc[0.0, ["collateral_seized_usd", "bad_debt_usd", "alone_bad_debt_usd"]] == 0).all()
    extra = c["final_drop"] - c.index
    _says("WETH ends at most 1.6 percentage\npoints below the initial shock")
    assert 0.015 < extra.max() < 0.016 and (extra.iloc[1:] > 0).all()
    _says("the system's bad debt equals the sum of the markets' alone at\nevery shock")
    np.testing.assert_allclose(c["bad_debt_usd"], c["alone_bad_debt_usd"], rtol=0, atol=1.0)
    np.testing.assert_allclose(c["contagion_bad_debt_usd"], c["bad_debt_usd"] - c["alone_bad_debt_usd"], atol=1e-6)
    _says("most at 45 % (195 more than alone, 144 of them Liquity\ntroves")
    assert c["contagion_accounts_liquidated"].idxmax() == pytest.approx(0.45)
    assert c["contagion_accounts_liquidated"].max() == 195
    cm = curve["curve_markets"]
    liq = cm[(cm["market"] == "liquity_v1") & np.isclose(cm["shock"], 0.45)].iloc[0]
    assert liq["contagion_accounts_liquidated"] == 144
    # where it starts: a 0.1 % move
    _says("`liqcascade curve examples/system_eth_2023.toml --shocks 0.001 --out tip`")
    p = system_curve(EXAMPLE, shocks="0.001", store=store.parent / "tip")["curve"].iloc[0]
    _says("4 accounts are liquidated together and\n3 alone, $0.23M of collateral seized")
    assert (p["accounts_liquidated"], p["alone_accounts_liquidated"]) == (4, 3)
    assert p["collateral_seized_usd"] == pytest.approx(0.23e6, abs=0.005e6)


@pytest.mark.slow
def test_the_first_version_tipped_at_a_tenth_of_a_percent(toml):
    """What the doc says of the first version: the generator's default health factors and the
    pools alone (WETH's and a wstETH pool of 406.14M USD a side) -> Maker ETH-A alone seizes
    $333.3M at ETH −0.1 %."""
    from liqcascade.engine.system_run import run_system
    from liqcascade.io.config import HF_KEYS
    from liqcascade.io.system import build_system, parse_system

    d = tomllib.loads(EXAMPLE.read_text())
    for entry in d["markets"]:
        for k in HF_KEYS:
            entry["positions"].pop(k, None)
    d["venues"] = [d["venues"][0], {"kind": "cpmm", "asset": "wstETH", "reserve_usd": 406137467.675, "fee": 0.0}]
    del d["stablecoins"]
    old = build_system(parse_system(d, str(EXAMPLE)), EXAMPLE.parent, str(EXAMPLE))
    res = run_system(old.model, {"WETH": 0.001, "wstETH": 0.001}, old.settings, old.market_settings)
    eth_a = res["markets"].set_index("market").loc["maker_eth_a"]
    _says("at ETH −0.1 % Maker ETH-A\nalone seized $333.3M")
    assert eth_a["alone_collateral_seized_usd"] == pytest.approx(333.3e6, abs=0.05e6)


@pytest.mark.slow
def test_why_no_wstETH_venue_and_no_DAI_issuance(toml):
    """The scenario's comments: with these books, a wstETH pool of 406.14M USD a side lets the
    e-mode loops' liquidations crash wstETH by 96 % at ETH −5 %; declaring DAI issued by Maker
    with Gauntlet's DAI depth as a pool (x = 3 x 381.6M) lifts DAI to 1.43 USD at ETH −30 %."""
    from liqcascade.engine.system_run import run_system
    from liqcascade.io.system import build_system, parse_system

    def run(edit, shock):
        d = tomllib.loads(EXAMPLE.read_text())
        edit(d)
        sc = build_system(parse_system(d, str(EXAMPLE)), EXAMPLE.parent, str(EXAMPLE))
        return run_system(sc.model, {"WETH": shock, "wstETH": shock}, sc.settings, sc.market_settings)

    def wsteth_pool(d):
        d["venues"].append({"kind": "cpmm", "asset": "wstETH", "reserve_usd": 406137467.675, "fee": 0.0})

    a = run(wsteth_pool, 0.05)["assets"].set_index("asset")
    assert 1 - a.loc["wstETH", "price_final"] / a.loc["wstETH", "price_reference"] == pytest.approx(0.96, abs=0.005)
    _says("with a wstETH pool, the loops'\nliquidations crashed it")

    def dai_issued(d):
        d["venues"].append({"kind": "cpmm", "asset": "DAI", "reserve_usd": 3 * 381.6e6, "fee": 0.0})
        d["stablecoins"]["DAI"] = {"issuer": "maker_eth_a"}

    coin = run(dai_issued, 0.30)["stablecoins"].set_index("asset")
    assert coin.loc["DAI", "price_final"] == pytest.approx(1.43, abs=0.005)
    assert "DAI rose to 1.43 USD at ETH -30 %" in " ".join(
        line.lstrip("# ").strip() for line in EXAMPLE.read_text().splitlines())


@pytest.mark.slow
def test_the_network_ranking_is_what_the_docs_say(stored):
    imp = stored[1]["importance"].sort_values("rank")
    _says("ranks Aave v3 first by what its presence\nadds to the others (26 accounts liquidated); no market adds bad debt")
    assert imp["market"].iloc[0] == "aave_v3"
    assert imp["adds_accounts_liquidated"].iloc[0] == 26
    assert (imp["adds_bad_debt_usd"].abs() < 1.0).all()


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
