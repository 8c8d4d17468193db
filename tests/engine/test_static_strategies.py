"""Liquidator strategies in the static cascade (``[liquidators] strategy``, engine/static.py
``MarketPass._planned``): hand cases on the two-account Aave book of test_dynamic_plans.py, the
round's plan on a pool, and the ConfigError where the protocol gives the liquidator no choice.
max_close keeps the fused sweep: every shipped example's tables are pinned by the goldens
(tests/engine/test_golden_examples.py).

At WETH $1800 (a 10 % shock, no venues, so the prices stay there):
account 1, 10 WETH against 15,600 USDC: HF 0.98077 (v3.0-3.2: 50 % close factor);
account 2, 5 WETH against 8,300 DAI: HF 0.92169 (<= 0.95: 100 %)."""

from __future__ import annotations

import math
import tomllib
from pathlib import Path

import pytest

from liqcascade.engine.static import CascadeSettings, MarketModel, StaticCascade
from liqcascade.engine.strategies import KEEP_LIQUIDATABLE_HF
from liqcascade.errors import ConfigError
from liqcascade.markets.cpmm import ConstantProductPool
from liqcascade.protocols.aave_v3.rules import AaveV3Rules
from liqcascade.protocols.aave_v3.versions import V3_0

from .conftest import PARAMS, PRICES, book
from .mechanism_books import make_rules

BOOK = book([(1, "WETH", 10.0, 0.0), (1, "USDC", 0.0, 15_600.0), (2, "WETH", 5.0, 0.0), (2, "DAI", 0.0, 8_300.0)])
K = 0.85 * 1.05
REPO = Path(__file__).resolve().parents[2]


def cascade(strategy: str, venues=None, rules=None):
    model = MarketModel(BOOK, rules or AaveV3Rules(PARAMS, V3_0), PRICES, venues or {})
    solver = StaticCascade(model, CascadeSettings(strategy=strategy))
    out = solver.run({"WETH": 0.10})
    return solver, out


def repaid_by_account(solver, out):
    frame = solver.account_frame(out).set_index("account_id")
    return frame["debt_repaid_usd"]


def test_two_step_in_the_static_cascade_hand_case():
    solver, out = cascade("two_step")
    h = KEEP_LIQUIDATABLE_HF
    r1 = (h * 15_600.0 - 15_300.0) / (h - K)  # 2790.70: HF just below 1 after it
    repaid = repaid_by_account(solver, out)
    # account 1: r1, then half of the rest (HF then 1.1075: healthy, no second round)
    assert repaid[1] == pytest.approx(r1 + 0.5 * (15_600.0 - r1), rel=1e-9)
    # account 2: a 100 % close factor leaves nothing to gain from two calls: one max close
    assert repaid[2] == pytest.approx(8300.0, rel=1e-12)
    summary = solver.summarize(out)
    assert summary["liquidation_calls"] == 3
    max_close = repaid_by_account(*cascade("max_close"))
    assert max_close[1] == pytest.approx(7800.0, rel=1e-12) and repaid[1] > max_close[1]


def test_profit_max_plans_each_round_on_the_live_pool():
    # the pool of test_dynamic_plans (75 WETH / $150,000, fee-free), re-centred on the shocked $1800:
    # x = √(1.125e7 / 1800) WETH. A USDC repaid brings 1.045 / 1800 WETH; every eligible account of
    # round 1 is planned on the same pool: a* = x·(√1.045 − 1), repaying a*·1800 / 1.045 each
    pool = ConstantProductPool.from_price_depth("WETH", 2000.0, 150_000.0, fee=0.0)
    solver, out = cascade("profit_max", {"WETH": pool})
    x = math.sqrt(1.125e7 / 1800.0)
    r = x * (math.sqrt(1.045) - 1.0) * 1800.0 / 1.045
    first = [row for row in out.round_rows if row["round"] == 1]
    repaid = {row["asset"]: row["debt_repaid"] for row in first}
    assert repaid["USDC"] == pytest.approx(r, rel=1e-9) and repaid["DAI"] == pytest.approx(r, rel=1e-9)
    # the calls' sales move the pool down, so each later round plans again at its new prices
    assert out.converged and out.rounds > 1
    assert len({row["round"] for row in out.round_rows}) == out.rounds


def test_max_close_setting_is_todays_sweep():
    a_solver, a = cascade("max_close")
    model = MarketModel(BOOK, AaveV3Rules(PARAMS, V3_0), PRICES, {})
    b_solver = StaticCascade(model)
    b = b_solver.run({"WETH": 0.10})
    assert a_solver.summarize(a) == b_solver.summarize(b)


@pytest.mark.parametrize("protocol", ["compound_v3", "liquity_v1", "liquity_v2", "maker"])
def test_no_choice_no_strategy(protocol):
    rules = make_rules(protocol)
    model = MarketModel(BOOK, rules, PRICES, {})
    with pytest.raises(ConfigError, match=f"liquidators.strategy: expected max_close for {rules.name} "):
        StaticCascade(model, CascadeSettings(strategy="two_step"))


def test_unknown_strategy_is_a_config_error():
    model = MarketModel(BOOK, AaveV3Rules(PARAMS, V3_0), PRICES, {})
    with pytest.raises(ConfigError, match="liquidators.strategy: expected one of"):
        StaticCascade(model, CascadeSettings(strategy="greedy"))


