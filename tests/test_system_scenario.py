"""System scenarios ([[markets]]): loading and its errors, run/curve/network through the API
and the command line, the network's edge sums against the run's totals, the exports."""

import json
import re
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from liqcascade import api
from liqcascade.cli import main
from liqcascade.errors import ConfigError
from liqcascade.io.system import load_system

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "system_shared_eth.toml"


def small_copy(tmp_path: Path, text: str | None = None) -> Path:
    """The shipped example at a tenth of its accounts (same markets, venue and shock)."""
    text = EXAMPLE.read_text() if text is None else text
    text = re.sub(r"n_accounts = (\d+)", lambda m: f"n_accounts = {int(m.group(1)) // 10}", text)
    p = tmp_path / "system.toml"
    p.write_text(text)
    return p


def test_example_loads_with_one_universe(tmp_path):
    ss = load_system(small_copy(tmp_path))
    assert ss.model.names == ("aave", "morpho", "comet", "liquity")
    assert ss.model.assets == ("WETH", "USDC", "DAI")
    assert list(ss.model.venues) == ["WETH"]
    # every market prices WETH as the system does
    i = ss.model.assets.index("WETH")
    for m in ss.model.markets.values():
        assert m.prices[m.assets.index("WETH")] == ss.model.prices[i]


@pytest.mark.parametrize("edit,key", [
    (lambda t: t.replace('name = "morpho"', 'name = "aave"'), "markets"),
    (lambda t: t.replace('version = "3.3-3.4"', 'version = "9.9"'), "markets.0.version"),
    (lambda t: t.replace('pair = ["WETH", "DAI"]', 'pair = ["WETH", "GHO"]'), "markets.3.positions.pair.1"),
    (lambda t: t + "\n[simulation]\npath = 'sideways'\n", "simulation.path"),
    (lambda t: t + "\n[montecarlo]\npaths = 10\n", "montecarlo.paths"),
    (lambda t: t.replace("[shock]\nWETH = 0.25", "[shock]\nWBTC = 0.25"), "shock.WBTC"),
    (lambda t: t + "\n[prices.overrides]\nWBTC = 30000.0\n", "prices.overrides.WBTC"),  # no market has WBTC
])
def test_bad_system_scenarios_name_the_key(tmp_path, edit, key):
    p = small_copy(tmp_path, edit(EXAMPLE.read_text()))
    with pytest.raises(ConfigError) as e:
        load_system(p)
    assert e.value.key == key
    assert e.value.file == str(p)


def test_single_market_commands_refuse_a_system_with_a_clear_error(tmp_path):
    p = small_copy(tmp_path)
    r = CliRunner().invoke(main, ["compare", str(p), "--out", str(tmp_path / "res")])
    assert r.exit_code == 2
    assert "markets" in r.output and "`compare` runs one market" in r.output
    assert "montecarlo" in r.output and "sweep" in r.output  # what a system runs with instead
    assert not (tmp_path / "res").exists()


def test_montecarlo_of_a_system_without_its_table_names_it(tmp_path):
    p = small_copy(tmp_path)
    r = CliRunner().invoke(main, ["montecarlo", str(p), "--out", str(tmp_path / "res")])
    assert r.exit_code == 2 and "[montecarlo] table" in r.output
    assert not (tmp_path / "res").exists()


@pytest.fixture(scope="module")
def network(tmp_path_factory):
    d = tmp_path_factory.mktemp("net")
    return api.network(small_copy(d), store=d / "res"), d


def test_run_is_stored_and_found_again(tmp_path):
    p = small_copy(tmp_path)
    a = api.run(p, store=tmp_path / "res")
    assert a.kind == "system"
    b = api.run(p, store=tmp_path / "res")
    assert b.run_id == a.run_id
    pd.testing.assert_frame_equal(a["markets"], b["markets"], check_dtype=False)


