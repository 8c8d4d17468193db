"""The owners' behaviour fit (model/behaviour.py): the vault-hour panel and the binned hazard on
hand cases, the held-aside window left out, the refill regression against its closed form,
and the parameters' checks."""

import math

import numpy as np
import pytest

from liqcascade.errors import ConfigError
from liqcascade.model.behaviour import (DEPOSIT, BORROW, LIQUIDATION, BehaviourParams, Hours, VaultEvents,
                                        build_panel, fit_behaviour, fit_refill)

H = 3600.0


def events(rows):
    """rows: (t, vault, kind, dink, dart)."""
    a = list(zip(*rows))
    return VaultEvents(np.array(a[0], float), np.array(a[1], np.int64), np.array(a[2], np.int64),
                       np.array(a[3], float), np.array(a[4], float))


def hours(prices, mat=1.5):
    n = len(prices)
    return Hours(np.arange(n) * H, np.array(prices, float), np.ones(n), np.full(n, mat))


# vault 7: 1 ETH and 1000 DAI before hour 0; liquidation ratio 1.5.
# hour 0 at 2000: HF = 2000 / 1500 = 4/3; hour 1 at 1600: 1600 / 1500 (the owner adds 0.5 ETH:
# HF 2400 / 1500 = 1.6 at the same price); hour 2 at 1600: 1.6 (draws 500: 2400 / 2250);
# hour 3: 2400 / 2250 again, no action.
HAND = events([(-100.0, 7, DEPOSIT, 1.0, 0.0), (-100.0, 7, BORROW, 0.0, 1000.0),
               (H + 100.0, 7, DEPOSIT, 0.5, 0.0), (2 * H + 100.0, 7, BORROW, 0.0, 500.0)])
PRICES = [2000.0, 1600.0, 1600.0, 1600.0]


def test_panel_by_hand():
    p = build_panel(HAND, hours(PRICES))
    assert p.hour.tolist() == [0, 1, 2, 3]
    assert p.d.tolist() == pytest.approx([4 / 3 - 1, 1600 / 1500 - 1, 0.6, 2400 / 2250 - 1])
    assert p.protect.tolist() == [False, True, False, False]
    assert p.lever.tolist() == [False, False, True, False]
    assert p.hf_after[1] == pytest.approx(1.6) and p.hf_after[2] == pytest.approx(2400 / 2250)
    assert p.repaid.tolist() == [False] * 4


def test_a_price_move_alone_is_not_an_action():
    # hour 0 -> 1 the price falls 20 % with no event: nothing is counted in hour 0
    p = build_panel(HAND, hours(PRICES))
    assert not p.protect[0] and not p.lever[0]


def test_excluded_window_leaves_its_hours_out_but_keeps_the_state():
    # exclude hour 1 (where the top-up happened): its row and its protect are gone, and hour 2
    # still starts from the book after the top-up (the events are complete; only the fit skips)
    p = build_panel(HAND, hours(PRICES), exclude=((H, 2 * H),))
    assert p.hour.tolist() == [0, 2, 3]
    assert not p.protect.any()
    assert p.d[1] == pytest.approx(0.6)
    fit = fit_behaviour(p, edges=(-0.3, 0.0, 0.5, 2.0))
    assert sum(b.protect for b in fit.bins) == 0 and sum(b.hours for b in fit.bins) == 3


def test_an_hour_reaching_into_the_window_is_left_out():
    p = build_panel(HAND, hours(PRICES), exclude=((H + 1800.0, 5 * H),))
    assert p.hour.tolist() == [0]


