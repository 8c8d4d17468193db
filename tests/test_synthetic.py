"""Synthetic book: determinism, documented shape, and the market's constraints on every row.

Health factors are recomputed here from first principles (Aave v3: Σ value × LT / Σ debt value,
with the e-mode LT for category assets of e-mode accounts), independently of the generator.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liqcascade.errors import ConfigError
from liqcascade.io.aave_config import load_aave_reserve_config
from liqcascade.model.params import AssetParams, RiskParams
from liqcascade.model.synthetic import synthetic_book


@pytest.fixture(scope="module")
def snap():
    return load_aave_reserve_config()


def health(book, params, px):
    lt = params.liquidation_threshold[book.asset].copy()
    acct_em = book.emode[book.account]
    for e in params.emodes:
        in_cat = (acct_em == e.id) & np.isin(np.asarray(book.assets)[book.asset], list(e.assets))
        lt[in_cat] = e.liquidation_threshold
    w = np.bincount(book.account, book.collateral * px[book.asset] * lt, minlength=book.n_accounts)
    d = np.bincount(book.account, book.debt * px[book.asset], minlength=book.n_accounts)
    with np.errstate(divide="ignore"):
        return np.where(d > 0, w / d, np.inf)


def check_constraints(book, params):
    assert book.assets == params.symbols
    assert (book.collateral >= 0).all() and (book.debt >= 0).all()
    assert np.isfinite(book.collateral).all() and np.isfinite(book.debt).all()
    assert ((book.collateral > 0) | (book.debt > 0)).all()  # no empty rows
    assert params.borrowable[book.asset[book.debt > 0]].all()
    assert (params.liquidation_threshold[book.asset[book.collateral > 0]] > 0).all()
    # CSR layout, sorted by (account, asset), one row per pair
    assert book.offsets[0] == 0 and book.offsets[-1] == book.n_rows
    np.testing.assert_array_equal(np.repeat(np.arange(book.n_accounts), np.diff(book.offsets)), book.account)
    key = book.account * len(params) + book.asset
    assert (np.diff(key) > 0).all()
    # e-mode accounts only hold assets of their category (Aave v3.0-3.1 borrowing rule)
    for e in params.emodes:
        rows = book.emode[book.account] == e.id
        held = set(np.asarray(book.assets)[book.asset[rows]].tolist())
        assert held <= set(e.assets)
    known = {0} | {e.id for e in params.emodes}
    assert set(np.unique(book.emode).tolist()) <= known


def test_same_seed_same_book_other_seed_other_book(snap):
    a = synthetic_book(snap.params, snap.prices, 5_000, seed=7)
    b = synthetic_book(snap.params, snap.prices, 5_000, seed=7)
    c = synthetic_book(snap.params, snap.prices, 5_000, seed=8)
    for f in ("account", "asset", "collateral", "debt", "emode", "offsets", "account_ids"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f))
    assert a.n_rows != c.n_rows or not np.array_equal(a.collateral, c.collateral)


def test_price_array_and_mapping_agree(snap):
    a = synthetic_book(snap.params, snap.prices, 1_000, seed=1)
    b = synthetic_book(snap.params, snap.price_array, 1_000, seed=1)
    np.testing.assert_array_equal(a.debt, b.debt)


@pytest.fixture(scope="module")
def big(snap):
    return synthetic_book(snap.params, snap.prices, 200_000, seed=2023)


def test_constraints_every_row(big, snap):
    check_constraints(big, snap.params)


def test_shape_statistics(big, snap):
    px = snap.price_array
    hf = health(big, snap.params, px)
    borrowers = np.isfinite(hf)
    assert borrowers.all()  # supply_only_share defaults to 0
    h = hf[borrowers]
    # documented shape: mass just above 1, long tail, nobody below 1 unless asked
    assert 1.0 <= np.median(h) <= 1.6
    assert 0.10 <= (h < 1.1).mean() <= 0.40
    assert h.min() >= 1.0 - 1e-9
    assert np.quantile(h, 0.99) > 5.0
    # heavy tail of sizes: top 1 % of accounts hold > 20 % of collateral value
    coll = big.collateral_value(px)
    top = np.sort(coll)[::-1][: big.n_accounts // 100].sum() / coll.sum()
    assert top > 0.20
    # holdings: 2-4 rows per borrower, about 2.5 on average
    k = np.diff(big.offsets)
    assert k.min() >= 2 and k.max() <= 4
    assert 2.3 <= k.mean() <= 2.7
    # pairs weighted like Aave v3 Ethereum: ETH-family collateral and USDC/USDT/DAI/WETH debt dominate
    c, d = big.totals_by_asset()
    cv, dv = c * px, d * px
    eth = [snap.params.index(s) for s in ("WETH", "wstETH", "WBTC", "rETH", "cbETH")]
    assert cv[eth].sum() / cv.sum() > 0.6
    debt_main = [snap.params.index(s) for s in ("USDC", "USDT", "DAI", "WETH")]
    assert dv[debt_main].sum() / dv.sum() > 0.8
    # e-mode loops exist and were sized with the e-mode LT (0.93): with the assets' own LTs
    # (0.77-0.81) the lowest e-mode health factor could not be near 1 under our 0.93 recomputation
    in_em = big.emode == 1
    assert 0.1 < in_em.mean() < 0.5
    assert hf[in_em].min() < 1.02


def test_below_one_and_supply_only_shares(snap):
    b = synthetic_book(snap.params, snap.prices, 50_000, seed=3, below_one_share=0.05, supply_only_share=0.1)
    hf = health(b, snap.params, snap.price_array)
    assert 0.04 < (hf < 1).mean() < 0.06
    assert 0.09 < np.isinf(hf).mean() < 0.11
    assert (hf[hf < 1] >= 0.9 - 1e-9).all()
    check_constraints(b, snap.params)


def test_prices_must_cover_params(snap):
    prices = dict(snap.prices)
    del prices["USDC"]
    with pytest.raises(ConfigError, match="prices.USDC"):
        synthetic_book(snap.params, prices, 10, seed=0)
    with pytest.raises(ConfigError, match="prices.WETH"):
        synthetic_book(snap.params, {**snap.prices, "WETH": -1.0}, 10, seed=0)


def test_bad_knobs(snap):
    with pytest.raises(ConfigError, match="n_collateral_probs"):
        synthetic_book(snap.params, snap.prices, 10, seed=0, n_collateral_probs=(0.5, 0.4))
    with pytest.raises(ConfigError, match="hf_mid_weight"):
        synthetic_book(snap.params, snap.prices, 10, seed=0, hf_near_weight=0.8, hf_mid_weight=0.5)


def test_generic_archetype_for_other_markets():
    params = RiskParams.from_assets(
        [
            AssetParams("AAA", ltv=0.6, liquidation_threshold=0.7, liquidation_bonus=0.1, borrowable=False),
            AssetParams("BBB", ltv=0.5, liquidation_threshold=0.6, liquidation_bonus=0.1),
            AssetParams("CCC", borrowable=True),
        ]
    )
    b = synthetic_book(params, {"AAA": 2.0, "BBB": 3.0, "CCC": 1.0}, 2_000, seed=5)
    check_constraints(b, params)
    assert b.debt.sum() > 0 and b.collateral.sum() > 0


def test_zero_accounts(snap):
    b = synthetic_book(snap.params, snap.prices, 0, seed=0)
    assert b.n_accounts == 0 and b.n_rows == 0


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 400),
       below=st.floats(0, 0.5), supply_only=st.floats(0, 0.5))
def test_property_invariants(snap, seed, n, below, supply_only):
    b = synthetic_book(snap.params, snap.prices, n, seed, below_one_share=below, supply_only_share=supply_only)
    assert b.n_accounts == n
    check_constraints(b, snap.params)


@settings(max_examples=25, deadline=None)
@given(target=st.floats(1e3, 1e11), seed=st.integers(0, 50))
def test_scaled_to_debt_sets_the_total_and_keeps_health_factors(snap, target, seed):
    """Invariant: one factor on every row's collateral and debt makes the book's debt value
    the target and leaves every account's health factor (a ratio of the two) where it was."""
    from liqcascade.model.synthetic import scaled_to_debt

    params = snap.params.subset(["WETH", "wstETH", "USDC", "DAI"])
    px = np.array([snap.prices[s] for s in params.symbols])
    book = synthetic_book(params, px, n_accounts=300, seed=seed)
    scaled = scaled_to_debt(book, px, target)
    assert scaled.debt_value(px).sum() == pytest.approx(target, rel=1e-12)
    hf0, hf1 = health(book, params, px), health(scaled, params, px)
    np.testing.assert_allclose(hf1, hf0, rtol=1e-12)
    np.testing.assert_array_equal(scaled.asset, book.asset)
    np.testing.assert_array_equal(scaled.offsets, book.offsets)


def test_scaled_to_debt_refuses_a_book_without_debt_and_a_bad_target(snap):
    from liqcascade.model.synthetic import scaled_to_debt

    params = snap.params.subset(["WETH", "USDC"])
    px = np.array([snap.prices[s] for s in params.symbols])
    idle = synthetic_book(params, px, n_accounts=20, seed=1, supply_only_share=1.0)
    with pytest.raises(ConfigError, match="debt to scale") as e:
        scaled_to_debt(idle, px, 1e6, ("x.toml", "positions.debt_usd"))
    assert (e.value.file, e.value.key) == ("x.toml", "positions.debt_usd")
    book = synthetic_book(params, px, n_accounts=20, seed=1)
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ConfigError, match="finite total debt"):
            scaled_to_debt(book, px, bad)