def test_network_edges_add_up_to_the_run(network):
    res, _ = network
    ss_markets = res["markets"].set_index("market")
    edges = res["network_edges"]
    # collateral and debt edges: every market's book at reference prices, by asset
    ss = load_system(_source(network))
    for name, m in ss.model.markets.items():
        coll, debt = m.book.totals_by_asset()
        e = edges[edges["source"] == f"market:{name}"]
        assert e[e["kind"] == "collateral"]["usd"].sum() == pytest.approx(float((coll * m.prices).sum()), rel=1e-12)
        d = edges[(edges["target"] == f"market:{name}") & (edges["kind"] == "debt")]
        assert d["usd"].sum() == pytest.approx(float((debt * m.prices).sum()), rel=1e-12)
    # sold edges: what went through the shared venue, shared out whole
    sold = edges[edges["kind"] == "sold"]
    weth = res["assets"].set_index("asset").loc["WETH"]
    assert sold["usd"].sum() == pytest.approx(weth["proceeds"], rel=1e-12)
    assert sold["tokens"].sum() == pytest.approx(weth["sold"], rel=1e-12)
    impact = edges[edges["kind"] == "impact"].iloc[0]
    assert impact["impact"] == pytest.approx(weth["final_drop"] - weth["initial_drop"], rel=1e-12)
    assert set(ss_markets.index) == {n.split(":", 1)[1] for n in res["network_nodes"]["id"] if n.startswith("market:")}


def _source(network) -> Path:
    return network[1] / "system.toml"


def test_contagion_matrix_is_with_minus_without(network):
    res, _ = network
    mx = res["contagion"]
    markets = res["markets"].set_index("market")
    assert len(mx) == 4 * 3
    for f in ("accounts_liquidated", "collateral_seized_usd", "bad_debt_usd"):
        assert np.array_equal(mx[f"delta_{f}"], mx[f"{f}_with"] - mx[f"{f}_without"])
        # "with" is the system run: the markets table's together numbers
        assert np.allclose(mx[f"{f}_with"], markets.loc[mx["target"], f].to_numpy(), rtol=1e-12)
    imp = res["importance"].set_index("market")
    sums = mx.groupby("source")["delta_collateral_seized_usd"].sum()
    assert np.allclose(imp.loc[sums.index, "adds_collateral_seized_usd"], sums, rtol=1e-12)
    assert list(res["importance"]["rank"]) == [1, 2, 3, 4]


def test_propagation_adds_up_to_the_rounds(network):
    res, _ = network
    prop, rounds = res["propagation"], res["rounds"]
    usd = (rounds["collateral_seized"] * rounds["price_before"]).sum()
    assert prop["collateral_seized_usd"].sum() == pytest.approx(usd, rel=1e-12)
    assert set(prop["market"]) <= set(res["markets"]["market"])


def test_network_command_exports_graphml_and_json(tmp_path):
    p = small_copy(tmp_path)
    g, j = tmp_path / "net.graphml", tmp_path / "net.json"
    r = CliRunner().invoke(main, ["network", str(p), "--out", str(tmp_path / "res"), "--graphml", str(g), "--json", str(j)])
    assert r.exit_code == 0, r.output
    assert "systemic importance" in r.output
    res = api.network(p, store=tmp_path / "res")
    back = nx.read_graphml(g, force_multigraph=True)
    assert back.number_of_nodes() == len(res["network_nodes"])
    assert back.number_of_edges() == len(res["network_edges"])
    data = json.loads(j.read_text())
    assert len(data["nodes"]) == len(res["network_nodes"]) and len(data["edges"]) == len(res["network_edges"])
    kinds = {n["id"]: n["kind"] for n in data["nodes"]}
    assert kinds["venue:WETH"] == "venue" and kinds["market:aave"] == "market"


def test_network_export_into_a_missing_folder_is_refused(tmp_path):
    p = small_copy(tmp_path)
    r = CliRunner().invoke(main, ["network", str(p), "--out", str(tmp_path / "res"), "--graphml",
                                  str(tmp_path / "nope" / "g.graphml")])
    assert r.exit_code == 2
    assert "does not exist" in r.output
    assert not (tmp_path / "res").exists()


def test_contagion_curve_against_markets_alone(tmp_path):
    p = small_copy(tmp_path)
    c = api.curve(p, asset="WETH", shocks="0:0.4:0.2", store=None)
    curve, per = c["curve"], c["curve_markets"]
    assert list(curve["shock"]) == [0.0, 0.2, 0.4]
    assert curve.iloc[0]["collateral_seized_usd"] == 0.0  # no shock, no liquidation
    for s, g in per.groupby("shock"):
        row = curve[curve["shock"] == s].iloc[0]
        assert g["alone_bad_debt_usd"].sum() == pytest.approx(row["alone_bad_debt_usd"], rel=1e-12, abs=1e-9)
        assert g["bad_debt_usd"].sum() == pytest.approx(row["bad_debt_usd"], rel=1e-12, abs=1e-9)
        assert row["contagion_bad_debt_usd"] == pytest.approx(row["bad_debt_usd"] - row["alone_bad_debt_usd"], abs=1e-6)


