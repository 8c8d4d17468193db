"""Maker's Dog limits (``Hole``/``hole``, ``Dirt``/``dirt``) in the dynamic engine's Clipper auctions.

Market (``mechanism_books``): WETH $2000 (threshold 0.80, chop 1.10), WBTC $30,000 (0.75,
chop 1.05), USDC $1. Every expected number is worked out by hand in the docstrings from
dss ``dog.sol``'s ``bark`` (``room = min(Hole - Dirt, hole - dirt)``, ``dart = min(art,
room / rate / chop)``, ``dink = ink * dart / art``) and ``clip.sol``'s ``take`` (``digs`` the
DAI paid; a finished auction frees its tab); invariants with hypothesis.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from liqcascade.engine.dynamic import Liquidators, SimSettings, simulate
from liqcascade.engine.static import MarketModel
from liqcascade.errors import ConfigError
from liqcascade.markets.oracle import Instant
from liqcascade.protocols.base import Lots
from liqcascade.protocols.maker.clipper import ClipperAuctions, ClipperSettings
from liqcascade.protocols.maker.rules import MakerRules
from liqcascade.scenarios import instant_shock, linear_shock

from . import mechanism_books as mb
from .mechanism_books import PARAMS, PRICES, USDC, WBTC, WETH

UNBOUNDED = Liquidators(calls_per_account=64, gas_asset=None, min_profit_usd=-math.inf)
HYP = settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
# the hand case's Clipper: top 1800 * 1.3 = 2340, 1 % per 90 s; keepers take at <= 1800 * 0.95 = 1710,
# i.e. after 32 steps (2340 * 0.99^31 = 1713.6 > 1710 >= 2340 * 0.99^32), 2880 s = 240 blocks after the kick
HAND = dict(buf=1.3, tail=10_000, cusp=0.4, curve="stairstep", cut=0.99, step=90, chip=0.001, tip=300, keeper_margin=0.05)
P = 2340 * 0.99**32  # the take price, 1696.5


def approx(x, rel=1e-9, abs=1e-9):
    return pytest.approx(x, rel=rel, abs=abs)


pytestmark = pytest.mark.usefixtures("one_numba_thread")


def run(rules, b, path, venues=None, liquidators=UNBOUNDED):
    model = MarketModel(b, rules, PRICES, venues or {})
    return simulate(model, path, Instant(), SimSettings(liquidators, check_conservation=True))


def two_vaults():
    """Accounts 0 and 1: 1 WETH against 1500 USDC each (unsafe at $1800: 1440 < 1500)."""
    return mb.book([(0, "WETH", 1.0, 0.0), (0, "USDC", 0.0, 1500.0), (1, "WETH", 1.0, 0.0), (1, "USDC", 0.0, 1500.0)])


def shock(n_blocks):
    return instant_shock({"WETH": 2000.0}, {"WETH": -0.10}, n_blocks=n_blocks)


@pytest.mark.parametrize("limits", [dict(Hole_usd=2000.0), dict(hole_usd=2000.0), dict(Hole_usd=2000.0, hole_usd=5e3)])
def test_hole_binds_hand_case(limits):
    """Both vaults unsafe at block 1, tabs 1500 * 1.1 = 1650 each, room 2000: vault 0 is
    barked whole (Dirt 1650); vault 1 partially with the room left, 350: dart = 350 / 1.1 =
    318.18 (= 1500 * 7/33) and dink 7/33 WETH; Dirt 2000. The rest of vault 1 (26/33 WETH,
    1181.82 USDC) stays unsafe and waits. Block 241 (elapsed 2880 s): keepers take both
    auctions at P = 2340 * 0.99^32, buying 1650 / P and 350 / P; the tabs are covered, Dirt
    falls to 0 and 7/33 - 350/P returns to vault 1. Block 242: the room is back, vault 1's
    rest (1 - 350/P WETH, 1500 * 26/33 debt, tab 1300) is barked whole; its auction is taken
    240 blocks later, at block 482, for 1300 / P. In the end both vaults hold 1 - 1650/P
    WETH and no debt, as without a limit, only later."""
    rules = MakerRules(PARAMS, auctions=ClipperSettings(**HAND, **limits))
    first = run(rules, two_vaults(), shock(2))
    s = first.summary
    assert s["auctions_kicked"] == 2
    assert s["dog_dirt_peak_usd"] == approx(2000.0)
    t = mb.dynamic_totals(first)
    assert t["seized"][WETH] == approx(1 + 7 / 33)
    assert t["repaid"][USDC] == approx(1500 * (1 + 7 / 33))
    ev = first["events"].set_index("account_id")
    assert ev.loc[1, "debt_repaid_usd"] == approx(1500 * 7 / 33)
    assert s["auction_open_tab_usd"] == approx(2000.0)

    s = run(rules, two_vaults(), shock(242)).summary  # blocks 0..241: takes at 241, no new bark yet
    assert s["auctions_kicked"] == 2 and s["auctions_finished"] == 2
    assert s["auction_raised_usd"] == approx(2000.0) and s["auction_open_tab_usd"] == 0.0

    s = run(rules, two_vaults(), shock(243)).summary  # block 242: vault 1's rest barked whole
    assert s["auctions_kicked"] == 3 and s["auction_open_tab_usd"] == approx(1300.0)

    s = run(rules, two_vaults(), shock(482)).summary  # up to block 481: not yet taken
    assert s["auctions_open_end"] == 1 and s["auction_raised_usd"] == approx(2000.0)

    end = run(rules, two_vaults(), shock(483))
    s = end.summary
    assert s["auctions_kicked"] == 3 and s["auctions_finished"] == 3 and s["auctions_open_end"] == 0
    assert s["auction_raised_usd"] == approx(3300.0)
    assert s["auction_penalty_usd"] == approx(300.0) and s["auction_bad_debt_usd"] == 0.0
    assert s["dog_dirt_peak_usd"] == approx(2000.0) and s["auction_open_tab_usd"] == 0.0
    t = mb.dynamic_totals(end)
    assert t["repaid"][USDC] == approx(3000.0)
    assert t["protocol_sold"][WETH] == approx(3300 / P)
    assert t["seized"][WETH] == approx(1 + 7 / 33 + 1 - 350 / P)
    # returned: (1 - 1650/P) + (7/33 - 350/P) + (1 - 350/P - 1300/P); the book keeps 2 - 3300/P
    assert t["returned"][WETH] == approx(2 + 7 / 33 - 3650 / P)
    assert 2 - t["seized"][WETH] + t["returned"][WETH] == approx(2 - 3300 / P)
    assert s["shortfall_end_usd"] == 0.0 and s["below_hf1_accounts_end"] == 0


def test_hole_is_per_ilk():
    """hole 2000 per ilk, no global Hole: the two WETH vaults share WETH's room (1650 +
    350, as above) while a WBTC vault (0.1 WBTC against 2100, unsafe at $27,000: 2025 <
    2100; tab 2100 * 1.05 = 2205) has its own: it is barked for 2000 of it, dart = 2000 /
    1.05 = 1904.76 and dink 0.1 * 2000/2205. Dirt 4000, each ilk's dirt at most 2000."""
    b = mb.book([(0, "WETH", 1.0, 0.0), (0, "USDC", 0.0, 1500.0), (1, "WETH", 1.0, 0.0), (1, "USDC", 0.0, 1500.0),
                 (2, "WBTC", 0.1, 0.0), (2, "USDC", 0.0, 2100.0)])
    rules = MakerRules(PARAMS, auctions=ClipperSettings(**HAND, hole_usd=2000.0))
    path = instant_shock({"WETH": 2000.0, "WBTC": 30000.0}, {"WETH": -0.10, "WBTC": -0.10}, n_blocks=2)
    res = run(rules, b, path)
    s = res.summary
    assert s["auctions_kicked"] == 3
    assert s["dog_dirt_peak_usd"] == approx(4000.0) and s["dog_ilk_dirt_peak_usd"] == approx(2000.0)
    t = mb.dynamic_totals(res)
    assert t["seized"][WBTC] == approx(0.1 * 2000 / 2205)
    assert t["repaid"][USDC] == approx(1500 * (1 + 7 / 33) + 2000 / 1.05)


