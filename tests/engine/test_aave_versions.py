"""The Aave v3 rule versions in the static cascade, on accounts computed by hand.

Each case runs one book under every version and checks the numbers the version should give
(docs/engine.md, "Aave v3 rule versions"): the close factor and the dust rule (v3.3), the
bad-debt burn (v3.3) and collateral whose reserve LT is 0 but which an e-mode makes
collateral (v3.6). Versions that differ only in integer rounding give identical results.
"""

import math

import numpy as np
import pytest

from liqcascade import api
from liqcascade.engine.dynamic import Dynamics, Liquidators, SimSettings, simulate
from liqcascade.engine.run import run_static
from liqcascade.engine.static import MarketModel
from liqcascade.errors import ConfigError
from liqcascade.markets.oracle import Instant
from liqcascade.model import AssetParams, EModeCategory, PositionBook, RiskParams
from liqcascade.protocols.aave_v3 import NAMES, V3_0, V3_3, V3_5, V3_6, V3_7, parse_version
from liqcascade.protocols.aave_v3.rules import AaveV3Rules
from liqcascade.protocols.aave_v3.versions import emode_only_collateral
from liqcascade.scenarios import instant_shock

from .conftest import PARAMS, PRICES, book

ALL = (V3_0, V3_3, V3_5, V3_6, V3_7)


def run(rows, version, shocks):
    return run_static(MarketModel(book(rows), AaveV3Rules(PARAMS, version), PRICES), shocks).summary


@pytest.mark.parametrize("version", ALL)
def test_close_factor_per_reserve_before_v33_whole_position_after(version):
    # 10 WETH at 1860 (-7 %), debts 12000 USDC + 4000 DAI: HF = 15810/16000 = 0.988125 > 0.95.
    # v3.0-3.2: 50 % of the USDC reserve = 6000; seize 6000*1.05 = $6300.
    #   HF after = (18600-6300)*0.85/(6000+4000) = 1.0455: one call.
    # v3.3+: both reserves >= $2000 and USDC 12000 > half of 16000, so half the total debt:
    #   8000 USDC; leftovers $4000 debt and $10200 collateral pass the dust rule; seize $8400.
    #   HF after = (18600-8400)*0.85/8000 = 1.08375: one call.
    s = run([("a", "WETH", 10.0, 0), ("a", "USDC", 0, 12000.0), ("a", "DAI", 0, 4000.0)], version, {"WETH": 0.07})
    repaid = 6000.0 if version == V3_0 else 8000.0
    assert s["liquidation_calls"] == 1
    assert s["debt_repaid_usd"] == pytest.approx(repaid, rel=1e-12)
    assert s["collateral_seized_usd"] == pytest.approx(repaid * 1.05, rel=1e-12)
    assert s["bad_debt_usd"] == 0.0


@pytest.mark.parametrize("version", ALL)
def test_dust_rule_from_v33(version):
    # 3.5 WETH at $1000 (-50 %), debts 2050 USDC + 1000 DAI; HF = 2975/3050 = 0.9754.
    # v3.0-3.2: 50 % of USDC = 1025, seize $1076.25.
    # v3.3+: half of 3050 = 1525 would leave $525 of USDC debt (< $1000): the liquidator
    #   covers 2050 - 1000 = 1050 instead and seizes $1102.5 (HF after 1.0189).
    s = run([("a", "WETH", 3.5, 0), ("a", "USDC", 0, 2050.0), ("a", "DAI", 0, 1000.0)], version, {"WETH": 0.5})
    repaid = 1025.0 if version == V3_0 else 1050.0
    assert s["liquidation_calls"] == 1
    assert s["debt_repaid_usd"] == pytest.approx(repaid, rel=1e-9)
    assert s["collateral_seized_usd"] == pytest.approx(repaid * 1.05, rel=1e-9)


