"""Perp risk over Monte Carlo paths: insurance-fund depletion, P(ADL), losses socialised.

One row per path of a perp run (``execution/perps.py``'s summary columns): ``fund_start_usd``,
``fund_min_usd``, ``adl_usd``, ``written_off_usd``. The metrics, "larger is worse":

- ``fund_depletion_usd`` = ``fund_start_usd − fund_min_usd`` (≥ 0): the most the fund lost below
  its start on the path;
- ``adl_usd``: notional deleveraged (the bankrupt side, at the mark);
- ``written_off_usd``: deficits no one covered (socialised outside the book).

For each: the mean, and the VaR and ES at each level (:mod:`liqcascade.risk.metrics`: the
empirical quantile ``x_(ceil(n·level))`` and the Acerbi-Tasche tail mean). Then the
probabilities, with Clopper-Pearson intervals: ``p_adl`` = P(adl_usd > 0), ``p_fund_exhausted``
= P(fund_min_usd = 0) and ``p_socialised`` = P(written_off_usd > 0).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from liqcascade.errors import DataError
from liqcascade.risk.metrics import exceedance_probability, expected_shortfall, value_at_risk

__all__ = ["PERP_METRICS", "perp_risk_table"]

PERP_METRICS = ("fund_depletion_usd", "adl_usd", "written_off_usd")
_NEEDED = ("fund_start_usd", "fund_min_usd", "adl_usd", "written_off_usd")


def _column(paths: pd.DataFrame, name: str, source: str) -> np.ndarray:
    if name not in paths.columns:
        raise DataError(source, None, f"missing column {name!r}; expected {list(_NEEDED)}")
    x = paths[name].to_numpy(dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(x) | (x < 0))
    if bad.size:
        raise DataError(source, int(bad[0]) + 1, f"column {name!r}: expected a finite amount ≥ 0, got {x[bad[0]]!r}")
    return x


def perp_risk_table(paths: pd.DataFrame, levels: Any = (0.95, 0.99), confidence: float = 0.95,
                    source: str = "<paths>") -> pd.DataFrame:
    """Rows ``metric, statistic, level, estimate, lo, hi, n_paths`` (see the module docstring;
    ``lo``/``hi`` only for the probabilities)."""
    if len(paths) == 0:
        raise DataError(source, None, "no paths")
    cols = {n: _column(paths, n, source) for n in _NEEDED}
    sample = {"fund_depletion_usd": np.maximum(cols["fund_start_usd"] - cols["fund_min_usd"], 0.0),
              "adl_usd": cols["adl_usd"], "written_off_usd": cols["written_off_usd"]}
    n = len(paths)
    rows = []
    for metric in PERP_METRICS:
        x = sample[metric]
        rows.append((metric, "mean", np.nan, float(x.mean()), np.nan, np.nan, n))
        for level in levels:
            rows.append((metric, "var", float(level), value_at_risk(x, level), np.nan, np.nan, n))
            rows.append((metric, "es", float(level), expected_shortfall(x, level), np.nan, np.nan, n))
    exhausted = (cols["fund_min_usd"] <= 0.0).astype(np.float64)
    for name, x in (("p_adl", cols["adl_usd"]), ("p_fund_exhausted", exhausted), ("p_socialised", cols["written_off_usd"])):
        est = exceedance_probability(x, 0.0, confidence)
        rows.append((name, "probability", np.nan, est.estimate, est.lo, est.hi, n))
    return pd.DataFrame(rows, columns=["metric", "statistic", "level", "estimate", "lo", "hi", "n_paths"])
