"""Bad input that would overflow or explode, strict types, byte-order marks (issue 10, item 3):
each refused with exit 2 naming the file and the key or row, and nothing written to the store."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from liqcascade.cli import main
from liqcascade.engine.run import MAX_GRID_POINTS, parse_shock_range
from liqcascade.errors import ConfigError, DataError
from liqcascade.io import scenario as S
from liqcascade.io.config import load_scenario

REPO = Path(__file__).resolve().parents[2]
HEADER = "account,asset,collateral,debt,emode\n"


@pytest.fixture
def example(tmp_path):
    for f in ("small_book.toml", "small_book.csv"):
        shutil.copy(REPO / "examples" / f, tmp_path / f)
    return tmp_path / "small_book.toml"


def _cli(*args):
    r = CliRunner().invoke(main, [str(a) for a in args])
    return r.exit_code, r.output


def _refused(args, store: Path, *fragments: str) -> None:
    code, out = _cli(*args, "--out", store)
    assert code == 2, out
    for f in fragments:
        assert f in out, out
    assert "Traceback" not in out
    assert not store.exists()  # nothing written, not even an empty store


# ------------------------------------------------------------------ sums that overflow
def test_the_issues_two_debts_of_1e308(example, tmp_path):
    """The issue's `bad debt $infB` case: refused at the first 1e308 (above the 1.8e305 limit)."""
    (tmp_path / "small_book.csv").write_text(HEADER + "0xa1,WETH,1,0,0\n0xa1,USDC,0,1e308,0\n0xa1,USDT,0,1e308,0\n")
    _refused(["run", example], tmp_path / "store", "small_book.csv: row 2: the debt in USDC adds up past 1.8e+305")


def test_debts_in_two_assets_whose_usd_sum_overflows(example, tmp_path):
    """1e305 USDC and 1e305 USDT: each token sum is under the limit, their USD sum (~2e305) is not."""
    (tmp_path / "small_book.csv").write_text(HEADER + "0xa1,WETH,1,0,0\n0xa1,USDC,0,1e305,0\n0xa2,USDT,0,1e305,0\n")
    _refused(["run", example], tmp_path / "store", "small_book.csv: row 3: the book's collateral and debt add up "
             "past $1.8e+305 at the reference price of USDT")


def test_one_asset_token_sum_overflows(example, tmp_path):
    (tmp_path / "small_book.csv").write_text(HEADER + "0xa1,USDC,1e305,0,0\n0xa2,USDC,1e305,0,0\n")
    _refused(["run", example], tmp_path / "store", "small_book.csv: row 2: the collateral in USDC adds up past")


def test_usd_value_overflows_at_the_reference_price(example, tmp_path):
    """1e305 WETH at $2000 (the scenario's price) is 2e308 USD: row 1 alone passes the limit."""
    (tmp_path / "small_book.csv").write_text(HEADER + "0xa1,WETH,1e305,0,0\n")
    _refused(["run", example], tmp_path / "store", "small_book.csv: row 1:", "reference price of WETH (2000.0)")


def test_sums_just_under_the_limit_load(example, tmp_path):
    """Sums below the limit are fine (the check is not a blanket size cap)."""
    (tmp_path / "small_book.csv").write_text(HEADER + "0xa1,USDC,1e300,0,0\n0xa1,USDT,0,1e299,0\n")
    sc = S.load(example)
    assert sc.model.book.collateral.sum() == 1e300


# ------------------------------------------------------------------ grids
@pytest.mark.parametrize("grid, fragment", [
    ("0:inf:0.1", "start:stop:step with finite numbers"),
    ("nan:0.5:0.1", "start:stop:step with finite numbers"),
    ("0:0.9:1e-15", "at most 10,001 shock points"),
    ("0:0.5:5e-324", "at most 10,001 shock points"),
])
def test_cli_grid_refused(example, tmp_path, grid, fragment):
    _refused(["curve", example, "--asset", "WETH", "--shocks", grid], tmp_path / "store", "--shocks: shocks:", fragment)


def test_grid_of_exactly_the_cap_is_accepted():
    g = parse_shock_range("0:0.5:0.00005")  # 0.5 / 0.00005 + 1 = 10,001 points
    assert g.size == MAX_GRID_POINTS and g[0] == 0.0 and abs(g[-1] - 0.5) < 1e-12
    with pytest.raises(ConfigError, match="at most 10,001"):
        parse_shock_range(",".join(["0.1"] * (MAX_GRID_POINTS + 1)))