@pytest.mark.parametrize("version", ALL)
def test_bad_debt_burned_from_v33_and_left_before(version):
    # 1 WETH at 1500 (-25 %), 2000 USDC: HF 0.6375 -> 100 %; cover 2000 needs 1.4 WETH > 1,
    # so all 1 WETH goes for 1500/1.05 = 1428.5714 USDC and 571.4286 USDC is left uncovered:
    # v3.3+ burn it into the USDC deficit, v3.0-3.2 leave it on the account.
    s = run([("a", "WETH", 1.0, 0), ("a", "USDC", 0, 2000.0)], version, {"WETH": 0.25})
    left = 2000.0 - 1500.0 / 1.05
    burned = version >= V3_3
    assert s["debt_repaid_usd"] == pytest.approx(1500.0 / 1.05, rel=1e-12)
    assert s["bad_debt_written_off_usd"] == pytest.approx(left if burned else 0.0, rel=1e-12)
    assert s["bad_debt_unrecoverable_usd"] == pytest.approx(0.0 if burned else left, rel=1e-12)


# An asset with reserve LT 0 that is collateral only inside e-mode 1 (LT 90 %, bonus 3 %),
# as v3.6 allows ("collateral-only in eMode"). Before v3.6 the reserve's LT 0 wins.
EMODE_PARAMS = RiskParams.from_assets(
    [
        AssetParams("WETH", 18, 0.80, 0.85, 0.05, 0.10),
        AssetParams("USDC", 6, 0.75, 0.78, 0.045, 0.10),
        AssetParams("EMO", 18, 0.0, 0.0, 0.0, 0.10),
    ],
    [EModeCategory(1, "EMO and USDC", 0.85, 0.90, 0.03, frozenset({"EMO", "USDC"}))],
)
EMODE_PRICES = np.array([2000.0, 1.0, 1.0])


def emode_model(version, emode):
    # 1000 EMO ($1000) + 1.5 WETH against 2000 USDC
    b = PositionBook.from_rows(["a"] * 3, [2, 0, 1], [1000.0, 1.5, 0.0], [0.0, 0.0, 2000.0],
                               EMODE_PARAMS.symbols, emode={"a": emode})  # fmt: skip
    return MarketModel(b, AaveV3Rules(EMODE_PARAMS, version), EMODE_PRICES)


def emode_run(version, emode):
    return run_static(emode_model(version, emode), {"WETH": 0.4})  # WETH -40 % to 1200


def test_effective_lt_of_emode_only_collateral():
    b = PositionBook.from_rows(["a"], [2], [1000.0], [0.0], EMODE_PARAMS.symbols, emode={"a": 1})
    assert AaveV3Rules(EMODE_PARAMS, V3_5).param_table(b).lt_of(0) == 0.0
    t = AaveV3Rules(EMODE_PARAMS, V3_6).param_table(b)
    assert (t.lt_of(0), t.bonus_of(0), t.fee_of(0)) == (0.90, 0.03, 0.10)


@pytest.mark.parametrize("version", ALL)
def test_emode_only_collateral_counts_from_v36(version):
    # v3.6+: EMO counts at the e-mode LT: HF = (1000*0.9 + 1.5*1200*0.85)/2000 = 1.215, healthy.
    # Before: only WETH counts: HF = 1530/2000 = 0.765 < 0.95 -> 100 %; cover 2000 needs
    # 2000*1.05/1200 = 1.75 WETH > 1.5, so all 1.5 WETH ($1800) goes for 1800/1.05 = 1714.2857
    # USDC; fee (1.5 - 1.5/1.05)*0.1 WETH. That is all the collateral that counts, so v3.3-3.5
    # burn the other 285.7143 USDC into the deficit (the account keeps its 1000 EMO) and
    # v3.0-3.2 leave it on the account with nothing to seize.
    res = emode_run(version, emode=1)
    s = res.summary
    left = 2000.0 - 1800.0 / 1.05
    if version >= V3_6:
        m = emode_model(version, emode=1)
        shocked = m.rules.health(m.rules.prepare(m.book), EMODE_PRICES * [0.6, 1.0, 1.0])
        assert shocked.hf[0] == pytest.approx((900.0 + 1530.0) / 2000.0, rel=1e-12)
        assert s["accounts_liquidated"] == 0 and s["bad_debt_usd"] == 0.0
        return
    acc = res["accounts"].iloc[0]
    assert acc["hf_before"] == pytest.approx(2550.0 / 2000.0, rel=1e-12)
    assert acc["hf_shocked"] == pytest.approx(1530.0 / 2000.0, rel=1e-12)
    assert s["liquidation_calls"] == 1
    assert s["collateral_seized_usd"] == pytest.approx(1800.0, rel=1e-12)
    assert s["debt_repaid_usd"] == pytest.approx(1800.0 / 1.05, rel=1e-12)
    assert s["protocol_fee_usd"] == pytest.approx((1.5 - 1.5 / 1.05) * 0.1 * 1200.0, rel=1e-9)
    burned = version >= V3_3
    assert s["bad_debt_written_off_usd"] == pytest.approx(left if burned else 0.0, rel=1e-12)
    assert s["bad_debt_unrecoverable_usd"] == pytest.approx(0.0 if burned else left, rel=1e-12)


