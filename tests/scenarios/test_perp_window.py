"""The 2025-10-10 perp window loader: shipped files against the shared data, and bad rows named."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from liqcascade.errors import DataError
from liqcascade.scenarios.loaders import replay_file
from liqcascade.scenarios.perp_window import PERP_WINDOW_DEPTH, PERP_WINDOW_PRICE, load_perp_window

from ..conftest import shared_file

T20 = 1760126400  # 2025-10-10 20:00 UTC


def test_shipped_window_is_two_hours_of_minutes_with_the_known_low():
    w = load_perp_window()
    assert len(w.times) == 120 and w.times[0] == T20 and np.all(np.diff(w.times) == 60)
    # the shared data README: low 102 497.49 at 21:20 on 2025-10-10
    low = w.candles["low"].to_numpy()
    assert low.min() == pytest.approx(102_497.49, abs=0.01)
    assert w.times[int(np.argmin(low))] == T20 + 80 * 60
    assert w.bid.shape == (120, 5) and w.ask.shape == (120, 5)
    assert w.stale_bid.all()  # the whole window lies after the stale bid appeared (14:52)
    # depth is thinnest (stress highest) in the minute of the low
    assert int(np.nanargmax(w.stress)) == 80


def test_shipped_files_are_what_the_shared_data_give(tmp_path):
    from liqcascade.markets.perp_depth import shipped_dynamics, write_minute_depth

    depth = shared_file("binance_futures_btcusdt_bookdepth_2025-10-10.csv")
    price = shared_file("binance_cm_btcusd_perp_1m_price_2025-10-09_10.csv")
    out = tmp_path / "depth.csv"
    write_minute_depth(out, depth, price, "2025-10-10 20:00", "2025-10-10 22:00", shipped_dynamics())
    shipped = replay_file(PERP_WINDOW_DEPTH).read_text().splitlines()
    assert [ln for ln in shipped if not ln.startswith("#")] == out.read_text().splitlines()
    raw = price.read_text().splitlines()
    rows = [r for r in raw[1:] if T20 * 1000 <= int(r.split(",")[0]) < (T20 + 7200) * 1000]
    assert replay_file(PERP_WINDOW_PRICE).read_text().splitlines() == [raw[0], *rows]


def _copy_depth(tmp_path: Path, edit) -> Path:
    lines = replay_file(PERP_WINDOW_DEPTH).read_text().splitlines()
    data = [i for i, ln in enumerate(lines) if not ln.startswith("#")]
    edit(lines, data)
    p = tmp_path / "depth.csv"
    p.write_text("\n".join(lines) + "\n")
    return p


def test_negative_depth_names_row_and_column(tmp_path):
    def edit(lines, data):
        cells = lines[data[3]].split(",")
        cells[9] = "-5"  # ask_1pct_usd of data row 3
        lines[data[3]] = ",".join(cells)

    with pytest.raises(DataError, match=r"depth.csv.*row 3.*ask_1pct_usd"):
        load_perp_window(depth_path=_copy_depth(tmp_path, edit))


def test_decreasing_depth_is_an_error(tmp_path):
    def edit(lines, data):
        cells = lines[data[1]].split(",")
        cells[4] = str(float(cells[5]) * 10)  # within 1 % ten times what is within 2 %
        lines[data[1]] = ",".join(cells)

    with pytest.raises(DataError, match="row 1.*non-decreasing"):
        load_perp_window(depth_path=_copy_depth(tmp_path, edit))


def test_minutes_must_match_the_price_file(tmp_path):
    def edit(lines, data):
        del lines[data[-1]]

    with pytest.raises(DataError, match="minutes do not match"):
        load_perp_window(depth_path=_copy_depth(tmp_path, edit))
