"""System scenarios with ``[stablecoins.SYM]`` and ``[owners]``: loading, the errors naming
their key or row, the run's tables through the API and the command line, the network's
owner groups."""

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from liqcascade import api
from liqcascade.cli import main
from liqcascade.errors import ConfigError, DataError
from liqcascade.io.system import load_system

SCENARIO = """
name = "dai-maker-aave"

[[markets]]
name = "maker"
protocol = "maker"
assets = ["WETH", "DAI"]

[markets.positions]
source = "synthetic"
n_accounts = 300
seed = 1
pair = ["WETH", "DAI"]

[[markets]]
name = "aave"
protocol = "aave_v3"
version = "3.3-3.4"
assets = ["WETH", "USDC", "DAI"]

[markets.positions]
source = "synthetic"
n_accounts = 200
seed = 2
pair = ["WETH", "DAI"]

[stablecoins.DAI]
issuer = "maker"

[[owners.links]]
from_market = "maker"
to_market = "aave"
share = 0.5

[[venues]]
kind = "cpmm"
asset = "DAI"
reserve_usd = 20e6
fee = 0.0

[shock]
WETH = 0.3
"""


def write(tmp_path: Path, text: str = SCENARIO) -> Path:
    p = tmp_path / "stables.toml"
    p.write_text(text)
    return p


def test_keys_become_the_systems_coins_and_owners(tmp_path):
    ss = load_system(write(tmp_path))
    (coin,) = ss.model.issued
    assert (coin.asset, coin.issuer, coin.buy_share) == ("DAI", "maker", 1.0)
    # half of aave's 200 accounts, each linked to one of maker's first 100 vaults
    aave, maker = ss.model.owners["aave"], ss.model.owners["maker"]
    assert sum(x is not None for x in aave) == 100 and sum(x is not None for x in maker) == 100
    ids = ss.model.markets["maker"].book.account_ids
    assert aave[0] == maker[0] == f"maker:{ids[0]}" and aave[150] is None


@pytest.mark.parametrize("edit,key", [
    (lambda t: t.replace('issuer = "maker"', 'issuer = "mkr"'), "stablecoins.DAI.issuer"),
    (lambda t: t.replace('[[venues]]\nkind = "cpmm"\nasset = "DAI"\nreserve_usd = 20e6\nfee = 0.0\n', ''),
     "stablecoins.DAI"),
    (lambda t: t.replace("[stablecoins.DAI]", "[stablecoins.GHO]"), "stablecoins.GHO"),
    (lambda t: t.replace('issuer = "maker"', 'issuer = "maker"\nbuy_share = 2'), "stablecoins.DAI.buy_share"),
    (lambda t: t.replace('from_market = "maker"', 'from_market = "spark"'), "owners.links.0.from_market"),
    (lambda t: t.replace('to_market = "aave"', 'to_market = "maker"'), "owners.links.0.to_market"),
    (lambda t: t.replace("share = 0.5", "share = 0"), "owners.links.0.share"),
    (lambda t: t.replace("[[owners.links]]", '[owners]\npath = "nowhere.csv"\n[[owners.links]]'), "owners.path"),
])
def test_bad_keys_name_the_key(tmp_path, edit, key):
    p = write(tmp_path, edit(SCENARIO))
    with pytest.raises(ConfigError) as e:
        load_system(p)
    assert e.value.key == key and e.value.file == str(p)
    r = CliRunner().invoke(main, ["run", str(p), "--store", str(tmp_path / "res")])
    assert r.exit_code == 2 and key in r.output


def _with_file(tmp_path, rows: str) -> Path:
    (tmp_path / "owners.csv").write_text("market,account,owner\n" + rows)
    text = SCENARIO.replace("[[owners.links]]\nfrom_market = \"maker\"\nto_market = \"aave\"\nshare = 0.5\n",
                            '[owners]\npath = "owners.csv"\n')
    return write(tmp_path, text)


def test_owners_file(tmp_path):
    ss = load_system(_with_file(tmp_path, "maker,0,alice\naave,0,alice\naave,7,bob\n"))
    assert ss.model.owners["maker"][0] == "alice" and ss.model.owners["aave"][0] == "alice"
    assert ss.model.owners["aave"][7] == "bob" and ss.model.owners["aave"][1] is None


