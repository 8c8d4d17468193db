"""The ``univ3`` venue kind: a Uniswap v3 pool's scenario table and builder."""

from __future__ import annotations

from typing import Literal, cast

from pydantic import Field

from liqcascade.markets.registry import Settings, VenueContext, VenueSpec
from liqcascade.markets.univ3 import UniswapV3Venue, ethwbtc_pool


class Univ3VenueConfig(Settings):
    """A Uniswap v3 concentrated-liquidity pool rebuilt from on-chain liquidity events."""

    kind: Literal["univ3"] = Field(description="Venue kind.")
    asset: str = Field(description="Asset sold into the pool (one of its tokens).")
    pool: str = Field("builtin:uniswap_v3_ethwbtc_030", description="Pool data: 'builtin:uniswap_v3_ethwbtc_030'.")
    block: int = Field(17_000_000, gt=0, description="Rebuild the tick-liquidity profile as of this block.")
    other_price_usd: float | None = Field(
        None, gt=0, description="USD price of the pool's other token (default: its reference price in this scenario)."
    )


POOLS = {"builtin:uniswap_v3_ethwbtc_030": ("WBTC", "WETH")}  # (token0, token1)
"""The shipped pools a table may name."""


def build(ctx: VenueContext) -> UniswapV3Venue:
    """The real pool's tick-liquidity profile at ``block``, selling ``asset`` for the other token.

    The pool keeps its own price ratio at that block. The other token is valued at
    ``other_price_usd`` when given (the pool is then arbitraged to the scenario's price of
    ``asset``); otherwise at the USD price that makes the pool's marginal sale price equal
    the scenario's price of ``asset`` (no arbitrage move, the liquidity shape around the
    price is the real one).
    """
    s = cast(Univ3VenueConfig, ctx.settings)  # the registry validated the table with this model
    if s.pool not in POOLS:
        raise ctx.error("pool", f"one of {list(POOLS)}", s.pool)
    token0, token1 = POOLS[s.pool]
    if s.asset not in (token0, token1):
        raise ctx.error("asset", f"a token of the pool ({token0} or {token1})", s.asset)
    if s.block != 17_000_000:
        raise ctx.error("block", "17000000 (the block whose pool price is known from its swaps)", s.block)
    venue = UniswapV3Venue(s.asset, ethwbtc_pool(s.block), s.asset == token0, 1.0)
    if s.other_price_usd is not None:
        return venue.with_other_price_usd(s.other_price_usd).with_mid_price(ctx.price)
    # mid_price is linear in other_price_usd: scale it so the venue quotes the scenario's price
    return venue.with_other_price_usd(ctx.price / venue.mid_price())


SPEC = VenueSpec("univ3", "Uniswap v3 pool", Univ3VenueConfig, build)
