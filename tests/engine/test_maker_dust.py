"""The ilk's ``dust`` on a partial bark, and vaults waiting for the Dog's room counted as
eligible, in the dynamic engine's Clipper auctions.

dss ``dog.sol`` ``bark``: ``room = min(Hole - Dirt, hole - dirt)``, ``dart = min(art, room /
rate / chop)``; if ``art > dart``: when ``(art - dart) * rate < dust`` the whole vault is
barked (``dart = art``), else ``dart * rate >= dust`` is required
(``Dog/dusty-auction-from-partial-liquidation``). Market (``mechanism_books``): WETH $2000
(threshold 0.80, chop 1.10), WBTC $30,000 (0.75, chop 1.05), USDC $1. Expected numbers are
worked out by hand in the docstrings; the float rule is checked against the integer rule
(``exact.bark``) with hypothesis.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from liqcascade.engine.dynamic import Liquidators, SimSettings, simulate
from liqcascade.engine.static import MarketModel
from liqcascade.errors import ConfigError
from liqcascade.markets.oracle import Instant
from liqcascade.protocols.maker import exact as X
from liqcascade.protocols.maker.clipper import ClipperSettings
from liqcascade.protocols.maker.fast import (
    BARK_DUSTY_PARTIAL,
    BARK_DUSTY_WHOLE,
    BARK_NONE,
    BARK_PARTIAL,
    BARK_WHOLE,
    dog_bark,
)
from liqcascade.protocols.maker.rules import MakerRules
from liqcascade.scenarios import instant_shock, linear_shock

from . import mechanism_books as mb
from .mechanism_books import PARAMS, PRICES, USDC, WETH

UNBOUNDED = Liquidators(calls_per_account=64, gas_asset=None, min_profit_usd=-math.inf)
HYP = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
# as in test_maker_dog: top 1800 * 1.3 = 2340, 1 % per 90 s, keepers take at <= 1800 * 0.95 = 1710,
# i.e. at the 32nd step (2340 * 0.99^31 = 1713.6 > 1710 >= 2340 * 0.99^32), 240 blocks after the kick
HAND = dict(buf=1.3, tail=10_000, cusp=0.4, curve="stairstep", cut=0.99, step=90, chip=0.001, tip=300, keeper_margin=0.05)
P = 2340 * 0.99**32  # the take price, 1696.5

pytestmark = pytest.mark.usefixtures("one_numba_thread")


def approx(x, rel=1e-9, abs=1e-9):
    return pytest.approx(x, rel=rel, abs=abs)


def run(rules, b, path, liquidators=UNBOUNDED):
    model = MarketModel(b, rules, PRICES, {})
    return simulate(model, path, Instant(), SimSettings(liquidators, check_conservation=True))


def two_vaults():
    """Accounts 0 and 1: 1 WETH against 1500 USDC each (unsafe at $1800: 1440 < 1500), tab 1650."""
    return mb.book([(0, "WETH", 1.0, 0.0), (0, "USDC", 0.0, 1500.0), (1, "WETH", 1.0, 0.0), (1, "USDC", 0.0, 1500.0)])


def shock(n_blocks):
    return instant_shock({"WETH": 2000.0}, {"WETH": -0.10}, n_blocks=n_blocks)


def per_block(res):
    steps = res["steps"]
    return steps[steps["asset"] == "WETH"].set_index("block")


# ------------------------------------------------------------------ the float rule, by hand
@pytest.mark.parametrize("room,dust,case,share", [
    # room 2000 >= tab 1650: the whole vault, whatever the dust
    (2000.0, 0.0, BARK_WHOLE, 1.0),
    (2000.0, 1e6, BARK_WHOLE, 1.0),
    # room 1650 = tab: whole (tab <= room)
    (1650.0, 0.0, BARK_WHOLE, 1.0),
    # room 350: share 350 / 1650 = 7/33, dart = 1500 * 7/33 = 318.18, left 1500 * 26/33 = 1181.82
    (350.0, 0.0, BARK_PARTIAL, 7 / 33),
    (350.0, 318.0, BARK_PARTIAL, 7 / 33),  # 318.18 >= 318 and 1181.82 >= 318
    (350.0, 318.5, BARK_DUSTY_PARTIAL, 0.0),  # the auction's 318.18 < 318.5: revert
    (350.0, 1181.0, BARK_DUSTY_PARTIAL, 0.0),  # 1181.82 left is not dusty, 318.18 is
    (350.0, 1182.0, BARK_DUSTY_WHOLE, 1.0),  # 1181.82 left < 1182: the whole vault
    (350.0, 5000.0, BARK_DUSTY_WHOLE, 1.0),  # a vault below dust itself: whole
    # no room: nothing (Dog/liquidation-limit-hit)
    (0.0, 0.0, BARK_NONE, 0.0),
    (0.0, 1e6, BARK_NONE, 0.0),
])
def test_dog_bark_cases(room, dust, case, share):
    """1500 of debt, chop 1.1 (tab 1650) against ``room`` with ``dust``; every branch of
    ``bark``, the numbers in the comments."""
    got_case, got_share = dog_bark(1650.0, 1.1, room, dust)
    assert got_case == case
    assert got_share == approx(share, rel=1e-12)


def test_dust_zero_keeps_the_plain_share():
    """dust 0: every partial bark is the plain ``room / tab`` share, bit for bit (the rule
    before dust was modelled): with ``room < tab`` neither the debt left nor the
    auction's is ever below 0. A room within 1e-9 of the tab is the whole tab (a rounding
    residue: 1500 * 1.1 = 1650.0000000000002 against a room of 1650 would leave 2e-13 of
    debt)."""
    assert dog_bark(1500 * 1.1, 1.1, 1650.0, 0.0) == (BARK_WHOLE, 1.0)
    assert dog_bark(1650.0, 1.1, 1650.0 * (1 - 2e-9), 0.0)[0] == BARK_PARTIAL
    rng = np.random.default_rng(3)
    tab = rng.uniform(1.0, 1e7, 500)
    room = tab * rng.uniform(1e-9, 1.0 - 1e-8, 500)
    for t, r in zip(tab, room):
        case, f = dog_bark(t, 1.13, r, 0.0)
        assert case == BARK_PARTIAL and f == r / t


# ------------------------------------------------------------------ float vs the integer rule
@HYP
@given(art_dai=st.floats(1.0, 1e7), rate=st.floats(1.0, 2.0), chop=st.floats(1.0, 1.3),
       room_frac=st.floats(0.0, 1.5), dust_frac=st.floats(0.0, 1.2), use_hole=st.booleans())
# every branch at least once: whole, partial, dusty rest (whole), dusty auction (waits), no room
@example(art_dai=1500.0, rate=1.0, chop=1.1, room_frac=1.2, dust_frac=0.0, use_hole=True)
@example(art_dai=1500.0, rate=1.02, chop=1.1, room_frac=0.3, dust_frac=0.1, use_hole=False)
@example(art_dai=1500.0, rate=1.02, chop=1.13, room_frac=0.9, dust_frac=0.2, use_hole=True)
@example(art_dai=1500.0, rate=1.02, chop=1.13, room_frac=0.2, dust_frac=0.5, use_hole=False)
@example(art_dai=1500.0, rate=1.0, chop=1.1, room_frac=0.0, dust_frac=0.5, use_hole=True)
def test_float_rule_matches_dog_bark(art_dai, rate, chop, room_frac, dust_frac, use_hole):
    """``dog_bark`` against ``exact.bark`` (dss integer arithmetic): the same case and the
    same share ``dart / art`` (the integer floors aside, 1e-9). The room is a share of the
    tab (from ``Hole - Dirt`` or ``hole - dirt``), dust a share of the debt; draws within
    1e-6 of a branch boundary (where the floors may tip the integer rule) are left out."""
    art = int(art_dai * X.WAD)
    rate_i = int(rate * X.RAY)
    chop_i = int(chop * X.WAD)
    debt = art * rate_i / X.RAD  # USD
    tab = debt * chop
    room = room_frac * tab
    dust = dust_frac * debt
    f = room / tab
    for edge, value in ((room, tab), (debt * (1 - f), dust), (debt * f, dust)):
        assume(abs(edge - value) > 1e-6 * max(value, 1.0))
    assume(room == 0.0 or room > 1e-6)
    room_i = int(room * X.RAD)
    dust_i = int(dust * X.RAD)
    big = 10**12 * X.RAD
    ilk = X.Ilk(rate=rate_i, spot=1, dust=dust_i, chop=chop_i, hole=room_i if use_hole else big, dirt=0)
    dog = X.Dog(Hole=big if use_hole else room_i + 5 * X.RAD, Dirt=0 if use_hole else 5 * X.RAD)
    clip = X.Clipper(calc=X.LinearDecrease(tau=3600), buf=X.RAY)
    vault = X.Vault(ink=10**6 * X.WAD, art=art)
    case, share = dog_bark(tab, chop, room, dust)
    try:
        r = X.bark(ilk, vault, dog, clip, feed=X.RAY, now=0)
    except X.LiquidationLimitHit:
        assert case == BARK_NONE
        return
    except X.DustyAuctionFromPartialLiquidation:
        assert case == BARK_DUSTY_PARTIAL
        return
    if r.dart == art:
        assert case in (BARK_WHOLE, BARK_DUSTY_WHOLE)
        assert (case == BARK_DUSTY_WHOLE) == (r.tab > room_i)
    else:
        assert case == BARK_PARTIAL
        assert share == pytest.approx(r.dart / art, rel=1e-9)
        assert r.dink / vault.ink == pytest.approx(share, rel=1e-9)


# ------------------------------------------------------------------ the dynamic engine, by hand
def test_dusty_partial_waits():
    """Hole 2000, dust 400. Block 1: vault 0 is barked whole (tab 1650, Dirt 1650); the room
    left, 350, would put up dart = 350 / 1.1 = 318.18 of vault 1's 1500, below dust: the
    bark reverts and vault 1 waits whole (1 WETH, 1500 USDC). Block 241 the keepers take
    vault 0's auction (1650 / P WETH); block 242 the room is 2000 >= 1650 and vault 1 is
    barked whole; its auction is taken at block 482. End: both vaults hold 1 - 1650 / P
    WETH and no debt, as without a limit, only later."""
    rules = MakerRules(PARAMS, auctions=ClipperSettings(**HAND, Hole_usd=2000.0, dust_usd=400.0))
    first = run(rules, two_vaults(), shock(2))
    s = first.summary
    assert s["auctions_kicked"] == 1 and s["accounts_liquidated"] == 1
    assert s["dog_dirt_peak_usd"] == approx(1650.0)
    t = mb.dynamic_totals(first)
    assert t["seized"][WETH] == approx(1.0) and t["repaid"][USDC] == approx(1500.0)

    s = run(rules, two_vaults(), shock(243)).summary  # block 242: vault 1 barked whole
    assert s["auctions_kicked"] == 2 and s["auction_open_tab_usd"] == approx(1650.0)

    end = run(rules, two_vaults(), shock(483))
    s = end.summary
    assert s["auctions_finished"] == 2 and s["auctions_open_end"] == 0
    assert s["auction_raised_usd"] == approx(3300.0) and s["auction_bad_debt_usd"] == 0.0
    t = mb.dynamic_totals(end)
    assert t["seized"][WETH] == approx(2.0) and t["repaid"][USDC] == approx(3000.0)
    assert t["returned"][WETH] == approx(2 - 3300 / P)
    assert s["below_hf1_accounts_end"] == 0 and s["cleared"]


@pytest.mark.parametrize("dust", [1182.0, 1e5])
def test_dusty_remainder_takes_the_whole_vault(dust):
    """Hole 2000, dust above the 1500 * 26/33 = 1181.82 that a partial bark (share 7/33)
    would leave in vault 1: it is barked whole at block 1 with vault 0, Dirt 3300 > Hole
    (by 1300 < dust * chop as dss's comment bounds it). Both auctions are taken at block
    241 for 1650 / P WETH each."""
    rules = MakerRules(PARAMS, auctions=ClipperSettings(**HAND, Hole_usd=2000.0, dust_usd=dust))
    first = run(rules, two_vaults(), shock(2))
    s = first.summary
    assert s["auctions_kicked"] == 2
    assert s["dog_dirt_peak_usd"] == approx(3300.0)
    t = mb.dynamic_totals(first)
    assert t["seized"][WETH] == approx(2.0) and t["repaid"][USDC] == approx(3000.0)
    end = run(rules, two_vaults(), shock(242))
    s = end.summary
    assert s["auctions_finished"] == 2 and s["auction_raised_usd"] == approx(3300.0)
    assert mb.dynamic_totals(end)["returned"][WETH] == approx(2 - 3300 / P)


@pytest.mark.parametrize("dust", [0.0, 318.0, {"WETH": 300.0}, {"WBTC": 1e6}])
def test_partial_bark_above_dust_is_unchanged(dust):
    """dust below both the auction's 318.18 and the 1181.82 left (or set for another
    collateral only): the partial bark of test_maker_dog's hand case, share 7/33."""
    rules = MakerRules(PARAMS, auctions=ClipperSettings(**HAND, Hole_usd=2000.0, dust_usd=dust))
    res = run(rules, two_vaults(), shock(2))
    assert res.summary["auctions_kicked"] == 2 and res.summary["dog_dirt_peak_usd"] == approx(2000.0)
    t = mb.dynamic_totals(res)
    assert t["seized"][WETH] == approx(1 + 7 / 33)
    assert t["repaid"][USDC] == approx(1500 * (1 + 7 / 33))


