"""The vault book fitted to an ilk's totals, and the shipped Black Thursday ETH-A book."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liqcascade.errors import ConfigError
from liqcascade.model.maker_vault_book import (
    PublishedCollateralisation,
    VaultTotals,
    debt_share_at_or_below,
    debt_weighted_collateralisation,
    fit_cr_shape,
    vault_book,
)

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "examples" / "replay_2020_03_12_eth_a_vaults.csv"
# ETH prices the stored pages give (docs/maker_flip.md, "The Black Thursday ETH-A replay"):
# the eve, 22:00 UTC on 2020-03-11 (CoinDesk as reproduced by dinocrypto.com); 2020-02-22, the
# nearest to the call of 02-20 (U.Today's table, inside the $255-285 band that a 02-22 analysis,
# duj.io, says formed on 02-20); 02-27, the middle of the $213-231 range in which BeInCrypto,
# writing after 02-27, says ETH had traded over the two days before
EVE, FEB20, FEB27 = 194.0, 263.28, 222.0
# published on the calls of 2020-02-20 and 02-27 (makerdao/community @ 17504d8a,
# governance/governance-and-risk-meetings/summaries/episode-74.md and episode-75.md): of the
# 115M DAI from ETH, 65M at 300 % or less, 57M at 275 % or less, 27M at 225 % or less;
# debt-weighted collateralisation about 330 %
PUBLISHED = PublishedCollateralisation(thresholds=(3.00, 2.75, 2.25), shares=(65 / 115, 57 / 115, 27 / 115),
                                       shares_price=FEB20, mean=3.30, mean_price=FEB27)
SIGMAS = np.round(np.arange(0.05, 3.0001, 0.05), 2)
COLLATERALS = np.round(np.arange(1.40e6, 2.4001e6, 0.01e6), -3)
# the example's book: the debt of the call of 02-27 ("~114 Million Dai"), the last published
# before the eve; debt_sigma fitted to the published concentration below; cr_sigma and the
# locked ETH fitted (fit_cr_shape, the grid above, seed 12) to PUBLISHED with the vaults frozen
# from those dates to the eve; valued at the eve's price; 2,000 vaults an assumption
ETH_A_EVE = VaultTotals(vaults=2000, debt_dai=114e6, collateral=1.69e6, price=EVE, debt_sigma=2.55, cr_sigma=2.05)
# published shares of the ETH-backed Dai held by the largest vaults: top 3 about 25 % and top 15
# roughly half (call of 2020-02-27), top 100 83 % (call of 2020-02-13); makerdao/community,
# governance/governance-and-risk-meetings/summaries/episode-75.md and episode-73.md
PUBLISHED_TOP_SHARES = {3: 0.25, 15: 0.50, 100: 0.83}


@given(n=st.integers(1, 400), debt=st.floats(1e3, 1e9), ratio=st.floats(1.6, 20.0), seed=st.integers(0, 2**31),
       cr_sigma=st.floats(0.05, 3.0))
@settings(max_examples=30, deadline=None)
def test_the_book_has_the_totals_and_no_vault_below_mat(n, debt, ratio, seed, cr_sigma):
    """Whatever the totals (locked value at least mat times the debt), the book sums to them and
    every vault is at or above mat."""
    t = VaultTotals(vaults=n, debt_dai=debt, collateral=debt * ratio / 100.0, price=100.0, cr_sigma=cr_sigma)
    b = vault_book(t, seed)
    assert b["debt"].sum() == pytest.approx(debt, rel=1e-12)
    assert b["collateral"].sum() == pytest.approx(t.collateral, rel=1e-12)
    per = b.groupby("account")[["collateral", "debt"]].sum()
    assert len(per) == n
    assert (per["collateral"] * t.price / per["debt"] >= t.mat * (1 - 1e-9)).all()


def test_too_little_collateral_for_mat_is_refused():
    """Locked value below mat times the debt cannot put every vault at mat: the error says the least."""
    with pytest.raises(ConfigError, match="VaultTotals.collateral.*at least mat \\* debt / price = 15"):
        vault_book(VaultTotals(vaults=10, debt_dai=1000.0, collateral=14.0, price=100.0), 1)


def test_shares_and_mean_by_hand():
    """Two vaults: 1 token against 100 DAI and 3 tokens against 100 DAI. At 100 USD they stand at
    100 % and 300 %: half the debt at or below 200 %, all at or below 300 %; the debt-weighted
    mean is 400 / 200 = 200 %. At 50 USD, 50 % and 150 %."""
    book = pd.DataFrame({"account": ["a", "a", "b", "b"], "asset": ["WETH", "DAI"] * 2,
                         "collateral": [1.0, 0.0, 3.0, 0.0], "debt": [0.0, 100.0, 0.0, 100.0]})
    assert debt_share_at_or_below(book, 100.0, (0.99, 2.0, 3.0)).tolist() == [0.0, 0.5, 1.0]
    assert debt_share_at_or_below(book, 50.0, (1.5,)).tolist() == [1.0]
    assert debt_weighted_collateralisation(book, 100.0) == 2.0


def test_the_fit_recovers_a_known_book():
    """Shares and mean read off a book of known cr_sigma and collateral, at two other prices, are
    fitted back to exactly that grid point (loss zero up to rounding)."""
    truth = VaultTotals(vaults=800, debt_dai=50e6, collateral=0.9e6, price=200.0, debt_sigma=2.0, cr_sigma=1.2)
    book = vault_book(truth, 5)
    th = (3.0, 2.5, 2.0, 1.75)
    pub = PublishedCollateralisation(th, tuple(debt_share_at_or_below(book, 260.0, th)), 260.0,
                                     debt_weighted_collateralisation(book, 230.0), 230.0)
    fit = fit_cr_shape(replace(truth, cr_sigma=0.9, collateral=1.0e6), 5, pub, SIGMAS,
                       np.round(np.arange(0.6e6, 1.2001e6, 0.01e6), -3))
    assert (fit.cr_sigma, fit.collateral) == (1.2, 0.9e6)
    assert fit.loss < 1e-20


def test_the_shipped_eth_a_book_is_the_fitted_one():
    """examples/replay_2020_03_12_eth_a_vaults.csv is vault_book(ETH_A_EVE, seed 12), written with
    ten significant digits: 114M DAI, 1.69M ETH, 2,000 vaults; ETH_A_EVE's cr_sigma and locked ETH
    are the least-squares grid point for the published figures."""
    shipped = pd.read_csv(SHIPPED)
    fitted = vault_book(ETH_A_EVE, 12)
    assert shipped["account"].tolist() == fitted["account"].tolist()
    assert np.allclose(shipped[["collateral", "debt"]], fitted[["collateral", "debt"]], rtol=1e-9, atol=0)
    assert shipped["debt"].sum() == pytest.approx(114e6, rel=1e-8)
    assert shipped["collateral"].sum() == pytest.approx(1.69e6, rel=1e-8)
    fit = fit_cr_shape(ETH_A_EVE, 12, PUBLISHED, SIGMAS, COLLATERALS)
    assert (fit.cr_sigma, fit.collateral) == (ETH_A_EVE.cr_sigma, ETH_A_EVE.collateral)


def test_the_shipped_eth_a_book_holds_the_published_collateralisation():
    """Frozen back to the calls' prices, the shipped book holds each published share within seven
    points (one vault holds a quarter of the debt, so the shares move in steps that large) and the
    debt-weighted 330 % within 1 %. The former book (cr_sigma 0.9, 2.0M ETH, every vault at 150 %
    or more at 168.6) held under 10 % of the debt at 300 % or less, against the published 57 %."""
    shipped = pd.read_csv(SHIPPED)
    got = debt_share_at_or_below(shipped, FEB20, PUBLISHED.thresholds)
    assert np.round(got, 3).tolist() == [0.501, 0.442, 0.248]
    assert np.abs(got - np.array(PUBLISHED.shares)).max() < 0.07
    assert debt_weighted_collateralisation(shipped, FEB27) == pytest.approx(3.30, rel=0.01)
    top5 = shipped.groupby("account")[["collateral", "debt"]].sum().nlargest(5, "debt").sum()
    assert round(top5["collateral"] * FEB27 / top5["debt"], 2) == 2.39  # published: "about 280%"
    former = vault_book(VaultTotals(vaults=2000, debt_dai=114e6, collateral=2.0e6, price=168.6, debt_sigma=2.55), 12)
    assert debt_share_at_or_below(former, FEB20, (3.0,))[0] < 0.10


@pytest.mark.parametrize("feb20, feb27, sigma, locked", [
    (255.0, 213.0, 1.95, 1.70e6), (255.0, 231.0, 1.80, 1.59e6), (285.0, 213.0, 2.40, 1.81e6), (285.0, 231.0, 2.25, 1.65e6)])
def test_the_fit_over_the_cited_price_ranges(feb20, feb27, sigma, locked):
    """At the ends of the cited price ranges (02-20 in the 255-285 band, 02-27 in 213-231) the fit
    moves between cr_sigma 1.8 and 2.4 and 1.59M and 1.81M ETH."""
    fit = fit_cr_shape(ETH_A_EVE, 12, replace(PUBLISHED, shares_price=feb20, mean_price=feb27), SIGMAS, COLLATERALS)
    assert (fit.cr_sigma, fit.collateral) == (sigma, locked)


def test_the_shares_alone_do_not_fix_the_price_of_02_20():
    """Fitted without the mean, the three shares are met about as well at 230 as at 270 USD (the
    width and median trade off against the price): the price of the day is needed, not identified.
    Above about 291 USD (225 % there is 150 % at the eve's 194) the 225 % share cannot be met."""
    def loss(price):
        pub = replace(PUBLISHED, shares_price=price, mean=None, mean_price=None)
        return fit_cr_shape(ETH_A_EVE, 12, pub, SIGMAS, COLLATERALS).loss

    l230, l270, l300 = loss(230.0), loss(270.0), loss(300.0)
    assert abs(l230 - l270) < 0.002 and max(l230, l270) < 0.01
    assert l300 > 0.05


def test_the_shipped_eth_a_book_is_as_concentrated_as_published():
    """The largest vaults of the shipped book hold the published shares of the debt, each within
    seven points (one draw of 2,000 vaults: the top three alone move by several points from seed
    to seed); the former width (debt_sigma 2) missed the top three and top fifteen by ten points
    and more."""
    shipped = pd.read_csv(SHIPPED)
    debt = np.sort(shipped.groupby("account")["debt"].sum().to_numpy())[::-1]
    for top, share in PUBLISHED_TOP_SHARES.items():
        assert debt[:top].sum() / debt.sum() == pytest.approx(share, abs=0.07), top
    assert [round(debt[:top].sum() / debt.sum(), 3) for top in PUBLISHED_TOP_SHARES] == [0.316, 0.483, 0.789]
    former = vault_book(VaultTotals(vaults=2000, debt_dai=114e6, collateral=2.0e6, price=168.6), 12)
    d0 = np.sort(former.groupby("account")["debt"].sum().to_numpy())[::-1]
    assert d0[:3].sum() / d0.sum() < PUBLISHED_TOP_SHARES[3] - 0.07
    assert d0[:15].sum() / d0.sum() < PUBLISHED_TOP_SHARES[15] - 0.07


def test_the_fitted_locked_eth_sits_by_the_published_figures():
    """1.69M ETH is fitted: the 330 % of 02-27 at 222 USD alone gives 114M * 3.30 / 222 = 1.69M
    ETH, under the "below 2 million" locked in MCD on 2020-02-06 (episode-72.md). Frozen, the book
    stands at 288 % debt-weighted at the eve's 194 USD and 250 % at the path's first price, 168.6,
    where a third of its debt is already under 150 % (what stood under 172.6 % at 194)."""
    t = ETH_A_EVE
    assert t.debt_dai * 3.30 / FEB27 == pytest.approx(1.69e6, rel=0.003)
    shipped = pd.read_csv(SHIPPED)
    assert round(debt_weighted_collateralisation(shipped, EVE), 2) == 2.88
    assert round(debt_weighted_collateralisation(shipped, 168.6), 2) == 2.50
    assert round(debt_share_at_or_below(shipped, 168.6, (1.5,))[0], 3) == 0.322
