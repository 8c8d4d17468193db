"""The answer first: the few numbers a run is about, with units and human labels.

:func:`key_figures` reads a run's stored tables (never recomputes) and returns its headline
block as :class:`KeyFigure` records, by run kind:

- ``static`` (and ``simulation``): bad debt, collateral liquidated (USD), the amplification
  of the headline asset's drop (static) or the largest fall of a market price (simulation),
  accounts liquidated; a simulation adds the time to clear;
- ``curve``: the largest amplification and the shock it happens at, bad debt and collateral
  liquidated at the largest shock of the grid;
- ``walls``: the price with the largest wall of newly liquidatable collateral;
- ``montecarlo``: VaR and CVaR of bad debt at the highest level stored, with their intervals,
  the mean and P(bad debt > 0);
- ``calibration``: the calibrated value, the budget and the metric at the value kept;
- ``sweep``: the combination with the most bad debt, the range of collateral liquidated and
  the largest amplification;
- ``compare``: the protocols with the least and the most bad debt, collateral liquidated and
  amplification ranges;
- ``maker_replay``: precision, recall and F1 of the simulated bites, collateral simulated
  against recorded.

Each figure names the table it was read from. :data:`LIST_KEYS` are the columns the
dashboard's run list shows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pandas as pd

from liqcascade.report.bundle import Bundle, RunInfo


@dataclass(frozen=True)
class KeyFigure:
    """One number of a run's headline block."""

    key: str
    """What it is, for the run list's columns: ``bad_debt``, ``liquidated``, ``amplification``
    or ``result`` (VaR, calibrated value, F1 ...), or ``other``."""
    label: str
    value: str
    """Formatted with its unit: ``$1.23M``, ``12.5%``, ``1.85x``, ``1,234 accounts``."""
    detail: str = ""
    """What the value is of, or its interval (``95% interval $0.9M-$1.1M``)."""
    table: str = ""
    """The stored table it was read from."""


LIST_KEYS = ("bad_debt", "liquidated", "amplification", "result")
"""Headline keys the dashboard's run list shows as columns, in order."""


# ------------------------------------------------------------------ formatting
def usd(x: Any) -> str:
    """US dollars in a short form: ``$1.23B``, ``$1.23M``, ``$34.45k``, ``$950``, ``$0``."""
    v = _float(x)
    if v is None:
        return "-"
    if math.isinf(v):
        return "unbounded" if v > 0 else "-unbounded"
    sign, a = ("-" if v < 0 else ""), abs(v)
    units = ((1.0, "", 0), (1e3, "k", 2), (1e6, "M", 2), (1e9, "B", 2))
    i = max(k for k, (scale, _, _) in enumerate(units) if k == 0 or a >= scale)
    # a value that rounds up to 1,000 of its unit is written in the next unit (999,999 -> $1.00M)
    if i + 1 < len(units) and round(a / units[i][0], units[i][2]) >= 1000:
        i += 1
    scale, suffix, digits = units[i]
    return f"{sign}${a / scale:,.{digits}f}{suffix}"


def pct(x: Any, digits: int = 1) -> str:
    """A fraction as a percentage: 0.1234 -> ``12.3%``."""
    v = _float(x)
    return "-" if v is None or math.isinf(v) else f"{v:.{digits}%}"


def times(x: Any) -> str:
    """A ratio as a multiple: 1.849 -> ``1.85x``."""
    v = _float(x)
    return "-" if v is None or math.isinf(v) else f"{v:,.2f}x"


def count(x: Any, unit: str = "") -> str:
    """A whole number with separators and its unit, plural unless 1: ``1,234 accounts``."""
    v = _float(x)
    if v is None:
        return "-"
    n = int(round(v))
    return f"{n:,}" + (f" {unit}{'' if n == 1 else 's'}" if unit else "")


def _upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


def human(name: str) -> str:
    """A column name as words: ``bad_debt_usd`` -> ``bad debt``."""
    return str(name).removesuffix("_usd").replace("_", " ")


def _float(x: Any) -> float | None:
    if x is None or isinstance(x, (bool, np.bool_, str)):
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else v


def level(x: Any) -> str:
    """A confidence level: 0.99 -> ``99%``, 0.999 -> ``99.9%``."""
    v = _float(x)
    return "" if v is None else f"{v * 100 if v <= 1 else v:g}%"


# ------------------------------------------------------------------ per kind
def _summary(b: Bundle, run: RunInfo) -> pd.Series | None:
    return b.load(run, "summary").iloc[0] if b.has(run, "summary") and len(b.load(run, "summary")) else None