def test_every_system_key_is_described_and_documented():
    """Each key of a system scenario (and of a market entry beyond [market]'s) has a
    description in the schema and is named in docs/system.md."""
    from liqcascade.io.system import SystemMarketConfig, SystemScenarioConfig

    page = (Path(__file__).resolve().parents[1] / "docs" / "system.md").read_text()
    own = set(SystemMarketConfig.model_fields) - set(__import__("liqcascade.io.config", fromlist=["MarketConfig"])
                                                     .MarketConfig.model_fields)
    for model, keys in ((SystemScenarioConfig, set(SystemScenarioConfig.model_fields)), (SystemMarketConfig, own)):
        for k in keys:
            assert model.model_fields[k].description, (model.__name__, k)
            assert f"`{k}`" in page or f"[{k}]" in page or f"[[{k}]]" in page, k
    r = CliRunner().invoke(main, ["schema", "--system"])
    assert r.exit_code == 0 and json.loads(r.output)["title"] == "SystemScenarioConfig"


def test_curve_without_the_markets_alone(tmp_path):
    """--no-alone: the system's own numbers at each shock, the same as with the alone runs."""
    p = small_copy(tmp_path)
    both = api.curve(p, asset="WETH", shocks="0.1,0.3", store=None)["curve"]
    only = api.curve(p, asset="WETH", shocks="0.1,0.3", store=None, alone=False)["curve"]
    assert not [c for c in only.columns if c.startswith(("alone_", "contagion_"))]
    for col in ("collateral_seized_usd", "bad_debt_usd", "price_final", "accounts_liquidated"):
        assert list(only[col]) == list(both[col])
    r = CliRunner().invoke(main, ["curve", str(EXAMPLE.parent / "small_book.toml"), "--no-alone",
                                  "--out", str(tmp_path / "res")])
    assert r.exit_code == 2 and "--no-alone" in r.output


def test_a_system_hashes_the_files_its_venues_name(tmp_path):
    """A venue's depth file in a system scenario enters the run id by its content, as in a
    single-market scenario: other content, another hash."""
    import hashlib

    from liqcascade.markets.orderbook import shipped_depth, write_depth_file

    write_depth_file(tmp_path / "depth.csv", *shipped_depth("calm"))
    p = small_copy(tmp_path, EXAMPLE.read_text().replace('calibration = "calm"', 'calibration = "depth.csv"'))
    digest = hashlib.sha256((tmp_path / "depth.csv").read_bytes()).hexdigest()
    assert load_system(p).resolved()["venues"][0]["calibration"] == f"sha256:{digest}"
    write_depth_file(tmp_path / "depth.csv", *shipped_depth("crash"))
    assert load_system(p).resolved()["venues"][0]["calibration"] != f"sha256:{digest}"


# ----------------------------------------------------------- liquidators' capital in the static cascade
BOUNDED = """
[simulation]
path = "shock"

[simulation.liquidators]
capital_usd = 1e5
calls_per_round = 50
"""