def test_dust_per_collateral():
    """hole 2000 per ilk; a WBTC vault (0.1 WBTC against 2100 USDC, unsafe at $27,000: 2025
    < 2100, tab 2205) alone in its ilk: room 2000 < 2205, share 2000/2205, dart =
    2000 / 1.05 = 1904.76, left 195.24. WBTC dust 200 (> 195.24): the whole vault (WETH's
    dust 1e6 does not apply to it); WBTC dust 0: partial."""
    b = mb.book([(2, "WBTC", 0.1, 0.0), (2, "USDC", 0.0, 2100.0)])
    path = instant_shock({"WBTC": 30000.0}, {"WBTC": -0.10}, n_blocks=2)
    whole = run(MakerRules(PARAMS, auctions=ClipperSettings(**HAND, hole_usd=2000.0,
                                                            dust_usd={"WBTC": 200.0, "WETH": 1e6})), b, path)
    assert mb.dynamic_totals(whole)["repaid"][USDC] == approx(2100.0)
    assert whole.summary["dog_dirt_peak_usd"] == approx(2205.0)
    part = run(MakerRules(PARAMS, auctions=ClipperSettings(**HAND, hole_usd=2000.0, dust_usd={"WETH": 1e6})), b, path)
    assert mb.dynamic_totals(part)["repaid"][USDC] == approx(2000 / 1.05)


