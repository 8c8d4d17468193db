"""The synthetic book's HF mixture (model/hf_fit.py): its CDF against closed forms and against
the books synthetic_book draws, and the KS fit."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liqcascade.errors import ConfigError
from liqcascade.model import AssetParams, RiskParams
from liqcascade.model.hf_fit import HfMixture, fit_hf_mixture, ks_distance
from liqcascade.model.synthetic import Archetype, synthetic_book

PARAMS = RiskParams.from_assets([AssetParams("WETH", 18, 0.80, 0.85, 0.05, 0.10),
                                 AssetParams("USDC", 6, 0.75, 0.78, 0.045, 0.10)])
PRICES = {"WETH": 2000.0, "USDC": 1.0}
PAIR = Archetype("pair", 1.0, {"WETH": 1.0}, {"USDC": 1.0})


def book_hf(mix: HfMixture, n: int, seed: int) -> np.ndarray:
    """Per-account HF of a one-pair synthetic book drawn with ``mix``: WETH value * LT / debt."""
    b = synthetic_book(PARAMS, PRICES, n, seed, archetypes=(PAIR,), n_collateral_probs=(1.0,), n_debt_probs=(1.0,),
                       **mix.knobs())
    w = b.segment_sum(b.collateral * np.array([2000.0 * 0.85, 0.0])[b.asset])
    d = b.segment_sum(b.debt * np.array([0.0, 1.0])[b.asset])
    return w / d


def test_components_against_closed_forms():
    uniform = HfMixture(1.0, 0.4, (1.0, 1.0), 0.0)
    assert uniform.cdf(np.array([1.0, 1.1, 1.2, 1.4, 2.0])) == pytest.approx([0.0, 0.25, 0.5, 1.0, 1.0], abs=1e-9)
    mid = HfMixture(0.0, 0.3, (1.2, 2.0), 1.0, 2.0, 0.5)
    # median at hf_mid_median; one sigma up: Phi(1)
    assert mid.cdf(np.array([2.0, 1.0 + math.e ** 0.5]))[0] == pytest.approx(0.5)
    assert mid.cdf(np.array([1.0 + math.e ** 0.5]))[0] == pytest.approx(0.5 * (1 + math.erf(1 / math.sqrt(2))))
    tail = HfMixture(0.0, 0.3, (1.2, 2.0), 0.0, 2.0, 0.5, 2.5, 1.5)
    assert tail.cdf(np.array([2.4, 5.0, 100.0])) == pytest.approx([0.0, 1.0 - 2.0 ** -1.5, 1.0])


@settings(max_examples=25, deadline=None)
@given(st.floats(0.0, 1.0), st.floats(0.0, 1.0), st.floats(1.0, 4.0), st.floats(1.0, 4.0))
def test_cdf_is_a_distribution_function(wn, share, a, b):
    m = HfMixture(wn, 0.3, (a, b), (1.0 - wn) * share, 1.8, 0.6, 2.5, 1.2)
    x = np.exp(np.linspace(0.0, math.log(100.0), 500))
    f = m.cdf(x)
    assert f[0] == pytest.approx(0.0, abs=1e-12) and f[-1] == pytest.approx(1.0)
    assert np.all(np.diff(f) >= -1e-12)


@pytest.mark.parametrize("mix", [HfMixture(), HfMixture(0.15, 0.6, (1.5, 1.8), 0.7, 2.0, 0.45, 2.3, 1.8)])
def test_the_cdf_is_the_law_synthetic_book_draws(mix):
    # 4000 accounts: the KS distance stays below the 99 % critical value 1.63 / sqrt(n)
    hf = book_hf(mix, 4000, 11)
    assert ks_distance(hf, mix) < 1.63 / math.sqrt(hf.size)


def test_fit_is_at_least_as_close_as_the_law_it_was_drawn_from():
    truth = HfMixture(0.15, 0.6, (1.5, 1.8), 0.7, 2.0, 0.45, 2.3, 1.8)
    hf = book_hf(truth, 300, 5)
    f = fit_hf_mixture(hf)
    assert f.n == 300 and f.ks <= ks_distance(hf, truth) + 1e-9


def test_bad_sample_is_an_error():
    with pytest.raises(ConfigError):
        fit_hf_mixture(np.array([0.9] + [1.5] * 20))