def test_a_scenario_file_names_itself_and_the_key():
    from liqcascade.io.config import parse_scenario
    from liqcascade.io.scenario import build

    data = tomllib.loads((REPO / "examples" / "compare_mechanisms.toml").read_text())
    data["liquidators"] = {"strategy": "profit_max"}
    sc = build(parse_scenario(data, "cm.toml"), REPO / "examples", "cm.toml")
    assert sc.settings.strategy == "profit_max"
    data["market"]["protocol"] = "maker"
    data["market"]["version"] = "liquidations-2.0"
    with pytest.raises(ConfigError, match=r"cm\.toml: liquidators\.strategy: expected max_close for maker"):
        build(parse_scenario(data, "cm.toml"), REPO / "examples", "cm.toml")


@pytest.mark.parametrize("strategy", ["two_step", "profit_max"])
def test_planned_calls_never_meet_the_dust_rule(strategy):
    """examples/small_book.toml (Aave v3.7, WETH and wstETH -25 %): every planned call goes through.
    A plan's call equal to the protocol's own maximum goes to the kernel as that maximum (not as
    its USD value divided back, which can land a hair short of all the collateral and leave dust),
    and a partial call is cut to leave $1000 of debt and collateral: no call is blocked and the
    cascade does not end stuck."""
    from liqcascade.io.config import parse_scenario
    from liqcascade.io.scenario import build

    data = tomllib.loads((REPO / "examples" / "small_book.toml").read_text())
    data["liquidators"]["strategy"] = strategy
    sc = build(parse_scenario(data), REPO / "examples")
    solver = StaticCascade(sc.model, sc.settings)
    out = solver.run(data["shock"])
    frame = solver.account_frame(out)
    assert frame["liquidation_calls"].sum() > 0
    assert frame["blocked_calls"].sum() == 0 and not out.stuck


def test_the_system_static_cascade_plans_each_market():
    """A system of one market gives the market's own static cascade under two_step; a market whose
    protocol gives no choice stops the system's solver with the ConfigError."""
    from liqcascade.engine.system import SystemCascade, SystemModel

    markets = {"aave": MarketModel(BOOK, AaveV3Rules(PARAMS, V3_0), PRICES, {})}
    solver = SystemCascade(SystemModel(PARAMS.symbols, PRICES, markets, {}), CascadeSettings(strategy="two_step"))
    out = solver.run({"WETH": 0.10})
    alone, alone_out = cascade("two_step")
    assert solver.summarize("aave", out.markets["aave"])["debt_repaid_usd"] == pytest.approx(
        alone.summarize(alone_out)["debt_repaid_usd"], rel=1e-15)
    markets["comet"] = MarketModel(BOOK, make_rules("compound_v3"), PRICES, {})
    with pytest.raises(ConfigError, match="expected max_close for compound_v3"):
        SystemCascade(SystemModel(PARAMS.symbols, PRICES, markets, {}), CascadeSettings(strategy="two_step"))


def test_bounded_system_liquidators_take_max_close_only():
    from liqcascade.engine.system import SystemCascade, SystemModel
    from liqcascade.engine.system_liquidators import StaticLiquidators

    markets = {"aave": MarketModel(BOOK, AaveV3Rules(PARAMS, V3_0), PRICES, {})}
    system = SystemModel(PARAMS.symbols, PRICES, markets, {}, liquidators=(StaticLiquidators(calls_per_round=1),))
    with pytest.raises(ConfigError, match="liquidators.strategy: expected max_close when the system's liquidators "
                                          "are bounded"):
        SystemCascade(system, CascadeSettings(strategy="two_step")).run({"WETH": 0.10})


def test_a_system_scenario_names_the_market_that_gives_no_choice():
    from liqcascade.io.system import build_system, parse_system

    data = tomllib.loads((REPO / "examples" / "system_shared_eth.toml").read_text())
    data.setdefault("liquidators", {})["strategy"] = "two_step"
    # the markets' own [liquidators] take the system's: the error names the market (Comet, third)
    want = r"sys\.toml: markets\.2\.liquidators\.strategy: expected max_close for compound_v3"
    with pytest.raises(ConfigError, match=want):
        build_system(parse_system(data, "sys.toml"), REPO / "examples", "sys.toml")


@pytest.mark.parametrize("strategy", ["two_step", "profit_max"])
def test_a_reused_solver_gives_a_fresh_solvers_run(strategy):
    """The curve reuses one solver over many shocks (its working rows reset from what the last run
    touched): a planned run after a deeper one is the run of a fresh solver."""
    from liqcascade.io.config import parse_scenario
    from liqcascade.io.scenario import build

    data = tomllib.loads((REPO / "examples" / "small_book.toml").read_text())
    data["liquidators"]["strategy"] = strategy
    sc = build(parse_scenario(data), REPO / "examples")
    reused = StaticCascade(sc.model, sc.settings)
    reused.run({"WETH": 0.5, "wstETH": 0.5})
    again = reused.run({"WETH": 0.2, "wstETH": 0.2})
    fresh = StaticCascade(sc.model, sc.settings).run({"WETH": 0.2, "wstETH": 0.2})
    assert reused.summarize(again) == StaticCascade(sc.model, sc.settings).summarize(fresh)
    assert again.round_rows == fresh.round_rows
