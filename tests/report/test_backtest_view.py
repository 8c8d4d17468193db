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