def test_dust_is_checked():
    for bad in (-1.0, math.inf, math.nan, {"WETH": -5.0}, {"WETH": "x"}):
        with pytest.raises(ConfigError, match="dust_usd"):
            ClipperSettings(dust_usd=bad)
    s = ClipperSettings(dust_usd={"WETH": 15_000})
    assert s.dust_usd == (("WETH", 15_000.0),)
    assert hash(s) == hash(ClipperSettings(dust_usd={"WETH": 15_000.0}))
    with pytest.raises(ConfigError, match="dust_usd.DOGE"):
        MakerRules(PARAMS, auctions=ClipperSettings(dust_usd={"DOGE": 1.0})).prepare(two_vaults())


def test_config_passes_the_dust():
    """``[market.maker.auctions]`` ``dust_usd``: one value or per collateral; unset 0."""
    from types import SimpleNamespace

    from liqcascade.protocols.maker.plugin import MakerAuctionConfig, MakerConfig
    from liqcascade.io.scenario import protocol_rules

    def clipper(**kw):
        m = SimpleNamespace(protocol="maker", version=None, pair_policy="largest",
                            maker=MakerConfig(auctions=MakerAuctionConfig(**kw)))
        return protocol_rules(m, PARAMS, None, "<test>").auctions

    assert clipper().dust_usd == 0.0
    assert clipper(dust_usd=15_000).dust_usd == 15_000.0
    assert clipper(dust_usd={"WETH": 15_000, "WBTC": 7500}).dust_usd == (("WBTC", 7500.0), ("WETH", 15_000.0))


