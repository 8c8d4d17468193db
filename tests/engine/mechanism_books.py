"""A small market, hand-made books and hypothesis strategies for the mechanism plug-ins
(Compound v2, Morpho Blue, Euler v2, Comet, Maker, Liquity v1/v2) in the engines.

Market: WETH (threshold 0.80, bonus 0.10), WBTC (0.75, 0.05) and USDC ($1, no threshold:
the debt asset, also Liquity's stablecoin). Per protocol the threshold is the collateral
factor (Compound v2), the liquidate collateral factor (Comet, whose liquidation factor is
``1 - bonus``: 0.90 and 0.95), ``1 / mat`` (Maker: mat 1.25, chop 1.10), the LLTV (Morpho:
LIF ``1 / (0.3 * 0.8 + 0.7) = 1 / 0.94``) or the liquidation LTV (Euler); Liquity ignores
it (``1 / MCR``).
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st

from liqcascade.engine.static import CascadeSettings, MarketModel, StaticCascade
from liqcascade.markets.cpmm import ConstantProductPool
from liqcascade.model import AssetParams, PositionBook, RiskParams
from liqcascade.protocols.compound_v2.rules import CompoundV2Rules
from liqcascade.protocols.compound_v3.rules import CometRules
from liqcascade.protocols.euler_v2.rules import EulerV2Rules
from liqcascade.protocols.liquity_v1.rules import LiquityV1Rules
from liqcascade.protocols.liquity_v2.rules import LiquityV2Rules
from liqcascade.protocols.maker.rules import MakerRules
from liqcascade.protocols.morpho_blue.rules import MorphoBlueRules

PARAMS = RiskParams.from_assets(
    [
        AssetParams("WETH", 18, 0.75, 0.80, 0.10),
        AssetParams("WBTC", 8, 0.70, 0.75, 0.05),
        AssetParams("USDC", 6),
    ]
)
WETH, WBTC, USDC = 0, 1, 2
PRICES = np.array([2000.0, 30000.0, 1.0])
LT = PARAMS.liquidation_threshold
BONUS = PARAMS.liquidation_bonus

LIQUITY = ("liquity_v1", "liquity_v2")
SEPARATE = ("compound_v2", "morpho_blue", "euler_v2", "compound_v3", "compound_v3_keep", "maker")
"""Mechanisms whose accounts are liquidated independently of each other."""
PROTOCOLS = SEPARATE + LIQUITY


def make_rules(protocol: str, stability_pool: float = 0.0, sp_sell_fraction: float = 1.0):
    """The rule set of ``protocol`` on :data:`PARAMS` (Maker with a 5 % keeper margin)."""
    if protocol == "compound_v2":
        return CompoundV2Rules(PARAMS)
    if protocol == "morpho_blue":
        return MorphoBlueRules(PARAMS)
    if protocol == "euler_v2":
        return EulerV2Rules(PARAMS)
    if protocol == "compound_v3":
        return CometRules(PARAMS, base="USDC")
    if protocol == "compound_v3_keep":
        return CometRules(PARAMS, base="USDC", resale=False)
    if protocol == "maker":
        return MakerRules(PARAMS, keeper_margin=0.05)
    cls = LiquityV1Rules if protocol == "liquity_v1" else LiquityV2Rules
    return cls(PARAMS, debt_asset="USDC", stability_pool=stability_pool, sp_sell_fraction=sp_sell_fraction)


def book(rows) -> PositionBook:
    """rows: (account, asset symbol, collateral, debt); integer accounts keep their order."""
    return PositionBook.from_rows(
        [r[0] for r in rows], [PARAMS.index(r[1]) for r in rows], [r[2] for r in rows], [r[3] for r in rows],
        PARAMS.symbols,
    )


def troves(pairs) -> PositionBook:
    """A Liquity book from (WETH collateral, USDC debt) per trove, accounts 0, 1, ..."""
    return book([r for k, (c, d) in enumerate(pairs) for r in ((k, "WETH", c, 0.0), (k, "USDC", 0.0, d))])


def pool(depth_usd: float, fee: float = 0.0) -> dict[str, ConstantProductPool]:
    """A WETH/USD constant-product venue, ``depth_usd`` a side at $2000."""
    return {"WETH": ConstantProductPool.from_price_depth("WETH", 2000.0, depth_usd, fee=fee)}


def cpmm_price(depth_usd: float, price: float, sold: float) -> float:
    """Marginal price of a fee-free x*y=k pool (``depth_usd`` a side at $2000, so
    ``k = depth^2 / 2000``) moved by arbitrage to ``price`` and then sold ``sold`` WETH
    into: ``x = sqrt(k / price)`` and the price after is ``price * (x / (x + sold))^2``."""
    x = depth_usd / math.sqrt(2000.0 * price)
    return price * (x / (x + sold)) ** 2


def cascade(model: MarketModel, shocks, impact: bool = True):
    """(solver, outcome) of one static cascade."""
    solver = StaticCascade(model, CascadeSettings(impact=impact))
    return solver, solver.run(shocks)


def final_rows(out, n_assets: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Final collateral and debt as (account, asset) matrices in original account order."""
    a = out.arrays
    coll = np.zeros((a.n_accounts, n_assets))
    debt = np.zeros((a.n_accounts, n_assets))
    acct = out.account_order[np.repeat(np.arange(a.n_accounts), np.diff(a.offsets))]
    np.add.at(coll, (acct, a.asset), a.coll)
    np.add.at(debt, (acct, a.asset), a.debt)
    return coll, debt


