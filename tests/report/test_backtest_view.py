"""The backtest view: hourly counts drawn from the stored tables, the scores below."""

import numpy as np
import pandas as pd

from liqcascade.engine.result import Result
from liqcascade.execution.backtest import Recorded, score
from liqcascade.execution.runs import save
from liqcascade.io.store import ResultsStore
from liqcascade.report import bundle as B
from liqcascade.report import views as V
from tests.report.stores import values
from tests.report.test_views import assert_sources_stored

T0 = 1_650_000_000 - 1_650_000_000 % 86400


def test_backtest_view_draws_the_hourly_counts(tmp_path):
    # recorded: a and b in hour 1; simulated: a in hour 1, e in hour 2
    rec = Recorded(np.array([T0 + 3600, T0 + 3600]), np.array(["a", "b"], dtype=object), np.ones(2), np.ones(2))
    ev = pd.DataFrame({"time": [T0 + 3600, T0 + 7200], "account_id": ["a", "e"], "debt_repaid_usd": [1.0, 1.0]})
    tables = score(ev, 1.0, rec, T0, T0 + 3 * 3600)
    store = ResultsStore(tmp_path / "s")
    save(store, "bt0", "backtest", {}, Result("backtest", tables, {}), {})
    v = V.view(B.find(store, "bt0"), "backtest")
    by_name = {t["name"]: t for t in v.figure["data"]}
    np.testing.assert_array_equal(values(by_name["recorded"]["y"]), [0, 2, 0])  # three hours: T0, T0 + 1 h, T0 + 2 h
    np.testing.assert_array_equal(values(by_name["simulated"]["y"]), [0, 1, 1])
    assert v.table["precision"].iloc[0] == 0.5 and v.table["recall"].iloc[0] == 0.5
    assert_sources_stored(v, tmp_path / "s")


def test_backtest_view_shows_the_band_when_the_run_has_one(tmp_path):
    from liqcascade.execution.backtest import Seized, band_tables

    # shifts -0.5 %, 0, +0.5 %: a and b liquidated, then a and b, then b only; b recorded
    rec = Recorded(np.array([T0 + 3600]), np.array(["b"], dtype=object), np.ones(1), np.ones(1))
    ev = pd.DataFrame({"time": [T0 + 3600, T0 + 3600], "account_id": ["a", "b"], "debt_repaid_usd": [1.0, 1.0]})
    tables = score(ev, 2.0, rec, T0, T0 + 2 * 3600)
    both = Seized(2.0, pd.Series({"a": 1.0, "b": 1.0}))
    tables.update(band_tables({-0.005: both, 0.0: both, 0.005: Seized(1.0, pd.Series({"b": 1.0}))}, rec, T0,
                              T0 + 2 * 3600))
    store = ResultsStore(tmp_path / "s")
    save(store, "bt1", "backtest", {}, Result("backtest", tables, {}), {})
    v = V.view(B.find(store, "bt1"), "backtest")
    assert v.table["oracle_shift"].tolist() == [-0.005, 0.0, 0.005]
    assert v.table["precision"].tolist() == [0.5, 0.5, 1.0] and v.table["collateral_error"].tolist() == [1.0, 1.0, 0.0]
    assert_sources_stored(v, tmp_path / "s")


def test_backtest_view_names_the_ledger_errors_left_out(tmp_path):
    rec = Recorded(np.array([T0 + 3600]), np.array(["a"], dtype=object), np.ones(1), np.ones(1))
    ev = pd.DataFrame({"time": [T0 + 3600], "account_id": ["a"], "debt_repaid_usd": [1.0]})
    tables = score(ev, 1.0, rec, T0, T0 + 2 * 3600)
    tables["ledger_errors"] = pd.DataFrame({"account": ["28283"], "time": ["2022-06-15 07:47:44"],
                                            "collateral": [0.0], "debt": [200424.4],
                                            "reason": ["debt above dust with no collateral"]})
    store = ResultsStore(tmp_path / "s")
    save(store, "bt2", "backtest", {}, Result("backtest", tables, {}), {})
    v = V.view(B.find(store, "bt2"), "backtest")
    assert "ledger errors" in v.caption and "28283" in v.caption
    assert_sources_stored(v, tmp_path / "s")
