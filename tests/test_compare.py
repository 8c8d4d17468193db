"""`liqcascade compare` and the per-protocol scenario tables: one book and crash, several
mechanisms; bad protocol settings are refused before any work."""

from __future__ import annotations

import textwrap
import tomllib
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from liqcascade import api
from liqcascade.cli import main
from liqcascade.engine.run import run_static
from liqcascade.errors import ConfigError, DataError
from liqcascade.io import scenario as S
from liqcascade.io.config import parse_scenario

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "compare_mechanisms.toml"


def _example(n: int = 1500) -> dict:
    data = tomllib.loads(EXAMPLE.read_text())
    data["positions"]["n_accounts"] = n
    return data


def _build(data: dict) -> S.Scenario:
    return S.build(parse_scenario(data, str(EXAMPLE)), EXAMPLE.parent, str(EXAMPLE))


@pytest.fixture(scope="module")
def static_cmp():
    return api.compare(_build(_example()), ["aave_v3", "compound_v2", "compound_v3", "maker", "liquity_v1",
                                            "liquity_v2", "morpho_blue", "euler_v2"], store=None)


def test_pair_book_holds_one_collateral_and_one_debt_per_account():
    sc = _build(_example())
    b = sc.model.book
    weth, dai = b.assets.index("WETH"), b.assets.index("DAI")
    assert set(np.unique(b.asset[b.collateral > 0])) == {weth}
    assert set(np.unique(b.asset[b.debt > 0])) == {dai}
    # one WETH row and one DAI row per account (a valid vault / trove book)
    assert (np.bincount(b.account[b.asset == weth], minlength=b.n_accounts) == 1).all()
    assert (np.bincount(b.account[b.asset == dai], minlength=b.n_accounts) == 1).all()


def test_compare_runs_every_protocol_on_the_same_book(static_cmp):
    t = static_cmp.table("comparison").set_index("protocol")
    assert len(t) == 8
    # the crash is the same for all: ETH -30 %, and selling only pushes it further
    np.testing.assert_allclose(t["initial_drop"], 0.30, rtol=1e-12)
    assert (t["final_drop"] >= t["initial_drop"] - 1e-12).all()
    # each row is exactly what a plain run of the scenario with that protocol gives
    sc = _build(_example())
    for proto in ("maker", "liquity_v1"):
        data = _example()
        data["market"]["protocol"] = proto
        data["market"].pop("version")
        one = _build(data)
        s = run_static(one.model, dict(one.config.shock), one.settings).summary
        assert t.loc[proto, "accounts_liquidated"] == s["accounts_liquidated"]
        assert t.loc[proto, "bad_debt_usd"] == pytest.approx(s["bad_debt_usd"], rel=1e-12, abs=1e-9)
        if proto == "liquity_v1":
            # a trove's debt is repaid only by the Stability Pool's offset (DAI stays at $1);
            # the rest is redistributed, never written off
            assert s["sp_debt_offset_usd"] == pytest.approx(s["debt_repaid_usd"], rel=1e-9)
            assert t.loc[proto, "redistributed_debt_usd"] == pytest.approx(s["redistributed_debt_usd"], rel=1e-12)
    assert sc.config.market.protocol == "aave_v3"  # the scenario itself is untouched


def test_mechanisms_differ_where_their_rules_do(static_cmp):
    t = static_cmp.table("comparison").set_index("protocol")
    # Liquity never writes debt off: what the Stability Pool cannot absorb is redistributed
    assert t.loc["liquity_v1", "bad_debt_usd"] == 0.0
    assert (t.drop(index=["liquity_v1", "liquity_v2"])["redistributed_debt_usd"] == 0.0).all()


def test_unknown_protocol_and_missing_shock_are_refused_before_any_work(tmp_path):
    sc = _build(_example(200))
    with pytest.raises(ConfigError, match="--protocols"):
        api.compare(sc, ["aave_v3", "venus"], store=tmp_path / "store")
    data = _example(200)
    del data["shock"]
    with pytest.raises(ConfigError, match="shock"):
        api.compare(_build(data), store=tmp_path / "store")
    assert not (tmp_path / "store").exists()


def test_compare_cli_prints_one_row_per_protocol_and_stores_the_tables(tmp_path):
    data = _example(800)
    toml = tmp_path / "cmp.toml"
    toml.write_text(_to_toml(data))
    out = tmp_path / "store"
    res = CliRunner().invoke(main, ["compare", str(toml), "--protocols", "aave_v3,maker,liquity_v1", "--out", str(out)])
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert lines[0].startswith("run ") and "WETH -30.0%" in lines[0]
    for proto in ("aave_v3", "maker", "liquity_v1"):
        assert any(line.strip().startswith(proto) for line in lines), proto
    assert "tables: comparison, assets" in res.output
    bad = CliRunner().invoke(main, ["compare", str(toml), "--protocols", "aave_v3,nope", "--out", str(out)])
    assert bad.exit_code == 2 and "--protocols" in bad.output


