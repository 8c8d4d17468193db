"""The block loop's reuse of candidates between full scans (``Candidates.reprice``,
``steps.reusable_candidates``) and its grouped sale-grid totals (``steps.ranked_totals``):
exactly the accounts whose inputs changed are priced again, and every number is the one
the loop computed without the reuse, bit for bit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liqcascade.engine.dynamic import Dynamics, Liquidators, SimSettings, steps
from liqcascade.engine.dynamic import pricing, pricing_python
from liqcascade.engine.dynamic.candidates import CANDIDATE_FIELDS, Candidates
from liqcascade.engine.static import MarketModel, SortedBook
from liqcascade.engine.system import SystemModel
from liqcascade.engine.system_dynamic import simulate_system
from liqcascade.markets.cpmm import ConstantProductPool
from liqcascade.markets.oracle import ChainlinkPush
from liqcascade.model import PositionBook
from liqcascade.protocols.aave_v3 import V3_3
from liqcascade.protocols.aave_v3.rules import AaveV3Rules
from liqcascade.scenarios import gbm

from .conftest import PARAMS, PRICES

WETH, USDC, DAI = (PARAMS.index(s) for s in ("WETH", "USDC", "DAI"))


def _three_kinds(n_each: int = 30) -> PositionBook:
    """Accounts 0..n-1: WETH collateral, USDC debt; n..2n-1: DAI collateral, USDC debt;
    2n..3n-1: WETH collateral, DAI debt; health spread around 1 at the reference prices
    (WETH 2000, USDC and DAI 1; LT 0.85 for WETH, 0.78 for DAI)."""
    hf = np.linspace(0.8, 1.4, n_each)
    ids, assets, coll, debt = [], [], [], []
    for kind, (ca, da, lt, price) in enumerate(((WETH, USDC, 0.85, 2000.0), (DAI, USDC, 0.78, 1.0),
                                                (WETH, DAI, 0.85, 2000.0))):
        for j in range(n_each):
            k = kind * n_each + j
            c = 1.0 + j  # tokens of collateral
            ids += [k, k]
            assets += [ca, da]
            coll += [c, 0.0]
            debt += [0.0, c * price * lt / hf[j]]
    return PositionBook.from_rows(ids, assets, coll, debt, PARAMS.symbols)


class _Counting:
    """The rules, counting the accounts whose next call is computed."""

    def __init__(self, rules):
        self.rules, self.priced = rules, []

    def first_call(self, arrays, prices, accounts):
        self.priced.append(np.array(accounts))
        return self.rules.first_call(arrays, prices, accounts)

    def health(self, arrays, prices, accounts=None):
        return self.rules.health(arrays, prices, accounts)


def _kind(arrays, k: int) -> int:
    """The kind of working account ``k`` (the sorted book reorders accounts) by its rows' assets."""
    held = set(arrays.asset[arrays.offsets[k]:arrays.offsets[k + 1]].tolist())
    return [{WETH, USDC}, {DAI, USDC}, {WETH, DAI}].index(held)


def _eligible(rules, arrays, prices) -> np.ndarray:
    v = rules.health(arrays, prices)
    return np.flatnonzero(v.hf < 1.0).astype(np.int64)


def _same(a: Candidates, b: Candidates) -> None:
    for f in ("elig", *CANDIDATE_FIELDS):
        assert getattr(a, f).tolist() == getattr(b, f).tolist(), f


