"""Monte Carlo speed targets (issue: risk):

- 1,000 paths x 100k accounts x 288 blocks (one day at 5 minutes) with local processes on
  2 cores: < 5 min, end to end (`liqcascade montecarlo` as a library call: scenario built,
  workers spawned, every chunk stored as a Parquet part in a fresh store, risk table);
- 10,000 paths < 5 min (issue 14), judged on the same run x 10 (a 10,000-path run is too long
  for ``make bench``: 5 minutes at best, far more on a loaded machine). The x 10 also counts the
  run's fixed costs (workers spawned, scenario built, risk table) ten times: it errs slow;
- Dask scaling from 1 to 2 workers (``LocalCluster``, worker processes, numba on one thread
  each): the same 100 paths, workers warmed (scenario built) before the clock starts,
  efficiency = t1 / (2 t2) >= 0.85 (issue 14);
- the naive baseline in the same run: the same paths one after the other in this process
  (``serial``, numba on all threads), per path.

The scenario is ``examples/montecarlo_eth_day.toml`` (Aave v3 Ethereum, correlated GBM day
with jumps and a wstETH depeg stress, Chainlink oracle, 100 liquidations a block) with the
synthetic book raised from 20k to 100k accounts and every venue's depth raised by the same
factor 5, so the book-to-liquidity ratio of the example is kept (with the example's venues a
100k book liquidates itself into a spiral on most paths: a different, heavier experiment).

Run alone: ``.venv/bin/python -m pytest -q benchmarks/test_bench_montecarlo.py --benchmark-only``.
"""

from __future__ import annotations

import re
import resource
import time
import tomllib
from pathlib import Path

import pytest
from judge import CLOCKS

from liqcascade.execution import DaskExecutor, ScenarioSpec, SerialExecutor, chunks, run_chunk, run_chunks
from liqcascade.execution.api import montecarlo
from liqcascade.io import scenario as S
from liqcascade.io.config import parse_scenario

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "montecarlo_eth_day.toml"
N_ACCOUNTS = 100_000
N_PATHS = 1_000
N_SCALING = 100  # paths per Dask run
N_SERIAL = 30  # paths of the serial baseline
SEED = 2026
TARGET_S = 300.0
N_TARGET = 10_000  # paths the target names
DASK_EFFICIENCY = 0.85

MC: dict[str, float] = {}


class _Summary:
    """Prints the Monte Carlo numbers at the end of the session (registered by the fixture)."""

    @pytest.hookimpl
    def pytest_terminal_summary(self, terminalreporter):
        if not MC:
            return
        tr = terminalreporter
        tr.section("liqcascade Monte Carlo benchmark")
        if "local2" in MC:
            tr.write_line(f"{N_PATHS:,} paths x {N_ACCOUNTS:,} accounts x 288 blocks, local processes x2: "
                          f"{MC['local2']:.1f} s (target < {TARGET_S:.0f} s), "
                          f"{MC['local2'] / N_PATHS * 1e3:.1f} ms/path; "
                          f"CPU {MC['local2_cpu']:.1f} s in all (/2 = {MC['local2_cpu'] / 2:.1f} s)")
        if "serial" in MC:
            tr.write_line(f"naive baseline, serial in one process: {MC['serial'] / N_SERIAL * 1e3:.1f} ms/path "
                          f"(CPU {MC['serial_cpu'] / N_SERIAL * 1e3:.1f} ms/path)")
        if "local2" in MC and "serial" in MC:
            speedup = (MC["serial"] / N_SERIAL) / (MC["local2"] / N_PATHS)
            tr.write_line(f"speed-up per path local x2 vs serial: {speedup:.2f}x")
        if "local2" in MC:
            tr.write_line(f"{N_TARGET:,} paths at that rate: {MC['local2'] * N_TARGET / N_PATHS:.0f} s "
                          f"(target < {TARGET_S:.0f} s)")
        if "dask1" in MC and "dask2" in MC:
            t1, t2 = MC["dask1"], MC["dask2"]
            tr.write_line(f"Dask LocalCluster, {N_SCALING} paths: 1 worker {t1:.1f} s, 2 workers {t2:.1f} s, "
                          f"efficiency t1/(2 t2) = {t1 / (2 * t2):.2f}")


