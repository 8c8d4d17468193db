"""Maker Liquidations 1.2 block by block: Flipper auctions and keepers whose bids must be mined.

The expected numbers are worked by hand from flip.sol's rules and the keepers' strategies
(docs/maker_flip.md): one ETH lot of 10 tokens, the market at 200 (no venue: the whole lot
sells at 200), debt 1000 DAI, chop 1.1 (tab 1100), blocks every 12 s, gas paid in an asset
priced 0 (gas costs nothing) unless a test says otherwise.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liqcascade.errors import ConfigError
from liqcascade.protocols.base import Lots
from liqcascade.protocols.maker.flip_auctions import FlipAuctions, FlipSettings, Keeper, accepts

MARKET = 200.0


def _depth(i, price):
    return math.inf if MARKET >= price else 0.0


def _auctions(keepers, *, beg=0.05, lump=math.inf, seed=0, sigma=0.0):
    s = FlipSettings(beg=beg, ttl_s=600.0, tau_s=21600.0, lump=lump, keepers=tuple(keepers), inclusion_sigma=sigma,
                     seed=seed)
    return FlipAuctions(s, [1.1], 1)


def _kick(fa, t=0, lot=10.0, debt=1000.0, account=0, row=0):
    fa.receive(t, Lots(np.array([account]), np.array([row]), np.array([0]), np.array([lot]), np.array([debt])),
               np.array([MARKET]))


def _run(fa, gas_gwei, until, gas_asset_usd=0.0):
    """Blocks every 12 s from 0 to ``until``; the sum of every block's step."""
    sold = proceeds = bad = 0.0
    returned = []
    for t in range(0, until + 1, 12):
        fa.see_gas(gas_gwei(t) if callable(gas_gwei) else gas_gwei, gas_asset_usd)
        st = fa.step(t, np.array([MARKET]), _depth)
        sold += st.sold.sum()
        proceeds += st.proceeds_usd.sum()
        bad += st.bad_debt_usd
        returned += list(zip(st.returned_rows.tolist(), st.returned_amount.tolist()))
    return sold, proceeds, bad, returned


def keeper(name, **kw):
    base = dict(strategy="value", gas_gwei=20.0, capital_usd=1e6, latency_s=0.0)
    return Keeper(name=name, **{**base, **kw})


def test_two_value_bidders_beg_and_ttl_deal_at_the_right_block():
    """A values the lot at 10 * 200 * 0.4 = 800, B at 10 * 200 * 0.45 = 900. Both bid at block 0
    and land at t = 12 in order: A's 800 opens the auction, B's 900 >= 800 * 1.05 = 840 outbids
    it (tic = 12 + 600 = 612); A cannot raise beyond its value (945 > 800). The auction is over
    once tic < now: dealt at t = 624, 10.4 minutes after the kick; bad debt 1000 - 900 = 100."""
    fa = _auctions([keeper("A", discount=0.6), keeper("B", discount=0.55)])
    _kick(fa)
    sold, proceeds, bad, _ = _run(fa, 10.0, 612)
    assert (sold, proceeds, bad) == (0.0, 0.0, 0.0)
    assert fa.a["bid"][0] == pytest.approx(900.0) and fa.a["guy"][0] == 1 and fa.a["tic"][0] == 612.0
    st = fa.step(624, np.array([MARKET]), _depth)
    assert st.sold[0] == pytest.approx(10.0) and st.proceeds_usd[0] == pytest.approx(900.0)
    assert st.bad_debt_usd == pytest.approx(100.0)
    f = fa.facts()
    assert f["auctions_dealt"] == 1 and f["bids_landed"] == 2 and f["bids_reverted"] == 0
    assert f["auction_minutes_median"] == pytest.approx(10.4)
    assert f["auctions_won_near_zero"] == 0


def test_beg_refuses_a_raise_below_the_least_increase():
    """B's 820 is above A's 800 but below 800 * 1.05 = 840: it reverts; A wins at 800."""
    fa = _auctions([keeper("A", discount=0.6), keeper("B", discount=0.59)])  # B values it at 820
    _kick(fa)
    _, proceeds, bad, _ = _run(fa, 10.0, 624)
    assert proceeds == pytest.approx(800.0) and bad == pytest.approx(200.0)
    assert fa.facts()["bids_reverted"] == 1


