"""risk_table on amplification columns with NaN (paths where the headline asset did not fall),
as the Monte Carlo runner writes them."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from liqcascade.risk import risk_table
from liqcascade.risk.table import ALL_PATHS, AMPLIFICATION_OVER


def _amp(table: pd.DataFrame) -> pd.DataFrame:
    return table[table["metric"] == "amplification"]


def test_undefined_amplification_is_left_out_and_said_so():
    # two paths fell (amplification 1.0 and 2.0), two did not (NaN): the mean over the two that
    # fell is 1.5, the 50 % VaR is the lower of the two (empirical quantile, docs/risk.md)
    paths = pd.DataFrame({"bad_debt_usd": [0.0, 1.0, 2.0, 3.0], "amplification": [np.nan, 2.0, 1.0, np.nan]})
    t = risk_table(paths, levels=(0.5,), n_boot=100)
    amp = _amp(t).set_index("statistic")
    assert amp.loc["mean", "estimate"] == pytest.approx(1.5)
    assert amp.loc["var", "estimate"] == pytest.approx(1.0)
    assert (amp["n_paths"] == 2).all()
    assert (amp["over"] == AMPLIFICATION_OVER).all()
    other = t[t["metric"] != "amplification"]
    assert (other["n_paths"] == 4).all() and (other["over"] == ALL_PATHS).all()


def test_no_path_fell_gives_one_empty_row():
    paths = pd.DataFrame({"bad_debt_usd": [0.0, 1.0], "amplification": [np.nan, np.nan]})
    amp = _amp(risk_table(paths, n_boot=100))
    assert len(amp) == 1
    row = amp.iloc[0]
    assert row["statistic"] == "mean" and row["n_paths"] == 0 and math.isnan(row["estimate"])
    assert row["over"] == AMPLIFICATION_OVER and pd.isna(row["paths_needed"])


def test_same_rows_as_the_defined_paths_alone():
    # the ES bootstrap of a metric draws from its own seed child, so leaving undefined paths out of
    # one column changes nothing but that column's sample
    rng = np.random.default_rng(3)
    amp = 1 + rng.exponential(0.2, 300)
    amp[rng.random(300) < 0.3] = np.nan
    paths = pd.DataFrame({"bad_debt_usd": rng.exponential(1.0, 300), "amplification": amp})
    full = _amp(risk_table(paths, n_boot=200, seed=5)).reset_index(drop=True)
    fell = paths[paths["amplification"].notna()]
    alone = _amp(risk_table(fell, n_boot=200, seed=5)).reset_index(drop=True)
    pd.testing.assert_frame_equal(full, alone)