@pytest.mark.parametrize("moved, kinds", [(DAI, (1, 2)), (WETH, (0, 2)), (USDC, (0, 1))])
def test_only_the_accounts_holding_the_moved_asset_are_priced_again(moved, kinds):
    n = 30
    rules = AaveV3Rules(PARAMS, V3_3)
    arrays = SortedBook.of(MarketModel(_three_kinds(n), rules, PRICES, {})).fresh()
    o1 = PRICES * np.array([0.9, 1.0, 1.0])  # WETH down 10 %
    old = Candidates.build(rules, arrays, o1, _eligible(rules, arrays, o1))
    o2 = o1.copy()
    o2[moved] *= 1.03 if moved == DAI else 0.97  # collateral DAI up, or WETH / USDC debt moved
    scanned = _eligible(rules, arrays, o2)
    moved_mask = o2 != o1
    touched = np.empty(old.elig.size, dtype=np.bool_)
    pricing.holds_any(old.elig, arrays.offsets, arrays.asset, moved_mask, touched)
    spy = _Counting(rules)
    new = old.reprice(spy, arrays, o2, scanned, ~touched)
    _same(new, Candidates.build(rules, arrays, o2, scanned))
    # the kinds holding the moved asset, and only they, were priced again (all of their eligible ones)
    priced = np.concatenate(spy.priced) if spy.priced else np.empty(0, dtype=np.int64)
    assert set(priced.tolist()) == {int(k) for k in scanned if _kind(arrays, int(k)) in kinds}
    untouched = [int(k) for k in old.elig if _kind(arrays, int(k)) not in kinds]
    assert untouched and not set(untouched) & set(priced.tolist())


def test_a_liquidated_account_is_priced_again_though_no_price_moved():
    rules = AaveV3Rules(PARAMS, V3_3)
    arrays = SortedBook.of(MarketModel(_three_kinds(), rules, PRICES, {})).fresh()
    o = PRICES * np.array([0.9, 1.0, 1.0])
    old = Candidates.build(rules, arrays, o, _eligible(rules, arrays, o))
    hit = old.elig[[0, 3]]
    arrays.coll[arrays.offsets[hit]] *= 0.5  # as a liquidation would leave them
    spy = _Counting(rules)
    reusable = ~np.isin(old.elig, hit)
    new = old.reprice(spy, arrays, o, _eligible(rules, arrays, o), reusable)
    _same(new, Candidates.build(rules, arrays, o, _eligible(rules, arrays, o)))
    assert np.concatenate(spy.priced).tolist() == sorted(hit.tolist())


def _system(n_each: int = 40) -> SystemModel:
    rules = AaveV3Rules(PARAMS, V3_3)
    books = {"a": _three_kinds(n_each), "b": _three_kinds(n_each // 2)}
    markets = {m: MarketModel(b, rules, PRICES, {}) for m, b in books.items()}
    venues = {"WETH": ConstantProductPool.from_price_depth("WETH", 2000.0, 5e5),
              "DAI": ConstantProductPool.from_price_depth("DAI", 1.0, 5e5)}
    return SystemModel(PARAMS.symbols, PRICES, markets, venues)


def test_a_system_run_is_the_run_without_reuse_bit_for_bit(monkeypatch, one_numba_thread):
    # WETH falls and DAI wobbles on their own: the oracle moves one asset in many blocks
    path = gbm({"WETH": 2000.0, "DAI": 1.0}, {"WETH": 1.5, "DAI": 3.0}, [[1.0, 0.0], [0.0, 1.0]], n_blocks=300,
               seed=4, drift=-20.0)
    settings = SimSettings(Liquidators(liquidations_per_block=2, gas_gwei=5.0), Dynamics(600.0, 0.5),
                           check_conservation=True)
    reused = []
    real = steps.reusable_candidates

    def counting(run, st, b, o):
        out = real(run, st, b, o)
        reused.append(0 if out is None else int(out.sum()))
        return out

    monkeypatch.setattr(steps, "reusable_candidates", counting)
    cached = simulate_system(_system(), path, ChainlinkPush(0.005, 3600), settings)
    assert sum(reused) > 0  # the reuse was exercised
    monkeypatch.setattr(steps, "reusable_candidates", lambda run, st, b, o: None)
    plain = simulate_system(_system(), path, ChainlinkPush(0.005, 3600), settings)
    assert sum(int(r.summary["accounts_liquidated"]) for r in plain.values()) > 0
    for m in plain:
        for name in ("steps", "events", "assets", "summary"):
            pd.testing.assert_frame_equal(cached[m][name], plain[m][name], check_exact=True)


@pytest.mark.parametrize("fn", [pricing.holds_any, pricing_python.holds_any], ids=["jit", "python"])
@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 40))
def test_holds_any_is_membership_of_the_rows_assets(fn, seed, n):
    rng = np.random.default_rng(seed)
    counts = rng.integers(0, 4, 50)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    asset = rng.integers(0, 5, int(offsets[-1])).astype(np.int64)
    flagged = rng.random(5) < 0.4
    accounts = np.sort(rng.choice(50, n, replace=False)).astype(np.int64)
    out = np.empty(n, dtype=np.bool_)
    fn(accounts, offsets, asset, flagged, out)
    want = [bool(flagged[asset[offsets[k]:offsets[k + 1]]].any()) for k in accounts]
    assert out.tolist() == want


