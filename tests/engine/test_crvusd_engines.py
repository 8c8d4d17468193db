"""crvUSD (LLAMMA) through the engines by the protocol registry alone: the shipped example from
the command line, conservation and the closed-form end state of a cascade, monotonicity of
soft selling in the shock, and a crvUSD market beside the system example's markets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from liqcascade.cli import main
from liqcascade.engine.static import CascadeSettings, MarketModel, StaticCascade
from liqcascade.engine.system import SystemCascade
from liqcascade.io.scenario import load
from liqcascade.io.system import load_system
from liqcascade.markets.cpmm import ConstantProductPool
from liqcascade.protocols.crvusd import fast
from liqcascade.protocols.crvusd.rules import SOFT_TOLERANCE, CrvUsdRules

from .conftest import PARAMS, PRICES, book

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
RULES = CrvUsdRules(PARAMS, collateral="WETH", debt_asset="DAI")
# six loans of 10 WETH at LTVs 0.3 .. 0.8 (at $2000), DAI for crvUSD
BOOK = book([row for k, ltv in enumerate((0.3, 0.4, 0.5, 0.6, 0.7, 0.8))
             for row in ((k, "WETH", 10.0, 0.0), (k, "DAI", 0.0, ltv * 20000.0))])


def _cascade(impact: bool) -> StaticCascade:
    venues = {"WETH": ConstantProductPool.from_price_depth("WETH", 2000.0, 2e5)}
    return StaticCascade(MarketModel(BOOK, RULES, PRICES, venues), CascadeSettings(impact=impact))


@pytest.mark.parametrize("shock", [0.1, 0.3, 0.5, 0.7])
def test_a_cascade_conserves_collateral_and_ends_on_the_adiabatic_path(shock):
    solver = _cascade(True)
    out = solver.run({"WETH": shock})
    assert out.converged
    base = solver._kept_base()  # the book as it was: the working amounts may be its amounts
    lo = RULES.loans(out.arrays)
    y0 = out.arrays.coll[lo.crow]
    # collateral removed = collateral sold (soft) + seized (hard): every WETH leaving a loan is seized
    assert BOOK.collateral.sum() - y0.sum() == pytest.approx(out.totals["seized"][0], rel=1e-12)
    assert out.totals["sold"][0] == pytest.approx(out.totals["seized"][0], rel=1e-12)
    assert out.totals["repaid"].sum() == 0.0 and np.array_equal(out.arrays.debt, base.debt)  # debt unchanged
    assert min(out.arrays.coll.min(), out.arrays.debt.min()) >= 0.0
    # prices only fell, so each loan sits where the closed form puts it at the final price
    p = out.prices_final[0]
    s = fast.book_state(100, 1.0, lo.n1, np.full(6, 10), lo.deposit, p)
    assert y0 == pytest.approx(s.collateral, abs=2 * SOFT_TOLERANCE * 10.0)
    assert out.arrays.coll[lo.drow] == pytest.approx(s.stablecoin, rel=1e-9, abs=1e-6)
    assert out.prices_final[0] < out.prices_shocked[0] or out.totals["seized"][0] == 0.0


@settings(max_examples=25, deadline=None)
@given(a=st.floats(0.0, 0.9), b=st.floats(0.0, 0.9))
def test_soft_selling_grows_with_the_shock_without_feedback(a, b):
    lo, hi = sorted((a, b))
    solver = _cascade(False)
    sold_lo = solver.run({"WETH": lo}).totals["seized"][0]
    sold_hi = solver.run({"WETH": hi}).totals["seized"][0]
    assert sold_lo <= sold_hi * (1 + 1e-12) + 1e-12
    assert sold_hi <= BOOK.collateral.sum() * (1 + 1e-12)


def test_the_shipped_example_runs_from_the_command_line(tmp_path):
    r = CliRunner().invoke(main, ["run", str(EXAMPLES / "crvusd_market.toml"), "--out", str(tmp_path / "s")])
    assert r.exit_code == 0, r.output
    assert "crvusd" in r.output
    sc = load(EXAMPLES / "crvusd_market.toml")
    out = StaticCascade(sc.model, sc.settings).run(sc.config.shock)
    assert out.converged and out.totals["seized"][0] > 0.0
    zero = StaticCascade(sc.model, sc.settings).run({"WETH": 0.0})
    assert zero.totals["seized"].sum() == 0.0  # no loan of the example starts inside its bands


def test_the_shipped_example_simulates_block_by_block_from_the_command_line(tmp_path):
    text = (EXAMPLES / "crvusd_market.toml").read_text().replace("n_accounts = 2000", "n_accounts = 50")
    text = text.replace("[simulation]\n", "[simulation]\ncheck_conservation = true\n")
    p = tmp_path / "crv.toml"
    p.write_text(text)
    r = CliRunner().invoke(main, ["simulate", str(p), "--out", str(tmp_path / "s")])
    assert r.exit_code == 0, r.output
    assert "crvusd" in r.output and "Traceback" not in r.output


CRVUSD_MARKET = """
[[markets]]
name = "crvusd"
protocol = "crvusd"
assets = ["WETH", "DAI"]

