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
