"""The health-factor pass with per-asset thresholds and an e-mode table
(``aave_v3.kernels.health_table``): compiled and plain twins agree, and both give the HF of the
definition, sum(coll x price x LT) / sum(debt x price), with the LT looked up per account's
e-mode class and asset."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liqcascade.protocols.aave_v3 import kernels, kernels_python
from liqcascade.protocols.base import HF_INF


def _book(seed: int, n: int, n_assets: int = 5):
    rng = np.random.default_rng(seed)
    per = rng.integers(0, 5, n)  # accounts with no rows at all too
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(per, out=offsets[1:])
    rows = int(offsets[-1])
    asset = rng.integers(0, n_assets, rows).astype(np.int16)
    coll = rng.lognormal(0, 2, rows) * (rng.random(rows) < 0.6)
    debt = rng.lognormal(0, 2, rows) * (rng.random(rows) < 0.5)
    emode = rng.integers(0, 3, n).astype(np.int16)
    lt_table = rng.uniform(0.0, 0.97, (3, n_assets))
    lt_table[1, 0] = 0.0  # an asset that is not collateral in one class
    prices = rng.lognormal(3, 2, n_assets)
    return offsets, asset, coll, debt, emode, prices, lt_table


def _by_definition(offsets, asset, coll, debt, emode, prices, lt_table):
    """Plain loops over accounts and rows, the formula as written."""
    out = []
    for k in range(offsets.shape[0] - 1):
        w = d = 0.0
        for r in range(offsets[k], offsets[k + 1]):
            w += coll[r] * prices[asset[r]] * lt_table[emode[k], asset[r]]
            d += debt[r] * prices[asset[r]]
        out.append(w / d if d > 0 else HF_INF)
    return np.array(out)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 60))
def test_health_table_is_the_definition_compiled_and_plain(seed, n):
    b = _book(seed, n)
    expected = _by_definition(*b)
    for fn in (kernels.health_table, kernels_python.health_table):
        out = np.empty(n)
        fn(*b, out)
        # the product's order differs from the definition's: a few ulps
        np.testing.assert_allclose(out, expected, rtol=1e-14)


def test_health_table_agrees_with_the_per_row_pass():
    """The per-row pass (``health_all``) on the thresholds the table gives each row."""
    b = offsets, asset, coll, debt, emode, prices, lt_table = _book(7, 5000)
    account = np.repeat(np.arange(5000), np.diff(offsets))
    lt = lt_table[emode[account], asset]
    per_row = np.empty(5000)
    kernels.health_all(offsets.astype(np.int64), asset.astype(np.int32), coll, debt, prices, lt, per_row)
    table = np.empty(5000)
    kernels.health_table(*b, table)
    np.testing.assert_allclose(table, per_row, rtol=1e-14)
    assert (table[np.diff(offsets) == 0] == HF_INF).all()  # no rows: no debt


def test_hand_account():
    """One account: 2 WETH at $2,000 (LT 0.8 outside e-mode, 0.9 in class 1), 1,000 USDC debt."""
    offsets = np.array([0, 2, 4], dtype=np.int32)
    asset = np.array([0, 1, 0, 1], dtype=np.int16)
    coll = np.array([2.0, 0.0, 2.0, 0.0])
    debt = np.array([0.0, 1000.0, 0.0, 1000.0])
    emode = np.array([0, 1], dtype=np.int16)
    lt_table = np.array([[0.8, 0.75], [0.9, 0.75]])
    out = np.empty(2)
    kernels.health_table(offsets, asset, coll, debt, emode, np.array([2000.0, 1.0]), lt_table, out)
    assert out == pytest.approx([2 * 2000 * 0.8 / 1000, 2 * 2000 * 0.9 / 1000], rel=1e-15)


def test_a_wide_table_does_not_overflow_the_narrow_ids():
    """Class 2 of a 20,000-asset table starts at entry 40,000, past what an int16 holds."""
    n_assets = 20_000
    lt_table = np.full((3, n_assets), 0.5)
    lt_table[2, n_assets - 1] = 0.9
    prices = np.ones(n_assets)
    offsets = np.array([0, 2], dtype=np.int32)
    asset = np.array([n_assets - 1, 0], dtype=np.int16)
    coll, debt = np.array([100.0, 0.0]), np.array([0.0, 50.0])
    for fn in (kernels.health_table, kernels_python.health_table):
        out = np.empty(1)
        fn(offsets, asset, coll, debt, np.array([2], dtype=np.int16), prices, lt_table, out)
        assert out[0] == pytest.approx(100.0 * 0.9 / 50.0, rel=1e-15)


BLOCK = kernels_python.HF_BLOCK


@pytest.mark.parametrize("n", [BLOCK - 1, BLOCK, 3 * BLOCK + 5])
def test_blocks_of_accounts_change_nothing(n):
    """Around the size of the buffered blocks (one short, one exactly, several and a part):
    compiled and plain twins equal each other bit for bit and the definition to rounding."""
    b = _book(11, n)
    compiled, plain = np.empty(n), np.empty(n)
    kernels.health_table(*b, compiled)
    kernels_python.health_table(*b, plain)
    np.testing.assert_array_equal(compiled, plain)
    np.testing.assert_allclose(compiled, _by_definition(*b), rtol=1e-14)
