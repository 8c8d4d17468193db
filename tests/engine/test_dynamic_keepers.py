"""Keeper-managed owners (engine/dynamic/keepers.py): a bot that reads the OSM's next price
repays, by selling collateral, to its target before that price reaches the protocol. Hand
cases on one account.

The account: 1 WETH (LT 0.85) against 1,500 USDC; WETH 2,000 then 1,600 from block 1; blocks
of 600 s and an OSM of one-hour hops. The OSM pokes at t = 3,600 (block 6: cur 2,000, next
1,600) and t = 7,200 (block 12: cur 1,600). At 1,600 HF = 1,600 * 0.85 / 1,500 = 0.90667.
"""

import math

import numpy as np
import pytest

from liqcascade.engine.dynamic import Dynamics, Liquidators, SimSettings, simulate
from liqcascade.engine.static import MarketModel
from liqcascade.errors import ConfigError
from liqcascade.markets.oracle import MakerOSM
from liqcascade.model.keepers import KeeperBook
from liqcascade.protocols.aave_v3 import V3_3
from liqcascade.protocols.aave_v3.rules import AaveV3Rules
from liqcascade.scenarios import instant_shock

from .conftest import PARAMS, PRICES, book

SETTINGS = SimSettings(Liquidators(calls_per_account=64, gas_asset=None, min_profit_usd=-math.inf),
                       Dynamics(recovery_half_life_s=math.inf), check_conservation=True)
PATH = instant_shock({"WETH": 2000.0}, {"WETH": -0.2}, n_blocks=18, block_seconds=600)


def run(keepers=None):
    m = MarketModel(book([("a", "WETH", 1.0, 0.0), ("a", "USDC", 0.0, 1500.0), ("b", "WETH", 10.0, 0.0)]),
                    AaveV3Rules(PARAMS, V3_3), PRICES, {})
    return simulate(m, PATH, MakerOSM(3600), SETTINGS, keepers=keepers)


def bot(trigger=1.05, target=1.2, cap=1e9):
    return KeeperBook(np.array(["a"], dtype=object), np.array([trigger]), np.array([target]), np.array([cap]))


def test_without_a_bot_the_account_is_liquidated_when_the_next_price_arrives():
    res = run()
    assert list(res["events"]["account_id"].astype(str)) == ["a"]
    assert int(res["events"]["block"].iloc[0]) == 12


def test_the_bot_repays_to_its_target_on_the_announced_price():
    # at block 7 the bot reads next = 1,600: HF 0.90667 < 1.05. Selling w WETH at 1,600 to repay
    # w * 1,600 USDC brings HF to 1.2: w = (1.2 * 1500 - 1360) / (1.2 * 1600 - 1360) = 440 / 560
    res = run(bot())
    s = res.summary
    assert s["accounts_liquidated"] == 0
    assert s["managed_accounts"] == 1 and s["managed_repays"] == 1 and s["managed_repays_capped"] == 0
    w = 440.0 / 560.0
    assert s["managed_withdrawn_WETH"] == pytest.approx(w, rel=1e-12)
    assert s["managed_repaid_USDC"] == pytest.approx(w * 1600.0, rel=1e-12)


def test_no_repay_above_the_trigger():
    res = run(bot(trigger=0.9, target=1.2))  # HF 0.90667 at the next price: above this trigger
    assert res.summary["managed_repays"] == 0 and res.summary["accounts_liquidated"] == 1


def test_a_capped_bot_repays_once_per_announced_price_and_is_liquidated():
    # 300 USDC for 0.1875 WETH: HF at 1,600 = 0.8125 * 1360 / 1200 = 0.92083 < 1; the next
    # announced price (block 12) is the one that liquidates it
    res = run(bot(cap=300.0))
    s = res.summary
    assert s["managed_repays"] == 1 and s["managed_repays_capped"] == 1
    assert s["managed_repaid_USDC"] == pytest.approx(300.0, rel=1e-12)
    assert int(res["events"]["block"].iloc[0]) == 12


def test_an_unknown_account_is_an_error():
    with pytest.raises(ConfigError, match="keepers.account"):
        run(KeeperBook(np.array(["zz"], dtype=object), np.array([1.05]), np.array([1.2]), np.array([1.0])))


def test_a_target_not_above_the_trigger_is_an_error():
    with pytest.raises(ConfigError, match="target_hf"):
        bot(trigger=1.2, target=1.1)
