"""Every protocol's liquidation kernel, compiled and as its plain-Python twin, gives the same
numbers (STYLE: a plain twin for every JIT kernel, and a test that ties them).

The kernels are found from the registry (each protocol folder's ``kernels_python`` module
and every ``KernelSpec`` it defines), so a new protocol's kernel is tested without editing
this file. Each runs the shared loops (a parallel or serial sweep, ``first_call`` and
``liquidate_list``) on the same random book, compiled and plain, and every output array
must agree to the last bits but a few ulps.
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest

from liqcascade.protocols.base import LiquidationLimits, Tallies
from liqcascade.protocols.maker.clipper import ClipperSettings
from liqcascade.protocols.maker.flip_auctions import FlipSettings
from liqcascade.protocols.maker.rules import MakerRules
from liqcascade.protocols.mechanisms.kernels import assemble
from liqcascade.protocols.mechanisms.kernels_python import KernelSpec
from liqcascade.protocols.mechanisms.rules import kernel_acc, kernel_rows
from liqcascade.protocols.registry import BUILTIN

from ..engine import mechanism_books as mb
from ..engine.mechanism_books import PARAMS, PRICES


def kernel_specs() -> dict[str, KernelSpec]:
    """Every ``KernelSpec`` the registered protocols' folders define."""
    out = {}
    for name in BUILTIN:
        try:
            mod = importlib.import_module(f"liqcascade.protocols.{name}.kernels_python")
        except ModuleNotFoundError:
            continue
        for v in vars(mod).values():
            if isinstance(v, KernelSpec) and v.functions.get("next_call") is not None:
                out[v.name] = v
    return out


SPECS = kernel_specs()
RULES = {
    "compound_v2": lambda: mb.make_rules("compound_v2"),
    "compound_v3": lambda: mb.make_rules("compound_v3"),
    "euler_v2": lambda: mb.make_rules("euler_v2"),
    "morpho_blue": lambda: mb.make_rules("morpho_blue"),
    "maker": lambda: mb.make_rules("maker"),
    "maker_bark": lambda: MakerRules(PARAMS, auctions=ClipperSettings(hole_usd=2e5)),
    "liquity_v1": lambda: mb.make_rules("liquity_v1", stability_pool=3e5),
    "liquity_v2": lambda: mb.make_rules("liquity_v2", stability_pool=3e5),
}
VARIANTS = {
    # Liquidations 1.2: the Cat's bites on the bark kernel, the box (room left for the list) as its only limit
    "maker_flip": ("maker_bark", lambda: MakerRules(PARAMS, flip=FlipSettings(box_usd=5e5))),
}
"""Rule versions that run a kernel of :data:`RULES` with other parameters or state: name ->
(kernel name, rules)."""
SHAPE = {"maker_bark": "maker", "maker_flip": "maker", "compound_v3": "compound_v3"}


def test_every_kernel_has_a_case():
    """The registry's protocols bring these kernels (Aave's and crvUSD's are their own:
    Aave's twin test is in tests/engine/test_static_properties.py, crvUSD is numpy)."""
    assert set(SPECS) == set(RULES)


def _book(name: str, seed: int):
    rng = np.random.default_rng(seed)
    protocol = SHAPE.get(name, name)
    if protocol in mb.LIQUITY:
        return mb.troves([(float(c), float(c * 2000 / rng.uniform(1.0, 1.6))) for c in rng.lognormal(0, 1, 300)])
    if protocol in ("maker", "morpho_blue"):
        return mb.random_vault_book(rng, 300)
    rows = []
    for k in range(300):
        c, w = float(rng.lognormal(0, 1)), float(rng.uniform(0, 2))
        cap = (c * 2000 * 0.8 + w * 30000 * 0.75) / rng.uniform(0.8, 1.6)
        rows += [(k, "WETH", c, 0.0), (k, "WBTC", w, 0.0), (k, "USDC", 0.0, cap)]
    return mb.book(rows)


def _run(ks, rules, arrays, prices, serial):
    """Sweep, then first calls and a ranked list at lower prices; every output array."""
    n = arrays.n_accounts
    t = Tallies.zeros(3, n, arrays.asset.shape[0])
    touched = np.zeros(n, dtype=np.bool_)
    q = np.zeros(n)
    state = rules._state(arrays)
    sweep = ks.sweep_serial if serial else ks.sweep
    hf_cut = rules.before_pass(arrays, prices)  # Liquity: system totals into ``state``
    found, calls = sweep(n, arrays.offsets, kernel_rows(arrays, prices), rules.dynamic_scalars(), state, 64, 0.0,
                         kernel_acc(t), (t.acct_calls, t.acct_blocked, touched), (q, 1.0, hf_cut))
    rules.after_pass(arrays, prices, t)
    lower = prices * np.array([0.85, 0.9, 1.0])
    rules.before_pass(arrays, lower)
    accounts = np.arange(n, dtype=np.int64)
    f = [np.zeros(n) for _ in range(6)]
    ca, da = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
    ks.first_call(accounts, arrays.offsets, kernel_rows(arrays, lower), rules.rank_scalars(), state, f[0], f[1], f[2],
                  (f[3], f[4], f[5]), (ca, da))
    ev = [np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64), np.zeros(n), np.zeros(n), np.zeros(n)]
    listed = ks.liquidate_list(accounts, arrays.offsets, kernel_rows(arrays, lower), rules.dynamic_scalars(), state,
                               LiquidationLimits().max_calls_per_account, 0.0, np.empty((0, 0)), kernel_acc(t),
                               (t.acct_calls, t.acct_blocked), tuple(ev))
    return [np.array([found, calls, listed]), arrays.coll, arrays.debt, state, q, touched, *f, ca, da, *ev,
            t.seized, t.fee, t.repaid, t.deficit, t.acct_seized_usd, t.acct_repaid_usd, t.acct_bad_debt_usd,
            t.acct_calls, t.acct_blocked, t.flows]


@pytest.mark.parametrize("name", sorted(RULES) + sorted(VARIANTS))
def test_compiled_kernel_and_plain_twin_agree(name):
    kernel, make = VARIANTS.get(name, (name, RULES.get(name)))
    rules = make()
    book = _book(name, 7)
    prices = PRICES * np.array([0.8, 0.85, 1.0])
    results = []
    for enabled in (True, False):
        arrays = rules.prepare(book)
        ks = assemble(SPECS[kernel], enabled=enabled)
        # the bark kernel lowers the Dog's (or the Cat's) shared room: only ever run in account order
        results.append(_run(ks, rules, arrays, prices, rules.serial or kernel == "maker_bark"))
    (head1, *a1), (head2, *a2) = results
    assert head1.tolist() == head2.tolist() and head1[1] > 0 and head1[2] > 0, (head1, head2)
    for x, y in zip(a1, a2):
        np.testing.assert_allclose(x, y, rtol=1e-13, atol=1e-300)