def test_no_room_no_bark():
    """Hole 1650 is used up by vault 0's tab: vault 1 is not barked at all until the takes
    at block 241 free the room; then it is barked whole (tab 1650) at block 242."""
    rules = MakerRules(PARAMS, auctions=ClipperSettings(**HAND, Hole_usd=1650.0))
    s = run(rules, two_vaults(), shock(242)).summary
    assert s["auctions_kicked"] == 1 and s["accounts_liquidated"] == 1
    s = run(rules, two_vaults(), shock(243)).summary
    assert s["auctions_kicked"] == 2 and s["accounts_liquidated"] == 2 and s["auction_open_tab_usd"] == approx(1650.0)


def test_limits_are_checked():
    with pytest.raises(ConfigError, match="hole_usd"):
        ClipperSettings(hole_usd=0.0)
    with pytest.raises(ConfigError, match="Hole_usd"):
        ClipperSettings(Hole_usd=-1.0)
    with pytest.raises(ConfigError, match="chost_usd"):
        ClipperSettings(chost_usd=-1.0)


def test_config_passes_the_limits():
    """``[market.maker.auctions]``: unset limits are none (inf), set ones reach the Clipper."""
    from types import SimpleNamespace

    from liqcascade.protocols.maker.plugin import MakerAuctionConfig, MakerConfig
    from liqcascade.io.scenario import protocol_rules

    def clipper(**kw):
        m = SimpleNamespace(protocol="maker", version=None, pair_policy="largest",
                            maker=MakerConfig(auctions=MakerAuctionConfig(**kw)))
        return protocol_rules(m, PARAMS, None, "<test>").auctions

    c = clipper()
    assert c.hole_usd == math.inf and c.Hole_usd == math.inf and c.chost_usd == 0.0
    c = clipper(hole_usd=65e6, Hole_usd=1e8, chost_usd=16_950.0)
    assert (c.hole_usd, c.Hole_usd, c.chost_usd) == (65e6, 1e8, 16_950.0)