def test_fit_counts_probabilities_and_binomial_errors():
    fit = fit_behaviour(build_panel(HAND, hours(PRICES)), edges=(-0.3, 0.0, 0.5, 2.0))
    near, far = fit.bins[1], fit.bins[2]
    # [0, 0.5): hours 0, 1, 3 (d = 1/3, 1/15, 1/15); one protect. [0.5, 2): hour 2, one lever.
    assert (near.hours, near.protect, near.lever, near.vaults) == (3, 1, 0, 1)
    assert (far.hours, far.protect, far.lever) == (1, 0, 1)
    assert near.p_protect == pytest.approx(1 / 3)
    assert near.se_protect == pytest.approx(math.sqrt((1 / 3) * (2 / 3) / 3))
    assert fit.restore_hf == pytest.approx(1.6) and fit.restore_n == 1
    assert fit.lever_hf == pytest.approx(2400 / 2250) and fit.lever_n == 1
    assert fit.repay_share == 0.0 and fit.close_share == 0.0
    assert math.isnan(fit.bins[0].p_protect) and fit.params().protect_per_hour[0] == 0.0


def test_repayment_closing_the_debt_is_a_protect_with_infinite_hf():
    ev = events([(-100.0, 1, DEPOSIT, 1.0, 0.0), (-100.0, 1, BORROW, 0.0, 1000.0), (100.0, 1, 3, 0.0, -1000.0)])
    p = build_panel(ev, hours([1600.0, 1600.0]))
    assert p.protect.tolist() == [True] and p.repaid.tolist() == [True] and math.isinf(p.hf_after[0])
    fit = fit_behaviour(p, edges=(-0.3, 0.0, 0.5))
    assert fit.close_share == 1.0 and fit.repay_share == 1.0 and fit.restore_n == 0


def test_a_vault_below_one_for_more_than_a_day_is_left_out_from_then():
    # 1 ETH, 1000 DAI, mat 1.5: HF 1.2 at 1800, then 1200 for 30 hours (HF 0.8), no liquidation
    # recorded: not a position on chain. A vault below 1 for 3 hours and back stays.
    ev = events([(-100.0, 1, DEPOSIT, 1.0, 0.0), (-100.0, 1, BORROW, 0.0, 1000.0)])
    p = build_panel(ev, hours([1800.0] * 2 + [1200.0] * 30), stale_hours=24)
    assert p.hour.tolist() == [0, 1]
    q = build_panel(ev, hours([1800.0] * 2 + [1200.0] * 3 + [1800.0] * 2), stale_hours=24)
    assert q.hour.tolist() == list(range(7))


def test_liquidations_are_not_owner_actions():
    ev = events([(-100.0, 1, DEPOSIT, 1.0, 0.0), (-100.0, 1, BORROW, 0.0, 1000.0),
                 (100.0, 1, LIQUIDATION, -1.0, -1000.0)])
    p = build_panel(ev, hours([1400.0, 1400.0]))
    assert p.hour.tolist() == [0] and not p.protect[0] and not p.lever[0]


def test_refill_regression_against_the_closed_form():
    # shares 1, 2, 4 on returns -1, 0, 1: slope = sum(xc * yc) / sum(xc^2) = (4/3 + 5/3) / 2 = 1.5;
    # residuals 1/6, -1/3, 1/6: SSR = 1/6, se = sqrt(SSR / (n - 2) / sxx) = sqrt(1/12)
    r = fit_refill(np.arange(3.0), np.array([0.0, 1.0, 2.0]), np.array([1.0, 2.0, 4.0]), np.ones(3),
                   np.array([-1.0, 0.0, 1.0]))
    assert r.days == 3 and r.draw_slope == pytest.approx(1.5) and r.draw_slope_se == pytest.approx(math.sqrt(1 / 12))
    assert r.new_vaults_per_day == pytest.approx(1.0) and r.new_vaults_se == pytest.approx(1 / math.sqrt(3))
    assert r.draw_share_per_day == pytest.approx(7 / 3)


