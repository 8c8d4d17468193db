"""Maker in the protocol registry: settings ``[market.maker]`` (and its ``auctions`` table)."""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
from pydantic import Field

from liqcascade.protocols.registry import BuildContext, ProtocolSpec, Settings


class MakerAuctionConfig(Settings):
    """A Clipper's settings (defaults: ETH-B under Liquidations 2.0)."""

    buf: float = Field(1.3, gt=0, allow_inf_nan=False, description="Starting price = oracle price times buf.")
    tail: float = Field(8400.0, gt=0, allow_inf_nan=False, description="Seconds before an auction is reset.")
    cusp: float = Field(0.4, ge=0, lt=1, description="Reset when the price falls below cusp times the start price.")
    curve: Literal["linear", "stairstep", "exponential"] = Field("stairstep", description="Price curve (abaci).")
    cut: float = Field(0.99, gt=0, lt=1, description="Stairstep: factor per step; exponential: factor per second.")
    step: float = Field(90.0, gt=0, allow_inf_nan=False, description="Stairstep: seconds per step.")
    tau: float = Field(7200.0, gt=0, allow_inf_nan=False, description="Linear: seconds to zero.")
    chip: float = Field(0.001, ge=0, lt=1, description="Keeper incentive, share of the tab.")
    tip: float = Field(300.0, ge=0, allow_inf_nan=False, description="Keeper incentive, flat DAI.")
    keeper_margin: float = Field(0.03, ge=0, lt=1, description="Keepers take when the auction price is this far below their exit.")
    hole_usd: float | None = Field(None, gt=0, description="The Dog's hole: most tab (DAI) in one ilk's auctions at "
                                   "once (one ilk per collateral asset); None = no limit. ETH-A today: 65M.")
    Hole_usd: float | None = Field(None, gt=0, description="The Dog's Hole: most tab (DAI) in all auctions at once; "
                                   "None = no limit. Mainnet today: 100M.")
    chost_usd: float = Field(0.0, ge=0, allow_inf_nan=False, description="chost = dust * chop: least tab a partial "
                             "take may leave (0 = none). ETH-A today: 16,950.")
    dust_usd: Annotated[float, Field(ge=0)] | dict[str, Annotated[float, Field(ge=0)]] = Field(
        0.0, description="The ilk's dust (least vault debt, DAI) for the Dog's partial barks: one value, or a table "
        "collateral symbol -> value (unlisted: 0); a bark leaving less is whole, a partial auction below it is not "
        "started. 0 = no rule. ETH-A today: 15,000.")


class MakerConfig(Settings):
    """Maker's settings (liquidation_threshold = 1 / mat, liquidation_bonus = chop - 1)."""

    keeper_margin: float = Field(0.03, ge=0, lt=1, description="Static engine: auctions clear at price times (1 - keeper_margin).")
    auctions: MakerAuctionConfig | None = Field(
        None, description="Dynamic engine: run Clipper auctions block by block (otherwise taken at once)."
    )


def build(ctx: BuildContext):
    from liqcascade.protocols.maker.clipper import ClipperSettings
    from liqcascade.protocols.maker.rules import MakerRules

    c = ctx.settings_or(MakerConfig)
    auctions = None
    if c.auctions is not None:
        # the Dog's limits: None = no limit
        kw = {key: (np.inf if v is None and key in ("hole_usd", "Hole_usd") else v)
              for key, v in c.auctions.model_dump().items()}
        auctions = ClipperSettings(**kw)
    return MakerRules(ctx.params, c.keeper_margin, auctions)


SPEC = ProtocolSpec("maker", "Maker", build, "maker", MakerConfig, "Maker settings (protocol = maker).")