def test_unlimited_is_the_same_as_before():
    """No limit (the default) and limits far above every tab give the same run, number for
    number: the room never binds, so every bark is whole, as before the Dog was modelled
    (the hand case in test_mechanisms pins that behaviour to hand numbers)."""
    b = mb.random_vault_book(np.random.default_rng(7), 40)
    path = linear_shock({"WETH": 2000.0, "WBTC": 30000.0}, {"WETH": -0.4, "WBTC": -0.3}, duration_blocks=100,
                        n_blocks=300)
    liq = Liquidators(liquidations_per_block=3, gas_asset=None, min_profit_usd=-math.inf)
    base = dict(tail=3600, cusp=0.5, keeper_margin=0.04)
    a = run(MakerRules(PARAMS, auctions=ClipperSettings(**base)), b, path, mb.pool(5e5), liq)
    c = run(MakerRules(PARAMS, auctions=ClipperSettings(**base, hole_usd=1e15, Hole_usd=1e15)), b, path, mb.pool(5e5), liq)
    assert a.summary["auctions_kicked"] > 5
    for key, v in a.summary.items():
        if isinstance(v, float) and math.isnan(v):
            assert math.isnan(c.summary[key]), key
        else:
            assert c.summary[key] == v, key
    assert a["events"].equals(c["events"])


@HYP
@given(seed=st.integers(0, 2**31), n=st.integers(2, 25), hole_frac=st.floats(0.1, 1.5),
       hole_ratio=st.floats(0.5, 3.0), drop=st.floats(0.05, 0.3))