@pytest.mark.parametrize("kw, key", [
    ({"edges": (0.0, 0.1)}, "behaviour.edges"),
    ({"edges": (0.1, 0.0, 0.2)}, "behaviour.edges"),
    ({"protect_per_hour": (0.5, 1.5)}, "behaviour.protect_per_hour"),
    ({"restore_hf": 1.0}, "behaviour.restore_hf"),
    ({"lever_hf": 0.9}, "behaviour.lever_hf"),
    ({"repay_share": 2.0}, "behaviour.repay_share"),
])
def test_parameters_are_checked(kw, key):
    base = dict(edges=(0.0, 0.1, 0.2), protect_per_hour=(0.5, 0.1), lever_per_hour=(0.0, 0.1), restore_hf=1.2,
                lever_hf=1.1, repay_share=0.5)
    with pytest.raises(ConfigError) as e:
        BehaviourParams(**{**base, **kw})
    assert e.value.key == key


# --- new accounts: the opening process (Poisson rate with a return slope, quantile draws) ---

from liqcascade.model.behaviour import OPEN_LEVELS, OpenParams, draw_quantiles, fit_poisson_rate, quantile_knots  # noqa: E402

HF_Q = tuple(1.05 + 0.05 * i for i in range(21))
SIZE_Q = tuple(0.1 * (i + 1) for i in range(21))


@pytest.mark.parametrize("rate, slope", [(0.02, 0.0), (0.006, -7.5), (0.5, 3.0)])
def test_poisson_fit_recovers_the_rate_and_slope_it_was_drawn_with(rate, slope):
    # counts drawn from the model itself: the MLE is consistent, so with ~20 000 events the
    # estimates land within 4 of their own standard errors of the truth
    rng = np.random.default_rng(11)
    n = 40_000
    exposure = rng.uniform(1.0, 8.0, n) * 20_000 / (n * 4.5 * rate)  # about 20 000 events in all
    x = rng.normal(0.0, 0.05, n)
    y = rng.poisson(exposure * rate * np.exp(slope * x))
    f = fit_poisson_rate(y, exposure, x)
    assert abs(f.rate - rate) < 4 * f.rate_se
    assert abs(f.slope - slope) < 4 * f.slope_se
    assert f.dispersion == pytest.approx(1.0, abs=0.05)  # Poisson counts: no over-dispersion


def test_poisson_fit_on_two_groups_is_events_over_exposure_in_each():
    # closed form: with x taking two values the model is saturated, and the MLE's rate in each
    # group is its events over its exposure
    y = np.array([0, 3, 1, 0, 2, 5.0])
    e = np.array([1.0, 2, 1, 1, 2, 3])
    x = np.array([-0.1, 0.1, -0.1, 0.1, -0.1, 0.1])
    f = fit_poisson_rate(y, e, x)
    lo, hi = x < 0, x > 0
    assert f.rate * math.exp(f.slope * -0.1) == pytest.approx(y[lo].sum() / e[lo].sum(), rel=1e-9)
    assert f.rate * math.exp(f.slope * 0.1) == pytest.approx(y[hi].sum() / e[hi].sum(), rel=1e-9)


def test_over_dispersed_counts_widen_the_standard_errors():
    rng = np.random.default_rng(3)
    n = 5000
    e = np.ones(n)
    x = rng.normal(0, 0.1, n)
    y = rng.negative_binomial(1, 1 / (1 + 2.0), n)  # mean 2, variance 6: dispersion 3
    f = fit_poisson_rate(y, e, x)
    assert f.dispersion == pytest.approx(3.0, rel=0.15)


def test_quantile_draws_recover_their_knots():
    # law of large numbers: the sample quantiles of many draws converge to the knots
    u = np.random.default_rng(5).random(200_000)
    draws = draw_quantiles(SIZE_Q, u)
    assert quantile_knots(draws)[1:-1] == pytest.approx(SIZE_Q[1:-1], abs=0.01)
    assert draws.min() >= SIZE_Q[0] and draws.max() <= SIZE_Q[-1]
    assert draw_quantiles(HF_Q, np.array([0.0, 0.5, 1.0])) == pytest.approx([HF_Q[0], HF_Q[10], HF_Q[20]])
    assert len(OPEN_LEVELS) == 21 and OPEN_LEVELS[10] == 0.5