def test_congested_blocks_leave_the_lowball_bid_alone_and_it_wins():
    """Blocks include nothing under 100 gwei. A (value 800) bids at 20 gwei: its transaction never
    lands. The lowballer bids its 1 DAI opening at 300 gwei: it lands at t = 12 and nobody
    outbids it within ttl, so the auction is dealt at t = 624 for 1 DAI: bad debt 999."""
    fa = _auctions([keeper("A", discount=0.6),
                    keeper("L", strategy="increment", gas_gwei=300.0, min_bid_usd=1.0, capital_usd=1e4)])
    _kick(fa)
    _, proceeds, bad, _ = _run(fa, 100.0, 624)
    assert proceeds == pytest.approx(1.0) and bad == pytest.approx(999.0)
    f = fa.facts()
    assert f["auctions_won_zero"] == 1 and f["auction_share_won_zero"] == 1.0
    assert f["bids_pending_end"] == 1  # A's bid is still waiting for a cheap block


def test_the_same_keepers_on_a_clear_chain_bid_up_to_value():
    """Blocks at 10 gwei include both at t = 12: the lowballer's 1 DAI lands first (higher gas),
    A's 800 outbids it. The lowballer values the lot at 10 * 200 * 0.95 = 1900 and raises by
    beg: 840 lands at t = 24 (tic 624); A's next least bid 882 is above its 800. Dealt at
    t = 636 for 840: bad debt 160."""
    fa = _auctions([keeper("A", discount=0.6),
                    keeper("L", strategy="increment", gas_gwei=300.0, min_bid_usd=1.0, capital_usd=1e4)])
    _kick(fa)
    _, proceeds, bad, _ = _run(fa, 10.0, 624)
    assert proceeds == 0.0 and fa.a["bid"][0] == pytest.approx(840.0) and fa.a["tic"][0] == 624.0
    _, proceeds, bad, _ = _run(fa, 10.0, 636)
    assert proceeds == pytest.approx(840.0) and bad == pytest.approx(160.0)
    assert fa.facts()["bids_landed"] == 3


def test_a_bid_mined_late_still_counts_and_gas_is_paid():
    """Congested (100 gwei) before t = 300, 10 gwei after. The lowballer's 1 DAI lands at t = 12;
    A's bid, sent at t = 0, waits and lands at t = 300 (tic 900); the lowballer raises by beg,
    mined at t = 312 (tic 912); dealt at t = 924. Gas is priced at 100 USD per unit of the gas
    asset: a bid costs gwei * 1e-9 * 200,000 * 100 = 6 USD at 300 gwei and 0.4 USD at 20 gwei,
    so A bids its value net of gas, 800 - 0.4 = 799.6, and the raise is 799.6 * 1.05 = 839.58
    (bad debt 160.42). Gas paid: two bids at 300 gwei and one at 20: 12.4 USD."""
    fa = _auctions([keeper("A", discount=0.6),
                    keeper("L", strategy="increment", gas_gwei=300.0, min_bid_usd=1.0, capital_usd=1e4)])
    _kick(fa)
    _, proceeds, bad, _ = _run(fa, lambda t: 100.0 if t < 300 else 10.0, 912, gas_asset_usd=100.0)
    assert proceeds == 0.0 and fa.a["bid"][0] == pytest.approx(839.58) and fa.a["tic"][0] == 912.0
    st = fa.step(924, np.array([MARKET]), _depth)
    assert st.proceeds_usd[0] == pytest.approx(839.58) and st.bad_debt_usd == pytest.approx(160.42)
    f = fa.facts()
    assert f["bids_landed"] == 3 and f["bids_reverted"] == 0
    assert f["keeper_gas_usd"] == pytest.approx(12.4)


def test_keeper_capital_limits_its_bids():
    """A values each lot at 800 but has 500 DAI: it bids 500 on the first auction and nothing
    on the second (its DAI is in the first bid); the first is dealt for 500 (bad debt 500), the
    second gets no bid by its end and restarts (tick)."""
    fa = _auctions([keeper("A", discount=0.6, capital_usd=500.0)])
    _kick(fa, account=0, row=0)
    _kick(fa, account=1, row=1)
    _, proceeds, bad, _ = _run(fa, 10.0, 624)
    assert proceeds == pytest.approx(500.0) and bad == pytest.approx(500.0)
    # after the deal A has the lot's value (2000) and bids 800 on the second auction
    assert fa.a["bid"].size == 1 and fa.a["bid"][0] == 0.0
    _run_from(fa, 636, 1300)
    assert fa.stats["auction_raised_usd"] == pytest.approx(1300.0)


