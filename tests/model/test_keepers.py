"""The keeper-managed owners' classifier and band (model/keepers.py), on hand histories."""

import math

import numpy as np
import pandas as pd
import pytest

from liqcascade.errors import ConfigError
from liqcascade.model.keepers import HISTORY_COLUMNS, KeeperRule, fit_keepers


def pair(account, block, kind_a, kind_b, before, after, repaid=0.0):
    """A two-sided block: two actions of one account, the ratio before the first and after the second."""
    return [(account, block, kind_a, before, math.nan, 0.0), (account, block, kind_b, math.nan, after, repaid)]


def history(rows):
    return pd.DataFrame(rows, columns=list(HISTORY_COLUMNS))


def bot_rows(account="bot"):
    rows = []
    # five protective repays: before 1.30, 1.31, 1.32, 1.28, 1.29 -> median 1.30;
    # after 1.40, 1.41, 1.39, 1.42, 1.40 -> median 1.40; the largest repay 900
    for k, (b, a, r) in enumerate(zip((1.30, 1.31, 1.32, 1.28, 1.29), (1.40, 1.41, 1.39, 1.42, 1.40),
                                      (100.0, 900.0, 300.0, 200.0, 500.0))):
        rows += pair(account, 10 + k, "withdraw", "repay", b, a, r)
    # a repay that lowered the ratio (trimming collateral) says nothing of the trigger
    rows += pair(account, 30, "withdraw", "repay", 2.0, 1.5, 5000.0)
    return rows


def test_a_bot_gets_the_median_band_of_its_protective_repays():
    fit = fit_keepers(history(bot_rows()))
    k = fit.keepers.set_index("account").loc["bot"]
    assert k["trigger"] == pytest.approx(1.30) and k["target"] == pytest.approx(1.40)
    assert k["max_repay"] == 900.0
    row = fit.table.set_index("account").loc["bot"]
    assert row["pairs"] == 6 and row["repays"] == 6


def test_openings_and_one_sided_actions_are_not_a_bot():
    rows = []
    for k in range(8):  # eight deposit-and-borrow blocks into a vault without debt before: openings
        rows += pair("opener", k, "deposit", "borrow", math.nan, 1.8)
    rows += [("hand", k, "repay", 1.3, 1.4, 100.0) for k in range(8)]  # repays without withdrawals
    fit = fit_keepers(history(rows).assign(drawn=100.0))
    assert fit.keepers.empty
    t = fit.table.set_index("account")
    assert t.loc["opener", "pairs"] == 8 and t.loc["opener", "repays"] == 0 and t.loc["hand", "pairs"] == 0


def boost_rows(account="booster", befores=(1.60, 1.55, 1.52, 1.58, 1.56), afters=(1.50, 1.45, 1.40, 1.48, 1.46)):
    """Five deposit-and-draw blocks of a vault in debt (HISTORY_COLUMNS rows)."""
    rows = []
    for k, (b, a) in enumerate(zip(befores, afters)):
        rows += pair(account, 10 + k, "deposit", "borrow", b, a)
    return rows


def with_drawn(rows, drawn):
    """``rows`` as a history whose k-th borrow drew ``drawn[k]`` debt tokens."""
    h = history(rows)
    d = np.zeros(len(h))
    d[np.flatnonzero((h["kind"] == "borrow").to_numpy())] = drawn
    return h.assign(drawn=d)


def test_a_booster_is_a_bot_with_the_band_of_its_boosts():
    # five boosts, each lowering the ratio: after 1.50, 1.45, 1.40, 1.48, 1.46 -> the lowest
    # 1.40 is the trigger, the median 1.46 the target; the largest draw (300) is max_repay
    fit = fit_keepers(with_drawn(boost_rows(), [100.0, 300.0, 200.0, 50.0, 250.0]))
    k = fit.keepers.set_index("account").loc["booster"]
    assert (k["trigger"], k["target"], k["max_repay"]) == (1.40, 1.46, 300.0)
    assert fit.table.set_index("account").loc["booster", "repays"] == 0
    # fewer boosts than the rule asks: no bot
    assert fit_keepers(with_drawn(boost_rows(), [100.0] * 5), KeeperRule(min_boosts=6)).keepers.empty
    # without the drawn column a boost-only owner has no max_repay: no band, no bot
    assert fit_keepers(history(boost_rows())).keepers.empty


def test_a_draw_and_deposit_that_raised_the_ratio_is_not_a_boost():
    # the same five blocks with before and after swapped: each raised the ratio (a top-up)
    rows = boost_rows(befores=(1.50, 1.45, 1.40, 1.48, 1.46), afters=(1.60, 1.55, 1.52, 1.58, 1.56))
    fit = fit_keepers(with_drawn(rows, [100.0] * 5))
    assert fit.keepers.empty and fit.table.loc[0, "pairs"] == 5


def test_a_protective_repay_sets_the_band_over_boosts():
    # five boosts and one protective repay (1.30 -> 1.40, 700 repaid): the repay's band wins
    rows = boost_rows() + pair("booster", 40, "withdraw", "repay", 1.30, 1.40, 700.0)
    k = fit_keepers(with_drawn(rows, [100.0] * 5)).keepers.set_index("account").loc["booster"]
    assert (k["trigger"], k["target"], k["max_repay"]) == (1.30, 1.40, 700.0)