@pytest.mark.parametrize("rows,row,why", [
    ("maker,0,alice\nspark,0,alice\n", 2, "not a market"),
    ("maker,0,alice\naave,9999,alice\n", 2, "not in market 'aave'"),
    ("maker,0,alice\nmaker,0,bob\n", 2, "listed twice"),
])
def test_bad_owner_rows_name_the_row(tmp_path, rows, row, why):
    with pytest.raises(DataError) as e:
        load_system(_with_file(tmp_path, rows))
    assert e.value.row == row and why in str(e.value)


def test_run_has_the_coin_and_owner_tables(tmp_path):
    res = api.run(write(tmp_path), store=None)
    coin = res["stablecoins"].iloc[0]
    ma = res["market_assets"]
    repaid = ma[(ma["market"] == "maker") & (ma["asset"] == "DAI")]["debt_repaid"].sum()
    assert repaid > 0
    assert coin["debt_repaid"] == pytest.approx(repaid, rel=1e-12)
    assert coin["bought"] == pytest.approx(repaid, rel=1e-12)  # conservation through the scenario
    # the fee-free pool of 20M USD a side at DAI's reference price p0 (the snapshot's 0.9999) holds
    # x = 20M / p0 DAI; after buying b DAI its price is k / (x - b)^2 = p0 * (x / (x - b))^2
    p0 = coin["price_reference"]
    x = 20e6 / p0
    assert coin["price_final"] == pytest.approx(p0 * (x / (x - coin["bought"])) ** 2, rel=1e-9)
    assert coin["price_final"] > p0
    o, acc = res["owners"], res["accounts"]
    assert o["positions"].sum() == 200  # 100 owners, one vault and one aave account each
    linked = {(m, a) for m, labels in load_system(write(tmp_path)).model.owners.items()
              for a, x in zip(load_system(write(tmp_path)).model.markets[m].book.account_ids, labels) if x is not None}
    mine = acc[[(m, a) in linked for m, a in zip(acc["market"], acc["account_id"])]]
    for col in ("collateral_seized_usd", "debt_repaid_usd", "bad_debt_usd"):
        assert o[col].sum() == pytest.approx(mine[col].sum(), rel=1e-9, abs=1e-6)


def test_network_has_the_owner_group(tmp_path):
    res = api.network(write(tmp_path), store=None)
    nodes, edges = res["network_nodes"], res["network_edges"]
    groups = nodes[nodes["kind"] == "owners"]
    assert list(groups["id"]) == ["owners:maker+aave"]
    assert groups["label"].iloc[0] == "100 owners of maker+aave"
    owns = edges[edges["kind"] == "owns"].set_index("target")
    assert set(owns.index) == {"market:maker", "market:aave"}
    # the group's collateral edges: the owners' collateral before the shock, per market
    ss = load_system(write(tmp_path))
    for name in ("maker", "aave"):
        m = ss.model.markets[name]
        b = m.book
        usd = np.bincount(b.account, weights=b.collateral * np.asarray(m.prices)[b.asset], minlength=b.n_accounts)
        linked = np.array([x is not None for x in ss.model.owners[name]])
        assert owns.loc[f"market:{name}", "usd"] == pytest.approx(usd[linked].sum(), rel=1e-12)
    assert "owners" in res.tables and "stablecoins" in res.tables


SIMULATION = """
[simulation]
path = "linear"
duration_blocks = 20
blocks = 60
block_seconds = 12

[simulation.oracle]
kind = "instant"

[simulation.liquidators]
gas_gwei = 30
min_profit_usd = 5
"""


def test_simulate_has_the_coin_and_owner_tables(tmp_path):
    res = api.simulate(write(tmp_path, SCENARIO + SIMULATION), store=None)
    coin, blocks = res["stablecoins"].iloc[0], res["stablecoin_blocks"]
    a = res["assets"]
    repaid = a[(a["market"] == "maker") & (a["asset"] == "DAI")]["repaid"].sum()
    assert repaid > 0
    # conservation: every DAI the issuer's liquidations repaid was bought, one purchase a block
    assert coin["debt_repaid"] == pytest.approx(repaid, rel=1e-12)
    assert coin["bought"] == pytest.approx(repaid, rel=1e-12)
    assert blocks["block"].is_unique and coin["blocks_bought"] == len(blocks)
    assert (blocks["price_after"] > blocks["price_before"]).all()  # pure buying lifts the coin
    o, ev = res["owners"], res["events"]
    ss = load_system(write(tmp_path, SCENARIO + SIMULATION))
    linked = {(m, a) for m, labels in ss.model.owners.items()
              for a, x in zip(ss.model.markets[m].book.account_ids, labels) if x is not None}
    mine = ev[[(m, a) in linked for m, a in zip(ev["market"], ev["account_id"])]]
    assert o["collateral_seized_usd"].sum() == pytest.approx(mine["collateral_seized_usd"].sum(), rel=1e-12)
    assert o["debt_repaid_usd"].sum() == pytest.approx(mine["debt_repaid_usd"].sum(), rel=1e-12)


