"""The owners' behaviour fitted to the shipped MakerDAO ETH-B history
(``liqcascade fit-behaviour``; the model and the fit are :mod:`liqcascade.model.behaviour`).

Data: every ETH-B owner event to 2023-01 (``data/maker_ethb_2023``, the ledger of
:func:`~liqcascade.io.maker_book.load_ethb_events`: debt normalised by the fee accumulator)
and Binance ETHUSDT hourly candles 2021-04-04 20:00 to 2022-12-31 (``data/backtest``), so the
panel covers the hours of that span. ETH-B's liquidation ratio (``SPOTTER.ilks.mat``) is read
from the parameter changes at each hour. The held-aside fortnight (2021-05-17 to 2021-05-31,
whose liquidation records are scored separately) is excluded from every number of the fit:
its hours from the hazard panel, its days from the refill rates.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pandas as pd

from liqcascade.errors import DataError
from liqcascade.io.behaviour import FIT_FILE, fit_path, shipped_params
from liqcascade.model.behaviour import (DEFAULT_EDGES, HOUR, BehaviourFit, Hours, Openings, VaultEvents, build_panel,
                                        fit_behaviour, fit_poisson_rate, fit_refill, fit_return_response, quantile_knots)

B_PRICES = "backtest/binance_ethusdt_1h_2021-04_2022-12.csv"
HELD_ASIDE = ("2021-05-17", "2021-06-01")
"""The held-aside fortnight, UTC days, end exclusive: never fitted to."""
_KIND = {"deposit": 0, "withdraw": 1, "borrow": 2, "repay": 3, "liquidation": 4}


def _secs(ts: str) -> float:
    return float(pd.Timestamp(ts, tz="UTC").timestamp())


def held_aside() -> tuple[tuple[float, float], ...]:
    """The excluded window(s) as Unix seconds ``[lo, hi)``."""
    return ((_secs(HELD_ASIDE[0]), _secs(HELD_ASIDE[1])),)


_INPUTS: list = []


def ethb_inputs() -> tuple[VaultEvents, Hours]:
    """The shipped ETH-B ledger as :class:`VaultEvents` and the hourly grid (price, rate, mat);
    built once per process (they are only read)."""
    if not _INPUTS:
        _INPUTS.append(_ethb_inputs())
    return _INPUTS[0]


def _ethb_inputs() -> tuple[VaultEvents, Hours]:
    from liqcascade.execution.backtest import ETH_HOURLY, _ethb_events, _secs as col_secs, data_dir
    from liqcascade.io.maker_book import ethb_parameters_at

    ev = _ethb_events()
    led = ev.ledger
    t = col_secs(ev.flows["timestamp"]).to_numpy(dtype=float)
    events = VaultEvents(t, led["vault"].to_numpy(dtype=np.int64), led["kind"].map(_KIND).to_numpy(dtype=np.int64),
                         led["dink"].to_numpy(dtype=float), led["dart"].to_numpy(dtype=float))
    prices = pd.read_csv(data_dir() / ETH_HOURLY)
    start = col_secs(prices["date"]).to_numpy(dtype=float)
    blocks = sorted(set(ev.parameters.loc[ev.parameters["PARAMETER"] == "SPOTTER.ilks.mat", "BLOCK"].tolist()))
    if not blocks:
        raise DataError("maker_ethb_parameter_changes.csv", None, "no SPOTTER.ilks.mat row (the liquidation ratio)")
    mt = np.array([float(ev.block_time(int(b))) for b in blocks])
    mv = np.array([float(ethb_parameters_at(int(b), ev)["mat"]) for b in blocks])
    mat = mv[np.clip(np.searchsorted(mt, start, side="right") - 1, 0, None)]
    hours = Hours(start, prices["open"].to_numpy(dtype=float), np.asarray(ev.rate_at_time(start), dtype=float), mat)
    return events, hours


def _daily_refill(events: VaultEvents, hours: Hours, creations: np.ndarray, drawn_dai: np.ndarray,
                  exclude: tuple[tuple[float, float], ...]):
    """Per UTC day of the hourly grid outside ``exclude``: new vaults, DAI drawn, the book's
    debt at the day's start and ETH's log return over the day (open to next day's open)."""
    day0 = np.floor(hours.start[0] / 86400) * 86400 + 86400  # first whole day
    days = np.arange(day0, hours.start[-1] - 86400, 86400)
    keep = np.ones(days.shape[0], dtype=bool)
    for lo, hi in exclude:
        keep &= ~((days + 86400 > lo) & (days < hi))
    new = np.histogram(creations, bins=np.append(days, days[-1] + 86400))[0].astype(float)
    is_borrow = events.kind == 2
    drawn = np.histogram(events.t[is_borrow], bins=np.append(days, days[-1] + 86400), weights=drawn_dai)[0]
    order = np.argsort(events.t, kind="stable")
    cum_art = np.concatenate([[0.0], np.cumsum(events.dart[order])])
    art = cum_art[np.searchsorted(events.t[order], days, side="left")]
    rate = np.interp(days, hours.start, hours.rate)
    px = np.interp(days, hours.start, hours.price)
    px1 = np.interp(days + 86400, hours.start, hours.price)
    return fit_refill(days[keep], new[keep], drawn[keep], (art * rate)[keep], np.log(px1 / px)[keep])


DAY = 86400


def _owing(events: VaultEvents, hours: Hours, at: np.ndarray, min_debt: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """(vaults owing at least ``min_debt`` DAI, their total debt in DAI) just before each time ``at``."""
    order = np.lexsort((events.t, events.vault))
    vaults, first = np.unique(events.vault[order], return_index=True)
    bounds = np.append(first, order.shape[0])
    rate = np.interp(at, hours.start, hours.rate)
    count, debt = np.zeros(at.shape[0]), np.zeros(at.shape[0])
    for lo, hi in zip(bounds[:-1].tolist(), bounds[1:].tolist()):
        sel = order[lo:hi]
        art = np.concatenate([[0.0], np.cumsum(events.dart[sel])])[np.searchsorted(events.t[sel], at, side="left")]
        d = np.maximum(art, 0.0) * rate
        count += d >= min_debt
        debt += np.where(d >= min_debt, d, 0.0)
    return count, debt


def _first_draws(events: VaultEvents, hours: Hours) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per vault that ever borrows and whose first draw falls in the hourly grid: (hour index
    of the first draw, the HF and the debt in DAI it left at the end of that hour, valued at
    the hour's opening price like the panel)."""
    order = np.lexsort((events.t, events.vault))
    vaults, first = np.unique(events.vault[order], return_index=True)
    bounds = np.append(first, order.shape[0])
    hs, hfs, debts = [], [], []
    for lo, hi in zip(bounds[:-1].tolist(), bounds[1:].tolist()):
        sel = order[lo:hi]
        borrows = np.flatnonzero(events.kind[sel] == 2)
        if borrows.size == 0:
            continue
        h = int(np.searchsorted(hours.start, events.t[sel][borrows[0]], side="right")) - 1
        if h < 0 or h >= hours.start.shape[0] - 1:
            continue
        m = events.t[sel] < hours.start[h] + HOUR
        debt = max(float(events.dart[sel][m].sum()), 0.0) * hours.rate[h]
        if debt < 1.0:
            continue
        hs.append(h)
        hfs.append(max(float(events.dink[sel][m].sum()), 0.0) * hours.price[h] / (debt * hours.mat[h]))
        debts.append(debt)
    return np.array(hs, dtype=np.int64), np.array(hfs), np.array(debts)


def _fitted_hours(hours: Hours, exclude: tuple[tuple[float, float], ...]) -> np.ndarray:
    """Hours a return regression may use: outside ``exclude`` (and not reaching into it),
    with a day of price history before them."""
    keep = np.ones(hours.start.shape[0], dtype=bool)
    for lo, hi in exclude:
        keep &= ~((hours.start + HOUR > lo) & (hours.start < hi))
    return keep & (hours.start - DAY >= hours.start[0])


def _return_24h(hours: Hours) -> np.ndarray:
    """ETH's log return over the 24 hours before each hour's open."""
    return np.log(hours.price / np.interp(hours.start - DAY, hours.start, hours.price))


def fit_openings(events: VaultEvents, hours: Hours, exclude: tuple[tuple[float, float], ...]) -> Openings:
    """The opening process of the shipped history (:class:`~liqcascade.model.behaviour.Openings`):
    an opening is a vault's first draw. Hours inside ``exclude`` (or reaching into it) and the
    first day of the grid (no 24-hour return yet) are left out of the rate fit, and their
    openings out of the quantiles. The size is the opening debt over the mean debt of the
    vaults owing at the start of its UTC day; the rate's exposure is those vaults' count / 24
    per hour."""
    keep = _fitted_hours(hours, exclude)
    h, hf, debt = _first_draws(events, hours)
    inside = keep[h]
    h, hf, debt = h[inside], hf[inside], debt[inside]
    day = np.floor(hours.start / DAY) * DAY
    days, day_of_hour = np.unique(day, return_inverse=True)
    n_owing, book_debt = _owing(events, hours, days)
    mean_debt = np.divide(book_debt, n_owing, out=np.full(days.shape[0], np.nan), where=n_owing > 0)
    size = debt / mean_debt[day_of_hour[h]]
    counts = np.bincount(h, minlength=hours.start.shape[0]).astype(float)
    r24 = _return_24h(hours)
    exposure = np.where(keep, n_owing[day_of_hour] / 24.0, 0.0)
    rate = fit_poisson_rate(counts, exposure, r24)
    ok = hf > 1.0
    fitted = r24[exposure > 0]
    return Openings(int(h.shape[0]), int((~ok).sum()), int((exposure > 0).sum()), rate, quantile_knots(hf[ok]),
                    quantile_knots(size[np.isfinite(size)]), (float(fitted.min()), float(fitted.max())))


def fit_ethb(edges: tuple[float, ...] = DEFAULT_EDGES) -> BehaviourFit:
    """The fit of the shipped ETH-B history, the held-aside fortnight excluded (a few seconds)."""
    from liqcascade.execution.backtest import _ethb_events, _secs as col_secs

    events, hours = ethb_inputs()
    excl = held_aside()
    panel = build_panel(events, hours, exclude=excl, d_max=edges[-1])
    ev = _ethb_events()
    creations = col_secs(ev.creations["BLOCK_TIMESTAMP"]).to_numpy(dtype=float)
    drawn_dai = ev.flows.loc[ev.flows["kind"] == "borrow", "dai"].to_numpy(dtype=float)
    refill = _daily_refill(events, hours, creations, drawn_dai, excl)
    fit = fit_behaviour(panel, edges, refill=refill, excluded=excl)
    returns = fit_return_response(panel, _return_24h(hours), _fitted_hours(hours, excl), edges,
                                  hour_day=np.floor(hours.start / DAY).astype(np.int64))
    return replace(fit, openings=fit_openings(events, hours, excl), returns=returns)


BOOK_DATES = ("2021-04-05", "2021-09-01", "2022-05-01", "2022-11-01")
"""Dates of the rebuilt ETH-B books the synthetic HF mixture is fitted to: the top of the 2021
bull market (the first whole day of the shipped hourly prices), after the May 2021 crash, before
LUNA/UST and before FTX -- one per regime, each outside the held-aside fortnight."""


def ethb_hf_at(date: str) -> tuple[np.ndarray, int]:
    """(health factors of the ETH-B vaults owing at least the dust at 00:00 UTC of ``date``, at
    that hour's opening ETH price; vaults below HF 1 left out and counted: the chain would have
    liquidated them, so their liquidation is missing from the ledger)."""
    from liqcascade.execution.backtest import _ethb_events
    from liqcascade.io.maker_book import ethb_parameters_at

    events, hours = ethb_inputs()
    t = _secs(date)
    k = int(np.searchsorted(hours.start, t))
    if k >= hours.start.shape[0] or hours.start[k] != t:
        raise DataError(B_PRICES, None, f"no hourly ETH price at {date} 00:00 UTC (2021-04-05 to 2022-12-31)")
    before = events.t < t
    g = pd.DataFrame({"vault": events.vault[before], "dink": events.dink[before], "dart": events.dart[before]})
    g = g.groupby("vault")[["dink", "dart"]].sum()
    ev = _ethb_events()
    blk = int(np.interp(t, *_time_block(ev)))
    dust = float(ethb_parameters_at(blk, ev)["dust"] or 0.0)
    debt = g["dart"].clip(lower=0.0).to_numpy() * hours.rate[k]
    ink = g["dink"].clip(lower=0.0).to_numpy()
    owing = debt >= max(dust, 1.0)
    hf = ink[owing] * hours.price[k] / (debt[owing] * hours.mat[k])
    return np.sort(hf[hf >= 1.0]), int((hf < 1.0).sum())


def _time_block(ev) -> tuple[np.ndarray, np.ndarray]:
    b = np.unique(ev.flows["block"].to_numpy()).astype(float)
    return np.maximum.accumulate(np.asarray(ev.block_time(b), dtype=float)), b


def fit_books(dates: tuple[str, ...] = BOOK_DATES) -> dict[str, dict]:
    """Per date: the fitted mixture's knobs, its KS distance, the vaults fitted and left out,
    and the real and fitted quantiles (p05, p25, p50, p75, p95; the fitted ones by inverting
    the mixture's CDF on a grid)."""
    from liqcascade.model.hf_fit import HfMixture, fit_hf_mixture, ks_distance

    out = {}
    grid = np.exp(np.linspace(0.0, math.log(100.0), 20001))
    qs = (0.05, 0.25, 0.5, 0.75, 0.95)
    for d in dates:
        hf, below = ethb_hf_at(d)
        f = fit_hf_mixture(hf)
        cdf = f.mixture.cdf(grid)
        out[d] = {"knobs": f.mixture.knobs(), "ks": f.ks, "ks_default": ks_distance(hf, HfMixture()), "vaults": f.n,
                  "below_one_left_out": below,
                  "real_quantiles": [float(np.quantile(hf, q)) for q in qs],
                  "fitted_quantiles": [float(grid[min(int(np.searchsorted(cdf, q)), grid.size - 1)]) for q in qs]}
    return out


def format_books(books: dict[str, dict]) -> str:
    """The per-date fits as the text ``liqcascade fit-behaviour --books`` prints."""
    lines = ["ETH-B books (vaults owing at least the dust, HF >= 1) against the synthetic HF mixture",
             f"{'date':<11} {'vaults':>6} {'<1 out':>6} {'KS fit':>7} {'KS dflt':>7}  quantiles p05 p25 p50 p75 p95 "
             "(real / fitted)"]
    for d, v in books.items():
        rq = " ".join(f"{x:.2f}" for x in v["real_quantiles"])
        fq = " ".join(f"{x:.2f}" for x in v["fitted_quantiles"])
        lines.append(f"{d:<11} {v['vaults']:>6d} {v['below_one_left_out']:>6d} {v['ks']:>7.3f} {v['ks_default']:>7.3f}"
                     f"  {rq} / {fq}")
    return "\n".join(lines)


def fit_to_dict(fit: BehaviourFit) -> dict:
    """The fit as plain JSON-able values (bins with their probabilities and standard errors)."""
    out = asdict(fit)
    out["bins"] = [{**asdict(b), "p_protect": b.p_protect, "se_protect": b.se_protect, "p_lever": b.p_lever,
                    "se_lever": b.se_lever} for b in fit.bins]
    return out


def write_fit(fit: BehaviourFit, path: Path) -> None:
    """Write ``fit`` and its forward parameters as the shipped JSON."""
    d = fit_to_dict(fit)
    d["params"] = asdict(fit.params())
    d["params"].pop("seed")
    if d["params"]["opening"] is not None:  # a run names its pair and scale
        d["params"]["opening"].pop("pair")
        d["params"]["opening"].pop("scale")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(d, indent=1, default=float) + "\n")


def format_fit(fit: BehaviourFit) -> str:
    """The fit as the text ``liqcascade fit-behaviour`` prints."""
    lines = ["ETH-B owners per vault-hour, d = HF - 1 at the hour's open (held aside: "
             f"{HELD_ASIDE[0]} to {HELD_ASIDE[1]}, excluded)",
             f"{'d from':>7} {'to':>6} {'hours':>8} {'vaults':>6} {'protect/h':>10} {'(se)':>8} {'lever/h':>9} {'(se)':>8}"]
    for b in fit.bins:
        lines.append(f"{b.lo:>7.2f} {b.hi:>6.2f} {b.hours:>8d} {b.vaults:>6d} {b.p_protect:>10.4f} {b.se_protect:>8.4f} "
                     f"{b.p_lever:>9.4f} {b.se_lever:>8.4f}")
    lines.append(f"restore_hf {fit.restore_hf:.3f} (IQR {fit.restore_iqr[0]:.3f}-{fit.restore_iqr[1]:.3f}, "
                 f"n={fit.restore_n}); lever_hf {fit.lever_hf:.3f} (IQR {fit.lever_iqr[0]:.3f}-{fit.lever_iqr[1]:.3f}, "
                 f"n={fit.lever_n})")
    lines.append(f"repay_share {fit.repay_share:.3f}; close_share {fit.close_share:.3f}")
    r = fit.refill
    if r is not None:
        lines.append(f"refill over {r.days} days: new vaults/day {r.new_vaults_per_day:.3f} (se {r.new_vaults_se:.3f}); "
                     f"drawn/book debt per day {r.draw_share_per_day:.4f} (se {r.draw_share_se:.4f}); "
                     f"slope on ETH log return {r.draw_slope:.4f} (se {r.draw_slope_se:.4f})")
    o = fit.openings
    if o is not None:
        q = lambda k: " ".join(f"{x:.3g}" for x in (k[1], k[5], k[10], k[15], k[19]))  # noqa: E731
        lines.append(f"openings (first draws) {o.n} over {o.hours} hours: {o.rate.rate:.5f} per owing vault and day "
                     f"(se {o.rate.rate_se:.5f}); log-rate slope on ETH's 24 h log return {o.rate.slope:.2f} "
                     f"(se {o.rate.slope_se:.2f}, dispersion {o.rate.dispersion:.2f}; returns "
                     f"{o.return_range[0]:.3f} to {o.return_range[1]:.3f})")
        lines.append(f"opening HF p05 p25 p50 p75 p95 {q(o.hf_quantiles)} ({o.below_one} below 1 left out); "
                     f"size / mean vault debt {q(o.size_quantiles)}")
    if fit.returns is not None:
        lines += _format_returns(fit)
    return "\n".join(lines)


def _format_returns(fit: BehaviourFit) -> list[str]:
    """The lines of :class:`~liqcascade.model.behaviour.ReturnResponse`: per bin, each
    regression's rate at a zero return and log-rate slope (se, dispersion, clustered se)."""
    rr = fit.returns
    lines = [f"on ETH's 24 h log return ({rr.hours} hours, returns {rr.return_range[0]:.3f} to "
             f"{rr.return_range[1]:.3f}): per bin the hourly rate at 0 and the log-rate slope (se, dispersion; "
             "cl.se: clustered by day or vault, the larger)",
             f"{'d from':>7} {'to':>6} {'protect@0':>10} {'slope':>7} {'(se)':>6} {'disp':>5} {'cl.se':>6} "
             f"{'lever@0':>9} {'slope':>7} {'(se)':>6} {'disp':>5} {'cl.se':>6}"]
    for b, p, q, pc, qc in zip(fit.bins, rr.protect, rr.lever, rr.protect_slope_se_clustered,
                               rr.lever_slope_se_clustered):
        lines.append(f"{b.lo:>7.2f} {b.hi:>6.2f} {p.rate:>10.4f} {p.slope:>7.2f} {p.slope_se:>6.2f} {p.dispersion:>5.2f} "
                     f"{pc:>6.2f} {q.rate:>9.4f} {q.slope:>7.2f} {q.slope_se:>6.2f} {q.dispersion:>5.2f} {qc:>6.2f}")
    lines.append(f"restore_hf on the return: log-slope {rr.restore_slope:.3f} (se {rr.restore_slope_se:.3f})")
    return lines


__all__ = ["BOOK_DATES", "FIT_FILE", "ethb_hf_at", "fit_books", "format_books", "HELD_ASIDE", "ethb_inputs", "fit_ethb", "fit_path", "fit_to_dict", "format_fit", "held_aside",
           "shipped_params", "write_fit"]
