"""Monte Carlo with owners who react: path i runs stream i of [simulation.behaviour]'s seed
(execution/montecarlo.py), so paths draw independent reactions and a path's row does not depend
on which other paths ran."""

from __future__ import annotations

from liqcascade.engine.dynamic import loop
from liqcascade.execution.montecarlo import evaluate_paths, prepared

from .conftest import TINY, write_scenario
from .test_runner import spec_of


def test_each_path_runs_its_own_stream(tmp_path, monkeypatch):
    p = write_scenario(tmp_path, TINY + "\n[simulation.behaviour]\nseed = 4\n")
    spec = spec_of(p)
    seen = []
    real = loop.simulate_state

    def recording(model, path, oracle, inputs, *rest):
        seen.append((inputs.behaviour.seed, inputs.behaviour_stream))
        return real(model, path, oracle, inputs, *rest)

    monkeypatch.setattr(loop, "simulate_state", recording)
    df = evaluate_paths(spec, 11, 0, 3)
    assert seen == [(4, 0), (4, 1), (4, 2)]
    # path 2 alone gives the row it gave among the others
    alone = evaluate_paths(spec, 11, 2, 3)
    assert alone.iloc[0].equals(df.iloc[2])
    assert prepared(spec).behaviour.restore_hf > 1.0


def test_new_accounts_are_the_same_on_every_executor(tmp_path):
    # openings drawn on path i's stream: serial and spawned processes give the same table
    import pandas as pd

    from liqcascade.execution import ProcessExecutor
    from liqcascade.execution.api import montecarlo

    extra = '\n[simulation.behaviour]\nseed = 4\nopen_pair = ["WETH", "USDC"]\nopen_scale = 100\n'
    p = write_scenario(tmp_path, TINY + extra)
    closed = montecarlo(write_scenario(tmp_path, TINY + "\n[simulation.behaviour]\nseed = 4\n", "closed.toml"), 4,
                        executor="serial", chunk_size=2, store=None).table("paths")
    serial = montecarlo(p, 4, executor="serial", chunk_size=2, store=None).table("paths")
    with ProcessExecutor(2) as pool:
        local = montecarlo(p, 4, executor=pool, chunk_size=2, store=None).table("paths")
    pd.testing.assert_frame_equal(local, serial, check_exact=True)
    assert not serial["debt_repaid_usd"].equals(closed["debt_repaid_usd"])  # the new accounts count
