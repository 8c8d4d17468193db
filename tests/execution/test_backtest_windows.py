"""The ETH-B windows' scores that docs/backtests.md shows: each row of its tables is what
`liqcascade ethb-window` + `liqcascade backtest` give on the shipped data (slow: every window)."""

import math
from pathlib import Path

import pandas as pd
import pytest

from liqcascade.execution.backtest import ETHB_POOL_DAYS, ETHB_WINDOWS, backtest, write_ethb_day, write_ethb_window

REPO = Path(__file__).resolve().parents[2]
LABELS = {
    "2021-01-11": "2021-01-11 08:00 .. 01-12 08:00 (Cat, Flipper; pool prices)",
    "2021-01-21": "2021-01-21 08:00 .. 01-22 08:00 (Cat, Flipper; pool prices)",
    "2021-02-22": "2021-02-22 08:00 .. 02-23 08:00 (Cat, Flipper; pool prices)",
    "2021-04": "2021-04-12 .. 05-01 (Cat, Flipper)",
    "2021-06": "2021-06-07 .. 06-24",
    "2022-01": "2022-01-05 .. 01-25",
    "2022-05": "2022-05-08 .. 05-28",
    "2022-06": "2022-06-10 .. 06-19",
    "2022-11": "2022-11-07 .. 11-11",
}
WINDOWS = list(ETHB_POOL_DAYS) + list(ETHB_WINDOWS)


def run_window(w: str, tmp: Path, keepers: bool = True, result: bool = False):
    """The window's backtest score row (``result``: the result and its folder); ``keepers``
    False: its keepers file emptied."""
    out = tmp / ("on" if keepers else "off") / w
    toml = write_ethb_day(out, w) if w in ETHB_POOL_DAYS else write_ethb_window(out, *ETHB_WINDOWS[w], w)
    if not keepers:
        (out / "keepers.csv").write_text("account,trigger_hf,target_hf,max_repay\n")
    res = backtest(toml, store=None, recompute=True)
    return (res, out) if result else res["score"].iloc[0]


def fit_row(w: str, off, folder: Path, keepers: Path) -> str:
    """The classifier table's row: the window's owners, the keeper-managed ones, and how many
    of the baseline's (``off``) false and true positives they are."""
    k = set(pd.read_csv(keepers, dtype={"account": str})["account"])
    owners = set(pd.read_csv(folder / "book.csv", dtype={"account": str})["account"]) | set(
        pd.read_csv(folder / "events.csv", dtype={"account": str})["account"])
    a = off["accounts"]
    ids = a["account_id"].astype(str)
    fp, tp = ids[a.simulated & ~a.recorded], ids[a.simulated & a.recorded]
    return (f"| {w} | {len(owners)} | {len(k)} | {sum(x in k for x in fp)} / {len(fp)} | "
            f"{sum(x in k for x in tp)} / {len(tp)} |")


def _f(x: float, fmt: str = ".2f") -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, fmt)


def _err(s) -> str:
    e = s.collateral_error
    return "–" if math.isnan(e) else f"{e * 100:+,.0f} %".replace("-", "−")


def _hour(t: str) -> str:
    return t[5:16] if t else "–"


def row(w: str, s) -> str:
    """The docs table's row of window ``w`` from its score ``s``."""
    return (f"| {LABELS[w]} | {s.recorded_accounts} | {s.simulated_accounts} | {_f(s.precision)} | {_f(s.recall)} | "
            f"{s.simulated_collateral:,.0f} / {s.recorded_collateral:,.0f} ({_err(s)}) | "
            f"{_f(s.hourly_correlation)} / {_f(s.daily_correlation)} | {_hour(s.simulated_peak_hour)} / "
            f"{_hour(s.recorded_peak_hour)} |")


def keeper_row(w: str, off, on) -> str:
    """The keepers table's row: precision, recall and collateral error without and with them."""
    return (f"| {w} | {_f(off.precision)} → {_f(on.precision)} | {_f(off.recall)} → {_f(on.recall)} | "
            f"{_err(off)} → {_err(on)} |")


@pytest.mark.slow
@pytest.mark.parametrize("w", WINDOWS)
def test_documented_window_scores(tmp_path, w):
    doc = (REPO / "docs" / "backtests.md").read_text()
    on = run_window(w, tmp_path)
    assert row(w, on) in doc
    if w not in ETHB_POOL_DAYS and w != "2021-04":  # windows with keepers fitted (hourly prices before them)
        off, folder = run_window(w, tmp_path, keepers=False, result=True)
        assert keeper_row(w, off["score"].iloc[0], on) in doc
        assert fit_row(w, off, folder, tmp_path / "on" / w / "keepers.csv") in doc