@pytest.mark.parametrize("kw, key", [
    ({"per_account_day": -1.0}, "behaviour.open_per_account_day"),
    ({"return_slope": math.inf}, "behaviour.open_return_slope"),
    ({"return_range": (0.1, 0.2)}, "behaviour.open_return_range"),
    ({"hf_quantiles": (1.0,) + HF_Q[1:]}, "behaviour.open_hf_quantiles"),
    ({"hf_quantiles": HF_Q[::-1]}, "behaviour.open_hf_quantiles"),
    ({"size_quantiles": SIZE_Q[:5]}, "behaviour.open_size_quantiles"),
    ({"pair": ("WETH", "WETH")}, "behaviour.open_pair"),
    ({"scale": -0.5}, "behaviour.open_scale"),
])
def test_opening_parameters_are_checked(kw, key):
    base = dict(per_account_day=0.01, return_slope=0.0, hf_quantiles=HF_Q, size_quantiles=SIZE_Q,
                return_range=(-0.2, 0.2))
    with pytest.raises(ConfigError) as e:
        OpenParams(**{**base, **kw})
    assert e.value.key == key


# --- reactions that depend on the market: a log-rate slope per bin on the 24 h return ---

from liqcascade.model.behaviour import Panel, clustered_slope_se, fit_return_response  # noqa: E402

SLOPED = dict(edges=(0.0, 0.1, 0.2), protect_per_hour=(0.02, 0.01), lever_per_hour=(0.01, 0.03), restore_hf=1.2,
              lever_hf=1.1, repay_share=0.5)


def test_a_known_return_changes_the_hourly_probability_by_exactly_the_slope():
    # hand: bin 0 protects 0.02 an hour at r = 0 with slope -10; at r = -0.1 it is
    # 0.02 * e ** 1 = 0.0543656...; levers 0.01 with slope 5: 0.01 * e ** -0.5
    p = BehaviourParams(**SLOPED, protect_return_slope=(-10.0, -4.0), lever_return_slope=(5.0, 0.0),
                        return_range=(-0.2, 0.2))
    pp, pl = p.per_block(np.array([0.05, 0.15]), 3600.0, np.array([-0.1, -0.1]))
    assert pp[0] == pytest.approx(0.02 * math.e, rel=1e-12)
    assert pp[1] == pytest.approx(0.01 * math.exp(0.4), rel=1e-12)
    assert pl[0] == pytest.approx(0.01 * math.exp(-0.5), rel=1e-12) and pl[1] == pytest.approx(0.03, rel=1e-12)
    # beyond the fitted range the return is clipped: -0.5 acts as -0.2; the cap is 1
    pp, _ = p.per_block(np.array([0.05]), 3600.0, np.array([-0.5]))
    assert pp[0] == pytest.approx(0.02 * math.exp(2.0), rel=1e-12)
    steep = BehaviourParams(**SLOPED, protect_return_slope=(-100.0, 0.0), return_range=(-0.2, 0.2))
    assert steep.per_block(np.array([0.05]), 3600.0, np.array([-0.2]))[0][0] == 1.0


def test_zero_slope_is_the_bins_probabilities_bit_for_bit():
    plain = BehaviourParams(**SLOPED)
    zero = BehaviourParams(**SLOPED, protect_return_slope=(0.0, 0.0), lever_return_slope=(0.0, 0.0),
                           return_range=(-0.3, 0.3))
    d = np.linspace(-0.1, 0.3, 41)
    r = np.linspace(-0.4, 0.4, 41)
    for seconds in (12.0, 900.0, 3600.0):
        a, b = plain.per_block(d, seconds), zero.per_block(d, seconds, r)
        assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
        assert np.array_equal(a[0], plain.per_block(d, seconds, r)[0])  # no slopes: r is not read


def test_a_fall_raises_protection_monotonically_with_a_negative_slope():
    p = BehaviourParams(**SLOPED, protect_return_slope=(-8.0, -12.0), lever_return_slope=(10.0, 10.0),
                        return_range=(-0.3, 0.3))
    r = np.linspace(0.3, -0.3, 61)  # ever deeper falls
    for d in (0.05, 0.15):
        pp, pl = p.per_block(np.full(61, d), 900.0, r)
        assert np.all(np.diff(pp) > 0) and np.all(np.diff(pl) < 0)


