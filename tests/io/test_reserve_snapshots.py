"""Reserve configurations: the shipped snapshot chosen by chain and date, a clear list when the
choice is not shipped, and user-provided files in the shipped formats (issue 10, item 7)."""

from __future__ import annotations

import csv
import datetime
from pathlib import Path

import pytest

from liqcascade.errors import ConfigError
from liqcascade.io import scenario as S
from liqcascade.io.aave_config import (
    bundled_snapshot_path,
    load_aave_reserve_config,
    shipped_snapshot,
    shipped_snapshots,
)
from liqcascade.io.config import parse_scenario


def test_the_shipped_snapshot_by_chain_and_date():
    assert shipped_snapshots() == {("ethereum", "2023-10-31"): bundled_snapshot_path()}
    assert shipped_snapshot("ethereum", "2023-10-31") == bundled_snapshot_path()
    v2 = bundled_snapshot_path().parent / "aave_v2_ethereum_reserve_config_2021-05-18.json"
    assert shipped_snapshots("v2") == {("ethereum", "2021-05-18"): v2}


def test_a_snapshot_not_shipped_lists_the_shipped_ones():
    with pytest.raises(ConfigError) as ei:
        shipped_snapshot("polygon", "2024-01-01")
    msg = str(ei.value)
    assert msg.startswith("<python>: chain, date: expected a shipped Aave v3 snapshot (chain date): "
                          "ethereum 2023-10-31")
    assert msg.endswith("got 'polygon 2024-01-01'")


def test_scenario_names_a_snapshot_not_shipped(tmp_path):
    cfg = parse_scenario({"name": "x", "market": {"protocol": "aave_v3", "version": "3.7",
                                                   "params": "builtin:aave_v3_polygon_2024-01-01"},
                          "positions": {"source": "synthetic", "n_accounts": 10}}, "x.toml")
    with pytest.raises(ConfigError, match=r"x.toml: market.params: expected a shipped snapshot, one of "
                                          r"\['builtin:aave_v3_ethereum_2023-10-31', 'builtin:aave_v2_ethereum_2021-05-18'\]"):
        S.build(cfg, tmp_path, "x.toml")


def _user_csv(tmp_path: Path) -> Path:
    """The shipped CSV as a user's own file of another date: no e-modes, WETH's LT set to 8500 bps."""
    rows = list(csv.DictReader(bundled_snapshot_path().with_suffix(".csv").open(newline="")))
    for r in rows:
        r["emode_category"] = "0"
        if r["symbol"] == "WETH":
            r["liquidation_threshold_bps"] = "8500"
    out = tmp_path / "my_market_2024-05-01.csv"
    with out.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return out


def test_user_reserve_csv_loads_with_its_date(tmp_path):
    snap = load_aave_reserve_config(_user_csv(tmp_path))
    assert snap.snapshot_date == datetime.date(2024, 5, 1)
    p = snap.params
    assert p.liquidation_threshold[p.index("WETH")] == 0.85
    assert p.emodes == () or len(p.emodes) == 0


def test_scenario_reads_a_user_reserve_file(tmp_path):
    f = _user_csv(tmp_path)
    cfg = parse_scenario({"name": "x", "market": {"protocol": "aave_v3", "version": "3.7", "params": f.name},
                          "positions": {"source": "synthetic", "n_accounts": 10}}, "x.toml")
    sc = S.build(cfg, tmp_path, "x.toml")
    assert sc.model.rules.params.liquidation_threshold[sc.model.rules.params.index("WETH")] == 0.85


def test_user_csv_with_emodes_needs_the_json_beside_it(tmp_path):
    src = bundled_snapshot_path().with_suffix(".csv")
    (tmp_path / "mine.csv").write_bytes(src.read_bytes())
    with pytest.raises(ConfigError, match=r"mine.csv: emode_category: expected e-mode definitions: pass emodes= or "
                                          r"put mine.json"):
        load_aave_reserve_config(tmp_path / "mine.csv")