def test_a_booster_qualified_in_the_window_is_a_bot_from_its_third_boost():
    # two openings and two boosts before the window, a third boost at start + 3600 (its draw at
    # + 3720): five pairs, three boosts -> a bot from + 3720, trigger min(1.45, 1.40, 1.48) = 1.40,
    # target the median 1.45
    start = 1_000_000.0
    rows = pair("late", 1, "deposit", "borrow", math.nan, 2.0) + pair("late", 2, "deposit", "borrow", math.nan, 1.9)
    rows += boost_rows("late", befores=(1.55, 1.52, 1.58), afters=(1.45, 1.40, 1.48))
    times = [start - 5e5, start - 5e5, start - 4e5, start - 4e5, start - 3e5, start - 3e5 + 120.0,
             start - 2e5, start - 2e5 + 120.0, start + 3600.0, start + 3720.0]
    h = with_drawn(rows, [10.0, 10.0, 100.0, 200.0, 50.0]).assign(time=times)
    k = fit_keepers(h, start=start).keepers.set_index("account").loc["late"]
    assert (k["active_from"], k["trigger"], k["target"], k["max_repay"]) == (start + 3720.0, 1.40, 1.45, 200.0)
    assert fit_keepers(h.iloc[:8], start=start).keepers.empty


def test_fewer_two_sided_blocks_than_the_rule_is_not_a_bot():
    rows = bot_rows()
    assert fit_keepers(history(rows), KeeperRule(min_pairs=6)).keepers["account"].tolist() == ["bot"]
    assert fit_keepers(history(rows), KeeperRule(min_pairs=7)).keepers.empty


def test_ratios_without_a_price_give_no_band():
    rows = [(a, b, k, math.nan, math.nan, r) for a, b, k, _, _, r in bot_rows()]
    assert fit_keepers(history(rows)).keepers.empty


def test_bad_inputs_are_errors():
    with pytest.raises(ConfigError, match="history"):
        fit_keepers(pd.DataFrame({"account": []}))
    with pytest.raises(ConfigError, match="KeeperRule"):
        KeeperRule(min_pairs=0)
    with pytest.raises(ConfigError, match="min_boosts"):
        KeeperRule(min_boosts=0)
    assert fit_keepers(history([])).keepers.empty


def timed(rows, times):
    """``rows`` (HISTORY_COLUMNS tuples) with a ``time`` column."""
    return history(rows).assign(time=np.asarray(times, dtype=np.float64))


def split_pair(account, block, t, before, after, repaid, gap=120.0):
    """A deleverage in two transactions ``gap`` s apart: a withdrawal, then a repayment one block later."""
    rows = [(account, block, "withdraw", before, math.nan, 0.0), (account, block + 1, "repay", math.nan, after, repaid)]
    return rows, [t, t + gap]


def test_a_withdrawal_and_a_repayment_minutes_apart_are_one_operation():
    rows, times = [], []
    for k in range(5):  # five deleverages, each a withdrawal and a repayment 120 s apart, a day between them
        r, t = split_pair("hand", 100 + 10 * k, 86400.0 * k, 1.30, 1.40, 100.0 * (k + 1))
        rows, times = rows + r, times + t
    fit = fit_keepers(timed(rows, times))
    k = fit.keepers.set_index("account").loc["hand"]
    assert (k["trigger"], k["target"], k["max_repay"]) == (1.30, 1.40, 500.0)
    assert k["active_from"] == -math.inf  # every action before the (default) start
    # with operations joined only under 60 s the pairs are one-sided: no bot
    assert fit_keepers(timed(rows, times), KeeperRule(pair_gap_s=60)).keepers.empty
    # without times one block is one operation: the split pairs are not pairs
    assert fit_keepers(history(rows)).keepers.empty


def test_an_owner_qualified_by_the_window_is_a_bot_from_that_operation():
    # three pairs before the window (t < 1,000,000), then pairs at start + 86,400, + 200,000
    # and + 400,000: the fifth (its repayment at start + 200,120) qualifies the owner, with
    # the band of the five (before: median of 1.30, 1.32, 1.28, 1.34, 1.26 = 1.30; after: of
    # 1.40, 1.41, 1.39, 1.42, 1.38 = 1.40); the sixth (1.90 -> 2.50) would move the trigger
    # median to 1.31: it comes after the onset and is not read
    start = 1_000_000.0
    rows, times = [], []
    befores, afters = (1.30, 1.32, 1.28, 1.34, 1.26, 1.90), (1.40, 1.41, 1.39, 1.42, 1.38, 2.50)
    starts = (start - 3e5, start - 2e5, start - 1e5, start + 4e5, start + 86400.0, start + 2e5)
    for k, (b, a, t) in enumerate(zip(befores, afters, sorted(starts))):
        r, tt = split_pair("late", 10 * k, t, b, a, 100.0)
        rows, times = rows + r, times + tt
    fit = fit_keepers(timed(rows, times), start=start)
    k = fit.keepers.set_index("account").loc["late"]
    assert k["active_from"] == start + 2e5 + 120.0
    assert k["trigger"] == pytest.approx(1.30) and k["target"] == pytest.approx(1.40)
    # five pairs needed and only three before the window: before it, no bot
    assert fit_keepers(timed(rows, times).iloc[:6], start=start).keepers.empty
    # an owner qualified before the window is a bot from its start
    early = fit_keepers(timed(rows, times), KeeperRule(min_pairs=3), start=start).keepers
    assert early["active_from"].tolist() == [-math.inf]


def test_a_window_start_needs_times():
    with pytest.raises(ConfigError, match="time"):
        fit_keepers(history(bot_rows()), start=10.0)