def start_rows(b: PositionBook, n_assets: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """The book's collateral and debt as (account, asset) matrices."""
    coll = np.zeros((b.n_accounts, n_assets))
    debt = np.zeros((b.n_accounts, n_assets))
    np.add.at(coll, (b.account, b.asset), b.collateral)
    np.add.at(debt, (b.account, b.asset), b.debt)
    return coll, debt


# ---------------------------------------------------------------- hypothesis books
def _shape(protocol: str) -> str:
    if protocol in LIQUITY:
        return "trove"
    if protocol in ("morpho_blue", "maker"):
        return "isolated"  # one collateral, one debt
    if protocol == "compound_v2":
        return "cross"  # several collaterals and debts
    return "multi"  # several collaterals, USDC debt


@st.composite
def books(draw, protocol: str, min_accounts: int = 5, max_accounts: int = 50):
    """A book that fits ``protocol``: accounts with HF (at :data:`PRICES`) between 0.7 and
    2.5 (Liquity: ICR between 0.9 and 3), sizes over three orders of magnitude."""
    shape = _shape(protocol)
    n = draw(st.integers(min_accounts, max_accounts))
    rows = []
    for k in range(n):
        size = draw(st.floats(0.05, 50.0))
        if shape == "trove":
            icr = draw(st.floats(0.9, 3.0))
            rows += [(k, "WETH", size, 0.0), (k, "USDC", 0.0, size * 2000.0 / icr)]
            continue
        hf = draw(st.floats(0.7, 2.5))
        use_btc = draw(st.booleans())
        if shape == "isolated":
            c = {"WBTC": size / 15.0} if use_btc else {"WETH": size}
        else:
            c = {"WETH": size}
            if use_btc:
                c["WBTC"] = draw(st.floats(0.0, 2.0))
        cap = sum(v * PRICES[PARAMS.index(a)] * LT[PARAMS.index(a)] for a, v in c.items()) / hf
        rows += [(k, a, v, 0.0) for a, v in c.items()]
        split = draw(st.sampled_from([1.0, 1.0, 0.5])) if shape == "cross" else 1.0
        rows.append((k, "USDC", 0.0, cap * split))
        if split < 1.0:
            rows.append((k, "WBTC" if "WBTC" not in c else "WETH", 0.0,
                         cap * (1 - split) / (PRICES[WBTC] if "WBTC" not in c else PRICES[WETH])))
    return book(rows)


def stability_pool_for(b: PositionBook, fraction: float) -> float:
    """A Stability Pool holding ``fraction`` of the book's debt."""
    return float(b.debt.sum()) * fraction


def dynamic_totals(res):
    """Per-asset totals of a simulation (zeros for assets without a row)."""
    a = res["assets"].set_index("asset")
    out = {}
    for name in ("seized", "fee", "repaid", "deficit", "protocol_sold", "protocol_proceeds", "returned"):
        v = np.zeros(len(PARAMS.symbols))
        for i, sym in enumerate(PARAMS.symbols):
            if sym in a.index:
                v[i] = a.loc[sym, name]
        out[name] = v
    return out


def random_vault_book(rng, n: int) -> PositionBook:
    """``n`` one-collateral accounts against USDC, HF 1 to 1.5 at the market prices: 70 %
    WETH (lognormal, median 1 token), 30 % WBTC (median 0.05)."""
    rows = []
    for k in range(n):
        if rng.uniform() < 0.7:
            c = float(rng.lognormal(0.0, 1.0))
            rows += [(k, "WETH", c, 0.0), (k, "USDC", 0.0, c * 2000 * 0.8 / rng.uniform(1.0, 1.5))]
        else:
            c = float(rng.lognormal(-3.0, 1.0))
            rows += [(k, "WBTC", c, 0.0), (k, "USDC", 0.0, c * 30000 * 0.75 / rng.uniform(1.0, 1.5))]
    return book(rows)