def test_scenario_grid_refused_naming_the_key(example, tmp_path):
    example.write_text(example.read_text().replace('shocks = "0:0.6:0.05"', 'shocks = "0:0.9:1e-15"'))
    with pytest.raises(ConfigError, match=r"small_book.toml: curve.shocks: expected at most 10,001 shock points"):
        load_scenario(example)
    _refused(["curve", example], tmp_path / "store", "small_book.toml: curve.shocks")


# ------------------------------------------------------------------ strict types
@pytest.mark.parametrize("old, new, key", [
    ("reserve_usd = 5e6", 'reserve_usd = "5e6"', "venues.0.reserve_usd: expected a valid number, got '5e6'"),
    ("WETH = 0.25\nwstETH", 'WETH = "0.25"\nwstETH', "shock.WETH"),
    ("sell_fraction = 1.0", 'sell_fraction = "1.0"', "liquidators.sell_fraction: expected a valid number"),
    ("sell_fraction = 1.0", "sell_fraction = 1.0\nbuy_debt = 1", "liquidators.buy_debt: expected a valid boolean"),
    ("sell_fraction = 1.0", 'sell_fraction = 1.0\n\n[engine]\nimpact = "true"', "engine.impact: expected a valid boolean"),
])
def test_strings_and_numbers_are_not_interchangeable(example, tmp_path, old, new, key):
    example.write_text(example.read_text().replace(old, new, 1))
    with pytest.raises(ConfigError) as ei:
        load_scenario(example)
    assert key in str(ei.value) and str(example) in str(ei.value)


def test_integer_where_a_float_is_expected_is_fine(example):
    example.write_text(example.read_text().replace("reserve_usd = 5e6", "reserve_usd = 5000000"))
    cfg, _ = load_scenario(example)
    assert cfg.venues[0].reserve_usd == 5e6


# ------------------------------------------------------------------ byte-order marks
def test_toml_and_csv_with_a_bom_load(example, tmp_path):
    bom = b"\xef\xbb\xbf"
    for f in ("small_book.toml", "small_book.csv"):
        p = tmp_path / f
        p.write_bytes(bom + p.read_bytes())
    sc = S.load(example)
    assert sc.model.book.n_accounts == 10  # the example's ten accounts, first column name intact


def test_reserve_csv_with_a_bom_loads(tmp_path):
    from liqcascade.io.aave_config import bundled_snapshot_path, load_aave_reserve_config

    src = bundled_snapshot_path().with_suffix(".csv")
    (tmp_path / src.name).write_bytes(b"\xef\xbb\xbf" + src.read_bytes())
    shutil.copy(bundled_snapshot_path(), tmp_path / bundled_snapshot_path().name)
    snap = load_aave_reserve_config(tmp_path / src.name)
    assert sorted(snap.params.symbols) == sorted(load_aave_reserve_config().params.symbols)


# ------------------------------------------------------------------ a Python-built book
def test_python_book_names_the_argument():
    import numpy as np

    from liqcascade.engine.static import MarketModel
    from liqcascade.model.book import PositionBook

    book = PositionBook.from_rows(["a"], [0], [1e308], [0.0], ("WETH",))
    with pytest.raises(DataError, match=r"^MarketModel.book: row 1: account 'a', asset WETH"):
        MarketModel(book=book, rules=None, prices=np.array([2000.0]))


# ------------------------------------------------------------------ venues that overflow when shocked
def test_pool_too_deep_for_its_price_refused_at_its_key(example, tmp_path):
    """reserve_usd 1e308 at $2000: k = 1e308 * 5e304 overflows, so the pool cannot be re-centred
    at a shocked price; refused naming venues.0 (was `<python>: ConstantProductPool...` mid-run)."""
    example.write_text(example.read_text().replace("reserve_usd = 5e6", "reserve_usd = 1e308"))
    _refused(["run", example], tmp_path / "store", "small_book.toml: venues.0: expected a venue whose numbers stay "
             "finite", "reserve_asset would be inf")
    code, out = _cli("run", example, "--out", tmp_path / "store")
    assert "<python>" not in out


@pytest.mark.parametrize("grid", ["0:inf:0.1", "0:0.9:1e-15", "0:1e400:1"])
def test_scenario_grid_is_a_config_error_not_a_crash(grid):
    """The dashboard's 500: the [curve] validator let OverflowError / MemoryError escape."""
    from liqcascade.io.config import parse_scenario

    data = {"name": "x", "market": {"protocol": "aave_v3", "version": "3.7"},
            "positions": {"source": "synthetic"}, "curve": {"asset": "WETH", "shocks": grid}}
    with pytest.raises(ConfigError, match=r"^x.toml: curve.shocks: expected "):
        parse_scenario(data, "x.toml")
