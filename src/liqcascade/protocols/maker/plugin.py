"""Maker in the protocol registry: settings ``[market.maker]`` (and its ``auctions`` or ``flip``
table); ``[market] version`` picks the liquidation system: ``"liquidations-2.0"`` (the Dog and
Clipper, the default) or ``"liquidations-1.2"`` (the Cat and Flipper, with keepers)."""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
from pydantic import Field

from liqcascade.errors import ConfigError
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


class MakerKeeperConfig(Settings):
    """One group of identical Flipper keepers (Liquidations 1.2)."""

    name: str = Field(..., min_length=1, description="A name for the group (results and errors).")
    count: int = Field(1, ge=1, description="Keepers in the group.")
    strategy: Literal["value", "increment"] = Field(
        "value", description="value: bid the lot's value to the keeper at once (capped at the tab; in dent, the lot "
        "worth the tab); increment: the least raise the Flipper accepts (beg), up to that value.")
    gas_gwei: float = Field(..., ge=0, allow_inf_nan=False, description="Gas price (gwei) of its bid transactions: "
                            "fixed, the keeper software's setting; a bid lands only in a block whose inclusion price is at most this.")
    gas_limit: int = Field(300_000, gt=0, description="Gas limit of its transactions; below flip.gas_per_bid they run out of gas (and cost gas).")
    capital_usd: float = Field(..., gt=0, allow_inf_nan=False, description="DAI it can have in bids at once (returned when outbid; "
                               "a won lot adds its market value).")
    latency_s: float = Field(60.0, ge=0, allow_inf_nan=False, description="Seconds from an auction's last change to its bid being sent.")
    discount: float = Field(0.05, ge=0, lt=1, description="Margin below the lot's market value (after selling it) at which it values the lot.")
    min_bid_usd: float = Field(1.0, gt=0, allow_inf_nan=False, description="increment: its first bid on an auction with no bid (DAI).")


class MakerFlipConfig(Settings):
    """The Cat's and a Flipper's settings and the keepers (Liquidations 1.2; defaults: ETH-A on 2020-03-12)."""

    beg: float = Field(0.03, ge=0, lt=1, description="Least raise of a bid (tend) or cut of the lot (dent), a fraction.")
    ttl_s: float = Field(600.0, gt=0, allow_inf_nan=False, description="Seconds after the last bid when the auction ends.")
    tau_s: float = Field(21600.0, gt=0, allow_inf_nan=False, description="Seconds after the kick when the auction ends at the latest "
                         "(with no bid by then it restarts: tick).")
    lump: float | None = Field(50.0, gt=0, allow_inf_nan=False, description="Cat lump: most collateral (tokens) in one auction; "
                               "a bigger bite is split. None = no limit.")
    dunk_usd: float | None = Field(None, gt=0, allow_inf_nan=False, description="Cat dunk (1.2): most tab (DAI) in one auction; None = no limit.")
    box_usd: float | None = Field(None, gt=0, allow_inf_nan=False, description="Cat box (1.2): most tab (DAI) in all auctions at once; "
                                  "None = no limit.")
    bite_value_usd: float = Field(50.0, ge=0, allow_inf_nan=False, description="What a bite is worth to the keeper that sends it (the Cat "
                                  "pays nothing; keepers bite to open auctions): liquidators bite when it covers their gas.")
    gas_per_bid: int = Field(200_000, gt=0, description="Gas a tend or dent uses.")
    inclusion_sigma: float = Field(0.5, ge=0, allow_inf_nan=False, description="Log-normal width of each block's inclusion price "
                                   "around the path's gas price (0 = exactly the path's).")
    seed: int = Field(0, ge=0, description="Seed of the inclusion-price draws.")
    near_zero_share: float = Field(0.05, gt=0, lt=1, description="A won auction counts as near-zero when its bid is below this share of its tab.")
    keepers: list[MakerKeeperConfig] = Field(..., min_length=1, description="The keeper groups.")


MAKER_VERSIONS = ("liquidations-2.0", "liquidations-1.2")


class MakerConfig(Settings):
    """Maker's settings (liquidation_threshold = 1 / mat, liquidation_bonus = chop - 1)."""

    keeper_margin: float = Field(0.03, ge=0, lt=1, description="Static engine: auctions clear at price times (1 - keeper_margin).")
    auctions: MakerAuctionConfig | None = Field(
        None, description="Dynamic engine: run Clipper auctions block by block (otherwise taken at once)."
    )
    flip: MakerFlipConfig | None = Field(
        None, description="Liquidations 1.2 (market.version = 'liquidations-1.2', required there): the Cat and "
        "Flipper auctions with keepers, block by block in the dynamic engine.")


def build(ctx: BuildContext):
    from liqcascade.protocols.maker.clipper import ClipperSettings
    from liqcascade.protocols.maker.rules import MakerRules

    c = ctx.settings_or(MakerConfig)
    version = ctx.version or "liquidations-2.0"
    if version not in MAKER_VERSIONS:
        raise ConfigError(ctx.source, "market.version", f"a Maker liquidation system: one of {list(MAKER_VERSIONS)}", version)
    if (version == "liquidations-1.2") != (c.flip is not None):
        raise ConfigError(ctx.source, "market.maker.flip", "a [market.maker.flip] table exactly when market.version = "
                          "'liquidations-1.2'", "missing" if c.flip is None else f"set with version {version!r}")
    if c.flip is not None:
        return MakerRules(ctx.params, c.keeper_margin, None, _flip_settings(c.flip))
    auctions = None
    if c.auctions is not None:
        # the Dog's limits: None = no limit
        kw = {key: (np.inf if v is None and key in ("hole_usd", "Hole_usd") else v)
              for key, v in c.auctions.model_dump().items()}
        auctions = ClipperSettings(**kw)
    return MakerRules(ctx.params, c.keeper_margin, auctions)


def _flip_settings(f: MakerFlipConfig):
    from liqcascade.protocols.maker.flip_auctions import FlipSettings, Keeper

    kw = f.model_dump(exclude={"keepers", "lump", "dunk_usd", "box_usd"})
    limits = {k: np.inf if getattr(f, k) is None else getattr(f, k) for k in ("lump", "dunk_usd", "box_usd")}
    return FlipSettings(**kw, **limits, keepers=tuple(Keeper(**k.model_dump()) for k in f.keepers))


SPEC = ProtocolSpec("maker", "Maker", build, "maker", MakerConfig, "Maker settings (protocol = maker).")
