"""``liqcascade.api.montecarlo``: the notebook-facing spelling of the Monte Carlo run."""

from __future__ import annotations

import pandas as pd

from liqcascade import api
from liqcascade.execution.api import montecarlo

from .conftest import write_scenario


def test_api_montecarlo_is_the_execution_run(tmp_path):
    tiny = write_scenario(tmp_path)
    direct = montecarlo(tiny, 4, executor="serial", chunk_size=2, store=None)
    res = api.montecarlo(tiny, 4, None, executor="serial", chunk_size=2)
    pd.testing.assert_frame_equal(res.table("paths"), direct.table("paths"), check_exact=True)
    pd.testing.assert_frame_equal(res.table("risk"), direct.table("risk"), check_exact=True)
    stored = api.montecarlo(tiny, 4, tmp_path / "store", executor="serial", chunk_size=2)
    assert stored.run_id is not None
    assert "<code>paths</code>: 4 rows" in stored._repr_html_()
    assert stored.plot().data[0].x is not None


def test_risk_table_from_store_on_the_runners_own_paths(tmp_path):
    """The runner writes NaN amplification on paths whose headline asset did not fall; the risk
    table of the stored paths leaves those out of the amplification's rows and says so."""
    from liqcascade.api import risk_table_from_store
    from liqcascade.risk.table import AMPLIFICATION_OVER

    tiny = write_scenario(tmp_path)
    res = api.montecarlo(tiny, 16, tmp_path / "store", executor="serial", chunk_size=8)
    amp = res.table("paths")["amplification"]
    assert amp.isna().any() and amp.notna().any()  # seed 11: some paths rose, some fell
    table = risk_table_from_store(tmp_path / "store", res.run_id, reserves_usd=1000.0)
    rows = table[table["metric"] == "amplification"]
    assert (rows["n_paths"] == amp.notna().sum()).all() and (rows["over"] == AMPLIFICATION_OVER).all()
    assert (table.loc[table["metric"] != "amplification", "n_paths"] == 16).all()
