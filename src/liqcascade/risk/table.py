"""The risk table: every metric of a Monte Carlo run's ``paths`` table, with intervals.

``paths`` has one row per Monte Carlo path; the columns this module reads are
:data:`PATH_METRICS` (any others are ignored). :func:`risk_table` returns one tidy row per
(metric, statistic, level) with the columns :data:`TABLE_COLUMNS`:

=============  =================================================================================
metric         the ``paths`` column
statistic      ``mean``; ``var`` (value at risk = empirical quantile, *not* the variance);
               ``es`` (expected shortfall, CVaR); for ``bad_debt_usd`` also ``p_insolvent``
               (P(bad debt > 0)) and, with ``reserves_usd``, ``p_exceeds_reserves``
               (P(bad debt > reserves))
level          the VaR/ES level (NaN for the mean and the probabilities)
estimate       the point estimate (:mod:`liqcascade.risk.metrics`)
lo, hi         its ``confidence`` interval: normal for the mean, order statistics for the VaR,
               percentile bootstrap for the ES, Clopper-Pearson for probabilities
               (:mod:`liqcascade.risk.intervals`)
n_paths        paths in the sample the row is computed over
paths_needed   total paths for an interval half-width of ``rel_half_width`` x |estimate|
               (:mod:`liqcascade.risk.sample_size`); <NA> where a relative width is undefined
over           which paths the sample holds: ``all paths``, or for ``amplification``
               :data:`AMPLIFICATION_OVER` (the paths where it is defined)
=============  =================================================================================

"Liquidations at risk" is the ``var`` of ``collateral_seized_usd``. In ``time_to_clear_s`` a
NaN means the path never cleared: it is read as +inf, so a tail statistic that reaches such
paths (and the mean, if any path never cleared) is +inf; a path with no liquidation has 0.
In ``amplification`` a NaN means the path's headline asset did not fall (the Monte Carlo runner
writes NaN when ``exogenous_drop <= 0``: a ratio over no drop is undefined). Those paths are left
out of the amplification's rows, whose ``n_paths`` counts the paths kept and whose ``over``
column says so; when no path fell, the amplification has one ``mean`` row with NaN estimate and
``n_paths`` 0. NaN anywhere else is an error.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
import pandas as pd

from liqcascade.errors import ConfigError
from liqcascade.risk._bootstrap import bootstrap_es
from liqcascade.risk._common import (
    PY,
    check_fraction,
    check_levels,
    check_n_boot,
    check_number,
    check_positive,
    check_seed,
)
from liqcascade.risk.intervals import (
    Estimate,
    mean_interval_sorted,
    percentile_intervals,
    var_interval_sorted,
)
from liqcascade.risk.metrics import es_sorted, exceedance_sorted, var_sorted
from liqcascade.risk.sample_size import paths_needed_sorted

PATH_METRICS = (
    "bad_debt_usd",
    "collateral_seized_usd",
    "debt_repaid_usd",
    "accounts_liquidated",
    "amplification",
    "time_to_clear_s",
)
"""Columns of a ``paths`` table that :func:`risk_table` reports, in this order."""

NAN_MEANS_NEVER = frozenset({"time_to_clear_s"})
"""Columns where NaN means "never happened on this path" and is read as +inf."""

NAN_MEANS_UNDEFINED = frozenset({"amplification"})
"""Columns where NaN means "undefined on this path" (no exogenous drop): left out of the sample."""

ALL_PATHS = "all paths"
AMPLIFICATION_OVER = "paths where the headline asset fell (exogenous_drop > 0)"
"""The ``over`` value of the amplification's rows."""

TABLE_COLUMNS = ("metric", "statistic", "level", "estimate", "lo", "hi", "n_paths", "paths_needed", "over")
"""Columns of the table :func:`risk_table` returns."""

_Row = tuple[str, str, float, float, float, float, int, "int | None"]
"""A row before its ``over`` column (which :func:`risk_table` appends)."""


def risk_table(paths: pd.DataFrame, levels: Any = (0.95, 0.99, 0.999), confidence: float = 0.95,
               reserves_usd: float | None = None, seed: int | np.random.SeedSequence = 0, *,
               n_boot: int = 2000, rel_half_width: float = 0.10, source: str = PY) -> pd.DataFrame:
    """Mean, VaR and ES at each level of every :data:`PATH_METRICS` column of ``paths``, with
    ``confidence`` intervals and the paths needed for ``rel_half_width`` (module docstring).

    The ES bootstrap of metric ``i`` of :data:`PATH_METRICS` draws from the ``i``-th child of
    ``SeedSequence(seed)``, so a metric's interval does not depend on which other columns are
    present, and the same seed gives the same table. ``source`` names the ``paths`` table in
    error messages (a file path when it was read from one).
    """
    levels = check_levels(levels)
    confidence = check_fraction(confidence, "confidence")
    n_boot = check_n_boot(n_boot, confidence)
    rel_half_width = check_positive(rel_half_width, "rel_half_width")
    thresholds = {"p_insolvent": 0.0}
    if reserves_usd is not None:
        reserves_usd = check_number(reserves_usd, "reserves_usd", "a reserve in USD >= 0, or None")
        if reserves_usd < 0.0:
            raise ConfigError(PY, "reserves_usd", "a reserve in USD >= 0, or None", reserves_usd)
        thresholds["p_exceeds_reserves"] = reserves_usd
    seeds = check_seed(seed).spawn(len(PATH_METRICS))
    samples = _samples(paths, source)

    rows: list[tuple] = []  # _Row + (over,)
    for i, metric in enumerate(PATH_METRICS):
        if metric in samples:
            rng = np.random.default_rng(seeds[i])
            over = AMPLIFICATION_OVER if metric in NAN_MEANS_UNDEFINED else ALL_PATHS
            if samples[metric].size == 0:  # no path where the metric is defined: say so, estimate nothing
                rows.append((metric, "mean", math.nan, math.nan, math.nan, math.nan, 0, None, over))
                continue
            rows += [r + (over,) for r in
                     _metric_rows(metric, samples[metric], levels, confidence, n_boot, rel_half_width, rng)]
            if metric == "bad_debt_usd":
                rows += [r + (ALL_PATHS,) for r in
                         _probability_rows(metric, samples[metric], thresholds, confidence, rel_half_width)]
    return _frame(rows)


