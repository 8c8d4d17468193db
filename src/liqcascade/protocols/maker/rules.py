"""Maker (Liquidations 2.0) as a :class:`~liqcascade.protocols.base.LiquidationRules` plug-in.

A vault holds one collateral (its ilk) and DAI debt. ``liquidation_threshold`` is
``1 / mat`` (ETH-B: mat 1.3) and ``liquidation_bonus`` is ``chop - 1`` (13 %). ``bark``
starts an auction for the tab ``debt * chop``; in this instant form keepers take it at
``price * (1 - keeper_margin)``, the auction price having fallen to their bid, and the
collateral beyond the tab returns to the vault. The dynamic engine can instead run the
Clipper auctions block by block (:mod:`liqcascade.protocols.maker.clipper`), with the
Dog's ``Hole``/``hole`` limits on the tab in auctions at once (a bark beyond them is partial,
subject to the ilk's ``dust``). With ``flip`` (``[market] version = "liquidations-1.2"``) the
Cat bites into Flipper auctions that keepers bid on block by block, their bids competing for
inclusion in congested blocks (:mod:`liqcascade.protocols.maker.flip_auctions`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from liqcascade.errors import ConfigError
from liqcascade.protocols.base import Capabilities
from liqcascade.protocols.maker.clipper import ClipperAuctions, ClipperSettings
from liqcascade.protocols.maker.flip_auctions import FlipAuctions, FlipSettings
from liqcascade.protocols.mechanisms import kernels_python as K
from liqcascade.protocols.maker.kernels_python import BARK_KERNEL, KERNEL, MakerParams
from liqcascade.protocols.mechanisms.kernels import kernels_of
from liqcascade.protocols.mechanisms.rules import MechanismRules, require_at_most_one


@dataclass(frozen=True)
class MakerRules(MechanismRules):
    keeper_margin: float = 0.03
    """Discount to the market price at which keepers take an auction (their margin for
    slippage, gas and risk); an assumption, 2-5 % is what 2021 auctions cleared at."""
    auctions: ClipperSettings | None = None
    """Set: the dynamic engine runs Clipper auctions block by block (bark, then keepers take
    as the price falls); None: auctions are taken at once there too. The static engine
    always takes them at once."""
    flip: FlipSettings | None = None
    """Set (Liquidations 1.2): the dynamic engine runs the Cat's bites into Flipper auctions
    with keepers; ``auctions`` is then None."""
    capabilities = Capabilities(aftermarket=True, held_by_limits=True, aftermarket_gas=True)

    kernel = KERNEL
    name = "maker"

    def __post_init__(self) -> None:
        if not (0.0 <= self.keeper_margin < 1.0):
            raise ConfigError(self.params.source, "keeper_margin", "a fraction in [0, 1)", self.keeper_margin)
        if self.flip is not None and self.auctions is not None:
            raise ConfigError(self.params.source, "market.maker.auctions",
                              "no Clipper auctions under Liquidations 1.2 (Flipper auctions: market.maker.flip)", "set")

    @property
    def _over_time(self) -> bool:
        """Auctions run block by block (Clipper or Flipper) in the dynamic engine."""
        return self.auctions is not None or self.flip is not None

    def scalars(self):
        return MakerParams(self.keeper_margin, 0.0, 0.0)

    def check_book(self, book):
        require_at_most_one(book, book.collateral > 0, "collateral assets", "Maker vault", self.params.source)
        require_at_most_one(book, book.debt > 0, "debt assets", "Maker vault (DAI only)", self.params.source)

    def initial_state(self, book):
        """With auctions: the Dog's room (``Hole`` and each ilk's ``hole``, nothing in
        auctions yet), which the Clipper rewrites each block
        (:meth:`ClipperAuctions.sync_limits`), and each ilk's ``dust``."""
        if self.flip is not None:
            # the Cat's box is the one limit (the bark kernel's global room); no per-ilk room or dust
            st = np.zeros(K.N_STATE + 2 * len(book.assets))
            st[K.ST_DOG_ROOM] = self.flip.box_usd
            st[K.N_STATE::2] = np.inf
            return st
        if self.auctions is None:
            return None
        st = np.zeros(K.N_STATE + 2 * len(book.assets))
        st[K.ST_DOG_ROOM] = self.auctions.Hole_usd
        st[K.N_STATE::2] = self.auctions.hole_usd
        st[K.N_STATE + 1::2] = self.auctions.dust_by_asset(book.assets)
        return st

    def held_by_limits(self, arrays, prices, accounts):
        """The ``accounts`` that are unsafe at ``prices`` but that the Dog cannot bark now
        (no room, or too little for a non-dusty partial auction): they wait for takes to
        free room. Empty without auctions (nothing limits a bark)."""
        accounts = np.asarray(accounts, dtype=np.int64)
        if not self._over_time or accounts.size == 0:
            return accounts[:0]
        v = self.health(arrays, prices, accounts)
        unsafe = accounts[(v.hf < 1.0) & (v.collateral_usd > 0.0) & (v.debt_usd > 0.0)]
        if unsafe.size == 0:
            return unsafe
        return unsafe[self.first_call(arrays, prices, unsafe).repaid <= 0.0]

    def dynamic_kernels(self):
        return kernels_of(BARK_KERNEL) if self._over_time else self.kernels()

    def dynamic_scalars(self):
        mp = self.scalars()
        if self.auctions is not None:
            mp = mp._replace(tip=self.auctions.tip, chip=self.auctions.chip)
        if self.flip is not None:
            mp = mp._replace(tip=self.flip.bite_value_usd)  # the Cat pays no incentive: what a bite is worth to a keeper
        return mp

    def aftermarket(self, n_assets):
        if self.flip is not None:
            return FlipAuctions(self.flip, 1.0 + self.params.liquidation_bonus, n_assets)
        if self.auctions is None:
            return None
        return ClipperAuctions(self.auctions, 1.0 + self.params.liquidation_bonus, n_assets)

    def facts(self):
        if self.flip is not None:
            return {"keeper_margin": self.keeper_margin, "auctions": "flipper", "version": "liquidations-1.2"}
        return {"keeper_margin": self.keeper_margin if self.auctions is None else self.auctions.keeper_margin,
                "auctions": "clipper" if self.auctions is not None else "instant"}