def _static(b: Bundle, run: RunInfo) -> list[KeyFigure]:
    s = _summary(b, run)
    if s is None:
        return []
    out = [KeyFigure("bad_debt", "Bad debt", usd(s.get("bad_debt_usd")), "left to the protocol", "summary"),
           KeyFigure("liquidated", "Collateral liquidated", usd(s.get("collateral_seized_usd")),
                     f"{count(s.get('accounts_liquidated'), 'account')} liquidated", "summary")]
    if _float(s.get("amplification")) is not None:
        out.append(KeyFigure("amplification", "Amplification", times(s["amplification"]),
                             f"{s.get('headline_asset', '')}: {pct(s.get('initial_drop'))} shock, "
                             f"{pct(s.get('final_drop'))} final drop", "summary"))
    return out


def _simulation(b: Bundle, run: RunInfo) -> list[KeyFigure]:
    s = _summary(b, run)
    if s is None:
        return []
    out = _static(b, run)
    if b.has(run, "assets"):
        a = b.load(run, "assets")
        if {"asset", "price_start", "market_min"} <= set(a.columns) and len(a):
            fall = 1.0 - a["market_min"] / a["price_start"]
            i = fall.idxmax()
            out.append(KeyFigure("other", "Largest price fall", pct(fall[i]),
                                 f"{a.loc[i, 'asset']}, lowest market price against the start", "assets"))
    t = _float(s.get("time_to_clear_s"))
    out.append(KeyFigure("other", "Time to clear", "not cleared" if t is None else f"{t / 60:,.1f} min",
                         "until no account is eligible" if t is not None else "accounts still eligible at the end",
                         "summary"))
    return out


def _curve(b: Bundle, run: RunInfo) -> list[KeyFigure]:
    if not b.has(run, "curve"):
        return []
    c = b.load(run, "curve").sort_values("shock")
    if not len(c):
        return []
    asset, last = str(c["asset"].iloc[0]), c.iloc[-1]
    out = []
    amp = c[c["shock"] > 0]["amplification"]
    if amp.notna().any():
        top = c.loc[amp.idxmax()]
        out.append(KeyFigure("amplification", "Largest amplification", times(top["amplification"]),
                             f"{asset} shock {pct(top['shock'])}: final drop {pct(top['final_drop'])}", "curve"))
    out += [KeyFigure("bad_debt", "Bad debt at the largest shock", usd(last["bad_debt_usd"]),
                      f"{asset} shock {pct(last['shock'])}", "curve"),
            KeyFigure("liquidated", "Collateral liquidated at the largest shock", usd(last["collateral_seized_usd"]),
                      f"{asset} shock {pct(last['shock'])}", "curve")]
    return out


def _walls(b: Bundle, run: RunInfo) -> list[KeyFigure]:
    if not b.has(run, "walls"):
        return []
    w = b.load(run, "walls")
    if not len(w):
        return []
    top = w.loc[w["collateral_new_usd"].idxmax()]
    low = w.loc[w["price"].idxmin()]
    return [KeyFigure("result", "Largest liquidation wall", usd(top["collateral_new_usd"]),
                      f"crossing HF 1 at {top['asset']} ${top['price']:,.2f}", "walls"),
            KeyFigure("liquidated", "Liquidatable at the lowest price", usd(low["collateral_liquidatable_usd"]),
                      f"{low['asset']} ${low['price']:,.2f}, no feedback", "walls")]


def _montecarlo(b: Bundle, run: RunInfo) -> list[KeyFigure]:
    if not b.has(run, "risk"):
        return []
    r = b.load(run, "risk")
    if not {"metric", "statistic", "level", "estimate", "lo", "hi"} <= set(r.columns):
        return []
    r = r[r["metric"] == "bad_debt_usd"]
    out: list[KeyFigure] = []
    tails = r[r["statistic"].isin(["var", "es"]) & r["level"].notna()]
    if len(tails):
        top = float(tails["level"].max())
        for stat, label, key in (("var", "VaR", "result"), ("es", "CVaR", "other")):
            row = tails[(tails["statistic"] == stat) & (tails["level"] == top)]
            if len(row):
                x = row.iloc[0]
                out.append(KeyFigure(key, f"Bad debt {label} {level(top)}", usd(x["estimate"]),
                                     f"interval {usd(x['lo'])} to {usd(x['hi'])}", "risk"))
    for stat, label, fmt in (("mean", "Mean bad debt", usd), ("p_insolvent", "P(bad debt > 0)", pct)):
        row = r[r["statistic"] == stat]
        if len(row):
            x = row.iloc[0]
            key = "bad_debt" if stat == "mean" else "other"
            out.append(KeyFigure(key, label, fmt(x["estimate"]), f"interval {fmt(x['lo'])} to {fmt(x['hi'])}", "risk"))
    if "n_paths" in r.columns and len(r):
        out.append(KeyFigure("other", "Paths", count(r["n_paths"].max()), "simulated price paths", "risk"))
    return out


