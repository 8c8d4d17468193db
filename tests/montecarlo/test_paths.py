"""Monte Carlo path model: the seed scheme, the stresses (by closed form or exact identities),
the bootstrap on real returns, and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liqcascade.errors import ConfigError
from liqcascade.scenarios import SECONDS_PER_YEAR, Jumps, block_bootstrap, gbm
from liqcascade.scenarios.montecarlo import (
    BootstrapModel,
    CorrBreak,
    Depeg,
    GbmModel,
    PathModel,
    hourly_returns_source,
)

VOL = {"ETH": 0.8, "stETH": 0.8, "BTC": 0.6}
CORR = [[1.0, 0.97, 0.8], [0.97, 1.0, 0.78], [0.8, 0.78, 1.0]]


def model(**kw) -> PathModel:
    base = kw.pop("base", GbmModel(VOL, CORR))
    return PathModel(base, **{"blocks": 50, "block_seconds": 300, **kw})


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**63 - 1), index=st.integers(0, 300))
def test_path_i_is_the_ith_spawned_child_of_the_root_seed(seed, index):
    """Path i is SeedSequence(seed, spawn_key=(i,)): the same as spawning from the root, and
    its base path is gbm() on that sequence's first child; nothing else changes it."""
    m = model()
    p = m.path(seed, index)
    spawned = np.random.SeedSequence(seed).spawn(index + 1)[index]
    base_seq = spawned.spawn(2)[0]
    want = gbm({a: 1.0 for a in VOL}, VOL, CORR, 50, base_seq, block_seconds=300)
    np.testing.assert_array_equal(p.prices, want.prices)
    # drawing other paths first changes nothing
    m.path(seed, index + 1)
    np.testing.assert_array_equal(m.path(seed, index).prices, p.prices)


def test_paths_differ_across_indexes_and_seeds():
    m = model()
    a, b, c = m.path(1, 0).prices, m.path(1, 1).prices, m.path(2, 0).prices
    assert not np.array_equal(a, b) and not np.array_equal(a, c)
    assert np.all(a[0] == 1.0)


def test_vol_scale_multiplies_the_diffusion_exactly():
    """Same normals, vol x k: each log step minus its drift term is k times as large."""
    dt = 300 / SECONDS_PER_YEAR
    sig = np.array(list(VOL.values()))
    one, two = model().path(5, 3), model(vol_scale=2.0).path(5, 3)
    r1 = np.diff(np.log(one.prices), axis=0) + 0.5 * sig**2 * dt
    r2 = np.diff(np.log(two.prices), axis=0) + 0.5 * (2 * sig) ** 2 * dt
    np.testing.assert_allclose(r2, 2.0 * r1, rtol=1e-9, atol=1e-15)
    # per asset: only BTC scaled
    btc = model(vol_scale={"BTC": 3.0}).path(5, 3)
    np.testing.assert_array_equal(btc["ETH"], one["ETH"])


def test_corr_break_sets_the_pair_correlation():
    long = dict(blocks=20_001)
    m = model(corr_break=(CorrBreak("ETH", "stETH", 0.5),), **long)
    r = np.diff(np.log(m.path(0, 0).prices), axis=0)
    c = np.corrcoef(r.T)
    # n = 20,000 steps: the standard error of a sample correlation is at most 1/sqrt(n) = 0.007
    assert c[0, 1] == pytest.approx(0.5, abs=0.03)
    assert c[0, 2] == pytest.approx(0.8, abs=0.03)
    unbroken = np.corrcoef(np.diff(np.log(model(**long).path(0, 0).prices), axis=0).T)
    assert unbroken[0, 1] == pytest.approx(0.97, abs=0.01)


def test_depeg_with_certainty_is_the_drop_exactly():
    """Probability 1, no extra volatility: the asset is the undepegged path times a log-linear
    ramp to (1 - drop) over duration_blocks from the drawn block; other assets are untouched."""
    calm = model()
    d = Depeg("stETH", drop=0.1, probability=1.0, duration_blocks=4)
    hit = model(depeg=(d,))
    for i in range(20):
        p, q = hit.path(9, i), calm.path(9, i)
        (b,) = p.meta["depeg_blocks"]
        assert 1 <= b <= 49
        ratio = p["stETH"] / q["stETH"]
        t = np.arange(50)
        want = np.exp(math.log(0.9) * np.clip((t - b + 1) / 4, 0, 1))
        np.testing.assert_allclose(ratio, want, rtol=1e-12)
        np.testing.assert_array_equal(p["ETH"], q["ETH"])
        np.testing.assert_array_equal(p["BTC"], q["BTC"])
    never = model(depeg=(Depeg("stETH", 0.1, 0.0),)).path(9, 0)
    np.testing.assert_array_equal(never.prices, calm.path(9, 0).prices)
    assert never.meta["depeg_blocks"] == (-1,)


