"""Impossible ledgers (execution/backtest_ledger.py): hand-made records of owners' actions
whose running totals the protocol would refuse at any price, and the backtest's policy
(left out of the scoring, stored as table ledger_errors)."""

import re

import pandas as pd
import pytest

from liqcascade.errors import ConfigError
from liqcascade.execution.backtest_ledger import ledger_errors
from tests.execution.test_backtest import BAND

DUST = 100.0


def ledger(rows):
    """rows: (account, block, collateral_change, debt_change); time = 600 s a block."""
    a, b, c, d = zip(*rows)
    return pd.DataFrame({"account": a, "block": b, "time": [600 * x for x in b], "collateral_change": c,
                         "debt_change": d})


def test_withdrawing_the_last_collateral_with_debt_left_is_refused():
    # v: 10 ETH, 1,000 DAI drawn; withdraws 10 ETH at block 3 with 1,000 DAI owed (the Vat refuses)
    err = ledger_errors(ledger([("v", 1, 10.0, 0.0), ("v", 1, 0.0, 1000.0), ("v", 3, -10.0, 0.0)]), DUST)
    assert err.to_dict("records") == [{"account": "v", "time": 1800, "collateral": 0.0, "debt": 1000.0,
                                       "reason": "debt above dust with no collateral"}]


def test_a_consistent_vault_and_a_dust_remainder_are_not_errors():
    # w repays all but 40 DAI (below dust: the accumulator's rounding) and withdraws everything;
    # u repays in full first: neither is refused
    rows = [("w", 1, 5.0, 0.0), ("w", 1, 0.0, 500.0), ("w", 2, 0.0, -460.0), ("w", 2, -5.0, 0.0),
            ("u", 1, 5.0, 0.0), ("u", 1, 0.0, 500.0), ("u", 2, 0.0, -500.0), ("u", 3, -5.0, 0.0)]
    assert ledger_errors(ledger(rows), DUST).empty


def test_the_state_is_read_at_the_end_of_a_block():
    # within block 2 the withdrawal comes before the repayment in the file: the block's end
    # state (0 ETH, 0 DAI) is what the chain kept, not an error
    rows = [("v", 1, 5.0, 0.0), ("v", 1, 0.0, 500.0), ("v", 2, -5.0, 0.0), ("v", 2, 0.0, -500.0)]
    assert ledger_errors(ledger(rows), DUST).empty


def test_negative_collateral_and_debt_are_refused_and_the_first_state_is_listed():
    rows = [("a", 1, 1.0, 0.0), ("a", 2, -1.5, 0.0), ("a", 3, 5.0, 0.0),   # 1 - 1.5 = -0.5 ETH at block 2
            ("b", 1, 1.0, 50.0), ("b", 4, 0.0, -80.0)]                     # 50 - 80 = -30 DAI at block 4
    err = ledger_errors(ledger(rows), DUST)
    assert err["account"].tolist() == ["a", "b"]
    assert err["reason"].tolist() == ["collateral below zero", "debt below zero"]
    assert err["time"].tolist() == [1200, 2400]
    assert err["collateral"].tolist() == [-0.5, 1.0] and err["debt"].tolist() == [0.0, -30.0]


def test_a_starting_book_and_a_rate_are_applied():
    # the book holds 2 ETH and 150 normalised debt for v; the rate 1.2 at block 5 makes the
    # 150 owed 180 DAI when it withdraws its 2 ETH: above dust 100; at rate 0.5 (75) it would not be
    start = pd.DataFrame({"account": ["v"], "collateral": [2.0], "debt": [150.0]})
    led = ledger([("v", 5, -2.0, 0.0)]).assign(rate=1.2)
    err = ledger_errors(led, DUST, start)
    assert err["debt"].tolist() == pytest.approx([180.0]) and err["collateral"].tolist() == [0.0]
    assert ledger_errors(led.assign(rate=0.5), DUST, start).empty


def test_bad_inputs_are_errors():
    with pytest.raises(ConfigError, match="ledger"):
        ledger_errors(pd.DataFrame({"account": ["v"]}), DUST)
    with pytest.raises(ConfigError, match="dust"):
        ledger_errors(ledger([("v", 1, 1.0, 0.0)]), -1.0)


# the price-band test's small Aave replay, with a ledger-errors file
SCENARIO = BAND.replace('name = "band"', 'name = "ledger"') + 'ledger_errors = "errors.csv"\n'


def _scenario(tmp_path, errors: str):
    # b: 1 WETH against 1,500 USDC, HF 0.853 after the 20 % drop: liquidated; x: recorded as
    # liquidated but not in the book (the ledger-error file names it)
    (tmp_path / "book.csv").write_text("account,asset,collateral,debt\nb,WETH,1,0\nb,USDC,0,1500\n")
    (tmp_path / "errors.csv").write_text(errors)
    p = tmp_path / "s.toml"
    p.write_text(SCENARIO)
    return p


def test_a_ledger_error_is_left_out_of_the_score_and_stored(tmp_path):
    from liqcascade.execution.backtest import backtest

    p = _scenario(tmp_path, "account,time,collateral,debt,reason\n")
    (tmp_path / "rec.csv").write_text("time,account,collateral,debt\n2020-01-01 00:00:00,b,0.5,700\n")
    start = backtest(p, store=None)["score"]["window_start"].iloc[0]
    (tmp_path / "rec.csv").write_text(f"time,account,collateral,debt\n{start},b,0.5,700\n{start},x,3.0,4000\n")
    # without the error listed: x is a false negative (recall 1/2)
    s = backtest(p, store=None)["score"].iloc[0]
    assert s["recall"] == 0.5 and s["recorded_accounts"] == 2 and s["recorded_collateral"] == 3.5
    (tmp_path / "errors.csv").write_text("account,time,collateral,debt,reason\n"
                                         "x,2019-12-31 00:00:00,0,4000,debt above dust with no collateral\n")
    res = backtest(p, store=None)
    s = res["score"].iloc[0]
    assert s["recall"] == 1.0 and s["recorded_accounts"] == 1 and s["recorded_collateral"] == 0.5
    assert res["ledger_errors"]["account"].tolist() == ["x"]


@pytest.mark.parametrize("body, message", [
    ("account,time,debt\n", "columns"),
    ("account,time,collateral,debt,reason\nx,2020-01-01,zero,1,r\n", "row 1.*collateral"),
])
def test_a_bad_ledger_error_file_exits_2_naming_it(tmp_path, body, message):
    from click.testing import CliRunner

    from liqcascade.cli import main

    p = _scenario(tmp_path, body)
    (tmp_path / "rec.csv").write_text("time,account,collateral,debt\n2020-01-01 00:00:00,b,0.5,700\n")
    r = CliRunner().invoke(main, ["backtest", str(p), "--out", str(tmp_path / "o"), "-q"])
    assert r.exit_code == 2 and "errors.csv" in r.output
    assert re.search(message, r.output), r.output