def test_dirt_invariants(seed, n, hole_frac, hole_ratio, drop):
    """Random vaults, random limits (hole a share of all the book's tabs, Hole a multiple
    of hole): Dirt never exceeds Hole nor any ilk's dirt its hole; at the end every auction
    has finished, no tab is left in them (Dirt = 0) and no vault is left unsafe;
    conservation holds every block (``check_conservation``). A quick Clipper (10 % per
    12 s: taken 3 blocks after the kick, the next bark a block later) so that the at most
    ~2 / 0.1 + 25 rounds of waiting barks finish within the run."""
    b = mb.random_vault_book(np.random.default_rng(seed), n)
    hole = hole_frac * float(b.debt.sum()) * 1.1
    Hole = hole * hole_ratio
    rules = MakerRules(PARAMS, auctions=ClipperSettings(buf=1.3, tail=600, cusp=0.2, curve="stairstep", cut=0.9, step=12,
                                                        keeper_margin=0.05, hole_usd=hole, Hole_usd=Hole))
    path = instant_shock({"WETH": 2000.0, "WBTC": 30000.0}, {"WETH": -drop, "WBTC": -drop}, n_blocks=400)
    s = run(rules, b, path).summary
    assert s["dog_dirt_peak_usd"] <= Hole * (1 + 1e-9)
    assert s["dog_ilk_dirt_peak_usd"] <= hole * (1 + 1e-9)
    if s["auctions_kicked"]:
        assert s["auctions_open_end"] == 0  # the run is long enough for every round
        assert s["auction_open_tab_usd"] == 0.0
        assert s["below_hf1_accounts_end"] == 0


# ------------------------------------------------------------------ chost (clip.sol take)
def _auction(lot, debt, chost):
    """One WETH auction at a flat $1800 (buf 1, no margin, first step after 90 s): every
    take in the first blocks is at 1800; tab = debt * 1.1."""
    s = ClipperSettings(buf=1.0, tail=10_000, cusp=0.4, curve="stairstep", cut=0.99, step=90, keeper_margin=0.0,
                        chost_usd=chost)
    auc = ClipperAuctions(s, 1.0 + mb.BONUS, 3)
    oracle = PRICES.copy()
    oracle[WETH] = 1800.0
    auc.receive(0, Lots(np.array([0]), np.array([0]), np.array([WETH]), np.array([lot]), np.array([debt])), oracle)
    return auc, oracle


def _take(auc, oracle, t, depth_tokens):
    return auc.step(t, oracle, lambda i, p: depth_tokens)


@pytest.mark.parametrize("chost,first,second", [
    # no chost: the market takes 9 WETH (16,200 of the 16,500 tab), leaving 300; then the
    # 300 / 1800 WETH that covers it (of the 0.5 the market would take)
    (0.0, 9.0, 300 / 1800),
    # chost 1000: 300 < 1000 would be left, so the take is cut back to (16,500 - 1000) / 1800
    # = 8.6111 WETH leaving exactly 1000; the tab is now <= chost: a 0.5 WETH (900) take,
    # which would leave 100, is refused
    (1000.0, 15_500 / 1800, 0.0),
])
def test_chost_partial_takes(chost, first, second):
    auc, oracle = _auction(10.0, 15_000.0, chost)
    st1 = _take(auc, oracle, 12, 9.0)
    assert st1.sold[WETH] == approx(first) and st1.proceeds_usd[WETH] == approx(first * 1800)
    assert auc.a["tab"][0] == approx(16_500 - first * 1800)
    st2 = _take(auc, oracle, 24, 0.5)
    assert st2.sold[WETH] == approx(second)
    if chost:
        # a take of the whole remaining tab (1000 / 1800 WETH) is allowed and ends the auction
        st3 = _take(auc, oracle, 36, 1.0)
        assert st3.sold[WETH] == approx(1000 / 1800) and auc.a["lot"].size == 0
        assert st3.returned_amount.sum() == approx(10 - 16_500 / 1800)


def test_chost_allows_taking_the_whole_lot():
    """5 WETH against a 16,500 tab (worth 9000): taking all 5 leaves 7500 of tab, more than
    chost, and with chost 10,000 (more than what is left) it is still allowed since the lot
    is gone (``slice == lot``): the auction ends with 16,500 - 9000 of tab uncovered
    (debt 15,000 - 9000 = 6000 bad debt)."""
    auc, oracle = _auction(5.0, 15_000.0, 10_000.0)
    st1 = _take(auc, oracle, 12, 5.0)
    assert st1.sold[WETH] == approx(5.0) and auc.a["lot"].size == 0
    assert st1.bad_debt_usd == approx(6000.0)