def test_depeg_frequency_is_its_probability():
    m = PathModel(GbmModel({"X": 0.5}), blocks=3, depeg=(Depeg("X", 0.05, 0.3),))
    hits = np.array([m.path(4, i).meta["depeg_blocks"][0] >= 0 for i in range(1500)])
    # binomial(1500, 0.3): sd of the share = sqrt(0.21 / 1500) = 0.0118; 4 sd
    assert abs(hits.mean() - 0.3) < 4 * 0.0118


def test_decoupled_move_after_the_break_has_its_volatility():
    """vol_after: after the break, the extra log steps are sigma sqrt(dt) Z - sigma^2 dt / 2."""
    sigma, blocks = 2.0, 4000
    dt = 300 / SECONDS_PER_YEAR
    d = Depeg("stETH", drop=0.01, probability=1.0, vol_after=sigma)
    p = model(depeg=(d,), blocks=blocks).path(1, 0)
    q = model(blocks=blocks).path(1, 0)
    (b,) = p.meta["depeg_blocks"]
    extra = np.diff(np.log(p["stETH"] / q["stETH"]))[b:]  # steps b -> b+1 onwards
    assert extra.size > 10
    if extra.size > 400:
        assert extra.std(ddof=1) == pytest.approx(sigma * math.sqrt(dt), rel=0.15)
    # before the break nothing moved
    np.testing.assert_allclose(p["stETH"][:b], q["stETH"][:b], rtol=1e-12)


def test_bootstrap_uses_real_joint_hourly_returns():
    src = {"ETH": hourly_returns_source("builtin:ETHUSDT_1h"), "BTC": hourly_returns_source("builtin:BTCUSDT_1h")}
    assert len(src["ETH"]) > 23_000 and src["ETH"].attrs["interval"] == 3600
    m = PathModel(BootstrapModel(src, block_hours=6), blocks=289, block_seconds=300)
    p = m.path(3, 7)
    # the same draw as block_bootstrap on the path's own seed, from 1.0
    seq = np.random.SeedSequence(3, spawn_key=(7,)).spawn(2)[0]
    want = block_bootstrap(src, 289, 6, seq, p0={"ETH": 1.0, "BTC": 1.0}, block_seconds=300)
    np.testing.assert_array_equal(p.prices, want.prices)
    # every hour-to-hour return of the path is a joint return of the data (same hour for both)
    t = src["ETH"]["time"].to_numpy()
    common, ie, ib = np.intersect1d(t, src["BTC"]["time"].to_numpy(), return_indices=True)
    ce, cb = src["ETH"]["close"].to_numpy()[ie], src["BTC"]["close"].to_numpy()[ib]
    ok = np.diff(common) == 3600
    real = np.column_stack([np.diff(np.log(ce)), np.diff(np.log(cb))])[ok]
    hourly = np.diff(np.log(p.prices[::12]), axis=0)
    for row in hourly:
        assert np.min(np.max(np.abs(real - row), axis=1)) < 1e-9
    # vol_scale scales every return (the path starts at 1, so log prices scale)
    scaled = PathModel(BootstrapModel(src, block_hours=6), blocks=289, block_seconds=300, vol_scale=1.5).path(3, 7)
    np.testing.assert_allclose(np.log(scaled.prices), 1.5 * np.log(p.prices), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize(
    "kw, key",
    [
        (dict(base=GbmModel(VOL, [[1, 0.9, 0.9], [0.9, 1, -0.9], [0.9, -0.9, 1]])), "montecarlo.corr"),
        (dict(corr_break=(CorrBreak("ETH", "stETH", -0.9),)), "montecarlo.corr_break"),
        (dict(corr_break=(CorrBreak("ETH", "DOGE", 0.1),)), "montecarlo.corr_break.0.assets"),
        (dict(depeg=(Depeg("DOGE", 0.1, 0.5),)), "montecarlo.depeg.0.asset"),
        (dict(depeg=(Depeg("stETH", 1.5, 0.5),)), "montecarlo.depeg.0.drop"),
        (dict(depeg=(Depeg("stETH", 0.1, 1.5),)), "montecarlo.depeg.0.probability"),
        (dict(vol_scale=0.0), "montecarlo.vol_scale"),
        (dict(blocks=1), "montecarlo.blocks"),
        (dict(base=GbmModel({"ETH": -0.1})), "montecarlo.vol.ETH"),
        (dict(base=GbmModel({"ETH": 0.5}, jumps=Jumps(5, {"XRP": 0.1}, {}))), "montecarlo.jumps.mean.XRP"),
    ],
)
def test_bad_models_name_the_key(kw, key):
    with pytest.raises(ConfigError) as ei:
        model(**kw)
    assert ei.value.key.startswith(key), ei.value


def test_corr_break_needs_gbm_and_builtin_names_are_checked():
    src = {"ETH": hourly_returns_source("builtin:ETHUSDT_1h")}
    with pytest.raises(ConfigError, match="corr_break"):
        PathModel(BootstrapModel(src), corr_break=(CorrBreak("ETH", "ETH", 0.0),))
    with pytest.raises(ConfigError, match="builtin:ETHUSDT_1h"):
        hourly_returns_source("builtin:DOGE_1h")
    with pytest.raises(ConfigError):
        model().path(-1, 0)