def test_simulation_liquidator_tables_bound_the_static_cascade(tmp_path):
    text = EXAMPLE.read_text().replace('pair = ["WETH", "USDC"]\n\n[[markets]]\nname = "comet"',
                                       'pair = ["WETH", "USDC"]\n\n[markets.simulation.liquidators]\n'
                                       'capital_usd = 2e4\n\n[[markets]]\nname = "comet"')
    p = small_copy(tmp_path, text + BOUNDED)
    ss = load_system(p)
    pops = {x.name: x for x in ss.model.liquidators}
    assert (pops["shared"].capital_usd, pops["shared"].calls_per_round) == (1e5, 50)
    assert (pops["morpho"].capital_usd, pops["morpho"].calls_per_round) == (2e4, np.inf)
    r = CliRunner().invoke(main, ["run", str(p), "--out", str(tmp_path / "res")])
    assert r.exit_code == 0, r.output
    assert "left eligible" in r.output
    res = api.run(p, store=tmp_path / "res")
    led = res["liquidators"].set_index("liquidator")
    assert list(led.index) == ["morpho", "shared"] and led.loc["morpho", "market"] == "morpho"
    # the table's totals are the markets' (every market's liquidator repays and keeps the collateral
    # but Liquity's, whose Stability Pool pays: no capital)
    m = res["markets"]
    assert led["debt_repaid_usd"].sum() == pytest.approx(m["debt_repaid_usd"].sum(), rel=1e-9)
    assert led["liquidation_calls"].sum() == m["liquidation_calls"].sum()
    # the sales that come back to the populations are those of the markets where the liquidator keeps
    # what it seizes (Aave, Morpho); Comet's absorbed collateral and Liquity's go to the protocol and
    # the Stability Pool
    keeps = m.set_index("market").loc[["aave", "morpho"], "liquidator_proceeds_usd"].sum()
    assert led["proceeds_usd"].sum() == pytest.approx(keeps, rel=1e-9)
    assert led.loc["morpho", "peak_round_capital_usd"] <= 2e4 + led.loc["morpho", "proceeds_usd"]
    s = res["summary"].iloc[0]
    assert s["accounts_left_eligible"] == led.loc["shared", "accounts_left_eligible"]


def test_without_a_bound_the_tables_change_nothing(tmp_path):
    ss = load_system(small_copy(tmp_path, EXAMPLE.read_text() + "\n[simulation]\npath = 'shock'\n"))
    assert ss.model.liquidators == ()


@pytest.mark.parametrize("bad,key", [("calls_per_round = 0", "simulation.liquidators.calls_per_round"),
                                     ("calls_per_round = 1.5", "simulation.liquidators.calls_per_round"),
                                     ("capital_usd = -1", "simulation.liquidators.capital_usd")])
def test_bad_static_bounds_name_the_key(tmp_path, bad, key):
    p = small_copy(tmp_path, EXAMPLE.read_text() + f"\n[simulation]\npath = 'shock'\n\n[simulation.liquidators]\n{bad}\n")
    r = CliRunner().invoke(main, ["run", str(p), "--out", str(tmp_path / "res")])
    assert r.exit_code == 2 and key in r.output


def test_sweep_of_capital_and_shock_gives_bad_debt_against_capital(tmp_path):
    # the curve of capital: `sweep` over simulation.liquidators.capital_usd and shock.WETH; with no
    # venue impact (engine.impact = false) prices stay at the shock, so more capital never liquidates less
    p = small_copy(tmp_path, EXAMPLE.read_text() + "\n[engine]\nimpact = false\n" + BOUNDED)
    sw = api.sweep(p, ["simulation.liquidators.capital_usd=1e3,1e5,1e300", "shock.WETH=0.2,0.4"],
                   store=None).table("sweep")
    for shock, g in sw.groupby("shock.WETH"):
        g = g.sort_values("simulation.liquidators.capital_usd")
        assert g["accounts_liquidated"].is_monotonic_increasing
        assert g["accounts_left_eligible"].is_monotonic_decreasing
        assert g["accounts_left_eligible"].iloc[-1] == 0 and g["accounts_left_eligible"].iloc[0] > 0


def test_a_bounded_curve_has_what_was_left_eligible(tmp_path):
    p = small_copy(tmp_path, EXAMPLE.read_text() + BOUNDED)
    c = api.curve(p, asset="WETH", shocks="0.1,0.3", store=None, alone=False)["curve"]
    for col in ("stuck", "accounts_left_eligible", "debt_left_eligible_usd", "shortfall_left_usd"):
        assert col in c.columns
    free = api.curve(small_copy(tmp_path), asset="WETH", shocks="0.1", store=None, alone=False)["curve"]
    assert "accounts_left_eligible" not in free.columns


def test_calls_per_round_enters_the_run_id_only_when_set(tmp_path):
    from liqcascade.io.store import run_id

    unset = load_system(small_copy(tmp_path, EXAMPLE.read_text() + "\n[simulation]\npath = 'shock'\n")).resolved()
    assert "calls_per_round" not in unset["simulation"]["liquidators"]
    bounded = load_system(small_copy(tmp_path, EXAMPLE.read_text() + BOUNDED)).resolved()
    assert bounded["simulation"]["liquidators"]["calls_per_round"] == 50
    assert run_id(unset, "v") != run_id(bounded, "v")