# ------------------------------------------------------------------ vaults waiting for room are eligible
@pytest.mark.parametrize("limits,waits", [
    # Hole 1650: vault 0's tab uses it all; vault 1 (whole) waits
    (dict(Hole_usd=1650.0), "whole"),
    # Hole 2000, dust 400: vault 1's partial bark would be dusty; it waits whole
    (dict(Hole_usd=2000.0, dust_usd=400.0), "whole"),
    # Hole 2000: vault 1 barked for 350 of tab; its rest (26/33 WETH worth 1418.18 * 0.8 =
    # 1134.55 < 1181.82 of debt) is still unsafe and waits
    (dict(Hole_usd=2000.0), "rest"),
])
def test_waiting_vaults_are_eligible(limits, waits):
    """Per block (blocks 0..242): block 0 nothing; block 1 both vaults eligible, vault 0 (and
    in the third case vault 1's share) barked; blocks 2..241 vault 1 (or its rest) waits for
    room: 1 eligible, 1 waiting, none liquidated; the takes at block 241 free the room and
    block 242 barks it (1 eligible, 1 liquidated, none waiting). Outside block 1 (where a
    picked vault found no room) every block's eligible count is liquidated + unprofitable +
    over capacity + waiting."""
    rules = MakerRules(PARAMS, auctions=ClipperSettings(**HAND, **limits))
    res = run(rules, two_vaults(), shock(243))
    pb = per_block(res)
    assert pb.loc[0, "eligible_accounts"] == 0
    assert pb.loc[1, "eligible_accounts"] == 2
    assert pb.loc[1, "accounts_liquidated"] == (2 if waits == "rest" else 1)
    mid = pb.loc[2:241]
    assert (mid["eligible_accounts"] == 1).all() and (mid["waiting_latency"] == 1).all()
    assert (mid["accounts_liquidated"] == 0).all()
    assert pb.loc[242, "eligible_accounts"] == 1 and pb.loc[242, "accounts_liquidated"] == 1
    assert pb.loc[242, "waiting_latency"] == 0
    rest = pb.drop(index=1)
    parts = rest[["accounts_liquidated", "left_unprofitable", "left_over_capacity", "waiting_latency"]].sum(axis=1)
    assert (rest["eligible_accounts"] == parts).all()
    # vault 1 (whole: 1500 of debt against 1800 of collateral) has no shortfall
    assert (mid["eligible_shortfall_usd"] == 0.0).all()
    # stopped while it waits: not cleared, and the summary says so
    s = run(rules, two_vaults(), shock(100)).summary
    assert not s["cleared"] and s["eligible_accounts_end"] == 1 and s["below_hf1_accounts_end"] == 1


