"""PricePath invariants and the deterministic shocks, checked by hand."""

from __future__ import annotations

import numpy as np
import pytest

from liqcascade.errors import ConfigError
from liqcascade.scenarios import PricePath, instant_shock, linear_shock


def test_instant_shock_by_hand():
    p = instant_shock({"ETH": 2000.0, "BTC": 60000.0}, {"ETH": -0.30}, n_blocks=4, start=1_000)
    assert p.assets == ("ETH", "BTC")
    assert p.times.tolist() == [1000, 1012, 1024, 1036]
    assert p.prices.tolist() == [[2000.0, 60000.0], [1400.0, 60000.0], [1400.0, 60000.0], [1400.0, 60000.0]]
    assert p.block_seconds == 12 and p.gas_gwei is None and p.meta["source"] == "instant_shock"


def test_linear_shock_by_hand():
    p = linear_shock({"ETH": 100.0}, {"ETH": -0.40}, duration_blocks=4, n_blocks=6, block_seconds=1)
    np.testing.assert_allclose(p["ETH"], [100.0, 90.0, 80.0, 70.0, 60.0, 60.0], rtol=1e-15)
    one = linear_shock({"ETH": 100.0}, {"ETH": -0.4}, duration_blocks=1, n_blocks=3)
    np.testing.assert_array_equal(one.prices, instant_shock({"ETH": 100.0}, {"ETH": -0.4}, 3).prices)


@pytest.mark.parametrize(
    "kwargs, key",
    [
        ({"shocks": {"ETH": -1.0}}, "shocks.ETH"),
        ({"shocks": {"DOGE": -0.1}}, "shocks.DOGE"),
        ({"n_blocks": 1}, "n_blocks"),
        ({"block_seconds": 0}, "block_seconds"),
    ],
)
def test_shock_arguments_are_checked(kwargs, key):
    args = {"p0": {"ETH": 100.0}, "shocks": {"ETH": -0.1}, "n_blocks": 3} | kwargs
    with pytest.raises(ConfigError) as e:
        instant_shock(**args)
    assert e.value.key == key


def test_p0_must_be_positive():
    with pytest.raises(ConfigError) as e:
        instant_shock({"ETH": 0.0}, {}, 3)
    assert e.value.key == "p0.ETH"


def test_pricepath_validates_and_is_read_only():
    good = PricePath(np.array([0, 12, 24]), ("A",), np.array([[1.0], [2.0], [3.0]]))
    with pytest.raises(ValueError):
        good.prices[0, 0] = 5.0
    with pytest.raises(ConfigError, match="12 s apart"):
        PricePath(np.array([0, 12, 30]), ("A",), np.ones((3, 1)))
    with pytest.raises(ConfigError, match="finite prices > 0"):
        PricePath(np.array([0, 12]), ("A",), np.array([[1.0], [-1.0]]))
    with pytest.raises(ConfigError, match="shape"):
        PricePath(np.array([0, 12]), ("A", "B"), np.ones((2, 1)))
    with pytest.raises(ConfigError, match="gas"):
        PricePath(np.array([0, 12]), ("A",), np.ones((2, 1)), gas_gwei=np.array([1.0, np.nan]))
    g = good.with_gas(np.array([1.0, 2.0, 3.0]), rule="test")
    assert g.gas_gwei.tolist() == [1.0, 2.0, 3.0] and g.meta["gas_rule"] == "test"
    s = g.slice(1, 3)
    assert (
        s.times.tolist() == [12, 24]
        and s.prices[:, 0].tolist() == [2.0, 3.0]
        and s.gas_gwei.tolist() == [2.0, 3.0]
    )
    assert g.to_frame().columns.tolist() == ["time", "A", "gas_gwei"]