@pytest.mark.parametrize("kw, key", [
    ({"protect_return_slope": (-1.0,)}, "behaviour.protect_return_slope"),
    ({"lever_return_slope": (1.0, math.nan)}, "behaviour.lever_return_slope"),
    ({"return_range": (0.1, 0.3)}, "behaviour.react_return_range"),
    ({"return_range": (-0.1,)}, "behaviour.react_return_range"),
])
def test_return_parameters_are_checked(kw, key):
    with pytest.raises(ConfigError) as e:
        BehaviourParams(**{**SLOPED, **kw})
    assert e.value.key == key


def test_the_return_fit_recovers_the_slopes_it_was_drawn_with():
    # vault-hours drawn from the model itself: bin 0 protects at 0.03 * exp(-12 r), bin 1 at
    # 0.01 * exp(-4 r); each regression lands within 4 of its standard errors of the truth
    rng = np.random.default_rng(5)
    n_hours, per = 4000, 60
    r_hour = rng.normal(0.0, 0.05, n_hours)
    hour = np.repeat(np.arange(n_hours), per)
    d = rng.uniform(0.0, 0.2, hour.shape[0])
    k = (d >= 0.1).astype(int)
    rate, slope = np.array([0.03, 0.01]), np.array([-12.0, -4.0])
    prot = rng.random(hour.shape[0]) < rate[k] * np.exp(slope[k] * r_hour[hour])
    lev = rng.random(hour.shape[0]) < 0.02
    hf_after = np.where(prot, 1.05, np.nan)
    panel = Panel(np.arange(hour.shape[0]) % 500, hour, d, prot, lev, np.zeros_like(prot), hf_after)
    keep = np.ones(n_hours, dtype=bool)
    keep[:100] = False  # hours left out are not fitted
    rr = fit_return_response(panel, r_hour, keep, (0.0, 0.1, 0.2))
    for f, a, b in zip(rr.protect, rate, slope):
        assert abs(f.rate - a) < 4 * f.rate_se and abs(f.slope - b) < 4 * f.slope_se
    for f in rr.lever:  # no dependence drawn
        assert abs(f.slope) < 4 * f.slope_se
    assert rr.hours == n_hours - 100
    assert rr.return_range == (float(r_hour[100:].min()), float(r_hour[100:].max()))
    assert rr.restore_slope == pytest.approx(0.0, abs=1e-12)  # every restore at 1.05


def test_clustered_error_of_a_twice_counted_panel_is_the_robust_error_of_the_panel():
    # closed form: repeating every element twice leaves the estimate, doubles the information
    # and doubles each pair's score, so clustering each pair gives the singleton-cluster
    # (heteroskedasticity-robust) error of the original: (2I)^-1 (4 M) (2I)^-1 = I^-1 M I^-1
    rng = np.random.default_rng(8)
    x = rng.normal(0.0, 0.05, 20_000)
    y = (rng.random(x.size) < 0.03 * np.exp(-10.0 * x)).astype(float)
    f = fit_poisson_rate(y, np.ones_like(y), x)
    one = clustered_slope_se(y, x, f, np.arange(x.size))
    f2 = fit_poisson_rate(np.repeat(y, 2), np.ones(2 * x.size), np.repeat(x, 2))
    assert f2.slope == pytest.approx(f.slope, rel=1e-9) and f2.slope_se == pytest.approx(f.slope_se / math.sqrt(2), rel=1e-6)
    two = clustered_slope_se(np.repeat(y, 2), np.repeat(x, 2), f2, np.repeat(np.arange(x.size), 2))
    assert two == pytest.approx(one, rel=1e-6)
    # and Bernoulli draws with p = 0.03 e^(-10 x) are nearly Poisson: the robust error is near the model's
    assert one == pytest.approx(f.slope_se, rel=0.1)