def _calibration(b: Bundle, run: RunInfo) -> list[KeyFigure]:
    from liqcascade.report.views import _calibration_facts, _candidates_table, _param_unit

    name = _candidates_table(b) if run is b.target else None
    if name is None:
        return []
    cand = b.load(run, name)
    f = _calibration_facts(b, cand)
    unit = _param_unit(f["param"])
    fmt: Callable[[Any], str] = pct if unit == "%" else usd if unit == "USD" else (lambda v: f"{v:,.6g}")
    metric_fmt: Callable[[Any], str] = (pct if f["metric"] == "slippage" else usd if str(f["metric"]).endswith("_usd")
                                        else (lambda v: f"{v:,.4g}"))
    asset = b.target.meta.get("asset") or (b.load(run, "summary")["asset"].iloc[0]
                                           if b.has(run, "summary") and "asset" in b.load(run, "summary") else "")
    label = f"Calibrated {str(f['param']).replace('_', ' ')}" + (f" of {asset}" if asset else "") + (
        f" in market {f['market']}" if f.get("market") else "")
    out = [KeyFigure("result", label, "none within budget" if f["chosen"] is None else fmt(f["chosen"]),
                     "largest value within budget" if f["chosen"] is not None
                     else "no candidate kept the metric in budget",
                     "summary" if b.has(run, "summary") else name)]
    if f["budget"] is not None:
        out.append(KeyFigure("other", "Budget", metric_fmt(f["budget"]), f"on the {human(f['label'])}", "summary"))
    if f["chosen"] is not None and f["column"] in cand.columns:
        row = cand[np.isclose(cand[f["column"]].astype(float), f["chosen"])]
        if len(row):
            x = row.iloc[0]
            key = "bad_debt" if str(f["metric"]).startswith("bad_debt") else "other"
            label = f"{_upper_first(human(f['label']))} at the calibrated value"
            out.append(KeyFigure(key, label, metric_fmt(x["estimate"]),
                                 f"interval {metric_fmt(x['lo'])} to {metric_fmt(x['hi'])}", name))
    return out


def _sweep(b: Bundle, run: RunInfo) -> list[KeyFigure]:
    if not b.has(run, "sweep"):
        return []
    s = b.load(run, "sweep")
    if not len(s):
        return []
    factors = [f for f in run.meta.get("factors", []) if f in s.columns]

    def where(i) -> str:
        return ", ".join(f"{f} = {s.loc[i, f]:g}" if isinstance(s.loc[i, f], (int, float, np.number))
                         else f"{f} = {s.loc[i, f]}" for f in factors)

    out = [KeyFigure("other", "Combinations", count(len(s)), ", ".join(factors) or "", "sweep")]
    bad = next((c for c in ("bad_debt_usd", "bad_debt_usd_var_99", "bad_debt_usd_mean") if c in s.columns), None)
    if bad is not None and s[bad].notna().any():
        i = s[bad].idxmax()
        out.append(KeyFigure("bad_debt", "Most bad debt" + ("" if bad == "bad_debt_usd" else f" ({bad})"),
                             usd(s.loc[i, bad]), where(i), "sweep"))
    for col, label, key, fmt in (("collateral_seized_usd", "Collateral liquidated", "liquidated", usd),
                                 ("amplification", "Amplification", "amplification", times)):
        if col in s.columns and s[col].notna().any():
            lo, hi = s[col].min(), s[col].max()
            out.append(KeyFigure(key, label, f"{fmt(lo)} to {fmt(hi)}", "over the combinations", "sweep"))
    return out


def _compare(b: Bundle, run: RunInfo) -> list[KeyFigure]:
    if not b.has(run, "comparison"):
        return []
    c = b.load(run, "comparison")
    if not len(c) or "bad_debt_usd" not in c.columns:
        return []
    lo, hi = c["bad_debt_usd"].idxmin(), c["bad_debt_usd"].idxmax()
    out = [KeyFigure("bad_debt", "Most bad debt", usd(c.loc[hi, "bad_debt_usd"]), str(c.loc[hi, "protocol"]),
                     "comparison"),
           KeyFigure("other", "Least bad debt", usd(c.loc[lo, "bad_debt_usd"]), str(c.loc[lo, "protocol"]),
                     "comparison")]
    for col, label, key, fmt in (("collateral_seized_usd", "Collateral liquidated", "liquidated", usd),
                                 ("amplification", "Amplification", "amplification", times)):
        if col in c.columns:
            out.append(KeyFigure(key, label, f"{fmt(c[col].min())} to {fmt(c[col].max())}",
                                 f"over {len(c)} protocols", "comparison"))
    return out


