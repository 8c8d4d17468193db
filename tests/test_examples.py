"""Every shipped example runs (at a small size in CI) and the default scenario is the packaged one."""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pytest

from liqcascade import api
from liqcascade.engine.run import run_static
from liqcascade.io import scenario as S
from liqcascade.io.config import parse_scenario

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((REPO / "examples").glob("*.toml"))


def test_default_example_is_the_packaged_default():
    assert (REPO / "examples" / "default.toml").read_text() == api.default_scenario_path().read_text()


def _small(path, n=5000):
    data = tomllib.loads(path.read_text())
    if data["positions"]["source"] == "synthetic":
        data["positions"]["n_accounts"] = min(data["positions"]["n_accounts"], n)
    return data


SYSTEMS = [p for p in EXAMPLES if "markets" in tomllib.loads(p.read_text())]
STATIC = [p for p in EXAMPLES if "shock" in tomllib.loads(p.read_text()) and p not in SYSTEMS]
SIMULATED = [p for p in EXAMPLES if "simulation" in tomllib.loads(p.read_text()) and p not in SYSTEMS]
SYSTEMS_SIMULATED = [p for p in SYSTEMS if "simulation" in tomllib.loads(p.read_text())]
# perp markets run beside the lending markets in `simulate` only (docs/perps.md, "Perps and lending")
SYSTEMS_LENDING = [p for p in SYSTEMS if "perp_markets" not in tomllib.loads(p.read_text())]


def test_examples_cover_both_engines():
    assert len(STATIC) >= 3 and len(SIMULATED) >= 3


@pytest.mark.parametrize("path", STATIC, ids=lambda p: p.name)
def test_example_runs_at_small_size(path):
    data = _small(path)
    sc = S.build(parse_scenario(data, str(path)), path.parent, str(path))
    res = run_static(sc.model, sc.config.shock, sc.settings)
    s = res.summary
    assert s["converged"]
    # every example shocks something and something is liquidated
    assert s["accounts_liquidated"] > 0
    # final prices never above the shocked ones for a selling-only cascade
    a = res.table("assets")
    assert (a["price_final"] <= a["price_shocked"] * (1 + 1e-12)).all()
    # the curve section is valid for every example
    cur = api.curve(sc, store=None, shocks="0:0.2:0.1")
    assert len(cur.table("curve")) == 3


@pytest.mark.parametrize("path", SYSTEMS_LENDING, ids=lambda p: p.name)
def test_system_example_runs_at_small_size(path, tmp_path):
    """A system example at a tenth of its books: every market runs, something is liquidated,
    and the system's totals are its markets' sums."""
    import re

    small = tmp_path / path.name
    small.write_text(re.sub(r"(?m)^n_accounts = (\d+)", lambda m: f"n_accounts = {min(int(m.group(1)), 2000)}",
                            path.read_text()))
    res = api.run(small, store=None)
    s, m = res.summary, res.table("markets")
    assert s["converged"] and s["accounts_liquidated"] > 0
    assert s["collateral_seized_usd"] == pytest.approx(m["collateral_seized_usd"].sum(), rel=1e-12)
    assert len(api.curve(small, store=None, shocks="0:0.2:0.1").table("curve")) == 3


@pytest.mark.parametrize("path", SYSTEMS_SIMULATED, ids=lambda p: p.name)
def test_system_example_simulates_at_small_size(path, tmp_path):
    """A system example block by block at small books and 600 blocks, conservation checked
    every block in every market: something is liquidated, the system's totals are its
    markets' sums and each market's events add up to its seized collateral."""
    import re

    text = re.sub(r"(?m)^n_accounts = (\d+)", lambda m: f"n_accounts = {min(int(m.group(1)), 500)}", path.read_text())
    text = re.sub(r"(?m)^blocks = (\d+)", lambda m: f"blocks = {min(int(m.group(1)), 600)}", text)
    small = tmp_path / path.name
    small.write_text(text.replace("[simulation]\n", "[simulation]\ncheck_conservation = true\n", 1))
    res = api.simulate(small, store=None)
    s, m = res.summary, res.table("markets")
    assert s["blocks"] == min(tomllib.loads(path.read_text())["simulation"]["blocks"], 600)
    assert s["accounts_liquidated"] > 0
    assert s["collateral_seized_usd"] == pytest.approx(m["collateral_seized_usd"].sum(), rel=1e-12)
    ev = res.table("events").groupby("market")["collateral_seized_usd"].sum()
    for name, seized in m.set_index("market")["collateral_seized_usd"].items():
        assert ev.get(name, 0.0) == pytest.approx(seized, rel=1e-9)


def test_demo_scenario_headline_numbers_are_sane():
    """The full default scenario: ETH -30 % liquidates something, not everything."""
    res = api.run(api.default_scenario_path(), store=None)
    s = res.summary
    coll = res.table("accounts")["collateral_usd_before"].sum()
    assert 0 < s["collateral_seized_usd"] < coll
    assert s["amplification"] >= 1.0


