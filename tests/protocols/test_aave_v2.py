"""Aave v2, the rule set ``"2"`` of the aave_v3 folder: integer rule (exact_v2) by hand, the float
rule against it (hypothesis), v2 against v3.0 where the rules differ, and its parameter set.

Conformance vectors from aave/protocol-v2's own tests are in data/conformance/aave_v3/v2.yaml
(run by tests/test_conformance.py).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from liqcascade.engine.run import run_static
from liqcascade.engine.static import MarketModel
from liqcascade.errors import ConfigError
from liqcascade.io.aave_config import load_aave_reserve_config
from liqcascade.io.scenario import BUILTIN_PARAMS
from liqcascade.model import AssetParams, EModeCategory, PositionBook, RiskParams
from liqcascade.protocols.aave_v3 import exact, exact_v2, fast
from liqcascade.protocols.aave_v3.exact_v2 import ReserveV2, UserReserveV2
from liqcascade.protocols.aave_v3.rules import AaveV3Rules
from liqcascade.protocols.aave_v3.versions import V2, V3_0, parse_version

E = 10**18
RAY = 10**27
MAX = 2**256 - 1


# --------------------------------------------------------------------------- integer rule, by hand
def _weth_dai(dai_price: int, stable: int = 0, variable: int = 0, weth: int = E):
    reserves = {
        "WETH": ReserveV2(18, E, lt_bps=8250, lb_bps=10500),
        "DAI": ReserveV2(18, dai_price, lt_bps=8000, lb_bps=10500),
    }
    user = {
        "WETH": UserReserveV2(scaled_collateral=weth),
        "DAI": UserReserveV2(scaled_variable_debt=variable, stable_debt=stable, collateral_enabled=False),
    }
    return reserves, user


def test_close_factor_is_half_at_any_health_factor_below_one():
    # 1 WETH (LT 82.5 %) against 916 DAI at 0.001 ETH: HF = 0.825 / 0.916 = 0.9006 (v3.0 would
    # allow 100 % below 0.95). v2: max = percentMul(916e18, 5000) = 458e18; seized =
    # percentMul(1e15 * 458e18 * 1e18, 10500) / (1e18 * 1e18) = 0.4809 WETH.
    reserves, user = _weth_dai(10**15, variable=916 * E)
    o = exact_v2.liquidation_call(reserves, user, "WETH", "DAI", MAX)
    assert o.health_factor_before == (825 * 10**15 * E + 458 * 10**15) // (916 * 10**15)
    assert o.debt_repaid == 458 * E
    assert o.collateral_seized == 4809 * 10**14


def test_close_factor_counts_stable_and_variable_and_repays_variable_first():
    # 300 DAI variable + 616 DAI stable: half of the 916 total is 458; 300 come off the variable
    # debt (all of it), 158 off the stable debt.
    reserves, user = _weth_dai(10**15, stable=616 * E, variable=300 * E)
    o = exact_v2.liquidation_call(reserves, user, "WETH", "DAI", MAX)
    assert (o.debt_repaid, o.variable_debt_repaid, o.stable_debt_repaid) == (458 * E, 300 * E, 158 * E)
    assert o.user_after["DAI"].scaled_variable_debt == 0
    assert o.user_after["DAI"].stable_debt == 458 * E


def test_bonus_is_applied_before_the_division_unlike_v3_0():
    # debtPrice * cover = 20, collateral price 7, same decimals, bonus 10500:
    # v2: percentMul(20, 10500) = (210000 + 5000) // 10000 = 21, then 21 // 7 = 3.
    # v3.0: 20 // 7 = 2, then percentMul(2, 10500) = (21000 + 5000) // 10000 = 2.
    coll = ReserveV2(0, 7, lt_bps=8000, lb_bps=10500)
    debt = ReserveV2(0, 20, lt_bps=8000, lb_bps=10500)
    assert exact_v2.available_collateral(coll, debt, 1, 100) == (3, 1)
    r3 = {"C": exact.ReserveState(0, 7, lt_bps=8000, lb_bps=10500), "D": exact.ReserveState(0, 20, lt_bps=8000)}
    u3 = {"C": exact.UserReserve(scaled_collateral=100), "D": exact.UserReserve(scaled_debt=50, collateral_enabled=False)}  # HF 0.56
    assert exact.liquidation_call(V3_0, r3, u3, "C", "D", 1).collateral_to_liquidator == 2


def test_short_collateral_cuts_the_debt_repaid():
    # 0.1 WETH against 916 DAI at 0.001 ETH: half the debt (458 DAI) would seize 0.4809 WETH > 0.1.
    # All 0.1 WETH go; debt needed = percentDiv(1e18 * 1e17 * 1e18 // (1e15 * 1e18), 10500)
    # = percentDiv(100e18, 10500) = (100e18 * 1e4 + 5250) // 10500 = 95238095238095238095.
    reserves, user = _weth_dai(10**15, variable=916 * E, weth=10**17)
    o = exact_v2.liquidation_call(reserves, user, "WETH", "DAI", MAX)
    assert o.collateral_seized == 10**17
    assert o.debt_repaid == (100 * E * 10**4 + 5250) // 10500 == 95238095238095238095
    assert o.user_after["WETH"].collateral_enabled is False  # all of it taken: the bit is cleared
    # no bad-debt burn in v2: the rest of the debt stays on the account
    assert o.user_after["DAI"].scaled_variable_debt == 916 * E - 95238095238095238095


def test_v2_is_refused_by_the_v3_integer_rule():
    with pytest.raises(ValueError, match="exact_v2"):
        exact.liquidation_call(V2, {}, {}, "A", "B", 1)


# --------------------------------------------------------------------------- float rule vs integer rule
@settings(max_examples=300, deadline=None)
@given(
    coll_dec=st.sampled_from([6, 8, 18]),
    debt_dec=st.sampled_from([6, 8, 18]),
    coll_price=st.integers(10**12, 50 * E),
    debt_price=st.integers(10**12, 50 * E),
    lt_bps=st.integers(5000, 9000),
    lb_bps=st.integers(10100, 11500),
    coll_value_eth=st.floats(0.01, 1e4),
    hf=st.floats(0.3, 0.999),
    stable_share=st.floats(0.0, 1.0),
    cover_share=st.one_of(st.just(math.inf), st.floats(0.01, 0.6)),
)
def test_fast_agrees_with_exact_v2(
    coll_dec, debt_dec, coll_price, debt_price, lt_bps, lb_bps, coll_value_eth, hf, stable_share, cover_share
):
    coll_bal = int(coll_value_eth * 10**coll_dec * E / coll_price)
    debt_bal = int(coll_value_eth * lt_bps / 1e4 / hf * 10**debt_dec * E / debt_price)
    assume(coll_bal > 10**4 and debt_bal > 10**4)
    stable = int(debt_bal * stable_share)
    reserves = {"C": ReserveV2(coll_dec, coll_price, lt_bps=lt_bps, lb_bps=lb_bps),
                "D": ReserveV2(debt_dec, debt_price, lt_bps=8000, lb_bps=10500)}  # fmt: skip
    user = {"C": UserReserveV2(scaled_collateral=coll_bal),
            "D": UserReserveV2(scaled_variable_debt=debt_bal - stable, stable_debt=stable, collateral_enabled=False)}
    hf_exact = exact_v2.user_account_data(reserves, user).health_factor
    assume(hf_exact < E)
    cover = MAX if cover_share == math.inf else int(debt_bal * cover_share)
    assume(cover > 0)
    o = exact_v2.liquidation_call(reserves, user, "C", "D", cover)

    c, d = coll_bal / 10**coll_dec, debt_bal / 10**debt_dec
    pc, pd = coll_price / E, debt_price / E
    hf_fast = c * pc * lt_bps / 1e4 / (d * pd)
    assert hf_fast == pytest.approx(hf_exact / E, rel=1e-9, abs=1e-17)
    cover_f = math.inf if cover == MAX else cover / 10**debt_dec
    repaid, seized, fee, revert = fast.liquidation_call(V2, hf_fast, c, pc, d, pd, d * pd, lb_bps / 1e4 - 1, 0.0, cover_f)
    assert revert == fast.REVERT_NONE and fee == 0.0
    # a few wei of integer rounding, and the bonus's one-wei rounding carried through the prices
    slack_d = 4 / 10**debt_dec + 4 * pc / pd / 10**coll_dec
    slack_c = 4 / 10**coll_dec + 4 * pd / pc * lb_bps / 1e4 / 10**debt_dec
    assert repaid == pytest.approx(o.debt_repaid / 10**debt_dec, rel=1e-9, abs=slack_d)
    assert seized == pytest.approx(o.collateral_seized / 10**coll_dec, rel=1e-9, abs=slack_c)


# --------------------------------------------------------------------------- v2 vs v3.0 in the engine
NO_FEE = RiskParams.from_assets([AssetParams("WETH", 18, 0.80, 0.825, 0.05, 0.0),
                                 AssetParams("USDC", 6, 0.80, 0.85, 0.05, 0.0)])  # fmt: skip
WITH_FEE = RiskParams.from_assets([AssetParams("WETH", 18, 0.80, 0.825, 0.05, 0.10),
                                   AssetParams("USDC", 6, 0.80, 0.85, 0.05, 0.0)])  # fmt: skip


def _one_account(params):
    return PositionBook.from_rows(["a", "a"], [0, 1], [1.0, 0.0], [0.0, 1650.0], params.symbols)


def _run(params, version, shock):
    model = MarketModel(_one_account(params), AaveV3Rules(params, version), np.array([2000.0, 1.0]))
    return run_static(model, {"WETH": shock}).summary


def test_hf_0_9_half_in_v2_all_in_v3_0():
    # 1 WETH (LT 82.5 %) and 1650 USDC; WETH 2000 -> 1800: HF = 0.825 * 1800 / 1650 = 0.9.
    # v2: 50 %: 825 USDC for 825 * 1.05 = $866.25; HF = 0.825 * 933.75 / 825 = 0.93375 < 1, so
    #   again 412.5 USDC for $433.125; HF = 0.825 * 500.625 / 412.5 = 1.00125: 2 calls, 1237.5 repaid.
    # v3.0: HF <= 0.95, 100 %: 1650 USDC for $1732.5 in one call.
    v2, v30 = _run(NO_FEE, V2, 0.1), _run(NO_FEE, V3_0, 0.1)
    assert (v2["liquidation_calls"], v30["liquidation_calls"]) == (2, 1)
    assert v2["debt_repaid_usd"] == pytest.approx(1237.5, rel=1e-12)
    assert v2["collateral_seized_usd"] == pytest.approx(1299.375, rel=1e-12)
    assert v30["debt_repaid_usd"] == pytest.approx(1650.0, rel=1e-12)
    assert v30["collateral_seized_usd"] == pytest.approx(1732.5, rel=1e-12)


def test_above_0_95_v2_and_v3_0_agree():
    # WETH -> 1960 (2 %): HF = 0.825 * 1960 / 1650 = 0.98: both repay half, 825 USDC for $866.25.
    # After: $1093.75 collateral, HF = 0.825 * 1093.75 / 825 = 1.09375: one call each.
    v2, v30 = _run(NO_FEE, V2, 0.02), _run(NO_FEE, V3_0, 0.02)
    for s in (v2, v30):
        assert s["liquidation_calls"] == 1
        assert s["debt_repaid_usd"] == pytest.approx(825.0, rel=1e-12)
        assert s["collateral_seized_usd"] == pytest.approx(866.25, rel=1e-12)


def test_protocol_fee_is_v3_only():
    # v3.0 with a 10 % fee on WETH's bonus (HF 0.98 case): fee = 10 % of 866.25 - 825 = $4.125.
    assert _run(WITH_FEE, V3_0, 0.02)["protocol_fee_usd"] == pytest.approx(4.125, rel=1e-12)
    assert _run(NO_FEE, V2, 0.02)["protocol_fee_usd"] == 0.0
    # v2 has no fee: parameters that carry one are refused, naming the asset
    with pytest.raises(ConfigError, match=r"protocol_fee.*WETH 0\.1"):
        AaveV3Rules(WITH_FEE, V2)


def test_emode_is_refused_under_v2():
    cat = EModeCategory(1, "ETH", 0.9, 0.93, 0.01, frozenset({"WETH"}))
    with_emode = RiskParams.from_assets([AssetParams("WETH", 18, 0.80, 0.825, 0.05, 0.0),
                                         AssetParams("USDC", 6, 0.80, 0.85, 0.05, 0.0)], emodes=[cat])  # fmt: skip
    with pytest.raises(ConfigError, match="e-mode"):
        AaveV3Rules(with_emode, V2)
    book = PositionBook.from_rows(["a", "a"], [0, 1], [1.0, 0.0], [0.0, 1650.0], NO_FEE.symbols, emode={"a": 1})
    with pytest.raises(ConfigError, match="e-mode"):
        AaveV3Rules(NO_FEE, V2).prepare(book)


def test_version_name():
    assert parse_version("2") == V2
    assert AaveV3Rules(NO_FEE, V2).describe()["version"] == "2"


# --------------------------------------------------------------------------- the parameter set
def test_may_2021_parameters_load_through_the_aave_loader():
    snap = load_aave_reserve_config(BUILTIN_PARAMS["builtin:aave_v2_ethereum_2021-05-18"])
    p = snap.params
    assert len(p.symbols) == 14
    # launch values (aave/protocol-v2 markets/aave/reservesConfigs.ts @ 12cda094)
    expect = {"WETH": (0.80, 0.825, 0.05), "WBTC": (0.70, 0.75, 0.10), "USDC": (0.80, 0.85, 0.05),
              "DAI": (0.75, 0.80, 0.05), "LINK": (0.70, 0.75, 0.10), "AAVE": (0.50, 0.65, 0.10),
              "UNI": (0.60, 0.65, 0.10), "YFI": (0.40, 0.55, 0.15), "USDT": (0.0, 0.0, 0.0)}  # fmt: skip
    for sym, (ltv, lt, lb) in expect.items():
        i = p.index(sym)
        assert (p.ltv[i], p.liquidation_threshold[i], p.liquidation_bonus[i]) == pytest.approx((ltv, lt, lb)), sym
    assert not np.any(p.protocol_fee) and p.emodes == ()
    assert p.decimals[p.index("WBTC")] == 8 and p.decimals[p.index("USDC")] == 6
    assert snap.reserve_factor["WETH"] == pytest.approx(0.10) and snap.reserve_factor["AAVE"] == 0.0
    csv = load_aave_reserve_config(BUILTIN_PARAMS["builtin:aave_v2_ethereum_2021-05-18"].with_suffix(".csv"))
    assert csv.params.symbols == p.symbols and csv.prices == snap.prices
    AaveV3Rules(p, V2)  # no fee, no e-mode: accepted


def test_a_v2_scenario_on_v3_parameters_is_refused_naming_the_fee(tmp_path):
    from liqcascade.io import scenario as S
    from liqcascade.io.config import parse_scenario

    data = {"name": "x", "market": {"protocol": "aave_v3", "version": "2"},
            "positions": {"source": "synthetic", "n_accounts": 10}}  # fmt: skip
    with pytest.raises(ConfigError, match=r"x.toml: market.aave_v3.protocol_fee: expected 0 for every asset under Aave v2 rules.*got .1INCH 0.1"):
        S.build(parse_scenario(data, "x.toml"), tmp_path, "x.toml")
    data["market"]["params"] = "builtin:aave_v2_ethereum_2021-05-18"
    sc = S.build(parse_scenario(data, "x.toml"), tmp_path, "x.toml")
    assert sc.model.rules.describe()["version"] == "2"


@settings(max_examples=200, deadline=None)
@given(
    dec=st.lists(st.sampled_from([6, 8, 18]), min_size=2, max_size=2),
    price=st.lists(st.integers(1, 10**22), min_size=2, max_size=2),
    lt=st.lists(st.integers(0, 9500), min_size=2, max_size=2),
    coll=st.lists(st.integers(0, 10**30), min_size=2, max_size=2),
    debt=st.lists(st.integers(0, 10**30), min_size=2, max_size=2),
    index=st.integers(RAY, 3 * RAY),
)
def test_health_factor_is_v3_0_s_formula(dec, price, lt, coll, debt, index):
    # GenericLogic is the same in v2 and v3.0 for variable debt: floor values, floor average LT,
    # wadDiv(percentMul(C, avgLT), D); only the base unit of the prices differs.
    names = ("A", "B")
    r2 = {n: ReserveV2(dec[i], price[i], index, index, lt[i], 10500) for i, n in enumerate(names)}
    u2 = {n: UserReserveV2(coll[i], debt[i]) for i, n in enumerate(names)}
    r3 = {n: exact.ReserveState(dec[i], price[i], index, index, lt[i], 10500) for i, n in enumerate(names)}
    u3 = {n: exact.UserReserve(coll[i], debt[i]) for i, n in enumerate(names)}
    a2, a3 = exact_v2.user_account_data(r2, u2), exact.user_account_data(V3_0, r3, u3)
    assert (a2.total_collateral_eth, a2.total_debt_eth, a2.avg_liquidation_threshold, a2.health_factor) == (
        a3.total_collateral_base, a3.total_debt_base, a3.avg_liquidation_threshold, a3.health_factor)
