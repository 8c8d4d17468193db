"""The Python snippets of docs/risk.md run as written, on a small stored run."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from liqcascade.io.store import ResultsStore
from liqcascade.risk import es_interval

DOC = (Path(__file__).resolve().parents[2] / "docs" / "risk.md").read_text()


def test_risk_doc_snippets_run(tmp_path):
    rng = np.random.default_rng(0)
    paths_df = pd.DataFrame({"bad_debt_usd": np.where(rng.random(500) < 0.8, 0.0, rng.exponential(1e6, 500)),
                             "collateral_seized_usd": rng.lognormal(15, 1, 500)})
    ResultsStore(tmp_path / "store").save("mc", "montecarlo", {}, {"paths": paths_df})
    names = {"np": np, "es_interval": es_interval, "paths_df": paths_df, "run_id": "mc",
             "bad_debt": paths_df["bad_debt_usd"], "reserves": 2e6,
             "draw": lambda rng, n: rng.exponential(size=n), "n": 200, "level": 0.9,
             "true_es": 1 + np.log(10)}
    blocks = re.findall(r"```python\n(.*?)```", DOC, flags=re.S)
    assert len(blocks) == 3
    for code in blocks:
        code = code.replace('"liqcascade-results"', repr(str(tmp_path / "store")))
        code = code.replace("range(400)", "range(10)")  # the coverage loop, shortened: it runs, not measures
        exec(compile(code, "docs/risk.md", "exec"), dict(names))