def test_dynamic_compare_adds_the_block_by_block_columns():
    data = _example(300)
    data["simulation"]["blocks"] = 400
    data["simulation"]["duration_blocks"] = 100
    res = api.compare(_build(data), ["maker", "compound_v3"], store=None, dynamic=True)
    t = res.table("comparison").set_index("protocol")
    for col in ("sim_accounts_liquidated", "sim_market_min_drop", "sim_bad_debt_usd", "sim_protocol_holdings_usd"):
        assert col in t
    # the path ends 30 % down; the market low is at least that deep (selling only pushes down)
    assert (t["sim_market_min_drop"].to_numpy() >= 0.30 - 1e-9).all()


# ------------------------------------------------------------------ protocol tables
@pytest.mark.parametrize(
    "table,key,value,where",
    [
        ("maker.auctions", "cusp", 1.5, "market.maker.auctions.cusp"),
        ("maker.auctions", "curve", "cubic", "market.maker.auctions.curve"),
        ("maker", "keeper_margin", 1.0, "market.maker.keeper_margin"),
        ("compound_v3", "store_front_factor", -0.1, "market.compound_v3.store_front_factor"),
        ("compound_v3.storefront", "buyer_margin", 2.0, "market.compound_v3.storefront.buyer_margin"),
        ("liquity", "sp_sell_fraction", 1.2, "market.liquity.sp_sell_fraction"),
        ("liquity", "stability_pool_share", -1.0, "market.liquity.stability_pool_share"),
    ],
)
def test_bad_protocol_settings_name_their_key(table, key, value, where):
    data = _example(100)
    node = data["market"]
    for part in table.split("."):
        node = node.setdefault(part, {})
    node[key] = value
    with pytest.raises(ConfigError) as e:
        parse_scenario(data, "s.toml")
    assert e.value.key == where and e.value.file == "s.toml"


def test_unknown_comet_base_and_liquity_collateral_are_refused():
    data = _example(100)
    data["market"]["protocol"] = "compound_v3"
    data["market"].pop("version")
    data["market"]["compound_v3"]["base"] = "USDC"  # not among the market's assets
    with pytest.raises(ConfigError, match="market.compound_v3.base"):
        _build(data)
    data = _example(100)
    data["market"]["protocol"] = "liquity_v1"
    data["market"].pop("version")
    data["market"]["liquity"]["debt_asset"] = "GHO"
    with pytest.raises(ConfigError, match="market.liquity.debt_asset"):
        _build(data)


def test_one_collateral_protocols_refuse_a_multi_collateral_book(tmp_path):
    book = "account,asset,collateral,debt\n0xa,WETH,10,0\n0xa,WBTC,1,0\n0xa,DAI,0,9000\n"
    (tmp_path / "book.csv").write_text(book)
    toml = tmp_path / "s.toml"
    toml.write_text(textwrap.dedent("""
        name = "multi"
        [market]
        protocol = "maker"
        assets = ["WETH", "WBTC", "DAI"]
        [positions]
        source = "file"
        path = "book.csv"
        [shock]
        WETH = 0.3
    """))
    with pytest.raises(DataError, match="0xa"):
        api.run(toml, store=None)


def test_pair_must_name_two_assets_of_the_market():
    data = _example(100)
    data["positions"]["pair"] = ["WETH", "XYZ"]
    with pytest.raises(ConfigError, match="positions.pair"):
        _build(data)


def _to_toml(data: dict) -> str:
    """A minimal TOML writer for the example's shapes (tables, arrays of tables, scalars)."""
    lines: list[str] = []

    def scalar(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return f'"{v}"'
        if isinstance(v, list):
            return "[" + ", ".join(scalar(x) for x in v) + "]"
        return repr(v)

    def table(prefix: str, d: dict):
        flat = {k: v for k, v in d.items() if not isinstance(v, dict) and not (isinstance(v, list) and v
                                                                              and isinstance(v[0], dict))}
        if prefix:
            lines.append(f"[{prefix}]")
        lines.extend(f"{k} = {scalar(v)}" for k, v in flat.items())
        for k, v in d.items():
            if isinstance(v, dict):
                table(f"{prefix}.{k}" if prefix else k, v)
            elif isinstance(v, list) and v and isinstance(v[0], dict):
                for item in v:
                    lines.append(f"[[{prefix + '.' if prefix else ''}{k}]]")
                    lines.extend(f"{kk} = {scalar(vv)}" for kk, vv in item.items())

    table("", data)
    return "\n".join(lines) + "\n"