PEGS = SCENARIO.replace('[stablecoins.DAI]\nissuer = "maker"\n', '''[stablecoins.DAI]
issuer = "maker"
supply = 5e9

[stablecoins.DAI.psm]
gem_balance = 60e6
tin = 0.001
tout = 0.0
''')


def test_peg_keys_become_the_coins_mechanisms(tmp_path):
    (coin,) = load_system(write(tmp_path, PEGS)).model.issued
    assert coin.supply == 5e9 and coin.redemptions is None
    assert (coin.psm.gem_balance, coin.psm.tin, coin.psm.tout, coin.psm.mint_room) == (60e6, 0.001, 0.0, float("inf"))


@pytest.mark.parametrize("edit,key", [
    (lambda t: t.replace("supply = 5e9", "supply = 0"), "stablecoins.DAI.supply"),
    (lambda t: t.replace("supply = 5e9", "supply = -3"), "stablecoins.DAI.supply"),
    (lambda t: t.replace("tout = 0.0", "tout = 1.0"), "stablecoins.DAI.psm.tout"),
    (lambda t: t.replace("tin = 0.001", "tin = -0.1"), "stablecoins.DAI.psm.tin"),
    (lambda t: t.replace("gem_balance = 60e6", "gem_balance = -1"), "stablecoins.DAI.psm.gem_balance"),
    (lambda t: t.replace("gem_balance = 60e6", "gem_balance = 60e6\nmint_room = -5"), "stablecoins.DAI.psm.mint_room"),
    # redemptions need a liquity_v1 issuer
    (lambda t: t + "\n[stablecoins.DAI.redemptions]\nbase_rate = 0.01\n", "stablecoins.DAI.redemptions"),
    (lambda t: t.replace('[[venues]]\nkind = "cpmm"\nasset = "DAI"\nreserve_usd = 20e6\nfee = 0.0\n', ''),
     "stablecoins.DAI"),
])
def test_bad_peg_keys_name_the_key(tmp_path, edit, key):
    p = write(tmp_path, edit(PEGS))
    with pytest.raises(ConfigError) as e:
        load_system(p)
    assert e.value.key == key and e.value.file == str(p)


LIQUITY = """
name = "lusd"

[[markets]]
name = "liquity"
protocol = "liquity_v1"
assets = ["WETH", "LUSD"]

[markets.liquity]
collateral = "WETH"
debt_asset = "LUSD"

[markets.positions]
source = "synthetic"
n_accounts = 50
seed = 3
pair = ["WETH", "LUSD"]
debt_usd = 1e6

[stablecoins.LUSD]
issuer = "liquity"
buy_share = 0.0
supply = 2e6

[stablecoins.LUSD.redemptions]
base_rate = 0.0

[[venues]]
kind = "cpmm"
asset = "LUSD"
reserve_usd = 1e6
fee = 0.0

[shock]
WETH = 0.1
"""


def test_a_redemption_coin_needs_a_venue_and_a_supply(tmp_path):
    assert load_system(write(tmp_path, LIQUITY)).model.issued[0].redemptions.base_rate == 0.0
    for text, key in ((LIQUITY.replace('[[venues]]\nkind = "cpmm"\nasset = "LUSD"\nreserve_usd = 1e6\nfee = 0.0\n',
                                       ''), "stablecoins.LUSD"),
                      (LIQUITY.replace("supply = 2e6\n", ""), "stablecoins.LUSD.supply"),
                      (LIQUITY.replace("base_rate = 0.0", "base_rate = 1.5"), "stablecoins.LUSD.redemptions.base_rate")):
        p = write(tmp_path, text)
        with pytest.raises(ConfigError) as e:
            load_system(p)
        assert e.value.key == key
        r = CliRunner().invoke(main, ["run", str(p), "--store", str(tmp_path / "res")])
        assert r.exit_code == 2 and key in r.output