@pytest.mark.parametrize("version", ALL)
def test_lt0_supply_outside_its_emode_is_never_collateral(version):
    # The same holdings outside e-mode: EMO has LT 0 and no e-mode, so it is not collateral in
    # any version and the account is liquidated as the pre-v3.6 one above.
    s = emode_run(version, emode=0).summary
    assert s["liquidation_calls"] == 1
    assert s["debt_repaid_usd"] == pytest.approx(1800.0 / 1.05, rel=1e-12)
    assert s["bad_debt_usd"] == pytest.approx(2000.0 - 1800.0 / 1.05, rel=1e-12)


def test_rounding_only_versions_run_alike():
    # 3.3-3.4, 3.5, 3.6 and 3.7 differ only in integer rounding here (no collateral has reserve
    # LT 0), which the float engine does not model: every number of the cascade is the same.
    rng = np.random.default_rng(7)
    rows = []
    for k in range(300):
        w = float(rng.lognormal(0.0, 1.5))
        rows.append((k, "WETH", w, 0.0))
        rows.append((k, "USDC", 0.0, w * 2000.0 * 0.85 * float(rng.uniform(0.5, 1.1)) * (1 - 0.3 * (k % 2))))
        if k % 2:
            rows.append((k, "DAI", 0.0, w * 2000.0 * 0.85 * 0.3))
    summaries = [dict(run(rows, v, {"WETH": 0.2})) for v in (V3_3, V3_5, V3_6, V3_7)]
    for s in summaries:
        s.pop("version")
    assert summaries[0]["liquidation_calls"] > 0 and summaries[0]["bad_debt_written_off_usd"] > 0
    assert all(s == summaries[0] for s in summaries[1:])


# --- the same hand cases through the block-by-block simulation -----------------------------------
#
# Instant oracle, unbounded liquidators, no venues (no price impact): after a one-block shock each
# account is liquidated at the shocked prices exactly as in the static cascade, by each version's rule.

UNBOUNDED = Liquidators(calls_per_account=64, gas_asset=None, min_profit_usd=-math.inf)
SHOCK_CASES = {
    # name: (rows, WETH shock, repaid by version (V3_0, V3_3+), written off from v3.3, left before v3.3)
    "close_factor": ([("a", "WETH", 10.0, 0), ("a", "USDC", 0, 12000.0), ("a", "DAI", 0, 4000.0)], 0.07,
                     (6000.0, 8000.0), 0.0),
    "dust": ([("a", "WETH", 3.5, 0), ("a", "USDC", 0, 2050.0), ("a", "DAI", 0, 1000.0)], 0.5, (1025.0, 1050.0), 0.0),
    # as the static bad-debt case but healthy before the shock (HF 1700/1500): 1 WETH at 1500 for
    # 1500/1.05 USDC, 1500 - 1428.5714 left
    "bad_debt": ([("a", "WETH", 1.0, 0), ("a", "USDC", 0, 1500.0)], 0.25, (1500.0 / 1.05, 1500.0 / 1.05),
                 1500.0 - 1500.0 / 1.05),
}  # fmt: skip


