"""Owners' actions between blocks and debt accrual in the block-by-block simulation:
hand cases for the clamp policy and the order of application, accrual against its
closed form, determinism."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liqcascade.engine.dynamic import Dynamics, Liquidators, SimSettings, simulate
from liqcascade.engine.dynamic.owners import ACTIONS, DebtAccrual, OwnerActions
from liqcascade.engine.static import MarketModel
from liqcascade.markets.oracle import Instant
from liqcascade.protocols.aave_v3 import V3_3
from liqcascade.protocols.aave_v3.rules import AaveV3Rules
from liqcascade.scenarios import instant_shock

from .conftest import PARAMS, PRICES, book

UNBOUNDED = Liquidators(calls_per_account=64, gas_asset=None, min_profit_usd=-math.inf)
CHECKED = SimSettings(UNBOUNDED, Dynamics(recovery_half_life_s=math.inf), check_conservation=True)


def actions(rows):
    """rows: (block, account, action, asset, amount)."""
    return OwnerActions(
        block=np.array([r[0] for r in rows], dtype=np.int64),
        account=np.array([r[1] for r in rows], dtype=object),
        action=np.array([ACTIONS.index(r[2]) for r in rows], dtype=np.int64),
        asset=np.array([r[3] for r in rows], dtype=object),
        amount=np.array([r[4] for r in rows], dtype=float),
    )


def market(rows):
    return MarketModel(book(rows), AaveV3Rules(PARAMS, V3_3), PRICES, {})


SHOCK = instant_shock({"WETH": 2000.0}, {"WETH": -0.2}, n_blocks=5)  # 2000, then 1600 from block 1


def test_withdraw_after_liquidation_is_clamped_to_zero_and_recorded():
    # HF at 1600: 1 * 1600 * 0.85 / 1600 = 0.85 < 0.95 -> the whole debt is closed at block 1;
    # 1600 * 1.05 / 1600 = 1.05 WETH > 1 WETH, so every WETH is seized.
    m = market([("a", "WETH", 1.0, 0.0), ("a", "USDC", 0.0, 1600.0)])
    acts = actions([(3, "a", "withdraw", "WETH", 0.5)])
    res = simulate(m, SHOCK, Instant(), CHECKED, owner_actions=acts)
    assert res.summary["accounts_liquidated"] == 1
    c = res["conflicts"]
    assert len(c) == 1
    row = c.iloc[0]
    assert (row["block"], row["account_id"], row["action"], row["asset"]) == (3, "a", "withdraw", "WETH")
    assert row["asked"] == 0.5 and row["applied"] == 0.0 and row["reason"] == "liquidated"
    assert res.summary["owner_conflicts"] == 1 and res.summary["owner_actions_applied"] == 1


def test_new_account_and_unsafe_withdrawal_clamped_to_hf_one():
    # b is opened at block 1 (prices of block 0: 2000): HF = 2 * 2000 * 0.85 / 1000 = 3.4.
    # At block 2 (prices of block 1: 1600) a withdrawal of 2 WETH may leave
    # 1000 / (1600 * 0.85) = 0.73529... WETH, so 2 - 0.73529... is applied.
    m = market([("a", "WETH", 10.0, 0.0), ("a", "USDC", 0.0, 1000.0)])
    acts = actions([(1, "b", "open", "", 0.0), (1, "b", "deposit", "WETH", 2.0), (1, "b", "borrow", "USDC", 1000.0),
                    (2, "b", "withdraw", "WETH", 2.0)])
    res = simulate(m, SHOCK, Instant(), CHECKED, owner_actions=acts)
    c = res["conflicts"]
    assert list(c["reason"]) == ["unsafe"]
    assert c["applied"].iloc[0] == pytest.approx(2.0 - 1000.0 / (1600.0 * 0.85), rel=1e-12)
    assert res.summary["accounts"] == 2 and res.summary["accounts_liquidated"] == 0


@pytest.mark.parametrize("order, applied", [(("deposit", "withdraw"), 3.0), (("withdraw", "deposit"), 0.0)])
def test_actions_of_one_block_apply_in_file_order(order, applied):
    m = market([("a", "WETH", 10.0, 0.0), ("a", "USDC", 0.0, 1000.0), ("c", "DAI", 5.0, 0.0)])
    amounts = {"deposit": 3.0, "withdraw": 3.0}
    acts = actions([(2, "c", kind, "WETH", amounts[kind]) for kind in order])
    res = simulate(m, SHOCK, Instant(), CHECKED, owner_actions=acts)
    c = res["conflicts"]
    if applied == 3.0:
        assert c.empty  # deposited first: the withdrawal finds 3 WETH
    else:
        assert list(c["reason"]) == ["exceeds balance"] and c["applied"].iloc[0] == 0.0


def test_repay_beyond_debt_is_clamped_and_debt_never_negative():
    m = market([("a", "WETH", 10.0, 0.0), ("a", "USDC", 0.0, 1000.0)])
    acts = actions([(1, "a", "repay", "USDC", 1500.0), (2, "a", "close", "", 0.0)])
    res = simulate(m, SHOCK, Instant(), CHECKED, owner_actions=acts)
    c = res["conflicts"]
    assert list(c["reason"]) == ["exceeds balance"] and c["applied"].iloc[0] == 1000.0
    assert res.summary["below_hf1_accounts_end"] == 0


def test_accrual_grows_debt_by_the_accumulator_ratio():
    # rate = duty ** t with duty for 5 %/yr: over one year the debt grows by exactly 5 %;
    # with no price move nothing is liquidated.
    year = 365 * 24 * 3600
    path = instant_shock({"WETH": 2000.0}, {"WETH": 0.0}, n_blocks=3, block_seconds=year // 2)
    t = np.asarray(path.times - path.times[0], dtype=float)
    rate = np.exp(t * math.log1p(0.05) / year)
    m = market([("a", "WETH", 10.0, 0.0), ("a", "USDC", 0.0, 1000.0)])
    res = simulate(m, path, Instant(), CHECKED, accrual=(DebtAccrual("USDC", rate),))
    assert res.summary["debt_accrued_USDC"] == pytest.approx(50.0, rel=1e-12)
    assert res.summary["owner_actions_applied"] == 0 and res["conflicts"].empty


def test_accrual_alone_can_make_an_account_eligible():
    # HF 10 * 2000 * 0.85 / 16000 = 1.0625; debt doubling over the run crosses HF 1
    path = instant_shock({"WETH": 2000.0}, {"WETH": 0.0}, n_blocks=4)
    m = market([("a", "WETH", 10.0, 0.0), ("a", "USDC", 0.0, 16000.0)])
    rate = np.array([1.0, 1.0, 1.1, 1.1])
    res = simulate(m, path, Instant(), CHECKED, accrual=(DebtAccrual("USDC", rate),))
    ev = res["events"]
    assert list(ev["block"]) == [2]


def test_deterministic_with_actions():
    m = market([("a", "WETH", 1.0, 0.0), ("a", "USDC", 0.0, 1500.0), ("b", "WETH", 3.0, 0.0)])
    acts = actions([(1, "b", "borrow", "USDC", 2000.0), (2, "a", "deposit", "WETH", 0.1),
                    (3, "a", "withdraw", "WETH", 5.0)])
    a = simulate(m, SHOCK, Instant(), CHECKED, owner_actions=acts)
    b = simulate(m, SHOCK, Instant(), CHECKED, owner_actions=acts)
    for name in ("steps", "events", "summary", "conflicts"):
        assert a[name].equals(b[name]), name


def test_repayment_leaving_less_than_dust_repays_all():
    # debt 1000; a repayment of 990 would leave 10 < dust 50: the whole 1000 is repaid
    m = market([("a", "WETH", 10.0, 0.0), ("a", "USDC", 0.0, 1000.0)])
    acts = actions([(1, "a", "repay", "USDC", 990.0), (2, "a", "withdraw", "WETH", 10.0)])
    acts = OwnerActions(acts.block, acts.account, acts.action, acts.asset, acts.amount, dust={"USDC": 50.0})
    res = simulate(m, SHOCK, Instant(), CHECKED, owner_actions=acts)
    c = res["conflicts"]
    assert list(c["reason"]) == ["dust"] and c["asked"].iloc[0] == 990.0 and c["applied"].iloc[0] == 1000.0
    # with no debt left the whole collateral can go: no clamp on the withdrawal
    assert res.summary["owner_conflicts"] == 1


def test_borrow_leaving_less_than_dust_is_refused():
    # a new account's first borrow of 30 < dust 50 would leave a dusty debt: not applied
    m = market([("a", "WETH", 10.0, 0.0), ("a", "USDC", 0.0, 1000.0)])
    acts = actions([(1, "b", "deposit", "WETH", 1.0), (1, "b", "borrow", "USDC", 30.0),
                    (2, "b", "borrow", "USDC", 60.0)])
    acts = OwnerActions(acts.block, acts.account, acts.action, acts.asset, acts.amount, dust={"USDC": 50.0})
    res = simulate(m, SHOCK, Instant(), CHECKED, owner_actions=acts)
    c = res["conflicts"]
    assert list(c["reason"]) == ["dust"] and c["applied"].iloc[0] == 0.0 and c["block"].iloc[0] == 1


_ACTION_ROWS = st.lists(
    st.tuples(st.integers(0, 7), st.sampled_from(["a", "b", "n"]), st.sampled_from(ACTIONS),
              st.sampled_from(["WETH", "USDC"]), st.floats(0.01, 5000.0)),
    min_size=1, max_size=12,
)


@settings(max_examples=40, deadline=None)
@given(_ACTION_ROWS, st.floats(0.0, 0.5))
def test_any_actions_keep_the_books_balanced(rows, drop):
    """Whatever the owners do: conservation holds every block (checked by the engine), no
    balance goes negative, and only a dust rule applies more than was asked."""
    rows = sorted(rows, key=lambda r: r[0])
    fixed = [(b, acct, kind, "" if kind in ("open", "close") else asset,
              0.0 if kind in ("open", "close") else amount) for b, acct, kind, asset, amount in rows]
    m = market([("a", "WETH", 2.0, 0.0), ("a", "USDC", 0.0, 2500.0), ("b", "WETH", 1.0, 0.0)])
    path = instant_shock({"WETH": 2000.0}, {"WETH": -drop}, n_blocks=8)
    res = simulate(m, path, Instant(), CHECKED, owner_actions=actions(fixed))
    c = res["conflicts"]
    assert (c["applied"] >= 0).all()
    assert (c.loc[c["reason"] != "dust", "applied"] <= c.loc[c["reason"] != "dust", "asked"]).all()
    assert res.summary["owner_actions_applied"] == len(fixed)