@pytest.mark.parametrize("fn", [pricing.group_ranked, pricing_python.group_ranked], ids=["jit", "python"])
@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 300))
def test_ranked_totals_are_the_masked_sums_bit_for_bit(fn, seed, n):
    rng = np.random.default_rng(seed)
    qty = rng.lognormal(0, 4, n)
    asset = rng.integers(0, 6, n).astype(np.int64)
    asset[asset == 4] = 5  # asset 4 absent
    order = rng.permutation(n).astype(np.int64)
    co, ro = asset[order], qty[order]
    want = [(i, float(ro[co == i].sum())) for i in range(7) if (co == i).any()]
    starts, grouped = np.empty(8, dtype=np.int64), np.empty(n)
    fn(order, asset, qty, starts, grouped)
    assert starts.tolist() == [0, *np.cumsum(np.bincount(asset, minlength=7)).tolist()]
    got = steps.ranked_totals(order, asset, qty, 7)
    assert [i for i, _ in got] == [i for i, _ in want]
    assert np.array([q for _, q in got]).tobytes() == np.array([q for _, q in want]).tobytes()
    for i, total in want:  # the plain twin's groups sum to the same bits
        assert float(grouped[starts[i]:starts[i + 1]].sum()).hex() == total.hex()


def test_reusable_are_those_holding_no_moved_asset_and_not_liquidated_last_block():
    from types import SimpleNamespace

    from liqcascade.protocols.base import Capabilities

    rules = AaveV3Rules(PARAMS, V3_3)
    arrays = SortedBook.of(MarketModel(_three_kinds(), rules, PRICES, {})).fresh()
    o1 = PRICES * np.array([0.9, 1.0, 1.0])
    cand = Candidates.build(rules, arrays, o1, _eligible(rules, arrays, o1))
    kind0 = [int(k) for k in cand.elig if _kind(arrays, int(k)) == 0]
    liquidated = np.array(sorted(kind0[::3]), dtype=np.int64)  # some of the accounts holding no DAI
    state = SimpleNamespace(cand=cand, o_prev=o1, arrays=arrays, liquidated_last=liquidated, owners=None,
                            aftermarket=None)
    run = SimpleNamespace(capabilities=Capabilities())
    o2 = o1.copy()
    o2[DAI] = 1.01
    got = steps.reusable_candidates(run, state, 7, o2)
    kinds = [_kind(arrays, int(k)) for k in cand.elig]
    want = [kind == 0 and int(k) not in liquidated.tolist() for kind, k in zip(kinds, cand.elig)]
    assert got.tolist() == want and any(want) and len(kind0) > len(liquidated) > 0
    # nothing reused in the first block, when every price moved, or when something else moves accounts
    assert steps.reusable_candidates(run, state, 0, o2) is None
    assert steps.reusable_candidates(run, state, 7, o1 * 1.01) is None
    for key, value in (("owners", object()), ("aftermarket", object())):
        assert steps.reusable_candidates(run, SimpleNamespace(**{**vars(state), key: value}), 7, o2) is None
    for flag in ("global_effects", "soft_liquidation"):
        other = SimpleNamespace(capabilities=Capabilities(**{flag: True}))
        assert steps.reusable_candidates(other, state, 7, o2) is None
