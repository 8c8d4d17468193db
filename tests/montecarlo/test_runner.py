"""The Monte Carlo runner: rows that do not depend on chunking or executor, the definitions of
the per-path columns, the per-process cache, and bad input stopped before any work."""

from __future__ import annotations

import socket

import numpy as np
import pandas as pd
import pytest

from liqcascade.engine.dynamic import simulate
from liqcascade.engine.static import SortedBook
from liqcascade.errors import ConfigError
from liqcascade.execution import ScenarioSpec, evaluate_paths, prepared
from liqcascade.execution.api import montecarlo
from liqcascade.io import scenario as S
from tests.montecarlo.conftest import TINY, write_scenario


def spec_of(path) -> ScenarioSpec:
    return ScenarioSpec.of(S.load(path))


def test_rows_do_not_depend_on_chunking(tiny):
    spec = spec_of(tiny)
    whole = evaluate_paths(spec, 11, 0, 6, chunk=0)
    parts = pd.concat([evaluate_paths(spec, 11, 0, 2, chunk=0), evaluate_paths(spec, 11, 2, 6, chunk=0)],
                      ignore_index=True)
    pd.testing.assert_frame_equal(whole, parts, check_exact=True)
    alone = evaluate_paths(spec, 11, 4, 5, chunk=0)
    pd.testing.assert_frame_equal(alone.reset_index(drop=True), whole.iloc[[4]].reset_index(drop=True), check_exact=True)
    assert whole["path"].tolist() == list(range(6)) and (whole["seed"] == 11).all()
    assert not whole.equals(evaluate_paths(spec, 12, 0, 6, chunk=0))


def test_columns_follow_their_definitions(tiny):
    df = evaluate_paths(spec_of(tiny), 11, 0, 12)
    assert df["accounts_liquidated"].sum() > 0  # the violent tiny scenario liquidates
    assert (df["insolvent"] == (df["bad_debt_usd"] > 0)).all()
    # the headline is the first path asset (ETH); its exogenous drop is minus its return
    np.testing.assert_allclose(df["exogenous_drop"], -df["exo_return_ETH"], rtol=0, atol=1e-15)
    fell = df["exogenous_drop"] > 0
    assert fell.any() and (~fell).any()
    np.testing.assert_allclose(df.loc[fell, "amplification"], df.loc[fell, "final_drop"] / df.loc[fell, "exogenous_drop"])
    assert df.loc[~fell, "amplification"].isna().all()
    # liquidators only sell: the permanent impact only lowers the reference price
    assert (df.loc[fell, "amplification"] >= 1 - 1e-12).all()
    for a in ("ETH", "BTC"):
        assert (df[f"ref_min_{a}"] <= df[f"exo_min_{a}"] * (1 + 1e-12)).all()
        assert (df[f"exo_min_{a}"] <= 1.0).all()


@pytest.mark.parametrize("per_block", ["1e300", "1"])
def test_time_to_clear_is_the_span_of_liquidations_once_nothing_waits(tmp_path, per_block):
    """Unlimited liquidators (and no latency): nothing ever waits, so every path has a finite
    time, the span of its liquidation blocks. One a block on the violent tiny book: a path
    whose last block still left accounts over capacity has none (NaN), the others the span."""
    p = write_scenario(tmp_path, TINY.replace("liquidations_per_block = 20", f"liquidations_per_block = {per_block}"))
    spec = spec_of(p)
    df = evaluate_paths(spec, 11, 0, 6)
    prep = prepared(spec)
    sc = prep.scenario
    from liqcascade.engine.dynamic import drive_path

    never = 0
    for i, row in df.iterrows():
        raw = prep.paths.path(11, i)
        path = drive_path(raw, sc.config.simulation.drive, sc.model.assets, np.asarray(sc.model.prices))
        res = simulate(sc.model, path, prep.oracle, prep.settings, sorted_book=prep.book)
        ev = res.table("events")
        last = res.table("steps").groupby("block").first().iloc[-1]
        assert row["unprofitable_end"] == last["left_unprofitable"]
        if len(ev) == 0:
            assert row["time_to_clear_s"] == 0.0
        elif last["left_over_capacity"] > 0:
            assert per_block == "1" and np.isnan(row["time_to_clear_s"])
            never += 1
        else:
            assert row["time_to_clear_s"] == (ev["block"].max() - ev["block"].min() + 1) * 300.0
    if per_block == "1e300":
        assert df["time_to_clear_s"].notna().all() and (df["time_to_clear_s"] > 0).any()
    else:
        assert never > 0