def test_latency_runs_while_a_vault_waits_for_room():
    """Keepers with a latency of 5 blocks, Hole 1650 (the case above): both vaults turn
    unsafe at block 1 and their clocks start; vault 0 is barked at block 6 (1 + 5); vault 1
    waits for room, its clock running, and is barked the block the room frees (242, as
    without latency: the takes that free it come 5 blocks later too, at 246, so 247), not
    5 blocks after that."""
    rules = MakerRules(PARAMS, auctions=ClipperSettings(**HAND, Hole_usd=1650.0))
    slow = Liquidators(calls_per_account=64, gas_asset=None, min_profit_usd=-math.inf, latency_blocks=5)
    pb = per_block(run(rules, two_vaults(), shock(260), liquidators=slow))
    barks = pb.index[pb["accounts_liquidated"] > 0].tolist()
    assert barks == [6, 247]
    assert (pb.loc[1:5, "waiting_latency"] == 2).all()


def test_waiting_shortfall_counts():
    """A vault underwater while it waits: 1 WETH against 1550 USDC (safe at $2000: 1600 >
    1550), WETH falls 25 % to $1500: 50 of debt above collateral, tab 1705. Hole 1000:
    block 1 barks the share 1000/1705, leaving 705/1705 of the vault, whose shortfall is
    50 * 705/1705 = 20.67; blocks 2.. it waits for room (eligible and waiting) with that
    shortfall."""
    b = mb.book([(0, "WETH", 1.0, 0.0), (0, "USDC", 0.0, 1550.0)])
    rules = MakerRules(PARAMS, auctions=ClipperSettings(**HAND, Hole_usd=1000.0))
    pb = per_block(run(rules, b, instant_shock({"WETH": 2000.0}, {"WETH": -0.25}, n_blocks=6)))
    assert pb.loc[1, "eligible_accounts"] == 1 and pb.loc[1, "accounts_liquidated"] == 1
    assert pb.loc[1, "eligible_shortfall_usd"] == approx(50.0)
    for blk in range(2, 6):
        assert pb.loc[blk, "eligible_accounts"] == 1 and pb.loc[blk, "waiting_latency"] == 1
        assert pb.loc[blk, "accounts_liquidated"] == 0
        assert pb.loc[blk, "eligible_shortfall_usd"] == approx(50 * 705 / 1705)


