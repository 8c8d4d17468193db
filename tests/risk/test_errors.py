"""Bad arguments to the metric functions raise ConfigError naming the argument."""

from __future__ import annotations

import numpy as np
import pytest

from liqcascade.errors import ConfigError
from liqcascade.risk import (
    es_interval,
    exceedance_probability,
    expected_shortfall,
    mean_interval,
    order_statistic_ranks,
    paths_needed,
    probability_interval,
    value_at_risk,
    var_interval,
)

X = [1.0, 2.0, 3.0]


@pytest.mark.parametrize("level", [0.0, 1.0, -0.1, 1.5, float("nan"), True, "0.9", None])
@pytest.mark.parametrize("fn", [value_at_risk, expected_shortfall, var_interval, es_interval])
def test_level_outside_the_open_unit_interval(fn, level):
    with pytest.raises(ConfigError, match="level: expected a number strictly between 0 and 1"):
        fn(X, level)


@pytest.mark.parametrize("confidence", [0.0, 1.0, 2.0, float("nan")])
def test_confidence_outside_the_open_unit_interval(confidence):
    for call in (lambda: var_interval(X, 0.9, confidence), lambda: es_interval(X, 0.9, confidence),
                 lambda: probability_interval(1, 3, confidence), lambda: mean_interval(X, confidence),
                 lambda: exceedance_probability(X, 1.0, confidence),
                 lambda: paths_needed(X, "mean", confidence=confidence)):
        with pytest.raises(ConfigError, match="confidence: expected"):
            call()


@pytest.mark.parametrize(("sample", "match"), [
    ([], "losses: expected a non-empty sample"),
    ([1.0, float("nan"), 2.0], "losses: expected numbers or \\+inf, no NaN or -inf, got 'nan at index 1'"),
    ([1.0, -np.inf], "losses: expected numbers or \\+inf, no NaN or -inf"),
    ([[1.0, 2.0]], "losses: expected a 1-D array of numbers"),
    (["a"], "losses: expected a 1-D array of numbers"),
])
def test_bad_samples(sample, match):
    for fn in (value_at_risk, expected_shortfall, var_interval, es_interval):
        with pytest.raises(ConfigError, match=match):
            fn(sample, 0.9)


def test_bad_budgets_and_counts():
    with pytest.raises(ConfigError, match=r"n_boot: expected an integer >= 100"):
        es_interval(X, 0.9, n_boot=99)
    with pytest.raises(ConfigError, match=r"n_boot: expected an integer >= 2000 \(at confidence 0.999\)"):
        es_interval(X, 0.9, confidence=0.999, n_boot=1000)
    with pytest.raises(ConfigError, match="seed: expected an integer >= 0"):
        es_interval(X, 0.9, seed=-3)
    with pytest.raises(ConfigError, match="k: expected a count of events between 0 and n=3"):
        probability_interval(4, 3)
    with pytest.raises(ConfigError, match="n: expected an integer >= 1"):
        probability_interval(0, 0)
    with pytest.raises(ConfigError, match="n: expected an integer >= 1"):
        order_statistic_ranks(0, 0.5)
    with pytest.raises(ConfigError, match="threshold: expected a number"):
        exceedance_probability(X, float("nan"))


@pytest.mark.parametrize(("args", "kw", "key"), [
    (("median",), {}, "statistic"),
    (("var",), {}, "level"),
    (("es",), {"level": 1.0}, "level"),
    (("probability",), {}, "threshold"),
    (("mean",), {"rel_half_width": 0.0}, "rel_half_width"),
    (("mean",), {"rel_half_width": float("inf")}, "rel_half_width"),
    (("mean",), {"half_width": -1.0}, "half_width"),
])
def test_bad_paths_needed_arguments(args, kw, key):
    with pytest.raises(ConfigError, match=rf"<python>: {key}: expected"):
        paths_needed(X, *args, **kw)
