"""MakerDAO Liquidations 2.0 (Dog, Clipper, abaci), integer-exact in ``exact``; Liquidations 1.2
(Cat in ``exact``, Flipper in ``flipper``; block by block with keepers in ``flip_auctions``)."""

from liqcascade.protocols.maker.exact import (
    RAD,
    RAY,
    WAD,
    Clipper,
    Dog,
    ExponentialDecrease,
    Ilk,
    LinearDecrease,
    MakerRevert,
    Sale,
    StairstepExponentialDecrease,
    Vault,
    bark,
    kick,
    redo,
    rpow,
    status,
    take,
)

__all__ = [
    "RAD",
    "RAY",
    "WAD",
    "Clipper",
    "Dog",
    "ExponentialDecrease",
    "Ilk",
    "LinearDecrease",
    "MakerRevert",
    "Sale",
    "StairstepExponentialDecrease",
    "Vault",
    "bark",
    "kick",
    "redo",
    "rpow",
    "status",
    "take",
]
