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
    for k in range(8):  # eight deposit-and-borrow blocks: boosts (or openings), no protective repay
        rows += pair("opener", k, "deposit", "borrow", 2.0, 1.8)
    rows += [("hand", k, "repay", 1.3, 1.4, 100.0) for k in range(8)]  # repays without withdrawals
    fit = fit_keepers(history(rows))
    assert fit.keepers.empty
    t = fit.table.set_index("account")
    assert t.loc["opener", "pairs"] == 8 and t.loc["opener", "repays"] == 0 and t.loc["hand", "pairs"] == 0


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
    assert fit_keepers(history([])).keepers.empty