def _metric_rows(metric: str, xs: np.ndarray, levels: tuple[float, ...], confidence: float, n_boot: int,
                 rel_half_width: float, rng: np.random.Generator) -> list[_Row]:
    """The mean, then the VaR and the ES at each level, of one sorted sample."""
    needed = functools.partial(paths_needed_sorted, xs, threshold=None, rel_half_width=rel_half_width,
                               half_width=None, confidence=confidence)
    rows = [_row(metric, "mean", math.nan, mean_interval_sorted(xs, confidence), xs.size,
                 needed("mean", None))]
    for level in levels:
        est = Estimate(var_sorted(xs, level), *var_interval_sorted(xs, level, confidence))
        rows.append(_row(metric, "var", level, est, xs.size, needed("var", level)))
    boot = bootstrap_es(xs, levels, n_boot, rng)
    for level, (lo, hi) in zip(levels, percentile_intervals(boot, confidence)):
        est = Estimate(es_sorted(xs, level), lo, hi)
        rows.append(_row(metric, "es", level, est, xs.size, needed("es", level)))
    return rows


def _probability_rows(metric: str, xs: np.ndarray, thresholds: dict[str, float], confidence: float,
                      rel_half_width: float) -> list[_Row]:
    """``P(x > threshold)`` for each named threshold, with Clopper-Pearson intervals."""
    return [
        _row(metric, name, math.nan, exceedance_sorted(xs, threshold, confidence), xs.size,
             paths_needed_sorted(xs, "probability", None, threshold, rel_half_width, None, confidence))
        for name, threshold in thresholds.items()
    ]


def _samples(paths: Any, source: str) -> dict[str, np.ndarray]:
    """The sorted sample of every :data:`PATH_METRICS` column of ``paths``, validated."""
    if not isinstance(paths, pd.DataFrame):
        raise ConfigError(source, "paths", "a pandas DataFrame with one row per Monte Carlo path",
                          type(paths).__name__)
    if "bad_debt_usd" not in paths.columns:
        raise ConfigError(source, "paths.bad_debt_usd", "a column 'bad_debt_usd' (bad debt per path, USD)",
                          f"columns {[str(c) for c in paths.columns]}")
    if len(paths) == 0:
        raise ConfigError(source, "paths", "at least one row (one per Monte Carlo path)", "0 rows")
    dup = paths.columns[paths.columns.duplicated()]
    if len(dup):
        raise ConfigError(source, f"paths.{dup[0]}", "each column once", "a duplicate column")
    return {m: np.sort(_column(paths[m], m, source)) for m in PATH_METRICS if m in paths.columns}


def _column(col: pd.Series, metric: str, source: str) -> np.ndarray:
    """One metric column as float64, NaN read as +inf where :data:`NAN_MEANS_NEVER` says so."""
    key = f"paths.{metric}"
    if not (pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col)):
        raise ConfigError(source, key, "a numeric column", str(col.dtype))
    x = col.to_numpy(dtype=np.float64, na_value=np.nan, copy=True)
    if metric in NAN_MEANS_NEVER:
        x[np.isnan(x)] = np.inf
    undefined = np.isnan(x) if metric in NAN_MEANS_UNDEFINED else np.zeros(x.size, dtype=bool)
    bad = np.flatnonzero((np.isnan(x) & ~undefined) | np.isneginf(x))
    if bad.size:
        allowed = "numbers or +inf"
        if metric not in NAN_MEANS_NEVER | NAN_MEANS_UNDEFINED:
            allowed += f", no NaN (NaN is allowed only in {', '.join(sorted(NAN_MEANS_NEVER | NAN_MEANS_UNDEFINED))})"
        raise ConfigError(source, key, allowed, f"{x[bad[0]]} in row {int(bad[0]) + 1} (1-based)")
    return x[~undefined]


def _row(metric: str, statistic: str, level: float, est: Estimate, n: int, needed: int | None) -> _Row:
    return (metric, statistic, float(level), float(est.estimate), float(est.lo), float(est.hi), int(n),
            needed)


def _frame(rows: list[tuple]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=list(TABLE_COLUMNS))
    df["n_paths"] = df["n_paths"].astype(np.int64)
    df["paths_needed"] = pd.array([r[7] for r in rows], dtype="Int64")
    return df