def _run_from(fa, t0, t1):
    for t in range(t0, t1 + 1, 12):
        fa.see_gas(10.0, 0.0)
        fa.step(t, np.array([MARKET]), _depth)


def test_an_auction_with_no_bid_ticks_and_is_never_dealt():
    """Nobody's bid lands (all under the inclusion price): at end (6 h) the auction restarts."""
    fa = _auctions([keeper("A", discount=0.6)])
    _kick(fa)
    _run(fa, 100.0, 21612)
    f = fa.facts()
    assert f["auctions_dealt"] == 0 and f["auction_ticks"] == 1 and f["auctions_open_end"] == 1
    assert fa.a["end"][0] == pytest.approx(21612 + 21600)


def test_dent_returns_collateral_to_the_vault():
    """Debt 100, tab 110: A bids the tab (its value 800 >= 110) and the auction turns to dent;
    B values a token at 90 and offers the 110 for 110 / 90 = 1.2222 tokens (<= 10 / 1.05):
    8.7778 tokens go back to the vault's row at once. A would need 110 / 80 = 1.375 tokens, more
    than 1.2222 / 1.05: no further dent. Dealt at t = 24 + 600 + 12: 110 raised, no bad debt."""
    fa = _auctions([keeper("A", discount=0.6), keeper("B", discount=0.55)])
    _kick(fa, debt=100.0, row=7)
    sold, proceeds, bad, returned = _run(fa, 10.0, 636)
    assert returned == [(7, pytest.approx(10.0 - 110.0 / 90.0))]
    assert sold == pytest.approx(110.0 / 90.0) and proceeds == pytest.approx(110.0) and bad == 0.0
    assert fa.facts()["auction_penalty_usd"] == pytest.approx(10.0)


def test_a_gas_limit_below_the_bid_gas_runs_out_of_gas():
    fa = _auctions([keeper("A", discount=0.6, gas_limit=100_000)])
    _kick(fa)
    _, proceeds, _, _ = _run(fa, 10.0, 120)
    f = fa.facts()
    assert proceeds == 0.0 and f["bids_out_of_gas"] >= 1 and f["bids_landed"] == 0


def test_lump_splits_a_bite_into_auctions():
    """120 tokens with lump 50: three auctions of 40 tokens and a third of the tab each."""
    fa = _auctions([keeper("A")], lump=50.0)
    _kick(fa, lot=120.0, debt=3000.0)
    assert fa.a["lot"].tolist() == pytest.approx([40.0] * 3)
    assert fa.a["tab"].tolist() == pytest.approx([1100.0] * 3)


def test_dunk_splits_a_bite_by_its_tab():
    """Tab 1100 with dunk 500 (Liquidations 1.2): ceil(1100 / 500) = 3 auctions of 366.67 DAI of
    tab and 10 / 3 tokens each."""
    s = FlipSettings(dunk_usd=500.0, keepers=(keeper("A"),))
    fa = FlipAuctions(s, [1.1], 1)
    _kick(fa)
    assert fa.a["tab"].tolist() == pytest.approx([1100.0 / 3] * 3)
    assert fa.a["lot"].tolist() == pytest.approx([10.0 / 3] * 3)


@pytest.mark.parametrize("seed", [1, 2])
def test_same_seed_same_auctions(seed):
    """Random inclusion prices: the same seed gives the same outcome."""
    def run(s):
        fa = _auctions([keeper("A", discount=0.6, gas_gwei=60.0),
                        keeper("L", strategy="increment", gas_gwei=90.0, capital_usd=1e4)], sigma=0.8, seed=s)
        for n in range(5):
            _kick(fa, t=0, account=n, row=n)
        _run(fa, 60.0, 1800)
        return fa.facts()

    assert run(seed) == run(seed)


def test_settings_are_checked():
    with pytest.raises(ConfigError, match="strategy"):
        Keeper(name="x", strategy="snipe")
    with pytest.raises(ConfigError, match="beg"):
        FlipSettings(beg=1.5)