@pytest.mark.parametrize("extra", ["", "\n[simulation.behaviour]\nseed = 4\n"])
def test_a_path_reads_the_state_as_its_tables_give_it(tmp_path, extra):
    """A path's row reads the finished run's state (no tables built): the same numbers, bit for
    bit, as the ``summary``, ``steps`` and ``assets`` tables of ``simulate`` give (the way rows
    were read before), with owners who react too (their summary has more columns)."""
    from liqcascade.engine.dynamic import drive_path
    from liqcascade.engine.dynamic.loop import SimInputs, simulate_state
    from liqcascade.execution.montecarlo import _outcome, _reference_prices, _state_outcome, _table_prices

    prep = prepared(spec_of(write_scenario(tmp_path, TINY + extra)))
    sc = prep.scenario
    liquidated = 0
    for i in range(6):
        raw = prep.paths.path(11, i)
        path = drive_path(raw, sc.config.simulation.drive, sc.model.assets, np.asarray(sc.model.prices))
        kw = dict(sorted_book=prep.book, behaviour=prep.behaviour, behaviour_stream=i)
        res = simulate(sc.model, path, prep.oracle, prep.settings, **kw)
        fin = simulate_state(sc.model, path, prep.oracle, SimInputs(prep.settings, trades=False, **kw))
        old, new = _outcome(res), _state_outcome(fin)
        assert list(new.row) == list(old.row)
        assert all(type(new.row[k]) is type(old.row[k]) and new.row[k] == old.row[k] for k in old.row), (new, old)
        np.testing.assert_array_equal(new.liq_blocks, old.liq_blocks)
        assert new.open == old.open
        assets = res.table("assets").set_index("asset")
        ref = _reference_prices(fin, sc.model.assets)
        for a in assets.index:
            assert ref[a] == _table_prices(assets, a)
            assert ref[a].min == assets.at[a, "reference_min"] and ref[a].end == assets.at[a, "reference_end"]
        liquidated += old.row["accounts_liquidated"]
    assert liquidated > 0


def test_amplification_is_one_without_permanent_impact(tmp_path):
    """permanent_fraction = 0: the reference price is the path alone, so final drop = exogenous drop."""
    p = write_scenario(tmp_path, TINY.replace("permanent_fraction = 0.5", "permanent_fraction = 0.0"))
    df = evaluate_paths(spec_of(p), 11, 0, 12)
    assert df["accounts_liquidated"].sum() > 0
    fell = df["exogenous_drop"] > 0
    np.testing.assert_allclose(df.loc[fell, "amplification"], 1.0, rtol=1e-9)
    np.testing.assert_allclose(df["final_drop"], df["exogenous_drop"], rtol=0, atol=1e-12)


def test_a_prepared_sorted_book_gives_the_same_simulation(tiny):
    prep = prepared(spec_of(tiny))
    sc = prep.scenario
    from liqcascade.engine.dynamic import drive_path

    raw = prep.paths.path(11, 3)
    path = drive_path(raw, sc.config.simulation.drive, sc.model.assets, np.asarray(sc.model.prices))
    wb = SortedBook.of(sc.model)
    fresh = simulate(sc.model, path, prep.oracle, prep.settings)
    for _ in range(2):  # reused twice: the shared book is only read
        again = simulate(sc.model, path, prep.oracle, prep.settings, sorted_book=wb)
        for name in ("summary", "steps", "events"):
            pd.testing.assert_frame_equal(fresh.table(name), again.table(name), check_exact=True)


