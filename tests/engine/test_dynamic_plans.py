"""Liquidator strategies through ``simulate`` (engine/dynamic/plans.py): a hand-built two-account
Aave book (v3.0-3.2 rules: 50 % close factor above HF 0.95, 100 % below; WETH LT 85 %, bonus 5 %,
protocol fee 10 % of the bonus) and a 10 % WETH shock at block 1 (2000 -> 1800).

Account 1: 10 WETH against 15,600 USDC: HF 17,000 / 15,600 = 1.0897 at 2000; 15,300 / 15,600 = 0.98077 at 1800.
Account 2: 5 WETH against 8,300 DAI: HF 8,500 / 8,300 = 1.0241 at 2000; 7,650 / 8,300 = 0.92169 at 1800."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from liqcascade.engine.dynamic import Dynamics, Liquidators, SimSettings, simulate
from liqcascade.engine.static import MarketModel
from liqcascade.engine.strategies import KEEP_LIQUIDATABLE_HF
from liqcascade.errors import ConfigError
from liqcascade.markets.cpmm import ConstantProductPool
from liqcascade.markets.oracle import Instant
from liqcascade.protocols.aave_v3 import V3_0
from liqcascade.protocols.aave_v3.rules import AaveV3Rules
from liqcascade.scenarios import instant_shock

from .conftest import PARAMS, PRICES, book

BOOK = book([(1, "WETH", 10.0, 0.0), (1, "USDC", 0.0, 15_600.0), (2, "WETH", 5.0, 0.0), (2, "DAI", 0.0, 8_300.0)])
PATH = instant_shock({"WETH": 2000.0}, {"WETH": -0.10}, n_blocks=4)
K = 0.85 * 1.05  # LT · (1 + bonus): every call raises HF, as long as HF > K


def run(strategy: str, venues=None, rules=None, **liq):
    m = MarketModel(BOOK, rules or AaveV3Rules(PARAMS, V3_0), PRICES, venues or {})
    liq = {"gas_asset": None} | liq
    s = SimSettings(Liquidators(strategy=strategy, **liq), Dynamics(recovery_half_life_s=0.0),
                    check_conservation=True)
    return simulate(m, PATH, Instant(), s)


def events(res):
    return res["events"].set_index("account_id")


def test_max_close_hand_case():
    ev = events(run("max_close"))
    assert list(ev["block"]) == [1, 1]
    # account 1: half its debt; account 2 (HF < 0.95): all of it
    assert ev.loc[1, "debt_repaid_usd"] == pytest.approx(7800.0, rel=1e-12)
    assert ev.loc[2, "debt_repaid_usd"] == pytest.approx(8300.0, rel=1e-12)
    assert list(ev["calls"]) == [1, 1]


def test_two_step_makes_two_calls_in_the_block():
    res = run("two_step")
    ev = events(res)
    # account 1: r1 leaves HF at the target: (15,300 - K·r1) / (15,600 - r1) = h; then half of what is left
    h = KEEP_LIQUIDATABLE_HF
    r1 = (h * 15_600.0 - 15_300.0) / (h - K)  # 2790.70
    assert ev.loc[1, "calls"] == 2
    assert ev.loc[1, "debt_repaid_usd"] == pytest.approx(r1 + 0.5 * (15_600.0 - r1), rel=1e-9)  # 9195.35 > 7800
    # account 2: a 100 % close factor (HF < 0.95) leaves nothing for a second call: one max close
    assert ev.loc[2, "calls"] == 1
    assert ev.loc[2, "debt_repaid_usd"] == pytest.approx(8300.0, rel=1e-12)
    assert res.summary["liquidation_calls"] == 3
    # the trades table records both calls: the accounts' debt repaid (signed < 0) is the events'
    tr = res["trades"].query("party == 'account' and kind == 'repaid'")
    assert -tr["usd"].sum() == pytest.approx(ev["debt_repaid_usd"].sum(), rel=1e-12)
    # the expected profit is the bonus net of the protocol's fee (4.5 %) on everything repaid
    assert ev.loc[1, "expected_profit_usd"] == pytest.approx(0.045 * (r1 + 0.5 * (15_600.0 - r1)), rel=1e-9)


def test_profit_max_sizes_the_call_on_the_pool():
    # a fee-free pool of 75 WETH / $150,000 (k = 1.125e7) moved to 1800 by the shock: x = √(k/1800) = 79.06 WETH.
    # A USDC repaid brings 1.045 / 1800 WETH (5 % bonus less 0.5 % fee); the optimum sells
    # a* = x·(√1.045 − 1) = 1.7592 WETH, repaying a*·1800 / 1.045 = 3030.2 USDC, below both accounts' caps.
    pool = ConstantProductPool.from_price_depth("WETH", 2000.0, 150_000.0, fee=0.0)
    x = math.sqrt(1.125e7 / 1800.0)
    a = x * (math.sqrt(1.045) - 1.0)
    r = a * 1800.0 / 1.045
    y = math.sqrt(1.125e7 * 1800.0)
    ev = run("profit_max", {"WETH": pool})["events"]
    first = ev[ev["block"] == 1]
    # both accounts plan the same call on the same pool; after one sells, the other's would lose
    # (the pool then pays y·(2a/(x+2a) − a/(x+a)) = 2965.7 < 3030.2): account 2 (lower HF0) alone
    assert list(first["account_id"]) == [2]
    assert first["debt_repaid_usd"].iloc[0] == pytest.approx(r, rel=1e-9)
    assert first["collateral_seized_usd"].iloc[0] == pytest.approx(r * 1.05, rel=1e-9)
    # the picker nets slippage on chords of the pool's (concave) proceeds curve: at most the exact 67.43
    assert 0 < first["expected_profit_usd"].iloc[0] <= (y * a / (x + a) - r) * (1 + 1e-12)


def test_strategies_are_deterministic():
    pool = {"WETH": ConstantProductPool.from_price_depth("WETH", 2000.0, 150_000.0)}
    for name in ("two_step", "profit_max"):
        a, b = run(name, pool), run(name, pool)
        for table in ("steps", "events", "summary"):
            assert a[table].equals(b[table]), (name, table)


def test_profit_max_without_profit_makes_no_call():
    # gas of 500,000 · 1000 gwei at $1800 = $900 a call; no call earns more than 4.5 % of 8300 = $373.5
    res = run("profit_max", gas_asset="WETH", gas_gwei=1000.0)
    assert res["events"].empty
    steps = res["steps"].query("asset == 'WETH'").set_index("block")
    assert steps.loc[1, "left_unprofitable"] == 2


def test_two_step_on_compound_v2_through_simulate():
    """Compound v2 (close factor 50 %, incentive 1.05 here, 2.8 % of seized tokens to reserves):
    no full close at any health, so both accounts get two calls. k = 0.85 · 1.05 = 0.8925.
    Account 1 (HF 0.98077): r1 = (h·15,600 − 15,300) / (h − 0.8925), then half of what is left.
    Account 2 (HF 0.92169): r_keep = (h·8300 − 7650) / (h − 0.8925) = 6046.5 is above the cap
    4150, so r1 = 4150, after which 5 − 4150·1.05/1800 = 2.57917 WETH (weighted $3946.1) still
    back less than the 4150 left: a second call of half, 2075."""
    from liqcascade.protocols.compound_v2.rules import CompoundV2Rules

    res = run("two_step", rules=CompoundV2Rules(PARAMS))
    ev = events(res)
    h = KEEP_LIQUIDATABLE_HF
    r1 = (h * 15_600.0 - 15_300.0) / (h - K)
    assert list(ev["calls"]) == [2, 2]
    assert ev.loc[1, "debt_repaid_usd"] == pytest.approx(r1 + 0.5 * (15_600.0 - r1), rel=1e-9)
    assert ev.loc[2, "debt_repaid_usd"] == pytest.approx(4150.0 + 2075.0, rel=1e-12)
    # what the liquidator expects: the seized value less the reserves' 2.8 %, less the debt
    assert ev.loc[2, "expected_profit_usd"] == pytest.approx(6225.0 * (1.05 * 0.972 - 1.0), rel=1e-9)


@pytest.mark.parametrize("protocol", ["morpho_blue", "euler_v2"])
def test_profit_max_on_protocols_without_a_close_factor(protocol):
    """Morpho Blue and Euler v2: profit_max sizes one partial call on the pool (the rule would
    take the whole debt). Account 2 alone (the pool's first sale goes to the lower HF0); its
    repay is the CPMM optimum for the rule's seized-per-repaid ``s`` at the pool after the shock:
    Morpho LIF 1/0.955, Euler 1/HF = 8300/7650 (HF 0.92169 above the floor 0.85)."""
    from liqcascade.protocols.euler_v2.rules import EulerV2Rules
    from liqcascade.protocols.morpho_blue.rules import MorphoBlueRules

    rules = MorphoBlueRules(PARAMS) if protocol == "morpho_blue" else EulerV2Rules(PARAMS)
    spread = 1.0 / 0.955 if protocol == "morpho_blue" else 8300.0 / 7650.0
    pool = ConstantProductPool.from_price_depth("WETH", 2000.0, 150_000.0, fee=0.0)
    x = math.sqrt(1.125e7 / 1800.0)
    a = x * (math.sqrt(spread) - 1.0)
    r = a * 1800.0 / spread
    ev = run("profit_max", {"WETH": pool}, rules=rules)["events"]
    first = ev[ev["block"] == 1]
    assert list(first["account_id"]) == [2]
    assert first["calls"].iloc[0] == 1
    assert first["debt_repaid_usd"].iloc[0] == pytest.approx(r, rel=1e-9)
    assert first["debt_repaid_usd"].iloc[0] < 8300.0


@pytest.mark.parametrize("protocol", ["compound_v3", "liquity_v1", "liquity_v2", "maker"])
def test_a_strategy_needs_a_protocol_where_the_liquidator_chooses(protocol):
    from .mechanism_books import make_rules

    rules = make_rules(protocol)
    assert not rules.capabilities.capped_calls
    with pytest.raises(ConfigError, match=f"liquidators.strategy: expected max_close for {rules.name} "):
        run("two_step", rules=rules)


# ------------------------------------------------------------------------- the system


@pytest.mark.parametrize("strategy", ["two_step", "profit_max"])
def test_one_market_system_is_the_single_market_run_bit_for_bit(one_numba_thread, strategy):
    from liqcascade.engine.system import SystemModel
    from liqcascade.engine.system_dynamic import simulate_system

    from .test_dynamic import random_book

    pool = ConstantProductPool.from_price_depth("WETH", 2000.0, 3e5)
    b = random_book(n=200, seed=3)
    settings = SimSettings(Liquidators(gas_gwei=30.0, strategy=strategy), Dynamics(600.0, 0.5), check_conservation=True)
    path = instant_shock({"WETH": 2000.0}, {"WETH": -0.15}, n_blocks=40)
    m = MarketModel(b, AaveV3Rules(PARAMS, V3_0), PRICES, {"WETH": pool})
    alone = simulate(m, path, Instant(), settings)
    sys_m = MarketModel(b, AaveV3Rules(PARAMS, V3_0), PRICES, {})
    out = simulate_system(SystemModel(PARAMS.symbols, PRICES, {"m": sys_m}, {"WETH": pool}), path, Instant(),
                          settings)["m"]
    assert alone.summary["accounts_liquidated"] > 0
    if strategy == "two_step":
        assert alone.summary["liquidation_calls"] > alone.summary["accounts_liquidated"]
    for name in ("steps", "events", "assets", "summary"):
        pd.testing.assert_frame_equal(out[name], alone[name], check_exact=True)


def test_two_markets_share_a_two_step_population(one_numba_thread):
    """The hand accounts in two markets: with no venue the markets do not interact, and each
    account gets the calls it gets in one market."""
    from liqcascade.engine.system import SystemModel
    from liqcascade.engine.system_dynamic import simulate_system

    one = book([(1, "WETH", 10.0, 0.0), (1, "USDC", 0.0, 15_600.0)])
    two = book([(2, "WETH", 5.0, 0.0), (2, "DAI", 0.0, 8_300.0)])
    markets = {name: MarketModel(b, AaveV3Rules(PARAMS, V3_0), PRICES, {}) for name, b in (("a", one), ("b", two))}
    s = SimSettings(Liquidators(gas_asset=None, strategy="two_step"), Dynamics(recovery_half_life_s=0.0))
    out = simulate_system(SystemModel(PARAMS.symbols, PRICES, markets, {}), PATH, Instant(), s)
    alone = events(run("two_step"))
    for name, acct in (("a", 1), ("b", 2)):
        ev = out[name]["events"].set_index("account_id")
        assert ev.loc[acct, "calls"] == alone.loc[acct, "calls"]
        assert ev.loc[acct, "debt_repaid_usd"] == pytest.approx(alone.loc[acct, "debt_repaid_usd"], rel=1e-12)


def test_the_system_checks_the_shared_strategy_against_every_market():
    from liqcascade.engine.system import SystemModel
    from liqcascade.engine.system_dynamic import simulate_system

    from .mechanism_books import make_rules

    markets = {"aave": MarketModel(BOOK, AaveV3Rules(PARAMS, V3_0), PRICES, {}),
               "comp": MarketModel(BOOK, make_rules("compound_v3"), PRICES, {})}
    with pytest.raises(ConfigError, match="liquidators.strategy"):
        simulate_system(SystemModel(PARAMS.symbols, PRICES, markets, {}), PATH, Instant(),
                        SimSettings(Liquidators(gas_asset=None, strategy="profit_max")))


def test_a_scenario_names_a_bad_strategy():
    import tomllib

    from liqcascade.io.config import parse_scenario
    from tests.conftest import REPO

    data = tomllib.loads((REPO / "examples" / "small_book.toml").read_text())
    data["simulation"] = {"path": "shock", "liquidators": {"strategy": "greedy"}}
    with pytest.raises(ConfigError, match=r"x\.toml: simulation\.liquidators\.strategy: expected 'max_close'"):
        parse_scenario(data, "x.toml")


# ------------------------------------------------------------------------- arrays vs scalars


@pytest.mark.parametrize("strategy", ["max_close", "two_step", "profit_max"])
@pytest.mark.parametrize("venue", ["none", "cpmm"])
@pytest.mark.parametrize("protocol", ["aave_v3", "aave_v3.3", "compound_v2"])
def test_plans_over_arrays_are_the_strategies_functions(strategy, venue, protocol):
    """plan_candidates (closed forms over arrays) against plan_one (engine/strategies.py, with the
    protocol's declared rule) on every eligible account of a random multi-asset book after a 12 % fall."""
    from liqcascade.protocols.compound_v2.rules import CompoundV2Rules

    import numpy as np

    from liqcascade.engine.dynamic.candidates import Candidates
    from liqcascade.engine.dynamic.plans import pairs, plan_candidates, plan_one

    from .test_dynamic import random_book

    b = random_book(n=400, seed=5)
    from liqcascade.protocols.aave_v3.versions import V3_3

    rules = {"aave_v3": AaveV3Rules(PARAMS, V3_0), "aave_v3.3": AaveV3Rules(PARAMS, V3_3),
             "compound_v2": CompoundV2Rules(PARAMS)}[protocol]
    arrays = rules.prepare(b)
    prices = PRICES * np.array([0.88, 1.0, 1.0])
    cand = Candidates.build(rules, arrays, prices, np.arange(b.n_accounts, dtype=np.int64))
    assert cand.elig.size > 20
    venues = {0: ConstantProductPool.from_price_depth("WETH", 1760.0, 4e5)} if venue == "cpmm" else {}
    market = prices.copy()
    got = plan_candidates(strategy, arrays, cand, prices, market, venues, 3.0, rules)
    pr = pairs(arrays, cand, prices, rules)
    calls = 0
    for j in range(cand.elig.size):
        p = plan_one(strategy, pr, j, float(market[cand.coll_asset[j]]), venues.get(int(cand.coll_asset[j])), 3.0)
        assert got.calls[j] == len(p.calls)
        assert got.paid[j] == pytest.approx(p.repaid, rel=1e-9, abs=1e-9)
        assert got.received[j] == pytest.approx(p.received, rel=1e-9, abs=1e-12)
        for c, call in enumerate(p.calls):
            # the protocol's own next call (the whole cap) goes to the kernel as inf, the rule's maximum
            whole = c == 1 or call.repay >= cand.repaid[j] * (1 - 1e-12)
            want = math.inf if whole else call.repay * float(pr.pd[j])
            assert got.caps_usd[j, c] == pytest.approx(want, rel=1e-9)
        calls += len(p.calls)
    assert calls > 0


def test_two_step_under_aave_v2_the_rule_it_was_derived_for():
    from liqcascade.model import AssetParams, RiskParams
    from liqcascade.protocols.aave_v3.versions import V2

    # the engine tests' market without the protocol fee (v2 has none)
    v2_params = RiskParams.from_assets([AssetParams("WETH", 18, 0.80, 0.85, 0.05, 0.0),
                                        AssetParams("USDC", 6, 0.75, 0.78, 0.045, 0.0),
                                        AssetParams("DAI", 18, 0.75, 0.78, 0.045, 0.0)])
    ev = events(run("two_step", rules=AaveV3Rules(v2_params, V2)))
    h = KEEP_LIQUIDATABLE_HF
    r1 = (h * 15_600.0 - 15_300.0) / (h - K)
    assert ev.loc[1, "calls"] == 2
    assert ev.loc[1, "debt_repaid_usd"] == pytest.approx(r1 + 0.5 * (15_600.0 - r1), rel=1e-9)
    # v2's close factor is 50 % at any HF < 1: account 2 (HF 0.92) keeps HF < 1 after a max close
    # ((7650 - K·4150) / 4150 = 0.951), so its two calls are two max closes: 4150, then 2075
    assert ev.loc[2, "calls"] == 2
    assert ev.loc[2, "debt_repaid_usd"] == pytest.approx(4150.0 + 2075.0, rel=1e-12)
    # no protocol fee in v2: the whole 5 % bonus on what was repaid
    assert ev.loc[2, "expected_profit_usd"] == pytest.approx(0.05 * 6225.0, rel=1e-9)
