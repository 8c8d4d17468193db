"""Keeper-managed owners (engine/dynamic/keepers.py): a bot that reads the OSM's next price
repays, by selling collateral, to its target before that price reaches the protocol. Hand
cases on one account.

The account: 1 WETH (LT 0.85) against 1,500 USDC; WETH 2,000 then 1,600 from block 1; blocks
of 600 s and an OSM of one-hour hops. The OSM pokes at t = 3,600 (block 6: cur 2,000, next
1,600) and t = 7,200 (block 12: cur 1,600). At 1,600 HF = 1,600 * 0.85 / 1,500 = 0.90667.
"""

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
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


@settings(max_examples=40, deadline=None)
@given(debt=st.floats(500.0, 1650.0), drop=st.floats(0.05, 0.45), target=st.floats(1.01, 2.0))
def test_an_uncapped_repay_lands_on_the_target_at_the_announced_price(debt, drop, target):
    # HF = coll * P * 0.85 / debt is linear in what is sold: after selling w at P and repaying
    # w * P the HF at P is the target, whatever the account and the move (when the bot acts)
    p1 = 2000.0 * (1.0 - drop)
    hf = p1 * 0.85 / debt
    m = MarketModel(book([("a", "WETH", 1.0, 0.0), ("a", "USDC", 0.0, debt)]), AaveV3Rules(PARAMS, V3_3), PRICES, {})
    path = instant_shock({"WETH": 2000.0}, {"WETH": -drop}, n_blocks=8, block_seconds=600)
    res = simulate(m, path, MakerOSM(3600), SETTINGS, keepers=bot(trigger=target * 0.999, target=target))
    s = res.summary
    if hf >= target * 0.999 or 2000.0 * 0.85 / debt < target * 0.999:
        return  # no repay due, or one due at the start already (below its band before the move)
    if debt >= p1:  # the debt is worth the collateral or more: selling it cannot restore the vault
        assert s["managed_repays"] == 0
        return
    assert s["managed_repays"] == 1 and s["accounts_liquidated"] == 0
    coll, left = 1.0 - s["managed_withdrawn_WETH"], debt - s["managed_repaid_USDC"]
    assert coll * p1 * 0.85 / left == pytest.approx(target, rel=1e-9)
    assert s["managed_repaid_USDC"] == pytest.approx(s["managed_withdrawn_WETH"] * p1, rel=1e-12)


def test_keepers_compose_with_modelled_reactions():
    # reactions that never fire (probability 0) leave the bot's repay as it is alone; the two
    # steps keep their own tallies in the summary
    from liqcascade.model.behaviour import BehaviourParams

    quiet = BehaviourParams((-0.5, 0.0, 0.5, 2.0), (0.0,) * 3, (0.0,) * 3, 1.5, 1.2, 0.0, 0)
    m = MarketModel(book([("a", "WETH", 1.0, 0.0), ("a", "USDC", 0.0, 1500.0), ("b", "WETH", 10.0, 0.0)]),
                    AaveV3Rules(PARAMS, V3_3), PRICES, {})
    both = simulate(m, PATH, MakerOSM(3600), SETTINGS, keepers=bot(), behaviour=quiet).summary
    alone = run(bot()).summary
    assert both["owner_protects"] == 0 and both["managed_repays"] == alone["managed_repays"] == 1
    assert both["managed_repaid_USDC"] == alone["managed_repaid_USDC"]


def test_a_bot_acts_only_from_its_onset():
    # active from block 13's start: at blocks 7-12 it is no bot yet, and the account is
    # liquidated at block 12 as without one; active from block 8: it repays there (the
    # announced price is still 1,600 and it has not acted on this hop) and saves the account
    late = KeeperBook(np.array(["a"], dtype=object), np.array([1.05]), np.array([1.2]), np.array([1e9]),
                      active_from=np.array([float(PATH.times[13])]))
    res = run(late)
    assert int(res["events"]["block"].iloc[0]) == 12 and res.summary["managed_repays"] == 0
    soon = KeeperBook(np.array(["a"], dtype=object), np.array([1.05]), np.array([1.2]), np.array([1e9]),
                      active_from=np.array([float(PATH.times[8])]))
    res = run(soon)
    assert res.summary["accounts_liquidated"] == 0 and res.summary["managed_repays"] == 1
    w = 440.0 / 560.0  # as at block 7: the same prices
    assert res.summary["managed_withdrawn_WETH"] == pytest.approx(w, rel=1e-12)


def test_an_onset_must_be_a_time():
    with pytest.raises(ConfigError, match="active_from"):
        KeeperBook(np.array(["a"], dtype=object), np.array([1.05]), np.array([1.2]), np.array([1.0]),
                   active_from=np.array([np.nan]))


# --------------------------------------------------------------------------- bots that stop
# The OSM's price (what the idle movement sums) is 2,000 until block 12, then 1,600: a move of
# ln(2000 / 1600) = 0.22314. The bot wants to act at block 7 (next price 1,600).


def idle_bot(idle: float, limit: float) -> KeeperBook:
    return KeeperBook(np.array(["a"], dtype=object), np.array([1.05]), np.array([1.2]), np.array([1e9]),
                      idle_move=np.array([idle]), max_idle_move=limit)