def test_the_scenario_is_prepared_once_per_process(tiny, tmp_path):
    spec = spec_of(tiny)
    assert prepared(spec) is prepared(spec)
    other = write_scenario(tmp_path, TINY.replace("seed = 3", "seed = 4"), "other.toml")
    assert prepared(spec_of(other)) is not prepared(spec)


@pytest.mark.parametrize(
    "edit, key",
    [
        (lambda t: t[: t.index("[montecarlo]")], "montecarlo"),
        (lambda t: t.replace('BTC = ["WBTC"] }', 'SOL = ["WBTC"] }'), "simulation.drive"),
        (lambda t: t.replace("reserves_usd = 1000.0", 'headline = "SOL"'), "montecarlo.headline"),
        (lambda t: t.replace('kind = "instant"', 'kind = "instant"\nsource = "pool"'), "simulation.oracle.source"),
        (lambda t: t.replace("corr = [[1.0, 0.8], [0.8, 1.0]]", "corr = [[1.0, 1.5], [1.5, 1.0]]"), "montecarlo.corr"),
        (lambda t: t.replace("blocks = 30", "blocks = 30\nreturns = { ETH = \"builtin:ETHUSDT_1h\" }"),
         "montecarlo.returns"),
    ],
)
def test_bad_scenarios_name_the_key(tmp_path, edit, key):
    p = write_scenario(tmp_path, edit(TINY))
    with pytest.raises(ConfigError) as ei:
        montecarlo(p, 4, executor="serial", store=tmp_path / "store")
    assert ei.value.key.startswith(key), ei.value
    assert not (tmp_path / "store").exists()


def test_missing_simulation_table_is_named(tmp_path):
    text = TINY[: TINY.index("[simulation]")] + TINY[TINY.index("[montecarlo]"):]
    with pytest.raises(ConfigError, match="simulation"):
        montecarlo(write_scenario(tmp_path, text), 4, executor="serial", store=None)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize(
    "kw, key",
    [
        (dict(paths=0), "paths"),
        (dict(paths=-3), "paths"),
        (dict(chunk_size=0), "chunk_size"),
        (dict(executor="ray"), "executor"),
        (dict(executor="dask://no-port"), "executor"),
        (dict(executor="local", workers=0), "workers"),
        (dict(seed=-1), "seed"),
        (dict(reserves_usd=-5.0), "reserves_usd"),
        (dict(confidence=1.5), "confidence"),
        (dict(levels=(0.99, 1.2)), "levels"),
    ],
)
def test_bad_arguments_stop_before_any_work(tiny, tmp_path, kw, key):
    args = {"paths": 4, "executor": "serial", **kw}
    with pytest.raises(ConfigError) as ei:
        montecarlo(tiny, store=tmp_path / "store", **args)
    assert key in ei.value.key, ei.value
    assert not (tmp_path / "store").exists()


def test_unreachable_dask_scheduler_is_a_clear_error(tiny, tmp_path, monkeypatch):
    from liqcascade.execution import executors

    monkeypatch.setattr(executors, "DASK_CONNECT_TIMEOUT_S", 1.0)
    port = _closed_port()
    with pytest.raises(ConfigError, match=f"127.0.0.1:{port}") as ei:
        montecarlo(tiny, 4, executor=f"dask://127.0.0.1:{port}", store=tmp_path / "store")
    assert "reachable Dask scheduler" in str(ei.value)
    assert not (tmp_path / "store").exists()