@pytest.mark.parametrize("version", ALL)
@pytest.mark.parametrize("case", sorted(SHOCK_CASES))
def test_dynamic_engine_runs_each_version_like_the_hand_cases(version, case):
    rows, shock, repaid, left = SHOCK_CASES[case]
    m = MarketModel(book(rows), AaveV3Rules(PARAMS, version), PRICES)
    path = instant_shock({"WETH": 2000.0}, {"WETH": -shock}, n_blocks=4)
    s = simulate(m, path, Instant(), SimSettings(UNBOUNDED, Dynamics(recovery_half_life_s=math.inf))).summary
    assert s["version"] == NAMES[version]
    assert s["liquidation_calls"] == 1
    assert s["debt_repaid_usd"] == pytest.approx(repaid[0] if version == V3_0 else repaid[1], rel=1e-9)
    burned = version >= V3_3
    assert s["bad_debt_written_off_usd"] == pytest.approx(left if burned else 0.0, rel=1e-9, abs=1e-9)
    assert s["bad_debt_unrecoverable_usd"] == pytest.approx(0.0 if burned else left, rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("version", ALL)
def test_dynamic_engine_emode_only_collateral_from_v36(version):
    # the e-mode case above, block by block: nothing happens from v3.6 (HF 1.215); before, the
    # 1.5 WETH go for 1800/1.05 USDC
    m = emode_model(version, emode=1)
    path = instant_shock({"WETH": 2000.0}, {"WETH": -0.4}, n_blocks=4)
    s = simulate(m, path, Instant(), SimSettings(UNBOUNDED, Dynamics(recovery_half_life_s=math.inf))).summary
    if version >= V3_6:
        assert s["accounts_liquidated"] == 0 and s["bad_debt_usd"] == 0.0
    else:
        assert s["debt_repaid_usd"] == pytest.approx(1800.0 / 1.05, rel=1e-9)
        assert s["bad_debt_usd"] == pytest.approx(2000.0 - 1800.0 / 1.05, rel=1e-9)


# --- version names ----------------------------------------------------------------------------------


def test_version_names():
    assert [parse_version(n) for n in ("3.0-3.2", "3.3-3.4", "3.5", "3.6", "3.7")] == list(ALL)
    assert parse_version("3.3–3.4") == V3_3  # an en dash, as the reference writes it
    for bad in ("3.4", "3.8", "v3.3", ""):
        with pytest.raises(ConfigError, match="market.version"):
            parse_version(bad, "scenario.toml", "market.version")


def test_group_name_35_36_is_resolved_by_the_parameters():
    # the reference's "3.5-3.6": fine where the two rule sets cannot differ (no LT-0 asset in an
    # e-mode), refused, naming the asset, where they do, and refused without parameters
    assert emode_only_collateral(PARAMS) == [] and emode_only_collateral(EMODE_PARAMS) == ["EMO"]
    assert parse_version("3.5-3.6", params=PARAMS) == V3_5
    with pytest.raises(ConfigError, match=r"s.toml: market.version: expected '3.5' or '3.6'.*EMO"):
        parse_version("3.5-3.6", "s.toml", "market.version", EMODE_PARAMS)
    with pytest.raises(ConfigError, match="'3.5' or '3.6'"):
        parse_version("3.5-3.6")
    # an e-mode without an asset list takes its members from the assets' own category
    own = RiskParams.from_assets(
        [AssetParams("WETH", 18, 0.8, 0.85, 0.05, 0.1), AssetParams("EMO", 18, 0.0, 0.0, 0.0, 0.1, emode_category=1)],
        [EModeCategory(1, "own", 0.85, 0.9, 0.03)],
    )
    assert emode_only_collateral(own) == ["EMO"]


SCENARIO = """
name = "versions"
[market]
protocol = "aave_v3"
version = "{version}"
assets = ["WETH", "USDC"]
[positions]
source = "file"
path = "book.csv"
[shock]
WETH = 0.3
"""


@pytest.mark.parametrize(
    "name,rule_set",
    [("3.0-3.2", "3.0-3.2"), ("3.3-3.4", "3.3-3.4"), ("3.5-3.6", "3.5"), ("3.5", "3.5"), ("3.6", "3.6"), ("3.7", "3.7")],
)
def test_every_name_runs_from_a_scenario_file(tmp_path, name, rule_set):
    # 10 WETH against 15000 USDC: HF 18168.5 * 0.83 / 15000 ~ 1.005 before, ~0.70 after -30 %
    (tmp_path / "book.csv").write_text("account,asset,collateral,debt\n0x01,WETH,10,0\n0x01,USDC,0,15000\n")
    (tmp_path / "s.toml").write_text(SCENARIO.format(version=name))
    res = api.run(tmp_path / "s.toml", store=None)
    assert res.summary["version"] == rule_set
    assert res.summary["accounts_liquidated"] == 1