@pytest.mark.parametrize("path", SIMULATED, ids=lambda p: p.name)
def test_simulated_example_runs_with_conservation_checks(path):
    data = _small(path, 2000)
    data["simulation"]["check_conservation"] = True
    sc = S.build(parse_scenario(data, str(path)), path.parent, str(path))
    res = api.simulate(sc, store=None)
    s = res.summary
    steps = res.table("steps")
    # the replay's path reaches the market: some driven asset's reference falls below its start
    drops = steps.groupby("asset")["reference_price"].agg(lambda x: x.min() / x.iloc[0])
    assert drops.min() < 0.95
    if sc.config.simulation.oracle.source == "market":
        assert s["accounts_liquidated"] > 0
    ev = res.table("events")
    assert set(ev.columns) >= {"block", "account_id", "collateral_seized_usd"}
    assert ev["collateral_seized_usd"].sum() == pytest.approx(s["collateral_seized_usd"], rel=1e-9)


def test_usde_replay_the_oracle_source_decides():
    """2025-10-10: with the oracle on Binance's depegged price, many USDe-backed accounts are
    liquidated and, when the sales' impact adds to the depeg (impact_on_path = "full"; the
    replay's default "none" leaves the path as the market), bad debt appears; with the oracle
    on the on-chain pool (which stayed within 0.6 % of par) almost none are."""
    path = REPO / "examples" / "replay_2025_10_10_usde.toml"
    out = {}
    for source in ("pool", "market"):
        data = _small(path, 3000)
        data["simulation"]["oracle"]["source"] = source
        data["simulation"]["impact_on_path"] = "full"
        sc = S.build(parse_scenario(data, str(path)), path.parent, str(path))
        out[source] = api.simulate(sc, store=None).summary
    assert out["market"]["accounts_liquidated"] > 20 * max(1, out["pool"]["accounts_liquidated"])
    assert out["market"]["bad_debt_usd"] > 0
    assert out["pool"]["bad_debt_usd"] == 0


def test_black_thursday_joins_both_legs_on_one_grid():
    from liqcascade import scenarios as scn

    path_toml = REPO / "examples" / "replay_2020_03_12.toml"
    sc = S.build(parse_scenario(_small(path_toml, 500), str(path_toml)), path_toml.parent, str(path_toml))
    path, *_ = S.simulation_parts(sc)
    leg0 = scn.replay_path("2020-03-12", leg=0, gas_beyond="hold")
    leg1 = scn.replay_path("2020-03-12", leg=1, gas_beyond="hold")
    t = np.asarray(path.times)
    assert (np.diff(t) == 12).all()
    assert t[0] == leg0.times[0] and t[-1] == leg1.times[-1]
    w = path.prices[:, path.index("WETH")] / path.prices[0, path.index("WETH")]
    # the driven asset follows each leg's relative path exactly, and the bridge stays between
    i1 = int(np.searchsorted(t, leg1.times[0]))
    np.testing.assert_allclose(w[: len(leg0.times)], leg0.prices[:, 0] / leg0.prices[0, 0], rtol=1e-12)
    np.testing.assert_allclose(w[i1:], leg1.prices[:, 0] / leg0.prices[0, 0], rtol=1e-12)
    bridge = w[len(leg0.times): i1]
    lo, hi = sorted([w[len(leg0.times) - 1], w[i1]])
    assert bridge.size > 2000 and (bridge >= lo - 1e-12).all() and (bridge <= hi + 1e-12).all()
    assert path.gas_gwei is not None and len(path.gas_gwei) == len(t)


def test_may_19_pool_depth_follows_the_uniswap_reserves():
    from liqcascade import scenarios as scn

    path_toml = REPO / "examples" / "replay_2021_05_19.toml"
    sc = S.build(parse_scenario(_small(path_toml, 500), str(path_toml)), path_toml.parent, str(path_toml))
    path, oracle, settings, feed, depth = S.simulation_parts(sc)
    assert set(depth) == {"WETH"}
    pool = scn.replay_data("2021-05-19").pools["univ2_eth_dai"]
    # a block at 13:10 UTC uses the 13:10 reserve row (step/hold on 10-minute periods)
    t = int(np.asarray(path.times)[np.searchsorted(path.times, 1621429800)])
    row = pool[pool["time"] <= t].iloc[-1]
    assert depth["WETH"][np.searchsorted(path.times, t)] == pytest.approx(row["dai_reserve"])
    assert 55e6 <= depth["WETH"].min() and depth["WETH"].max() <= 69e6  # the data README's range


def test_may_19_spot_replay_has_the_spot_low_not_the_perp_wick():
    from liqcascade import scenarios as scn

    spot = scn.replay_path("2021-05-19-spot")
    perp = scn.replay_path("2021-05-19")
    # data README: the spot low that day was about 1888; the perpetual wicked to 1400.73
    assert spot.prices.min() == pytest.approx(1888.0)
    assert perp.prices.min() == pytest.approx(1400.73)
    assert spot.n_blocks == 24 * 300 and spot.gas_gwei is not None
