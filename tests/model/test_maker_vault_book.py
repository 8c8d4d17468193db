"""The vault book fitted to an ilk's totals, and the shipped Black Thursday ETH-A book."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liqcascade.model.maker_vault_book import VaultTotals, vault_book

REPO = Path(__file__).resolve().parents[2]
# the example's figures (docs/maker_flip.md, "The vault book")
ETH_A_EVE = VaultTotals(vaults=2000, debt_dai=100e6, collateral=2.0e6, price=168.6)


@given(n=st.integers(1, 400), debt=st.floats(1e3, 1e9), ratio=st.floats(1.6, 20.0), seed=st.integers(0, 2**31))
@settings(max_examples=30, deadline=None)
def test_the_book_has_the_totals_and_no_vault_below_mat(n, debt, ratio, seed):
    """Whatever the totals (locked value at least mat times the debt), the book sums to them and
    every vault is at or above mat."""
    t = VaultTotals(vaults=n, debt_dai=debt, collateral=debt * ratio / 100.0, price=100.0)
    b = vault_book(t, seed)
    assert b["debt"].sum() == pytest.approx(debt, rel=1e-12)
    assert b["collateral"].sum() == pytest.approx(t.collateral, rel=1e-12)
    per = b.groupby("account")[["collateral", "debt"]].sum()
    assert len(per) == n
    assert (per["collateral"] * t.price / per["debt"] >= t.mat * (1 - 1e-9)).all()


def test_the_shipped_eth_a_book_is_the_fitted_one():
    """examples/replay_2020_03_12_eth_a_vaults.csv is vault_book(ETH_A_EVE, seed 12), written with
    ten significant digits: 100M DAI, 2.0M ETH, 2,000 vaults."""
    shipped = pd.read_csv(REPO / "examples" / "replay_2020_03_12_eth_a_vaults.csv")
    fitted = vault_book(ETH_A_EVE, 12)
    assert shipped["account"].tolist() == fitted["account"].tolist()
    assert np.allclose(shipped[["collateral", "debt"]], fitted[["collateral", "debt"]], rtol=1e-9, atol=0)
    assert shipped["debt"].sum() == pytest.approx(100e6, rel=1e-8)
    assert shipped["collateral"].sum() == pytest.approx(2.0e6, rel=1e-8)
