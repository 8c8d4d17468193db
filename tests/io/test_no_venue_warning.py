"""A shocked asset without a venue: its amplification is 1 by construction, and the run says so
on stderr and in the stored results (issue 10, item 7)."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from liqcascade.cli import main
from liqcascade.engine.run import run_static
from liqcascade.io import scenario as S

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def no_wsteth_venue(tmp_path):
    """small_book.toml without its wstETH venue (the second [[venues]] entry); WETH keeps its pool."""
    for f in ("small_book.toml", "small_book.csv"):
        shutil.copy(REPO / "examples" / f, tmp_path / f)
    p = tmp_path / "small_book.toml"
    text = p.read_text()
    cut = text.index('[[venues]]\nkind = "impact"')
    end = text.index("[[venues]]", cut + 1)
    p.write_text(text[:cut] + text[end:])
    return p


def test_summary_lists_shocked_assets_without_venue(no_wsteth_venue):
    sc = S.load(no_wsteth_venue)
    s = run_static(sc.model, sc.config.shock, sc.settings).summary
    assert s["shocked_assets_without_venue"] == "wstETH"
    # with impact off no price feeds back, by choice: nothing to warn about
    off = S.build(sc.config.model_copy(update={"engine": sc.config.engine.model_copy(update={"impact": False})}),
                  sc.base_dir, sc.source)
    assert run_static(off.model, off.config.shock, off.settings).summary["shocked_assets_without_venue"] == ""


def test_every_shocked_asset_with_a_venue_gives_no_warning():
    sc = S.load(REPO / "examples" / "small_book.toml")
    assert run_static(sc.model, sc.config.shock, sc.settings).summary["shocked_assets_without_venue"] == ""


def test_cli_run_and_curve_warn_on_stderr_and_store_it(no_wsteth_venue, tmp_path):
    runner = CliRunner()
    store = tmp_path / "store"
    r = runner.invoke(main, ["run", str(no_wsteth_venue), "--out", str(store)])
    assert r.exit_code == 0, r.output
    assert "warning: no venue for shocked wstETH" in r.stderr and "warning" not in r.stdout
    got = duckdb.sql(f"select shocked_assets_without_venue from read_parquet('{store}/runs/*/summary.parquet')")
    assert got.fetchall() == [("wstETH",)]
    r = runner.invoke(main, ["curve", str(no_wsteth_venue), "--shocks", "0.1,0.2", "--out", str(store)])
    assert r.exit_code == 0, r.output
    assert "warning: no venue for shocked wstETH" in r.stderr  # the [curve] co-moves wstETH with WETH
    got = duckdb.sql(f"select distinct assets_without_venue from read_parquet('{store}/runs/*/curve.parquet')")
    assert got.fetchall() == [("wstETH",)]
