"""examples/system_pegs_2023.toml and what docs/system.md says of it: the cited figures in the
scenario, the PSM holding DAI at 1 / (1 - tin), LUSD redeemed up to 1 - its own fee, supply
conservation per coin, and the section's numbers from a run."""

import tomllib
from pathlib import Path

import pytest

from liqcascade.engine.system_pegs import REDEMPTION_FEE_FLOOR
from liqcascade.engine.system_run import run_system
from liqcascade.io.system import build_system, parse_system

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "system_pegs_2023.toml"
DOC = (REPO / "docs" / "system.md").read_text()
SECTION = DOC[DOC.index("### What holds a coin to its peg"):DOC.index("## Monte Carlo, calibration and sweeps")]


def _says(text: str) -> None:
    assert text in SECTION, f"docs/system.md no longer says {text!r}"


def run(edit=None):
    d = tomllib.loads(EXAMPLE.read_text())
    if edit is not None:
        edit(d)
    ss = build_system(parse_system(d, str(EXAMPLE)), EXAMPLE.parent, str(EXAMPLE))
    return ss, run_system(ss.model, ss.config.shock, ss.settings, ss.market_settings)


@pytest.fixture(scope="module")
def result():
    return run()


def test_the_cited_figures_are_the_scenarios():
    d = tomllib.loads(EXAMPLE.read_text())
    psm = d["stablecoins"]["DAI"]["psm"]
    assert psm["gem_balance"] == 60e6  # "dropped below $60 million" on 2023-10-31
    lusd = d["stablecoins"]["LUSD"]
    # 212M USD of market cap over LUSD's reference price 0.99434328, rounded up
    assert lusd["supply"] == pytest.approx(212e6 / 0.99434328, abs=0.01e6) and lusd["supply"] >= 212e6 / 0.99434328
    venues = {v["asset"]: v for v in d["venues"] if v["kind"] == "cpmm"}
    assert venues["DAI"]["reserve_usd"] == pytest.approx(3 * 381.6e6)


def test_the_psm_holds_dai_at_its_band_and_conserves_the_supply(result):
    ss, res = result
    coin = res["stablecoins"].set_index("asset")
    dai = coin.loc["DAI"]
    assert dai["price_final"] == pytest.approx(1.0, rel=1e-12)  # 1 / (1 - tin), tin = 0
    # USDC in = coins minted (tin 0); USDC out = coins burnt (tout 0)
    assert dai["psm_gem_end"] == pytest.approx(60e6 + dai["psm_minted"] - dai["psm_burnt"], rel=1e-12)
    assert dai["psm_minted"] == pytest.approx(dai["bought"], rel=1e-9)  # every DAI the keepers bought, minted back
    _says("the PSM first buys 57.2k DAI")
    assert dai["psm_burnt"] == pytest.approx(57.2e3, abs=0.05e3)
    _says("mints 31.43M DAI")
    assert dai["psm_minted"] == pytest.approx(31.43e6, abs=0.005e6)
    _says("holds\n91.37M USD of USDC")
    assert dai["psm_gem_end"] == pytest.approx(91.37e6, abs=0.005e6)
    m = res["markets"].set_index("market").loc["maker_eth_a"]
    _says("Maker ETH-A liquidates 147 vaults ($35.75M of collateral)")
    assert m["accounts_liquidated"] == 147
    assert m["collateral_seized_usd"] == pytest.approx(35.75e6, abs=0.005e6)


def test_lusd_is_redeemed_up_to_one_minus_its_fee(result):
    ss, res = result
    lusd = res["stablecoins"].set_index("asset").loc["LUSD"]
    supply = 213.21e6
    fee = REDEMPTION_FEE_FLOOR + lusd["redeemed"] / (2 * supply)
    # a fee-free pool: its purchase price is its sale price, at 1 - fee after the redemption
    assert lusd["price_final"] == pytest.approx(1.0 - fee, rel=1e-9)
    burnt = lusd["redemption_debt_cancelled"] + lusd["debt_repaid"]
    assert lusd["supply_end"] == pytest.approx(supply - burnt, rel=1e-12)
    assert lusd["redemption_debt_cancelled"] == pytest.approx(lusd["redeemed"] + 200.0 * lusd["troves_closed"])
    # redeemed in the first round, at the shocked ETH price (before any sale moved it)
    assert lusd["redemption_collateral_drawn"] * 1816.0097 * 0.7 == pytest.approx(lusd["redeemed"], rel=1e-12)
    _says("arbitrageurs redeem 17,023 LUSD against\nthe lowest troves (2 closed), LUSD ends at 0.99496")
    assert lusd["redeemed"] == pytest.approx(17_023, abs=0.5) and lusd["troves_closed"] == 2
    assert lusd["price_final"] == pytest.approx(0.99496, abs=0.000005)
    _says("its supply at 213.19M")
    assert lusd["supply_end"] == pytest.approx(213.19e6, abs=0.005e6)


def test_without_the_psm_the_squeeze_liquidates_more():
    _, res = run(lambda d: d["stablecoins"]["DAI"].pop("psm"))
    dai = res["stablecoins"].set_index("asset").loc["DAI"]
    m = res["markets"].set_index("market").loc["maker_eth_a"]
    _says("lift DAI to 1.419 and, owing a dearer coin, 614 vaults are liquidated\n($244.6M)")
    assert dai["price_final"] == pytest.approx(1.419, abs=0.0005)
    assert m["accounts_liquidated"] == 614
    assert m["collateral_seized_usd"] == pytest.approx(244.6e6, abs=0.05e6)