def test_stored_run_is_found_and_its_risk_follows_the_arguments(tiny, tmp_path):
    store = tmp_path / "store"
    first = montecarlo(tiny, 8, executor="serial", chunk_size=3, store=store)
    paths = first.table("paths")
    assert len(paths) == 8 and first.run_id
    assert paths["chunk"].tolist() == [0, 0, 0, 1, 1, 1, 2, 2]
    # the same run again is loaded, whatever the executor; chunk size must match a stored run
    again = montecarlo(tiny, 8, executor="local", workers=1, store=store)
    assert again.run_id == first.run_id
    pd.testing.assert_frame_equal(again.table("paths"), paths, check_exact=True)
    pd.testing.assert_frame_equal(again.table("risk"), first.table("risk"))
    # other reserves: the risk table is recomputed from the stored paths
    bad = paths["bad_debt_usd"]
    threshold = float(np.median(bad[bad > 0])) if (bad > 0).any() else 0.0
    other = montecarlo(tiny, 8, executor="serial", store=store, reserves_usd=threshold)
    r = other.table("risk").set_index("statistic")
    assert r.loc["p_exceeds_reserves", "estimate"] == pytest.approx((bad > threshold).mean())
    assert r.loc["p_insolvent", "estimate"] == pytest.approx(paths["insolvent"].mean())
    amp = other.table("risk")
    assert (amp.loc[amp["metric"] == "amplification", "n_paths"] == paths["amplification"].notna().sum()).all()
    # the run id is the paths' identity: seed and path count change it, cosmetics do not
    renamed = write_scenario(tmp_path, TINY.replace('name = "tiny-montecarlo"', 'name = "renamed"'), "renamed.toml")
    assert montecarlo(renamed, 8, executor="serial", store=store).run_id == first.run_id
    assert montecarlo(tiny, 8, executor="serial", seed=12, store=None).run_id is None


def test_resuming_with_another_chunk_size_is_refused(tiny, tmp_path):
    from liqcascade.execution.api import hashed_config
    from liqcascade.io.store import ResultsStore

    store = ResultsStore(tmp_path / "store")
    first = montecarlo(tiny, 6, executor="serial", chunk_size=2, store=None)
    # a run begun with chunk size 2 whose first chunk landed, then interrupted
    from liqcascade import __version__
    from liqcascade.io.store import run_id

    sc = S.load(tiny)
    rid = run_id({"kind": "montecarlo", "config": hashed_config(sc), "paths": 6, "seed": 11}, __version__)
    store.begin(rid, "montecarlo", {}, {"chunk_size": 2, "chunks": 3})
    store.save_part(rid, "paths", 0, first.table("paths").iloc[:2])
    with pytest.raises(ConfigError, match="chunk size"):
        montecarlo(tiny, 6, executor="serial", chunk_size=3, store=store)
    reports = []
    done = montecarlo(tiny, 6, executor="serial", store=store, progress=lambda d, t: reports.append((d, t)))
    assert done.run_id == rid
    assert reports == [(1, 3), (2, 3), (3, 3)]  # the landed chunk was not run again
    pd.testing.assert_frame_equal(done.table("paths"), first.table("paths"), check_exact=True)


def test_a_correlation_that_is_not_positive_semidefinite_stops_the_example(tmp_path):
    """Entries all within [-1, 1], yet impossible: WETH moves with both LSTs at 0.98 while the
    LSTs move against each other (-0.97). Named in the file before anything runs or is written."""
    from pathlib import Path

    example = Path(__file__).resolve().parents[2] / "examples" / "montecarlo_eth_day.toml"
    text = example.read_text().replace("n_accounts = 20000", "n_accounts = 200")
    bad = text.replace("[0.98, 1.00, 0.97, 0.97, 0.79]", "[0.98, 1.00, -0.97, 0.97, 0.79]").replace(
        "[0.98, 0.97, 1.00, 0.97, 0.79]", "[0.98, -0.97, 1.00, 0.97, 0.79]")
    assert bad != text
    p = write_scenario(tmp_path, bad, "bad.toml")
    with pytest.raises(ConfigError) as ei:
        montecarlo(p, 4, executor="serial", store=tmp_path / "store")
    assert ei.value.key == "montecarlo.corr" and ei.value.file == str(p) and "semidefinite" in str(ei.value)
    assert not (tmp_path / "store").exists()