# ------------------------------------------------------------------ invariants
@HYP
@given(seed=st.integers(0, 2**31), n=st.integers(2, 25), hole_frac=st.floats(0.05, 1.5),
       dust_frac=st.floats(0.0, 2.0), drop=st.floats(0.05, 0.3))
def test_dust_invariants(seed, n, hole_frac, dust_frac, drop):
    """Random vaults, a Hole that binds and a dust up to twice the median vault debt. Dirt
    never exceeds Hole by more than ``dust * chop`` (dss: only a whole bark of a vault that
    would be left dusty goes beyond the room, by less than the dusty rest's tab); no
    bark leaves a vault with ``0 < debt < dust`` (each barked vault's debt after its barks
    is 0 or at least dust); conservation every block
    (``check_conservation``). At the end, when the run has come to rest, every unsafe vault
    is counted as eligible (those waiting for room included)."""
    b = mb.random_vault_book(np.random.default_rng(seed), n)
    debt = b.debt[b.debt > 0]
    dust = dust_frac * float(np.median(debt))
    Hole = hole_frac * float(debt.sum()) * 1.1
    rules = MakerRules(PARAMS, auctions=ClipperSettings(buf=1.3, tail=600, cusp=0.2, curve="stairstep", cut=0.9, step=12,
                                                        keeper_margin=0.05, Hole_usd=Hole, dust_usd=dust))
    path = instant_shock({"WETH": 2000.0, "WBTC": 30000.0}, {"WETH": -drop, "WBTC": -drop}, n_blocks=400)
    res = run(rules, b, path)
    s = res.summary
    assert s["dog_dirt_peak_usd"] <= Hole + 1.1 * dust + 1e-9 * Hole
    rows, repaid = _repaid_rows(b, res)
    left = b.debt[rows] - repaid
    assert not np.any((left > 1e-6) & (left < dust * (1 - 1e-9)))
    pb = per_block(res)
    last = pb.iloc[-1]
    if s["auctions_open_end"] == 0 and last["accounts_liquidated"] == 0:
        assert s["eligible_accounts_end"] == s["below_hf1_accounts_end"]
        assert s["cleared"] == (s["below_hf1_accounts_end"] == 0)


def _repaid_rows(b, res):
    """(debt rows, debt repaid) of the barked vaults (each has one debt row, USDC at $1)."""
    ev = res["events"].groupby("account_id")["debt_repaid_usd"].sum()
    debt_row = {int(b.account_ids[b.account[r]]): r for r in np.flatnonzero(b.debt > 0)}
    rows = np.array([debt_row[int(a)] for a in ev.index], dtype=np.int64)
    return rows, ev.to_numpy()


def test_dust_zero_is_the_same_as_before():
    """dust 0 (the default), and a dust below every vault's debt and every partial bark,
    give the same run, number for number, on a random book with a binding hole (the hand
    case in test_maker_dog pins the dust-free behaviour to hand numbers)."""
    b = mb.random_vault_book(np.random.default_rng(11), 40)
    path = linear_shock({"WETH": 2000.0, "WBTC": 30000.0}, {"WETH": -0.4, "WBTC": -0.3}, duration_blocks=100,
                        n_blocks=300)
    liq = Liquidators(liquidations_per_block=3, gas_asset=None, min_profit_usd=-math.inf)
    base = dict(buf=1.3, tail=600, cusp=0.2, curve="stairstep", cut=0.9, step=12, keeper_margin=0.04,
                hole_usd=0.05 * float(b.debt.sum()))
    a = run(MakerRules(PARAMS, auctions=ClipperSettings(**base)), b, path, liq)
    c = run(MakerRules(PARAMS, auctions=ClipperSettings(**base, dust_usd=1e-12)), b, path, liq)
    # many partial barks (more auctions than vaults), and vaults waiting for room
    assert a.summary["auctions_kicked"] > a.summary["accounts_liquidated"] + 10
    assert a["steps"]["waiting_latency"].sum() > 0
    for key, v in a.summary.items():
        if isinstance(v, float) and math.isnan(v):
            assert math.isnan(c.summary[key]), key
        else:
            assert c.summary[key] == v, key
    assert a["events"].equals(c["events"]) and a["steps"].equals(c["steps"])