def _maker_replay(b: Bundle, run: RunInfo) -> list[KeyFigure]:
    s = _summary(b, run)
    if s is None or "f1" not in s:
        return []
    diff = _float(s.get("collateral_rel_diff"))
    return [
        KeyFigure("result", "F1 of the simulated bites", f"{float(s['f1']):.3f}",
                  f"precision {float(s['precision']):.3f}, recall {float(s['recall']):.3f} over vaults", "summary"),
        KeyFigure("liquidated", "Collateral bitten (simulated)", f"{float(s['sim_collateral_eth']):,.1f} ETH",
                  f"recorded {float(s['actual_collateral_eth']):,.1f} ETH"
                  + (f" ({diff:+.1%})" if diff is not None else ""), "summary"),
        KeyFigure("other", "Bites", f"{count(s.get('sim_bites'))} simulated",
                  f"{count(s.get('actual_bites'))} recorded",
                  "summary"),
    ]


def _system(b: Bundle, run: RunInfo) -> list[KeyFigure]:
    s = _summary(b, run)
    if s is None or "alone_bad_debt_usd" not in s:
        return []
    out = [KeyFigure("bad_debt", "Bad debt, all markets", usd(s.get("bad_debt_usd")),
                     f"{usd(s.get('alone_bad_debt_usd'))} if each market ran alone", "summary"),
           KeyFigure("liquidated", "Collateral liquidated, all markets", usd(s.get("collateral_seized_usd")),
                     f"{count(s.get('accounts_liquidated'), 'account')} liquidated; "
                     f"{count(s.get('alone_accounts_liquidated'), 'account')} alone", "summary")]
    if _float(s.get("amplification")) is not None:
        out.append(KeyFigure("amplification", "Amplification", times(s["amplification"]),
                             f"{s.get('headline_asset', '')}: {pct(s.get('initial_drop'))} shock, "
                             f"{pct(s.get('final_drop'))} final drop", "summary"))
    if b.has(run, "importance") and len(imp := b.load(run, "importance")):
        top = imp.iloc[0]
        if top["adds_bad_debt_usd"] == 0 and top["adds_collateral_seized_usd"] == 0:
            out.append(KeyFigure("result", "Most systemic market", "none",
                                 "no market's presence changes another's numbers at this shock", "importance"))
        else:
            out.append(KeyFigure("result", "Most systemic market", str(top["market"]),
                                 f"adds {usd(top['adds_bad_debt_usd'])} bad debt and "
                                 f"{usd(top['adds_collateral_seized_usd'])} liquidated to the others", "importance"))
    return out


def _system_perps(b: Bundle, run: RunInfo) -> list[KeyFigure]:
    """A system with perp markets: the lending side beside the same markets without the perps,
    and the perps' liquidations with the arbitrage's spot sales."""
    s = _summary(b, run)
    if s is None or "alone_bad_debt_usd" not in s:
        return []
    return [KeyFigure("bad_debt", "Bad debt, lending markets", usd(s.get("bad_debt_usd")),
                      f"{usd(s.get('alone_bad_debt_usd'))} without the perp markets", "summary"),
            KeyFigure("liquidated", "Collateral liquidated, lending markets", usd(s.get("collateral_seized_usd")),
                      f"{count(s.get('accounts_liquidated'), 'account')} liquidated; "
                      f"{count(s.get('alone_accounts_liquidated'), 'account')} without the perp markets", "summary"),
            KeyFigure("other", "Perp liquidations", usd(s.get("perp_liquidated_usd")),
                      f"ADL {usd(s.get('perp_adl_usd'))}; the arbitrage sold {usd(s.get('arb_spot_sold_usd'))} "
                      "on spot", "summary")]


_BY_KIND: dict[str, Callable[[Bundle, RunInfo], list[KeyFigure]]] = {
    "system": _system, "network": _system, "system_simulation": _system, "system_perps": _system_perps,
    "static": _static, "simulation": _simulation, "curve": _curve, "walls": _walls, "montecarlo": _montecarlo,
    "calibration": _calibration, "sweep": _sweep, "compare": _compare, "maker_replay": _maker_replay,
}
KINDS = tuple(_BY_KIND)
"""Run kinds with a headline block."""


def key_figures(b: Bundle, run: RunInfo | None = None) -> list[KeyFigure]:
    """The headline block of ``run`` (default the bundle's target); empty when its tables
    do not hold the numbers (an unknown kind, a run without a summary)."""
    run = run or b.target
    build = _BY_KIND.get(run.kind)
    return build(b, run) if build is not None else []


def list_columns(figs: list[KeyFigure]) -> dict[str, KeyFigure | None]:
    """The first figure of each of :data:`LIST_KEYS` (None when the run has none)."""
    return {k: next((f for f in figs if f.key == k), None) for k in LIST_KEYS}
