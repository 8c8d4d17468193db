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
# the example's figures (docs/maker_flip.md, "The Black Thursday ETH-A replay"): the debt is
# the ETH-backed Dai of MakerDAO's governance call of 2020-02-27 ("~114 Million Dai"), the last
# published before the eve; debt_sigma is fitted to the published concentration below; the
# vault count and the locked ETH are assumptions
ETH_A_EVE = VaultTotals(vaults=2000, debt_dai=114e6, collateral=2.0e6, price=168.6, debt_sigma=2.55)
# published shares of the ETH-backed Dai held by the largest vaults: top 3 about 25 % and top 15
# roughly half (call of 2020-02-27), top 100 83 % (call of 2020-02-13); makerdao/community,
# governance/governance-and-risk-meetings/summaries/episode-75.md and episode-73.md
PUBLISHED_TOP_SHARES = {3: 0.25, 15: 0.50, 100: 0.83}


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
    ten significant digits: 114M DAI, 2.0M ETH, 2,000 vaults."""
    shipped = pd.read_csv(REPO / "examples" / "replay_2020_03_12_eth_a_vaults.csv")
    fitted = vault_book(ETH_A_EVE, 12)
    assert shipped["account"].tolist() == fitted["account"].tolist()
    assert np.allclose(shipped[["collateral", "debt"]], fitted[["collateral", "debt"]], rtol=1e-9, atol=0)
    assert shipped["debt"].sum() == pytest.approx(114e6, rel=1e-8)
    assert shipped["collateral"].sum() == pytest.approx(2.0e6, rel=1e-8)


def test_the_shipped_eth_a_book_is_as_concentrated_as_published():
    """The largest vaults of the shipped book hold the published shares of the debt, each within
    seven points (one draw of 2,000 vaults: the top three alone move by several points from seed
    to seed); the former width (debt_sigma 2) missed the top three and top fifteen by ten points
    and more."""
    shipped = pd.read_csv(REPO / "examples" / "replay_2020_03_12_eth_a_vaults.csv")
    debt = np.sort(shipped.groupby("account")["debt"].sum().to_numpy())[::-1]
    for top, share in PUBLISHED_TOP_SHARES.items():
        assert debt[:top].sum() / debt.sum() == pytest.approx(share, abs=0.07), top
    assert [round(debt[:top].sum() / debt.sum(), 3) for top in PUBLISHED_TOP_SHARES] == [0.316, 0.483, 0.789]
    former = vault_book(VaultTotals(vaults=2000, debt_dai=114e6, collateral=2.0e6, price=168.6), 12)
    d0 = np.sort(former.groupby("account")["debt"].sum().to_numpy())[::-1]
    assert d0[:3].sum() / d0.sum() < PUBLISHED_TOP_SHARES[3] - 0.07
    assert d0[:15].sum() / d0.sum() < PUBLISHED_TOP_SHARES[15] - 0.07


def test_the_assumed_locked_eth_sits_by_the_published_figures():
    """2.0M ETH is an assumption (no figure of the eve is published); it sits by the published
    ones: under 2 million locked in MCD on 2020-02-06 (episode-72.md), and the debt-weighted
    collateralisation of about 330 % of 02-27 (episode-75.md) which, were it still that on the eve
    at $194 (CoinDesk, 22:00 UTC on 03-11), means 114M * 3.30 / 194 = 1.94M ETH, 3 % below the
    assumed 2.0M. The book is 340 % at $194 and 296 % at the path's first price, 168.6."""
    t = ETH_A_EVE
    assert t.debt_dai * 3.30 / 194.0 == pytest.approx(1.939e6, rel=1e-3)
    assert abs(t.collateral / (t.debt_dai * 3.30 / 194.0) - 1) < 0.035
    assert round(t.collateral * 194.0 / t.debt_dai, 2) == 3.40
    assert round(t.collateral * t.price / t.debt_dai, 2) == 2.96