[markets.crvusd]
debt_asset = "DAI"

[markets.positions]
source = "synthetic"
n_accounts = 600
seed = 5
pair = ["WETH", "DAI"]
"""


def test_a_crvusd_market_beside_the_system_example_sells_into_the_shared_venue(tmp_path):
    text = (EXAMPLES / "system_shared_eth.toml").read_text()
    text = text.replace("\n[shock]", CRVUSD_MARKET + "\n[shock]")
    import re

    text = re.sub(r"n_accounts = (\d+)\n", lambda m: f"n_accounts = {int(m.group(1)) // 10}\n", text)
    p = tmp_path / "system.toml"
    p.write_text(text)
    ss = load_system(p)
    assert "crvusd" in ss.model.names
    solver = SystemCascade(ss.model, ss.settings, ss.market_settings)
    together = solver.run(ss.config.shock)
    alone = solver.alone("crvusd", ss.config.shock)
    sold_t = together.markets["crvusd"].totals["seized"][0]
    sold_a = alone.totals["seized"][0]
    assert together.trace.converged and sold_a > 0.0
    # the other markets' selling pushes WETH lower: LLAMMA sells at least as much together
    assert together.trace.prices_final[0] <= alone.prices_final[0]
    assert sold_t >= sold_a * (1 - 1e-12)


def test_a_crvusd_market_simulates_block_by_block_in_the_day_system(tmp_path):
    """The system day example (small) with a crvUSD market beside its four: conservation every
    block for every market (the engine checks it), LLAMMA's soft sales go into the shared WETH
    book, and together the crvUSD market sells at least as much as alone (the others' selling
    pushes WETH lower)."""
    import re

    from liqcascade import api

    text = (EXAMPLES / "system_shared_eth_day.toml").read_text().replace("\n[shock]", CRVUSD_MARKET + "\n[shock]")
    text = re.sub(r"(?m)^n_accounts = (\d+)", lambda m: f"n_accounts = {min(int(m.group(1)), 200)}", text)
    text = re.sub(r"(?m)^blocks = (\d+)", "blocks = 400", text)
    text = text.replace("[simulation]\n", "[simulation]\ncheck_conservation = true\n", 1)
    p = tmp_path / "day.toml"
    p.write_text(text)
    res = api.simulate(p, store=None)
    m = res["markets"].set_index("market")
    assert m.loc["crvusd", "collateral_seized_usd"] > 0.0
    assert m.loc["crvusd", "collateral_seized_usd"] >= m.loc["crvusd", "alone_collateral_seized_usd"] * (1 - 1e-12)
    a = res["assets"].query("market == 'crvusd'").set_index("asset")
    assert a.loc["DAI", "returned"] > 0.0  # the stablecoin arbitrageurs paid into the bands
