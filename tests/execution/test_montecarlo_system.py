"""Monte Carlo on a system of markets: each path runs the system block by block.

Invariants, not pasted outputs: a one-market system is the single-market Monte Carlo bit for
bit (the block-by-block system engine of one market is the single-market engine, the paths
depend only on [montecarlo]); the system's row of a path is the sum of its markets' rows; the
executor never changes a number; the store holds both per-path tables chunk by chunk and finds
a finished run again."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from liqcascade.cli import main
from liqcascade.errors import ConfigError
from liqcascade.execution import DaskExecutor, ProcessExecutor
from liqcascade.execution import montecarlo as mc
from liqcascade.execution.api import montecarlo
from liqcascade.io.store import ResultsStore

from .conftest import one_market_system


def test_a_one_market_system_is_the_single_market_monte_carlo_bit_for_bit(tmp_path):
    single, system = one_market_system(tmp_path)
    a = montecarlo(single, 6, executor="serial", chunk_size=3, store=None)
    b = montecarlo(system, 6, executor="serial", chunk_size=3, store=None)
    assert a.table("paths")["accounts_liquidated"].sum() > 0  # the paths liquidate: the comparison bites
    pd.testing.assert_frame_equal(b.table("paths"), a.table("paths"), check_exact=True)
    pd.testing.assert_frame_equal(b.table("risk"), a.table("risk"), check_exact=True)
    # the market's own rows are the paths' numbers, and so is its risk (without the amplification)
    mp = b.table("market_paths")
    assert set(mp["market"]) == {"aave"}
    for col in mc.MARKET_PATH_COLUMNS:
        pd.testing.assert_series_equal(mp[col], a.table("paths")[col], check_names=False, check_exact=True)
    mr = b.table("market_risk").drop(columns="market")
    risk = a.table("risk")
    pd.testing.assert_frame_equal(mr, risk[risk["metric"] != "amplification"].reset_index(drop=True),
                                  check_exact=True)


def test_system_rows_are_the_sums_of_the_market_rows(two):
    res = montecarlo(two, 6, executor="serial", chunk_size=2, store=None)
    paths, mp = res.table("paths"), res.table("market_paths")
    assert list(res.tables) == ["paths", "market_paths", "risk", "market_risk"]
    assert len(mp) == 2 * len(paths) and list(mp["market"][:2]) == ["aave", "morpho"]
    assert paths["accounts_liquidated"].sum() > 0 and (mp.groupby("market")["accounts_liquidated"].sum() > 0).all()
    g = mp.groupby("path")
    for col in ("accounts_liquidated", "liquidation_calls", "unprofitable_end"):
        assert np.array_equal(g[col].sum().to_numpy(), paths[col].to_numpy())
    for col in ("bad_debt_usd", "bad_debt_written_off_usd", "collateral_seized_usd", "debt_repaid_usd",
                "liquidator_proceeds_usd"):
        assert np.allclose(g[col].sum().to_numpy(), paths[col].to_numpy(), rtol=1e-12, atol=0.0)
    assert np.array_equal(g["cleared"].all().to_numpy(), paths["cleared"].to_numpy())
    assert np.array_equal(paths["insolvent"].to_numpy(), paths["bad_debt_usd"].to_numpy() > 0)
    # the system clears when its last market does: its span covers every market's
    for p, rows in g:
        t = float(paths.loc[paths["path"] == p, "time_to_clear_s"].iloc[0])
        own = rows["time_to_clear_s"].to_numpy()
        if np.isnan(own).any():
            assert math.isnan(t)
        else:
            assert t >= own.max()
    # per-market risk: one block of rows per market, none for the amplification (a shared price's)
    mr = res.table("market_risk")
    assert list(mr["market"].unique()) == ["aave", "morpho"]
    assert "amplification" not in set(mr["metric"])
    mean = mr[(mr["metric"] == "bad_debt_usd") & (mr["statistic"] == "mean")].set_index("market")["estimate"]
    assert mean.sum() == pytest.approx(paths["bad_debt_usd"].mean(), rel=1e-12, abs=1e-9)


def test_serial_processes_and_dask_agree_bit_for_bit_on_a_system(two):
    runs = {"serial": montecarlo(two, 4, executor="serial", chunk_size=2, store=None)}
    with ProcessExecutor(2) as pool:
        runs["local"] = montecarlo(two, 4, executor=pool, chunk_size=2, store=None)
    with DaskExecutor(2, processes=False) as dask:
        runs["dask"] = montecarlo(two, 4, executor=dask, chunk_size=2, store=None)
    for ex in ("local", "dask"):
        for t in ("paths", "market_paths", "risk", "market_risk"):
            pd.testing.assert_frame_equal(runs[ex].table(t), runs["serial"].table(t), check_exact=True)


def test_chunks_land_in_both_tables_and_a_finished_run_is_found(two, tmp_path):
    store = tmp_path / "store"
    a = montecarlo(two, 4, executor="serial", chunk_size=2, store=store)
    st = ResultsStore(store)
    assert st.parts(a.run_id, "paths") == [0, 1] and st.parts(a.run_id, "market_paths") == [0, 1]
    b = montecarlo(two, 4, executor="serial", chunk_size=2, store=store)
    assert b.run_id == a.run_id
    for t in ("paths", "market_paths", "risk", "market_risk"):
        pd.testing.assert_frame_equal(b.table(t), a.table(t), check_dtype=False)
    # other levels: the stored paths, risk tables computed again
    c = montecarlo(two, 4, executor="serial", store=store, levels=(0.9,))
    assert set(c.table("market_risk")["level"].dropna()) == {0.9}


def test_a_system_needs_its_montecarlo_and_simulation_tables(two):
    text = two.read_text()
    two.write_text(text[:text.index("[montecarlo]")])
    with pytest.raises(ConfigError) as e:
        montecarlo(two, 2, executor="serial", store=None)
    assert e.value.key == "montecarlo" and e.value.file == str(two)
    two.write_text(text.replace('kind = "instant"', 'kind = "instant"\nsource = "pool"'))
    with pytest.raises(ConfigError) as e:
        montecarlo(two, 2, executor="serial", store=None)
    assert e.value.key == "simulation.oracle.source"


def test_cli_prints_the_markets_risk(two, tmp_path):
    r = CliRunner().invoke(main, ["montecarlo", str(two), "--paths", "2", "--executor", "serial", "--out",
                                  str(tmp_path / "res"), "--quiet"])
    assert r.exit_code == 0, r.output
    assert "per market" in r.output and "morpho" in r.output
    assert "market_paths" in r.output and "market_risk" in r.output


def test_an_interrupted_system_run_resumes_with_the_missing_chunks_only(two, tmp_path, monkeypatch):
    from liqcascade.errors import LiqcascadeError

    whole = montecarlo(two, 4, executor="serial", chunk_size=1, store=None)
    evaluate = mc.SystemPrepared.evaluate

    def failing(self, seed, index):
        if index == 2:
            raise ConfigError("<test>", "path", "no failure", index)
        return evaluate(self, seed, index)

    monkeypatch.setattr(mc.SystemPrepared, "evaluate", failing)
    store = tmp_path / "store"
    with pytest.raises(LiqcascadeError, match="chunk 2"):
        montecarlo(two, 4, executor="serial", chunk_size=1, store=store)
    st = ResultsStore(store)
    (rid,) = st.list_runs()["run_id"]
    assert st.parts(rid, "paths") == [0, 1] and st.parts(rid, "market_paths") == [0, 1]
    computed = []
    monkeypatch.setattr(mc.SystemPrepared, "evaluate",
                        lambda self, seed, index: (computed.append(index), evaluate(self, seed, index))[1])
    mc._CACHE.clear()
    res = montecarlo(two, 4, executor="serial", store=store)
    assert computed == [2, 3] and res.run_id == rid
    for t in ("paths", "market_paths", "risk", "market_risk"):
        pd.testing.assert_frame_equal(res.table(t), whole.table(t), check_dtype=False)


def test_alone_each_market_by_itself_and_the_contagion_is_the_difference(two, hand):
    res = montecarlo(two, 3, executor="serial", chunk_size=2, store=None, alone=True)
    paths, mp = res.table("paths"), res.table("market_paths")
    base = montecarlo(two, 3, executor="serial", chunk_size=2, store=None)
    # the together numbers are those of the run without `alone`
    pd.testing.assert_frame_equal(paths[base.table("paths").columns], base.table("paths"), check_exact=True)
    for k in mc.ALONE_COLUMNS:
        assert np.array_equal(mp[f"contagion_{k}"], mp[k] - mp[f"alone_{k}"])
        assert np.allclose(mp.groupby("path")[f"alone_{k}"].sum().to_numpy(), paths[f"alone_{k}"], rtol=1e-12)
        assert np.allclose(paths[f"contagion_{k}"], paths[k] - paths[f"alone_{k}"], rtol=1e-12, atol=1e-9)
    cr = res.table("contagion_risk")
    assert list(cr["market"].unique()) == ["system", "aave", "morpho"]
    assert set(cr["metric"]) == {"contagion_bad_debt_usd"}
    # markets that share no venue and whose liquidators are unbounded do not touch each other
    h = montecarlo(hand, 2, executor="serial", store=None, alone=True).table("market_paths")
    for k in mc.ALONE_COLUMNS:
        assert (h[f"contagion_{k}"] == 0).all() and (h[f"alone_{k}"] == h[k]).all()
    assert h.loc[h["market"] == "a", "accounts_liquidated"].tolist() == [1, 1]


def test_alone_is_refused_for_one_market_and_beside_a_sweep(tmp_path):
    single, system = one_market_system(tmp_path)
    with pytest.raises(ConfigError) as e:
        montecarlo(single, 2, executor="serial", store=None, alone=True)
    assert e.value.file == "--alone"
    r = CliRunner().invoke(main, ["montecarlo", str(system), "--alone", "--sweep", "montecarlo.seed=1,2",
                                  "--out", str(tmp_path / "res")])
    assert r.exit_code == 2 and "--alone" in r.output
    assert not (tmp_path / "res").exists()