def test_a_bot_idle_beyond_the_limit_counts_as_stopped():
    # idle 0.25 > 0.2 at the start and no recorded action: it does nothing, as without a bot
    res = run(idle_bot(0.25, 0.2))
    assert res.summary["managed_repays"] == 0 and res.summary["managed_stopped"] >= 1
    assert int(res["events"]["block"].iloc[0]) == 12


def test_a_bot_idle_within_the_limit_acts():
    # idle 0.15 <= 0.2 and the OSM's price has not moved by block 7: it repays as without the rule
    res = run(idle_bot(0.15, 0.2))
    assert res.summary["accounts_liquidated"] == 0 and res.summary["managed_repays"] == 1
    assert res.summary["managed_stopped"] == 0


def test_the_oracles_movement_counts_towards_the_limit():
    # two owners (working accounts 0 and 1; assets WETH and a stable at 1), idle 0 and 0.1 at
    # the start: each block adds |ln(p / p_before)| of the asset that moved most; an owner's
    # recorded action restarts its sum at 0
    from liqcascade.engine.dynamic.keepers import KeeperState, _idle
    from liqcascade.engine.dynamic.owners import OwnerState

    ks = KeeperState(np.array([0, 1]), np.ones(2), np.ones(2) * 2, np.ones(2), idle0=np.array([0.0, 0.1]),
                     since=np.zeros((2, 2)), moved=np.zeros(2), max_idle=0.2)
    ow = OwnerState.__new__(OwnerState)
    ow.touched = np.empty(0, dtype=np.int64)
    assert _idle(ks, ow, np.array([2000.0, 1.0])).tolist() == [0.0, 0.1]
    got = _idle(ks, ow, np.array([1600.0, 1.0]))
    assert got == pytest.approx([math.log(1.25), 0.1 + math.log(1.25)], rel=1e-12)
    back = _idle(ks, ow, np.array([2000.0, 1.0]))  # back up: the movement adds, it does not net
    assert back == pytest.approx([2 * math.log(1.25), 0.1 + 2 * math.log(1.25)], rel=1e-12)
    ow.touched = np.array([1])  # owner of working account 1 acted: its idle restarts at 0
    assert _idle(ks, ow, np.array([2000.0, 1.0])) == pytest.approx([2 * math.log(1.25), 0.0], abs=1e-15)
    ow.touched = np.empty(0, dtype=np.int64)  # the next block: no action
    assert _idle(ks, ow, np.array([1000.0, 1.0])) == pytest.approx([2 * math.log(1.25) + math.log(2.0),
                                                                     math.log(2.0)], rel=1e-12)


def test_a_recorded_action_wakes_a_stopped_bot():
    # idle 0.25 > 0.2 at the start, but its owner deposits 0.001 WETH before block 3: the idle
    # movement restarts at 0 and the bot repays at block 7 as in the plain case (the deposit
    # moves the target's arithmetic: the account is saved, which is what is checked)
    from liqcascade.engine.dynamic.owners import ACTIONS, OwnerActions

    acts = OwnerActions(np.array([3]), np.array(["a"], dtype=object), np.array([ACTIONS.index("deposit")]),
                        np.array(["WETH"], dtype=object), np.array([0.001]))
    m = MarketModel(book([("a", "WETH", 1.0, 0.0), ("a", "USDC", 0.0, 1500.0), ("b", "WETH", 10.0, 0.0)]),
                    AaveV3Rules(PARAMS, V3_3), PRICES, {})
    res = simulate(m, PATH, MakerOSM(3600), SETTINGS, keepers=idle_bot(0.25, 0.2), owner_actions=acts)
    assert res.summary["accounts_liquidated"] == 0 and res.summary["managed_repays"] == 1
    assert res.summary["managed_stopped"] == 0


def test_a_limit_must_be_positive_and_idle_moves_finite():
    with pytest.raises(ConfigError, match="max_idle_move"):
        idle_bot(0.1, 0.0)
    with pytest.raises(ConfigError, match="idle_move"):
        idle_bot(-0.1, 0.2)


def test_a_recorded_action_before_block_0_wakes_a_stopped_bot_too():
    # the same deposit applied before block 0 (the run's first step): the bot is awake from the start
    from liqcascade.engine.dynamic.owners import ACTIONS, OwnerActions

    acts = OwnerActions(np.array([0]), np.array(["a"], dtype=object), np.array([ACTIONS.index("deposit")]),
                        np.array(["WETH"], dtype=object), np.array([0.001]))
    m = MarketModel(book([("a", "WETH", 1.0, 0.0), ("a", "USDC", 0.0, 1500.0), ("b", "WETH", 10.0, 0.0)]),
                    AaveV3Rules(PARAMS, V3_3), PRICES, {})
    res = simulate(m, PATH, MakerOSM(3600), SETTINGS, keepers=idle_bot(0.25, 0.2), owner_actions=acts)
    assert res.summary["accounts_liquidated"] == 0 and res.summary["managed_repays"] == 1
