"""Perp risk over paths (risk/perps.py): hand cases."""

from __future__ import annotations

import pandas as pd
import pytest

from liqcascade.errors import DataError
from liqcascade.risk.perps import perp_risk_table


def _paths() -> pd.DataFrame:
    # ten paths, fund $100 at the start: depletions 0,0,0,0,0,0,10,20,50,100 (the last exhausts it);
    # ADL on the last three; $5 written off on the last one
    fund_min = [100, 100, 100, 100, 100, 100, 90, 80, 50, 0]
    return pd.DataFrame({"fund_start_usd": [100.0] * 10, "fund_min_usd": [float(x) for x in fund_min],
                         "adl_usd": [0.0] * 7 + [1e3, 2e3, 4e3], "written_off_usd": [0.0] * 9 + [5.0]})


def test_hand_case_fund_depletion_adl_and_socialised_losses():
    t = perp_risk_table(_paths(), levels=(0.8, 0.9)).set_index(["metric", "statistic", "level"])
    dep = t.loc["fund_depletion_usd"]
    assert dep.xs("mean", level="statistic")["estimate"].iloc[0] == pytest.approx(18.0)  # 180 / 10
    # VaR_0.8 = x_(8) = 20; ES_0.8 = 20 + ((50 − 20) + (100 − 20)) / 10 / 0.2 = 75
    assert dep.loc[("var", 0.8), "estimate"] == 20.0 and dep.loc[("es", 0.8), "estimate"] == pytest.approx(75.0)
    # VaR_0.9 = x_(9) = 50; ES_0.9 = 50 + (100 − 50) / 10 / 0.1 = 100
    assert dep.loc[("var", 0.9), "estimate"] == 50.0 and dep.loc[("es", 0.9), "estimate"] == pytest.approx(100.0)
    adl = t.loc["adl_usd"]
    assert adl.loc[("var", 0.8), "estimate"] == 1e3 and adl.loc[("es", 0.9), "estimate"] == pytest.approx(4e3)
    p = perp_risk_table(_paths()).set_index("metric")
    assert p.loc["p_adl", "estimate"] == pytest.approx(0.3)
    assert p.loc["p_fund_exhausted", "estimate"] == pytest.approx(0.1)
    assert p.loc["p_socialised", "estimate"] == pytest.approx(0.1)
    assert p.loc["p_adl", "lo"] < 0.3 < p.loc["p_adl", "hi"]


def test_bad_paths_name_the_row_and_column():
    bad = _paths()
    bad.loc[3, "adl_usd"] = -1.0
    with pytest.raises(DataError, match="adl_usd") as e:
        perp_risk_table(bad, source="paths.parquet")
    assert "paths.parquet" in str(e.value) and "4" in str(e.value)
    with pytest.raises(DataError, match="fund_min_usd"):
        perp_risk_table(_paths().drop(columns=["fund_min_usd"]))
