"""risk_table and risk_table_from_store: layout, agreement with the metric functions, NaN
handling, seeds and bad input."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from liqcascade.errors import ConfigError
from liqcascade.io.store import ResultsStore
from liqcascade.api import risk_table_from_store
from liqcascade.risk import (
    PATH_METRICS,
    TABLE_COLUMNS,
    es_interval,
    expected_shortfall,
    probability_interval,
    risk_table,
    value_at_risk,
    var_interval,
)

LEVELS = (0.95, 0.99, 0.999)


def _paths(n=2000, seed=1):
    rng = np.random.default_rng(seed)
    seized = rng.lognormal(15, 1, n)
    return pd.DataFrame({
        "path": np.arange(n),
        "bad_debt_usd": np.where(rng.random(n) < 0.9, 0.0, rng.exponential(1e6, n)),
        "collateral_seized_usd": seized,
        "debt_repaid_usd": 0.9 * seized,
        "accounts_liquidated": rng.poisson(40, n),
        "amplification": 1 + rng.exponential(0.1, n),
        "time_to_clear_s": np.where(rng.random(n) < 0.003, np.nan, rng.exponential(900, n)),
    })


@pytest.fixture(scope="module")
def paths():
    return _paths()


@pytest.fixture(scope="module")
def table(paths):
    return risk_table(paths, reserves_usd=1e6, n_boot=500)


def _row(table, metric, statistic, level=None):
    sel = (table["metric"] == metric) & (table["statistic"] == statistic)
    if level is not None:
        sel &= table["level"] == level
    (i,) = np.flatnonzero(sel.to_numpy())
    return table.iloc[i]


def test_layout(table, paths):
    assert tuple(table.columns) == TABLE_COLUMNS
    assert list(dict.fromkeys(table["metric"])) == list(PATH_METRICS)
    # per metric: mean + 3 VaR + 3 ES; bad debt adds two probabilities
    assert len(table) == 6 * 7 + 2
    assert (table["n_paths"] == len(paths)).all()
    assert str(table["paths_needed"].dtype) == "Int64"
    stats_bd = table.loc[table["metric"] == "bad_debt_usd", "statistic"].tolist()
    assert stats_bd == ["mean"] + ["var"] * 3 + ["es"] * 3 + ["p_insolvent", "p_exceeds_reserves"]
    assert table.loc[table["statistic"].isin(["mean", "p_insolvent"]), "level"].isna().all()


def test_rows_agree_with_the_functions(table, paths):
    x = paths["collateral_seized_usd"].to_numpy()
    for level in LEVELS:
        row = _row(table, "collateral_seized_usd", "var", level)
        assert row["estimate"] == value_at_risk(x, level)
        assert (row["lo"], row["hi"]) == var_interval(x, level)
        row = _row(table, "collateral_seized_usd", "es", level)
        assert row["estimate"] == expected_shortfall(x, level)
        assert row["lo"] <= row["estimate"] <= row["hi"]
    bd = paths["bad_debt_usd"].to_numpy()
    k = int((bd > 0).sum())
    row = _row(table, "bad_debt_usd", "p_insolvent")
    assert row["estimate"] == k / len(bd)
    assert (row["lo"], row["hi"]) == probability_interval(k, len(bd))
    row = _row(table, "bad_debt_usd", "p_exceeds_reserves")
    assert row["estimate"] == (bd > 1e6).sum() / len(bd)
    row = _row(table, "bad_debt_usd", "mean")
    assert row["estimate"] == pytest.approx(bd.mean(), rel=1e-12)
    assert row["lo"] < row["estimate"] < row["hi"]


def test_never_cleared_paths_count_as_infinite(table, paths):
    t = paths["time_to_clear_s"]
    assert 0 < t.isna().mean() < 0.01  # a few paths never cleared
    assert math.isfinite(_row(table, "time_to_clear_s", "var", 0.95)["estimate"])
    assert _row(table, "time_to_clear_s", "var", 0.999)["estimate"] == math.inf
    assert _row(table, "time_to_clear_s", "mean")["estimate"] == math.inf
    assert pd.isna(_row(table, "time_to_clear_s", "mean")["paths_needed"])


def test_es_interval_is_the_public_one_with_the_metric_seed(paths):
    # metric i of PATH_METRICS bootstraps from child i of SeedSequence(seed)
    only = paths[["bad_debt_usd", "amplification"]]
    tab = risk_table(only, levels=(0.99,), seed=4, n_boot=400)
    child = np.random.SeedSequence(4).spawn(len(PATH_METRICS))[PATH_METRICS.index("amplification")]
    row = _row(tab, "amplification", "es", 0.99)
    assert (row["lo"], row["hi"]) == es_interval(only["amplification"], 0.99, n_boot=400, seed=child)


def test_seeded_and_independent_of_other_columns(paths):
    a = risk_table(paths, n_boot=300, seed=3)
    pd.testing.assert_frame_equal(a, risk_table(paths, n_boot=300, seed=3))
    b = risk_table(paths[["bad_debt_usd"]], n_boot=300, seed=3)
    pd.testing.assert_frame_equal(a[a["metric"] == "bad_debt_usd"].reset_index(drop=True), b)
    c = risk_table(paths, n_boot=300, seed=4)
    es = a["statistic"] == "es"
    assert not np.array_equal(a.loc[es, "lo"].to_numpy(), c.loc[es, "lo"].to_numpy())


def test_only_present_metrics_and_no_reserves_row():
    tab = risk_table(pd.DataFrame({"bad_debt_usd": np.r_[np.zeros(95), [10.0, 20, 30, 40, 50]]}), n_boot=200)
    assert set(tab["metric"]) == {"bad_debt_usd"}
    assert "p_exceeds_reserves" not in set(tab["statistic"])
    # by hand: 5 of 100 paths insolvent; ES 0.95 = 30 (test_closed_forms)
    assert _row(tab, "bad_debt_usd", "p_insolvent")["estimate"] == 0.05
    assert _row(tab, "bad_debt_usd", "es", 0.95)["estimate"] == pytest.approx(30.0)


def test_from_store(tmp_path, paths):
    store = ResultsStore(tmp_path / "store")
    store.save("mc1", "montecarlo", {"paths": 2000}, {"paths": paths})
    expected = risk_table(paths, levels=(0.99,), n_boot=200)
    got = risk_table_from_store(tmp_path / "store", "mc1", levels=(0.99,), n_boot=200)
    pd.testing.assert_frame_equal(got, expected)
    pd.testing.assert_frame_equal(risk_table_from_store(store, "mc1", levels=(0.99,), n_boot=200), expected)


def test_from_store_never_creates_a_store(tmp_path):
    with pytest.raises(ConfigError, match="catalog.duckdb"):
        risk_table_from_store(tmp_path / "nowhere", "mc1")
    assert not (tmp_path / "nowhere").exists()


def test_bad_data_in_the_store_names_the_file(tmp_path):
    store = ResultsStore(tmp_path)
    store.save("mc2", "montecarlo", {}, {"paths": pd.DataFrame({"bad_debt_usd": [1.0, np.nan]})})
    with pytest.raises(ConfigError, match=r"mc2.*paths\.parquet: paths\.bad_debt_usd.*row 2"):
        risk_table_from_store(tmp_path, "mc2")


@pytest.mark.parametrize(("frame", "match"), [
    (pd.DataFrame({"collateral_seized_usd": [1.0]}), r"paths\.bad_debt_usd: expected a column"),
    (pd.DataFrame({"bad_debt_usd": []}), r"paths: expected at least one row"),
    (pd.DataFrame({"bad_debt_usd": [0.0, np.nan, 1.0]}), r"paths\.bad_debt_usd: .*no NaN.*row 2"),
    (pd.DataFrame({"bad_debt_usd": [0.0, 0.0], "amplification": [np.nan, -np.inf]}),
     r"paths\.amplification: .*-inf in row 2"),
    (pd.DataFrame({"bad_debt_usd": [0.0], "debt_repaid_usd": [np.nan]}), r"paths\.debt_repaid_usd: .*no NaN"),
    (pd.DataFrame({"bad_debt_usd": [0.0, -np.inf]}), r"paths\.bad_debt_usd"),
    (pd.DataFrame({"bad_debt_usd": ["a", "b"]}), r"paths\.bad_debt_usd: expected a numeric column"),
    ([1.0, 2.0], r"paths: expected a pandas DataFrame"),
])
def test_bad_frames(frame, match):
    with pytest.raises(ConfigError, match=match):
        risk_table(frame)


@pytest.mark.parametrize(("kw", "key"), [
    ({"levels": ()}, "levels"),
    ({"levels": (0.9, 1.0)}, r"levels\[1\]"),
    ({"levels": 0.99}, "levels"),
    ({"confidence": 1.0}, "confidence"),
    ({"reserves_usd": -1.0}, "reserves_usd"),
    ({"reserves_usd": float("nan")}, "reserves_usd"),
    ({"n_boot": 10}, "n_boot"),
    ({"seed": -1}, "seed"),
    ({"seed": None}, "seed"),
    ({"rel_half_width": 0.0}, "rel_half_width"),
])
def test_bad_arguments(kw, key):
    with pytest.raises(ConfigError, match=rf"<python>: {key}: expected"):
        risk_table(pd.DataFrame({"bad_debt_usd": [0.0, 1.0]}), **kw)