@given(beg_pct=st.sampled_from([0, 3, 5]), bid=st.integers(0, 500), extra=st.integers(0, 500),
       lot=st.integers(1, 1000), new_bid=st.integers(0, 1100), new_lot=st.integers(1, 1000),
       same_lot=st.booleans())
@settings(max_examples=400, deadline=None)
def test_the_float_acceptance_is_the_integer_flipper(beg_pct, bid, extra, lot, new_bid, new_lot, same_lot):
    """``accepts`` (what the engine checks when a bid is mined) takes exactly the bids
    ``flipper.tend``/``dent`` take, on whole-DAI amounts where the beg boundaries are hit."""
    from liqcascade.protocols.maker import flipper as fl
    from liqcascade.protocols.maker.exact import WAD

    tab = bid + extra if bid + extra > 0 else 1
    new_lot = lot if same_lot else new_lot
    flip = fl.Flipper(beg=WAD + beg_pct * WAD // 100, ttl=600, tau=3600)
    auction = fl.FlipBid(bid=bid, lot=lot, guy="g", tic=0, end=10, usr="u", gal="v", tab=tab)
    try:
        (fl.tend if new_lot == lot else fl.dent)(flip, auction, "k", new_lot, new_bid, 0)
        exact = True
    except fl.FlipRevert:
        exact = False
    assert accepts(float(bid), float(lot), float(tab), float(new_bid), float(new_lot), beg_pct / 100) == exact


def test_the_cats_box_is_the_room_left_by_running_auctions():
    """box 3000 DAI, two auctions of tab 1100 running: the bark kernel's room is 800; once one
    is dealt, 1900 (room grew: True)."""
    from liqcascade.protocols.mechanisms import kernels_python as K

    s = FlipSettings(box_usd=3000.0, ttl_s=600.0, keepers=(keeper("A", discount=0.6),))
    fa = FlipAuctions(s, [1.1], 1)
    state = np.zeros(K.N_STATE + 2)
    _kick(fa, account=0, row=0)
    _kick(fa, account=1, row=1)
    fa.sync_limits(state)
    assert state[K.ST_DOG_ROOM] == pytest.approx(3000.0 - 2200.0)
    fa.a["bid"][0], fa.a["guy"][0], fa.a["tic"][0] = 800.0, 0, 100.0
    fa.see_gas(10.0, 0.0)
    fa.step(112, np.array([MARKET]), _depth)
    assert fa.sync_limits(state) is True
    assert state[K.ST_DOG_ROOM] == pytest.approx(3000.0 - 1100.0)


@given(gas=st.lists(st.floats(1.0, 400.0), min_size=3, max_size=3), caps=st.lists(st.floats(10.0, 5e3), min_size=3,
                                                                                  max_size=3),
       lots=st.lists(st.floats(0.5, 120.0), min_size=1, max_size=4), debt_ratio=st.floats(0.05, 0.9),
       block_gas=st.floats(1.0, 300.0), seed=st.integers(0, 1000))
@settings(max_examples=25, deadline=None)
def test_collateral_and_dai_are_conserved(gas, caps, lots, debt_ratio, block_gas, seed):
    """Whatever the keepers and the congestion: every kicked token is sold, returned to its vault
    or still in an auction; the DAI raised never exceeds the tabs; bad debt plus penalty is the
    debt's difference with what the dealt auctions raised."""
    ks = [keeper(f"k{i}", strategy="increment" if i == 2 else "value", gas_gwei=g, capital_usd=c, discount=0.1)
          for i, (g, c) in enumerate(zip(gas, caps))]
    fa = _auctions(ks, lump=50.0, sigma=0.7, seed=seed)
    debts = [lot * MARKET * debt_ratio for lot in lots]
    for n, (lot, debt) in enumerate(zip(lots, debts)):
        _kick(fa, lot=lot, debt=debt, account=n, row=n)
    tabs = sum(debts) * 1.1
    sold, proceeds, bad, returned = _run(fa, block_gas, 3600)
    held = float(fa.holdings().sum())
    assert sold + sum(a for _, a in returned) + held == pytest.approx(sum(lots), rel=1e-9)
    assert proceeds <= tabs * (1 + 1e-9)
    dealt_debt = sum(debts) - float(fa.a["debt"].sum())
    f = fa.facts()
    assert bad - f["auction_penalty_usd"] == pytest.approx(dealt_debt - proceeds, rel=1e-9, abs=1e-6)
    assert (fa.free >= -1e-9).all()
