"""Risk metrics over Monte Carlo results: VaR, expected shortfall, exceedance probabilities,
their confidence intervals, and the paths needed for a target precision.

Pure functions of a loss sample (one value per path, larger = worse) or of a run's ``paths``
table; nothing here runs a simulation. See docs/risk.md for the definitions, estimators,
intervals and references.
"""

from liqcascade.risk.intervals import (
    Estimate,
    Interval,
    es_interval,
    mean_interval,
    order_statistic_ranks,
    probability_interval,
    var_interval,
)
from liqcascade.risk.metrics import exceedance_probability, expected_shortfall, value_at_risk
from liqcascade.risk.sample_size import STATISTICS, paths_needed
from liqcascade.risk.table import (
    NAN_MEANS_NEVER,
    NAN_MEANS_UNDEFINED,
    PATH_METRICS,
    TABLE_COLUMNS,
    risk_table,
)

__all__ = [
    "Estimate",
    "Interval",
    "NAN_MEANS_NEVER",
    "NAN_MEANS_UNDEFINED",
    "PATH_METRICS",
    "STATISTICS",
    "TABLE_COLUMNS",
    "es_interval",
    "exceedance_probability",
    "expected_shortfall",
    "mean_interval",
    "order_statistic_ranks",
    "paths_needed",
    "probability_interval",
    "risk_table",
    "value_at_risk",
    "var_interval",
]