@pytest.fixture(scope="module")
def scenario(tmp_path_factory, request):
    """The benchmark scenario file (module docstring) and its spec, prepared in this process."""
    if not request.config.pluginmanager.has_plugin("liqcascade-mc-summary"):
        request.config.pluginmanager.register(_Summary(), "liqcascade-mc-summary")
    text = EXAMPLE.read_text()
    factor = N_ACCOUNTS / tomllib.loads(text)["positions"]["n_accounts"]
    text = re.sub(r"(?m)^n_accounts = \d+$", f"n_accounts = {N_ACCOUNTS}", text)
    text = re.sub(r"(?m)^(reserve_usd|depth_usd) = (\S+)$", lambda m: f"{m[1]} = {float(m[2]) * factor!r}", text)
    folder = tmp_path_factory.mktemp("mc-bench")
    path = folder / "bench.toml"
    path.write_text(text)
    sc = S.build(parse_scenario(tomllib.loads(text), str(path)), folder, str(path))
    assert sc.model.book.n_accounts == N_ACCOUNTS
    depth = {v.asset: getattr(v, "reserve_usd", None) or getattr(v, "depth_usd") for v in sc.config.venues}
    assert depth["WETH"] == pytest.approx(150e6 * factor) and depth["wstETH"] == pytest.approx(1e9 * factor)
    return path, ScenarioSpec.of(sc)


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _warm(spec) -> None:
    """Compile every kernel a path can reach, in this process and into numba's on-disk cache
    (which worker processes load): ten paths, liquidations among them. Untimed: compiling
    happens once per installation, not once per run."""
    run_chunk(chunks(spec, SEED, 10, 10)[0])


def test_montecarlo_1000_paths_local_2_workers(benchmark, scenario, record, target, tmp_path):
    path, spec = scenario
    _warm(spec)
    stores = iter(range(100))

    def run():
        return montecarlo(path, N_PATHS, executor="local", workers=2, store=tmp_path / f"store{next(stores)}")

    before = _cpu()
    res = benchmark.pedantic(run, rounds=1, iterations=1)
    MC["local2"] = benchmark.stats.stats.median
    # CPU seconds of this process and of the (reaped) workers: on a shared, loaded machine the
    # wall time says more about the neighbours; CPU / 2 is what 2 idle cores would need
    MC["local2_cpu"] = _cpu() - before
    benchmark.extra_info["cpu_s"] = MC["local2_cpu"]
    record("montecarlo_1000x100k_x288_local2", benchmark, N_PATHS)
    p = res.table("paths")
    benchmark.extra_info.update(paths=len(p), insolvent=int(p["insolvent"].sum()),
                                accounts_liquidated_mean=float(p["accounts_liquidated"].mean()))
    assert len(p) == N_PATHS and p["path"].tolist() == list(range(N_PATHS))
    assert len(list((tmp_path / "store0").glob("runs/*/paths/part-*.parquet"))) == 100
    target.at_most(f"Monte Carlo, {N_PATHS:,} paths, local x2", MC["local2"], TARGET_S)
    target.at_most(f"Monte Carlo, {N_TARGET:,} paths (the {N_PATHS:,}-path run x {N_TARGET // N_PATHS}), local x2",
                   MC["local2"] * N_TARGET / N_PATHS, TARGET_S)


def test_montecarlo_serial_baseline(benchmark, scenario, record):
    _, spec = scenario
    todo = chunks(spec, SEED, N_SERIAL, 10)
    _warm(spec)  # the scenario built and every kernel compiled, as the workers find them

    def run():
        with SerialExecutor() as ex:
            run_chunks(todo, ex, lambda c, df: None)

    before = _cpu()
    benchmark.pedantic(run, rounds=1, iterations=1)
    MC["serial"] = benchmark.stats.stats.median
    MC["serial_cpu"] = _cpu() - before
    record("montecarlo_serial_baseline_100k_x288", benchmark, N_SERIAL)


@pytest.mark.parametrize("workers", [1, 2])
def test_montecarlo_dask_scaling(benchmark, scenario, record, target, workers):
    _, spec = scenario
    todo = chunks(spec, SEED, N_SCALING, 5)
    with DaskExecutor(workers, threads_per_worker=1) as ex:  # one core per worker in both runs
        ex._client.run(run_chunk, todo[0])  # every worker: scenario built, kernels loaded (not timed)
        landed = []

        def run():
            landed.clear()
            t0 = time.perf_counter()
            run_chunks(todo, ex, lambda c, df: landed.append(len(df)))
            return time.perf_counter() - t0

        benchmark.pedantic(run, rounds=1, iterations=1)
    assert sum(landed) == N_SCALING
    MC[f"dask{workers}"] = benchmark.stats.stats.median
    record(f"montecarlo_dask_{workers}w_{N_SCALING}x100k", benchmark, N_SCALING)
    if workers == 2 and "dask1" in MC:  # judged under the worse of the two runs' conditions
        target.clocks = [CLOCKS[f"montecarlo_dask_1w_{N_SCALING}x100k"], CLOCKS[f"montecarlo_dask_2w_{N_SCALING}x100k"]]
        efficiency = MC["dask1"] / (2 * MC["dask2"])
        target.at_least(f"Dask LocalCluster, {N_SCALING} paths, efficiency t1 / (2 t2)", efficiency, DASK_EFFICIENCY)
