"""A static run that asks for no table does not load pandas (issue 14: ~100 MB of a 10M-account
run's peak RSS is the pandas import); the accounts table loads it when asked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[2] / "src")

CODE = """
import json, sys
import numpy as np
from liqcascade.engine.static import MarketModel, StaticCascade
from liqcascade.io.aave_config import load_aave_reserve_config
from liqcascade.markets.cpmm import ConstantProductPool
from liqcascade.model.synthetic import synthetic_book
from liqcascade.protocols.aave_v3 import V3_3
from liqcascade.protocols.aave_v3.rules import AaveV3Rules

snap = load_aave_reserve_config()
book = synthetic_book(snap.params, snap.price_array, n_accounts=2000, seed=3)
weth = float(snap.price_array[snap.params.index("WETH")])
model = MarketModel(book, AaveV3Rules(snap.params, V3_3), snap.price_array,
                    {"WETH": ConstantProductPool.from_price_depth("WETH", weth, 1e6)})
solver = StaticCascade(model)
out = solver.run({"WETH": 0.4})
summary = solver.summarize(out)
before = "pandas" in sys.modules
frame = solver.account_frame(out)
print(json.dumps([before, "pandas" in sys.modules, len(frame), int(np.count_nonzero(out.touched)),
                  summary["accounts_liquidated"]]))
"""


def test_static_run_and_summary_without_pandas():
    env = {**os.environ, "PYTHONPATH": SRC}
    p = subprocess.run([sys.executable, "-c", CODE], env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    before, after, rows, touched, liquidated = json.loads(p.stdout.strip().splitlines()[-1])
    assert before is False  # the run and its summary did not import pandas
    assert after is True  # the accounts table did
    assert rows == touched  # one row per touched account
    assert liquidated > 0  # the shock liquidated someone: the run was not empty
