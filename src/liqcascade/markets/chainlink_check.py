"""Reality check of :class:`~liqcascade.markets.oracle.ChainlinkPush` against the real ETH/USD feed.

Feeds the hourly Binance ETHUSDT spot path through ``ChainlinkPush(0.005, 3600)`` and
compares the simulated rounds with every real round of the Chainlink ETH/USD mainnet
aggregator over the months both files cover (2023-04-05 22:38 .. 2023-12-30 21:00 UTC).

The market path. Hourly candles keep four prices per hour, so the path between them is
a rule, not data. :func:`candles_to_path` joins them piecewise-linearly in log price,
``O → L → H → C`` for a rising candle (close ≥ open) and ``O → H → L → C`` for a falling
one (the extreme against the candle's direction is taken to come first; the other order
is ``intrabar="trend_first"``), moving at constant speed in log price over the hour
(each leg lasts in proportion to its length), then samples that path every ``step_s``
seconds (12 s = one block by default). A missing hour is bridged linearly from the last
close to the next open.

What we get (12 s steps, 2023-04-05 22:38:35 .. 2023-12-30 21:00 UTC, 268.9 days):

                                      real   reversal_first      trend_first
    rounds                           9,708    8,316 (0.857)   11,317 (1.166)
    weekly counts, correlation                         0.91             0.93
    heartbeat share (gap >= 59 m)   45.5 %           58.4 %           40.3 %
    gap p10 (min)                      5.0             12.8              5.4
    gap median (min)                  54.6             60.0             27.8
    gap p90 (min)                     60.2             60.0             60.0
    median price error                               0.14 %           0.17 %

(60 s steps give 8,227 rounds; timing the legs in equal thirds of the hour instead of at
constant speed, 8,200.) The real count lies between the two intrabar orders; the default
order undercounts by about 14 % and puts too many rounds on the heartbeat.

What limits the agreement (read these before tightening a tolerance):

* **Lost intra-hour paths.** An hourly candle shows at most three moves per hour; the
  real price wanders more, and every wander of 0.5 % from the last answer is a round.
  The default rule takes the least-travelled path through the four prices, so it misses
  deviation rounds in choppy hours: the count comes out low and the lost rounds turn
  into heartbeat rounds (median gap 60 min instead of 55). The other order travels
  ``2·|C − O|`` more per hour and overshoots.
* **Different prices.** Chainlink's answer is a median over many sources and exchanges,
  not Binance ETHUSDT; the basis between them (USDT/USD included) is about 0.08 % at the
  median, a sixth of the threshold, enough to move individual trigger times.
* **Latency.** A real round lands after an OCR round and a transaction (real heartbeat
  gaps are 3600–3660 s, and a few hundred are 1–5 minutes short of 3600 s, presumably
  because the nodes time the heartbeat from their own observations), and the deviation check uses the nodes'
  observation time. The model has no latency (``delay_blocks=0``).

Heartbeat vs deviation is read from the gaps, the same way on both sides: a gap of at
least ``heartbeat_s − 60`` s is a heartbeat round, a shorter one a deviation round.

Print the report with ``python -m liqcascade.markets.chainlink_check SHARED_DATA_DIR``
(or with ``$LIQCASCADE_SHARED_DATA`` set).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from liqcascade._typing import FloatArray, IntArray
from liqcascade.errors import ConfigError, DataError
from liqcascade.markets.oracle import ChainlinkPush

__all__ = [
    "ROUNDS_FILE",
    "CANDLES_FILE",
    "ComparisonReport",
    "load_chainlink_rounds",
    "load_hourly_candles",
    "candles_to_path",
    "compare",
    "compare_files",
    "format_report",
]

ROUNDS_FILE = "chainlink_eth_usd_rounds_2023-04_2024-01.csv"
CANDLES_FILE = "binance_ethusdt_1h_2021-04_2023-12.csv"
HOUR = 3600
WEEK = 7 * 86400


# --------------------------------------------------------------------------- loading


def load_chainlink_rounds(path: str | Path) -> tuple[IntArray, FloatArray]:
    """Real rounds: ``(updated_at`` int64 s, ``answer`` float64 USD``)``, sorted by time.

    Reads the columns ``answer_1e8`` and ``updated_at`` of the shared-data file (C2).
    """
    path = Path(path)
    try:
        df = pd.read_csv(path, usecols=["answer_1e8", "updated_at"])
    except ValueError as e:  # missing columns
        raise DataError(str(path), None, f"expected columns answer_1e8, updated_at ({e})") from e
    except OSError as e:
        raise DataError(str(path), None, f"cannot read: {e}") from e
    t = df["updated_at"].to_numpy(np.int64)
    a = df["answer_1e8"].to_numpy(np.float64) / 1e8
    bad = np.flatnonzero(~(np.isfinite(a) & (a > 0)))
    if bad.size:
        got = df["answer_1e8"].iloc[bad[0]]
        raise DataError(str(path), int(bad[0]) + 1, f"answer_1e8 must be > 0, got {got}")
    back = np.flatnonzero(np.diff(t) < 0)
    if back.size:
        r = int(back[0]) + 1
        raise DataError(str(path), r + 1, f"updated_at {t[r]} before the previous row's {t[r - 1]}")
    return t, a


def load_hourly_candles(path: str | Path) -> pd.DataFrame:
    """Hourly candles with ``open_s`` (int64 s, the candle's open time) and ``open, high, low, close``.

    Reads the layout of the shared-data hourly Binance files (A): ``date`` (UTC open time),
    ``open, high, low, close``. Rows must be strictly increasing in time, on whole hours, with
    ``high ≥ max(open, close)``, ``low ≤ min(open, close)`` and ``low > 0``.
    """
    path = Path(path)
    cols = ["date", "open", "high", "low", "close"]
    try:
        df = pd.read_csv(path, usecols=cols)
    except ValueError as e:
        raise DataError(str(path), None, f"expected columns {', '.join(cols)} ({e})") from e
    except OSError as e:
        raise DataError(str(path), None, f"cannot read: {e}") from e
    try:
        ts = pd.to_datetime(df["date"], utc=True, format="ISO8601")
    except (ValueError, TypeError) as e:
        why = f"column date: expected UTC times like 2023-04-05 22:00:00 ({e})"
        raise DataError(str(path), None, why) from e
    open_s = ts.dt.tz_convert(None).to_numpy("datetime64[s]").astype(np.int64)
    o, h, lo, c = (df[k].to_numpy(np.float64) for k in ("open", "high", "low", "close"))
    checks = [
        (np.r_[True, np.diff(open_s) > 0], "date not after the previous row"),
        (open_s % HOUR == 0, "date not on a whole hour"),
        (np.isfinite(o + h + lo + c) & (lo > 0), "prices must be finite and > 0"),
        ((h >= np.maximum(o, c)) & (lo <= np.minimum(o, c)), "high/low do not bracket open/close"),
    ]
    for ok, why in checks:
        bad = np.flatnonzero(~ok)
        if bad.size:
            raise DataError(str(path), int(bad[0]) + 1, why)
    return pd.DataFrame({"open_s": open_s, "open": o, "high": h, "low": lo, "close": c})


# --------------------------------------------------------------------------- the path


Intrabar = Literal["reversal_first", "trend_first"]


def candles_to_path(
    candles: pd.DataFrame, t_start: int, t_end: int, step_s: int = 12, intrabar: Intrabar = "reversal_first"
) -> tuple[IntArray, FloatArray]:
    """Sample the intrabar path (module docstring) at ``t_start, t_start + step_s, …`` < ``t_end``.

    ``candles`` as from :func:`load_hourly_candles`. ``intrabar="reversal_first"`` (the
    default) visits the extreme against the candle's direction first: ``O → L → H → C``
    when ``C ≥ O``, ``O → H → L → C`` otherwise — the order of least total variation, the
    likelier one for a random walk that ends up on the close's side. ``"trend_first"`` is
    the other order (``O → H → L → C`` when ``C ≥ O``), which travels ``2·|C − O|`` more.
    Returns ``(times, prices)``.
    """
    if intrabar not in ("reversal_first", "trend_first"):
        raise ConfigError("<python>", "intrabar", "'reversal_first' or 'trend_first'", intrabar)
    o_s = candles["open_s"].to_numpy(np.int64)
    lo_, hi_ = np.log(candles["low"].to_numpy()), np.log(candles["high"].to_numpy())
    op, cl = np.log(candles["open"].to_numpy()), np.log(candles["close"].to_numpy())
    low_first = (cl >= op) if intrabar == "reversal_first" else (cl < op)
    first = np.where(low_first, lo_, hi_)
    second = np.where(low_first, hi_, lo_)
    legs = np.stack([np.abs(first - op), np.abs(second - first), np.abs(cl - second)], axis=1)
    total = legs.sum(axis=1)
    # constant speed in log price; a flat candle (total 0) splits the hour in thirds
    frac = np.where(total[:, None] > 0, legs / np.where(total > 0, total, 1.0)[:, None], 1.0 / 3.0)
    cum = np.cumsum(frac, axis=1)
    knot_t = np.stack(
        [o_s, o_s + cum[:, 0] * HOUR, o_s + cum[:, 1] * HOUR, o_s + HOUR - 1e-6], axis=1
    ).ravel()
    knot_x = np.stack([op, first, second, cl], axis=1).ravel()
    times = np.arange(t_start, t_end, step_s, dtype=np.int64)
    if times.size == 0 or times[0] < o_s[0] or times[-1] > o_s[-1] + HOUR:
        why = f"candles cover [{o_s[0]}, {o_s[-1] + HOUR}) s, asked for [{t_start}, {t_end})"
        raise DataError("<candles>", None, why)
    # np.interp bridges a missing hour linearly from the last close to the next open
    return times, np.exp(np.interp(times.astype(np.float64), knot_t, knot_x))


# --------------------------------------------------------------------------- the comparison


@dataclass(frozen=True)
class ComparisonReport:
    """Simulated vs real Chainlink rounds over one window (times in s, gaps in s)."""

    t_start: int
    t_end: int
    step_s: int
    intrabar: str
    n_real: int
    n_sim: int
    weekly_real: IntArray
    """Rounds per whole week from ``t_start`` (real)."""
    weekly_sim: IntArray
    weekly_corr: float
    """Pearson correlation of the weekly counts."""
    weekly_median_abs_rel_diff: float
    """Median over weeks of |sim/real − 1|."""
    heartbeat_share_real: float
    heartbeat_share_sim: float
    gap_real_p10: float
    gap_real_median: float
    gap_real_p90: float
    gap_sim_p10: float
    gap_sim_median: float
    gap_sim_p90: float
    price_err_median: float
    """Median |oracle/real − 1|: the simulated oracle's price at each real round's time vs its answer."""
    price_err_p90: float
    market_err_median: float
    """Median |binance/real − 1| at the real round times: the basis, a floor for ``price_err``."""

    @property
    def count_ratio(self) -> float:
        return self.n_sim / self.n_real

    @property
    def days(self) -> float:
        return (self.t_end - self.t_start) / 86400


def _gap_stats(t: np.ndarray, heartbeat_s: float) -> tuple[float, float, float, float]:
    g = np.diff(t).astype(np.float64)
    p10, p50, p90 = np.percentile(g, [10, 50, 90])
    return float(p10), float(p50), float(p90), float(np.mean(g >= heartbeat_s - 60))


def compare(
    real_t: IntArray,
    real_answer: FloatArray,
    candles: pd.DataFrame,
    oracle: ChainlinkPush | None = None,
    step_s: int = 12,
    intrabar: Intrabar = "reversal_first",
) -> ComparisonReport:
    """Run ``oracle`` (default ``ChainlinkPush(0.005, 3600)``) over the candle path and compare.

    The window starts at the first real round (the simulated feed opens its first round
    there too) and ends where the candles or the rounds end, whichever is first.
    """
    oracle = oracle or ChainlinkPush(0.005, 3600)
    t_start = int(real_t[0])
    t_end = int(min(candles["open_s"].iloc[-1] + HOUR, real_t[-1] + 1))
    in_win = (real_t >= t_start) & (real_t < t_end)
    rt, ra = real_t[in_win], real_answer[in_win]
    times, market = candles_to_path(candles, t_start, t_end, step_s, intrabar)
    trace = oracle.apply(times, market)
    st = trace.update_times(times)

    nweeks = (t_end - t_start) // WEEK
    edges = t_start + WEEK * np.arange(nweeks + 1)
    wr = np.histogram(rt, edges)[0]
    ws = np.histogram(st, edges)[0]

    hb = float(oracle.heartbeat_s)
    r10, r50, r90, rhb = _gap_stats(rt, hb)
    s10, s50, s90, shb = _gap_stats(st, hb)

    at = np.searchsorted(times, rt, side="right") - 1  # block in force at each real round
    perr = np.abs(trace.price[at] / ra - 1.0)
    merr = np.abs(market[at] / ra - 1.0)
    return ComparisonReport(
        t_start=t_start,
        t_end=t_end,
        step_s=step_s,
        intrabar=intrabar,
        n_real=int(rt.size),
        n_sim=int(st.size),
        weekly_real=wr,
        weekly_sim=ws,
        weekly_corr=float(np.corrcoef(wr, ws)[0, 1]),
        weekly_median_abs_rel_diff=float(np.median(np.abs(ws / wr - 1.0))),
        heartbeat_share_real=rhb,
        heartbeat_share_sim=shb,
        gap_real_p10=r10,
        gap_real_median=r50,
        gap_real_p90=r90,
        gap_sim_p10=s10,
        gap_sim_median=s50,
        gap_sim_p90=s90,
        price_err_median=float(np.median(perr)),
        price_err_p90=float(np.percentile(perr, 90)),
        market_err_median=float(np.median(merr)),
    )


def compare_files(
    data_dir: str | Path,
    oracle: ChainlinkPush | None = None,
    step_s: int = 12,
    intrabar: Intrabar = "reversal_first",
) -> ComparisonReport:
    """:func:`compare` on the two shared-data files found in ``data_dir``."""
    d = Path(data_dir)
    t, a = load_chainlink_rounds(d / ROUNDS_FILE)
    return compare(t, a, load_hourly_candles(d / CANDLES_FILE), oracle, step_s, intrabar)


def format_report(r: ComparisonReport) -> str:
    """A plain-text table of the comparison."""
    ts = pd.Timestamp(r.t_start, unit="s", tz="UTC").strftime("%Y-%m-%d %H:%M")
    te = pd.Timestamp(r.t_end, unit="s", tz="UTC").strftime("%Y-%m-%d %H:%M")

    def mins(x: float) -> str:
        return f"{x / 60:6.1f} min"

    lines = [
        f"Chainlink ETH/USD vs ChainlinkPush on Binance hourly candles, {ts} .. {te} UTC "
        f"({r.days:.1f} days, {r.step_s} s steps, intrabar {r.intrabar})",
        f"{'':28s}{'real':>12s}{'simulated':>14s}",
        f"{'rounds':28s}{r.n_real:12d}{r.n_sim:14d}   ratio {r.count_ratio:.3f}",
        f"{'rounds per day':28s}{r.n_real / r.days:12.1f}{r.n_sim / r.days:14.1f}",
        f"{'rounds per week (mean)':28s}{r.weekly_real.mean():12.1f}{r.weekly_sim.mean():14.1f}"
        f"   corr {r.weekly_corr:.2f}, median |sim/real-1| {r.weekly_median_abs_rel_diff:.1%}",
        f"{'heartbeat share (gap>=59m)':28s}{r.heartbeat_share_real:12.1%}{r.heartbeat_share_sim:14.1%}",
        f"{'gap p10':28s}{mins(r.gap_real_p10):>12s}{mins(r.gap_sim_p10):>14s}",
        f"{'gap median':28s}{mins(r.gap_real_median):>12s}{mins(r.gap_sim_median):>14s}",
        f"{'gap p90':28s}{mins(r.gap_real_p90):>12s}{mins(r.gap_sim_p90):>14s}",
        f"price error at real rounds: median {r.price_err_median:.3%}, p90 {r.price_err_p90:.3%} "
        f"(Binance vs Chainlink basis alone: median {r.market_err_median:.3%})",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv:
        d = Path(argv[0])
    elif os.environ.get("LIQCASCADE_SHARED_DATA"):
        d = Path(os.environ["LIQCASCADE_SHARED_DATA"])
    else:
        print("usage: python -m liqcascade.markets.chainlink_check SHARED_DATA_DIR", file=sys.stderr)
        return 2
    print(format_report(compare_files(d)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
