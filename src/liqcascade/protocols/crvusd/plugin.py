"""crvUSD (LLAMMA) in the protocol registry: settings ``[market.crvusd]``."""

from __future__ import annotations

from pydantic import Field

from liqcascade.protocols.registry import BuildContext, ProtocolSpec, Settings


class CrvUsdConfig(Settings):
    """One crvUSD / LlamaLend market: its AMM and Controller parameters."""

    collateral: str = Field("WETH", description="The market's collateral asset.")
    debt_asset: str = Field("DAI", description="A $1 asset of the market standing for crvUSD (the borrowed coin).")
    A: int = Field(100, ge=2, le=10000, description="LLAMMA's amplification: each band spans 1/A of the price.")
    loan_discount: float = Field(0.09, gt=0, lt=1, description="Discount on the collateral when a loan's bands are "
                                 "placed (create_loan): the loans' maximum LTV.")
    liquidation_discount: float = Field(0.06, ge=0, lt=1, description="Discount in the health of hard liquidation "
                                        "(below loan_discount).")
    n_bands: int = Field(10, ge=4, le=50, description="Bands every loan of the market is spread over (4 to 50).")
    fee: float = Field(0.0, ge=0, lt=1, description="LLAMMA's fee, paid by the arbitrageurs into the bands they "
                       "buy collateral from.")


HELP = "crvUSD / LlamaLend settings (protocol = crvusd): the LLAMMA grid and the Controller's discounts."


def build(ctx: BuildContext):
    from liqcascade.protocols.crvusd.rules import CrvUsdRules

    c = ctx.settings_or(CrvUsdConfig)
    return CrvUsdRules(ctx.params, collateral=c.collateral, debt_asset=c.debt_asset, A=c.A,
                       loan_discount=c.loan_discount, liquidation_discount=c.liquidation_discount, n_bands=c.n_bands, fee=c.fee)


SPEC = ProtocolSpec("crvusd", "crvUSD (LLAMMA)", build, "crvusd", CrvUsdConfig, HELP)
