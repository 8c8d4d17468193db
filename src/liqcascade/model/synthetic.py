"""A seeded, synthetic Aave-v3-like position book for users who have none.

:func:`synthetic_book` draws ``n_accounts`` borrowers against a market's :class:`RiskParams`
and prices. Every choice below is a knob (keyword argument with a default). The defaults are
*assumptions chosen to look like Aave v3 Ethereum in late 2023*, read by eye off public
dashboards; they are not fitted to position data (none is bundled), so treat the book as a
plausible stress-test input, not as a reconstruction of the real market.

How an account is drawn
-----------------------
1. **Archetype** (``archetypes``): each account follows one borrowing pattern, a pair of
   weighted candidate lists for collateral and debt. The defaults mirror what dominates Aave v3
   Ethereum: ETH collateral borrowing stablecoins (``eth_stables``), the e-mode "ETH correlated"
   loop wstETH/rETH/cbETH → WETH (``lst_loop``), WBTC → stablecoins (``btc_stables``), stablecoin
   collateral borrowing WETH/WBTC (``stable_short``), and governance-token collateral
   (``alt_collateral``). Archetypes whose candidates are missing from ``params`` drop out; if
   none is left, a generic archetype uses every collateral asset (LT > 0) against every
   borrowable asset with equal weights.
2. **Holdings**: 1–3 collateral assets (``n_collateral_probs``) and 1–2 debt assets
   (``n_debt_probs``), drawn without replacement by the archetype's weights (Gumbel top-k),
   never the same asset on both sides. The defaults give about 2.5 rows per account, so
   1 M accounts ≈ 2.5 M rows, the order of Aave v3 Ethereum's row count in the brief.
3. **Size**: total collateral value in USD is lognormal (``size_median_usd``, ``size_sigma``),
   truncated at ``size_max_usd``. A lognormal with σ = 2 puts about 37 % of all collateral in
   the top 1 % of accounts (share = Φ(σ − z₀.₉₉)), i.e. a few whales dominate, as on every
   lending market; raise σ for more concentration. Shares across an account's collateral
   assets are a flat Dirichlet.
4. **Health factor** (``hf_*``): a mixture. ``hf_near_weight`` of accounts sit in
   [1, 1 + ``hf_near_width``] with a Beta(``hf_near_shape``) shape skewed toward 1 (borrowers
   who run close to the LTV limit, which itself is 1–5 % below the LT); ``hf_mid_weight`` are
   lognormal around ``hf_mid_median``; the rest are a Pareto tail above ``hf_tail_start``
   (``hf_tail_alpha``, capped at ``hf_max``), the cautious borrowers. ``below_one_share`` of
   accounts are put in [``below_one_min``, 1): already liquidatable (0 by default).
   ``supply_only_share`` of accounts borrow nothing (HF = inf; 0 by default).
5. **Debt**: total debt value = Σ collateral value × LT / HF, where the LT is the e-mode
   category's for assets in the account's category and the asset's own otherwise (Aave v3
   ``GenericLogic.calculateUserAccountData``), split over the debt assets by a flat Dirichlet.
   ``lst_loop`` accounts are in the e-mode category that contains their debt asset, and only
   hold assets of that category (Aave v3.0–3.1 only lets e-mode accounts borrow category assets).

Amounts are whole tokens (USD / price). Supply and borrow caps are *not* enforced: the
book's totals scale with ``n_accounts`` (:func:`scaled_to_debt` sets the total debt instead). Everything is vectorized; 1 M accounts (≈ 2.46 M rows) take about
1.3–1.7 s of CPU. The same arguments and seed give an identical book.

Measured with the bundled Aave v3 Ethereum snapshot, 1 M accounts, defaults: rows per account
2.46 (2: 63 %, 3: 28 %, 4: 9 %); health factor p05 1.02, p25 1.10, median 1.26, p75 1.93,
p95 5.2; 24 % of borrowers below 1.1; top 1 % of accounts hold 37 % of collateral value;
25 % of accounts in e-mode 1; about 11 bn USD collateral against 6.3 bn USD debt.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Mapping, Sequence

import numpy as np

from liqcascade._typing import FloatArray
from liqcascade.errors import ConfigError
from liqcascade.model.book import PositionBook, account_dtype, asset_dtype
from liqcascade.model.params import RiskParams


@dataclass(frozen=True)
class Archetype:
    """A borrowing pattern: weight among accounts, collateral and debt candidate weights."""

    name: str
    weight: float
    collateral: Mapping[str, float]
    debt: Mapping[str, float]
    emode: bool = False


DEFAULT_ARCHETYPES: tuple[Archetype, ...] = (
    Archetype(
        "eth_stables", 0.38,
        {"WETH": 0.60, "wstETH": 0.20, "WBTC": 0.10, "LINK": 0.05, "rETH": 0.03, "cbETH": 0.02},
        {"USDC": 0.45, "USDT": 0.30, "DAI": 0.20, "GHO": 0.05},
    ),
    Archetype("lst_loop", 0.25, {"wstETH": 0.78, "rETH": 0.12, "cbETH": 0.10}, {"WETH": 1.0}, emode=True),
    Archetype("btc_stables", 0.12, {"WBTC": 0.80, "WETH": 0.20}, {"USDC": 0.45, "USDT": 0.35, "DAI": 0.20}),
    Archetype("stable_short", 0.10, {"USDC": 0.50, "DAI": 0.25, "sDAI": 0.15, "USDT": 0.10}, {"WETH": 0.8, "WBTC": 0.2}),
    Archetype(
        "alt_collateral", 0.15,
        {"LINK": 0.30, "AAVE": 0.20, "UNI": 0.15, "MKR": 0.10, "LDO": 0.08, "CRV": 0.07, "SNX": 0.05, "BAL": 0.05},
        {"USDC": 0.40, "USDT": 0.30, "DAI": 0.20, "WETH": 0.10},
    ),
)


def _price_array(params: RiskParams, prices: Mapping[str, float] | Sequence[float] | FloatArray) -> FloatArray:
    if isinstance(prices, Mapping):
        missing = [s for s in params.symbols if s not in prices]
        if missing:
            raise ConfigError("<prices>", f"prices.{missing[0]}", "a USD price for every asset in params")
        p = np.array([float(prices[s]) for s in params.symbols], dtype=np.float64)
    else:
        p = np.asarray(prices, dtype=np.float64).reshape(-1)
        if p.shape[0] != len(params):
            raise ConfigError("<prices>", "prices", f"{len(params)} prices ordered like params.symbols", p.shape[0])
    bad = np.flatnonzero(~np.isfinite(p) | (p <= 0))
    if bad.size:
        raise ConfigError("<prices>", f"prices.{params.symbols[bad[0]]}", "a finite price > 0 (USD)", p[bad[0]])
    return p


def _resolve_archetypes(
    params: RiskParams, archetypes: Sequence[Archetype]
) -> list[tuple[str, float, np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]]:
    """Per usable archetype: name, weight, collateral ids/weights, debt ids/weights, e-mode id."""
    pos = {s: i for i, s in enumerate(params.symbols)}
    lt = params.liquidation_threshold
    out = []
    for a in archetypes:
        if a.weight <= 0:
            continue
        emode_id = 0
        allowed = None
        if a.emode:
            # the category holding the (first usable) debt asset
            for s in a.debt:
                cat = next((e for e in params.emodes if s in e.assets), None)
                if s in pos and cat is not None:
                    emode_id, allowed = cat.id, cat.assets
                    break
            if not emode_id:
                continue
        c = [(pos[s], w) for s, w in a.collateral.items()
             if s in pos and w > 0 and lt[pos[s]] > 0 and (allowed is None or s in allowed)]
        d = [(pos[s], w) for s, w in a.debt.items()
             if s in pos and w > 0 and params.borrowable[pos[s]] and (allowed is None or s in allowed)]
        if not c or not d:
            continue
        ci, cw = (np.array(x) for x in zip(*c))
        di, dw = (np.array(x) for x in zip(*d))
        out.append((a.name, float(a.weight), ci.astype(np.int64), cw / cw.sum(),
                    di.astype(np.int64), dw / dw.sum(), emode_id))
    if not out:
        ci = np.flatnonzero(lt > 0)
        di = np.flatnonzero(params.borrowable)
        if ci.size == 0 or di.size == 0:
            raise ConfigError(params.source, "assets",
                              "at least one collateral asset (LT > 0) and one borrowable asset")
        out.append(("generic", 1.0, ci.astype(np.int64), np.full(ci.size, 1.0 / ci.size),
                    di.astype(np.int64), np.full(di.size, 1.0 / di.size), 0))
    return out


def _top_k(rng: np.random.Generator, w: np.ndarray, k: np.ndarray, slots: int,
           exclude: np.ndarray | None = None) -> np.ndarray:
    """Weighted sampling without replacement: up to ``k[i]`` of the ``m`` columns per row.

    Exponential race (equivalent to Gumbel top-k): column j's key is Exp(1) / w[j], the
    smallest keys win. Returns the chosen column per slot, (n, slots), -1 where empty.
    ``exclude`` (n, m) bool removes columns.
    """
    n, m = k.shape[0], w.shape[0]
    keys = rng.standard_exponential(size=(n, m)) / w[None, :]
    if exclude is not None:
        keys[exclude] = np.inf
    out = np.full((n, slots), -1, dtype=np.int64)
    rows = np.arange(n)
    for s in range(min(slots, m)):
        j = np.argmin(keys, axis=1)
        ok = (k > s) & np.isfinite(keys[rows, j])
        out[:, s] = np.where(ok, j, -1)
        keys[rows, j] = np.inf
    return out


def synthetic_book(
    params: RiskParams,
    prices: Mapping[str, float] | Sequence[float] | FloatArray,
    n_accounts: int,
    seed: int,
    *,
    archetypes: Sequence[Archetype] = DEFAULT_ARCHETYPES,
    n_collateral_probs: Sequence[float] = (0.68, 0.24, 0.08),
    n_debt_probs: Sequence[float] = (0.90, 0.10),
    size_median_usd: float = 1_500.0,
    size_sigma: float = 2.0,
    size_max_usd: float = 2.0e9,
    hf_near_weight: float = 0.50,
    hf_near_width: float = 0.30,
    hf_near_shape: tuple[float, float] = (1.2, 2.0),
    hf_mid_weight: float = 0.35,
    hf_mid_median: float = 1.7,
    hf_mid_sigma: float = 0.50,
    hf_tail_start: float = 2.5,
    hf_tail_alpha: float = 1.5,
    hf_max: float = 100.0,
    below_one_share: float = 0.0,
    below_one_min: float = 0.90,
    supply_only_share: float = 0.0,
    max_holdings: int | None = 4,
) -> PositionBook:
    """Draw a seeded synthetic book of ``n_accounts`` accounts (see the module docstring).

    ``prices`` are USD per whole token, a mapping covering every symbol of ``params`` or an
    array ordered like ``params.symbols``. Account labels are the integers ``0..n-1``.
    Rows are sorted by (account, asset); amounts are whole tokens.
    """
    src = "<synthetic_book>"
    n = int(n_accounts)
    if n < 0:
        raise ConfigError(src, "n_accounts", "an integer >= 0", n_accounts)
    px = _price_array(params, prices)
    pc = np.asarray(n_collateral_probs, dtype=np.float64)
    pd_ = np.asarray(n_debt_probs, dtype=np.float64)
    for key, pr in (("n_collateral_probs", pc), ("n_debt_probs", pd_)):
        if pr.size == 0 or (pr < 0).any() or not np.isclose(pr.sum(), 1.0):
            raise ConfigError(src, key, "non-negative probabilities of 1, 2, ... holdings summing to 1", tuple(pr))
    shares = {"hf_near_weight": hf_near_weight, "hf_mid_weight": hf_mid_weight,
              "below_one_share": below_one_share, "supply_only_share": supply_only_share}
    for key, v in shares.items():
        if not 0.0 <= v <= 1.0:
            raise ConfigError(src, key, "a share in [0, 1]", v)
    if hf_near_weight + hf_mid_weight > 1.0 + 1e-12:
        raise ConfigError(src, "hf_mid_weight", f"at most 1 - hf_near_weight ({1 - hf_near_weight})", hf_mid_weight)
    if below_one_share + supply_only_share > 1.0 + 1e-12:
        raise ConfigError(src, "below_one_share", "below_one_share + supply_only_share <= 1", below_one_share)
    if max_holdings is not None and max_holdings < 2:
        raise ConfigError(src, "max_holdings", "None or an integer >= 2 (one collateral, one debt)", max_holdings)
    if not 0.0 < below_one_min < 1.0:
        raise ConfigError(src, "below_one_min", "a health factor in (0, 1)", below_one_min)
    if size_median_usd <= 0 or size_sigma < 0 or size_max_usd < size_median_usd:
        raise ConfigError(src, "size_median_usd", "median > 0, sigma >= 0 and size_max_usd >= median",
                          (size_median_usd, size_sigma, size_max_usd))
    if hf_near_width <= 0 or hf_mid_median <= 1 or hf_tail_start <= 1 or hf_tail_alpha <= 0 or hf_max < hf_tail_start:
        raise ConfigError(src, "hf_*", "widths > 0, medians/starts > 1, alpha > 0 and hf_max >= hf_tail_start")

    arch = _resolve_archetypes(params, archetypes)
    rng = np.random.default_rng(seed)

    # ---- per account: archetype, size, target health factor
    aw = np.array([a[1] for a in arch])
    which = rng.choice(len(arch), size=n, p=aw / aw.sum())
    size_usd = np.minimum(size_median_usd * np.exp(size_sigma * rng.standard_normal(n)), size_max_usd)

    u = rng.random(n)
    hf = np.empty(n)
    near = u < hf_near_weight
    mid = ~near & (u < hf_near_weight + hf_mid_weight)
    tail = ~near & ~mid
    hf[near] = 1.0 + hf_near_width * rng.beta(*hf_near_shape, size=int(near.sum()))
    hf[mid] = 1.0 + (hf_mid_median - 1.0) * np.exp(hf_mid_sigma * rng.standard_normal(int(mid.sum())))
    hf[tail] = np.minimum(hf_tail_start * (1.0 + rng.pareto(hf_tail_alpha, size=int(tail.sum()))), hf_max)
    v = rng.random(n)
    below = v < below_one_share
    hf[below] = below_one_min + (1.0 - below_one_min) * rng.random(int(below.sum()))
    no_debt = (v >= below_one_share) & (v < below_one_share + supply_only_share)
    hf[no_debt] = np.inf

    k_c = 1 + rng.choice(pc.size, size=n, p=pc / pc.sum())
    k_d = np.where(no_debt, 0, 1 + rng.choice(pd_.size, size=n, p=pd_ / pd_.sum()))
    if max_holdings is not None:
        # borrowers keep at least one debt asset; collateral gives way first
        k_d = np.where(k_d > 0, np.minimum(k_d, np.maximum(max_holdings - k_c, 1)), 0)
        k_c = np.minimum(k_c, max_holdings - k_d)

    # ---- holdings, one archetype at a time, into a dense (n, slots) layout
    slots_c, slots_d = pc.size, pd_.size
    K = len(params)
    c_asset = np.full((n, slots_c), K, dtype=np.int64)  # K = empty slot
    d_asset = np.full((n, slots_d), K, dtype=np.int64)
    emode = np.zeros(n, dtype=np.int16)
    for j, (_, _, ci, cw, di, dw, em) in enumerate(arch):
        rows = np.flatnonzero(which == j)
        if rows.size == 0:
            continue
        cj = _top_k(rng, cw, k_c[rows], slots_c)
        picked_c = np.where(cj >= 0, ci[cj], K)
        excl = (di[None, :, None] == picked_c[:, None, :]).any(axis=2)
        dj = _top_k(rng, dw, k_d[rows], slots_d, exclude=excl)
        c_asset[rows] = picked_c
        d_asset[rows] = np.where(dj >= 0, di[dj], K)
        emode[rows] = em
    c_valid = c_asset < K
    d_valid = d_asset < K
    e = rng.exponential(size=(n, slots_c)) * c_valid
    c_share = e / e.sum(axis=1, keepdims=True)
    f = rng.exponential(size=(n, slots_d)) * d_valid
    fs = f.sum(axis=1, keepdims=True)
    d_share = np.divide(f, fs, out=np.zeros_like(f), where=fs > 0)

    # ---- amounts: collateral from size, debt from the target health factor
    lt_ext = np.append(params.liquidation_threshold, 0.0)
    px_ext = np.append(px, 1.0)
    c_usd = size_usd[:, None] * c_share
    lt_row = lt_ext[c_asset]
    if params.emodes:
        cat_lt = {e_.id: e_.liquidation_threshold for e_ in params.emodes}
        em_ext = np.append(params.emode_category, -1)
        in_cat = (em_ext[c_asset] == emode[:, None]) & (emode[:, None] > 0)
        acct_lt = np.zeros(n)
        for cid, v_lt in cat_lt.items():
            acct_lt[emode == cid] = v_lt
        lt_row = np.where(in_cat, acct_lt[:, None], lt_row)
    weighted = (c_usd * lt_row).sum(axis=1)
    debt_usd = np.where(np.isfinite(hf), weighted / hf, 0.0)
    d_usd = debt_usd[:, None] * d_share
    c_tok = c_usd / px_ext[c_asset]
    d_tok = d_usd / px_ext[d_asset]

    # ---- flatten to rows sorted by (account, asset); collateral and debt assets are disjoint
    all_asset = np.concatenate([c_asset, d_asset], axis=1)
    all_c = np.concatenate([c_tok, np.zeros_like(d_tok)], axis=1)
    all_d = np.concatenate([np.zeros_like(c_tok), d_tok], axis=1)
    width = all_asset.shape[1]
    srt = np.sort(all_asset * width + np.arange(width)[None, :], axis=1) % width
    all_asset = np.take_along_axis(all_asset, srt, axis=1)
    all_c = np.take_along_axis(all_c, srt, axis=1)
    all_d = np.take_along_axis(all_d, srt, axis=1)
    valid = all_asset < K
    counts = valid.sum(axis=1)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    account = np.repeat(np.arange(n, dtype=account_dtype(n)), counts)
    return PositionBook(
        account=account,
        asset=all_asset[valid].astype(asset_dtype(K)),
        collateral=all_c[valid],
        debt=all_d[valid],
        assets=tuple(params.symbols),
        account_ids=np.arange(n, dtype=np.int64),
        emode=emode,
        offsets=offsets,
    )


def scaled_to_debt(book: PositionBook, prices: FloatArray, debt_usd: float,
                   where: tuple[str, str] = ("<synthetic_book>", "debt_usd")) -> PositionBook:
    """``book`` with every row's collateral and debt multiplied by one factor, so that its total
    debt at ``prices`` (ordered like ``book.assets``) is ``debt_usd``. Health factors, the
    shares of accounts and assets, and the shape of the book are unchanged: only its size moves.
    ``where`` = (file, key) for the error of a book with no debt or a bad target."""
    px = np.asarray(prices, dtype=np.float64)
    total = float(book.debt_value(px).sum())
    if not (np.isfinite(debt_usd) and debt_usd > 0):
        raise ConfigError(where[0], where[1], "a finite total debt in USD > 0", debt_usd)
    if not total > 0:
        raise ConfigError(where[0], where[1], "a book with debt to scale (this synthetic book owes nothing)", total)
    k = debt_usd / total
    return replace(book, collateral=book.collateral * k, debt=book.debt * k)


def book_shape(book: PositionBook, params: RiskParams, prices: Mapping[str, float] | FloatArray) -> dict[str, float]:
    """Summary statistics of a book: rows per account, health-factor quantiles (borrowers),
    share of collateral value held by the top 1 % of accounts. For docs and reports."""
    px = _price_array(params, prices)
    coll_usd = book.collateral * px[book.asset]
    lt = params.liquidation_threshold[book.asset].copy()
    if params.emodes:
        acct_em = book.emode[book.account]
        for e_ in params.emodes:
            in_cat = (acct_em == e_.id) & (params.emode_category[book.asset] == e_.id)
            lt[in_cat] = e_.liquidation_threshold
    w = book.segment_sum(coll_usd * lt)
    d = book.debt_value(px)
    c = book.segment_sum(coll_usd)
    borrower = d > 0
    hf = w[borrower] / d[borrower]
    q = np.quantile(hf, [0.05, 0.25, 0.5, 0.75, 0.95]) if hf.size else np.full(5, np.nan)
    top = np.sort(c)[::-1][: max(1, book.n_accounts // 100)].sum() / c.sum() if c.sum() > 0 else np.nan
    return {
        "accounts": float(book.n_accounts),
        "rows": float(book.n_rows),
        "rows_per_account": book.n_rows / max(book.n_accounts, 1),
        "hf_p05": q[0], "hf_p25": q[1], "hf_median": q[2], "hf_p75": q[3], "hf_p95": q[4],
        "share_hf_below_1": float((hf < 1).mean()) if hf.size else np.nan,
        "share_hf_below_1_1": float((hf < 1.1).mean()) if hf.size else np.nan,
        "top1pct_collateral_share": float(top),
        "collateral_usd": float(c.sum()),
        "debt_usd": float(d.sum()),
    }
