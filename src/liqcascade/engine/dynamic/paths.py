"""Path helpers for the simulation."""

from __future__ import annotations

from typing import Mapping

import numpy as np

from liqcascade._typing import FloatArray
from liqcascade.errors import ConfigError


def drive_path(path, drive: Mapping[str, list[str]], assets: tuple[str, ...], p0: FloatArray, source: str = "<path>"):
    """Re-express ``path`` in market assets: each path asset moves the market assets it
    drives by the same relative path, from their reference prices ``p0``.

    ``drive`` maps a path asset to market assets; a path asset not in ``drive`` drives the
    market asset of the same name. A replay of May 2021 (ETH) applied to a book at today's
    prices thus moves WETH, wstETH, ... by May 2021's returns.
    """
    from liqcascade.scenarios import PricePath

    cols, names = [], []
    for j, a in enumerate(path.assets):
        targets = drive.get(a, [a] if a in assets else [])
        if not targets:
            raise ConfigError(source, f"simulation.drive.{a}", f"market assets that path asset {a} moves "
                              f"(one of {list(assets)})", None)
        for t in targets:
            if t not in assets:
                raise ConfigError(source, f"simulation.drive.{a}", f"assets of the market {list(assets)}", t)
            if t in names:
                raise ConfigError(source, f"simulation.drive.{a}", "each market asset driven by one path asset", t)
            names.append(t)
            cols.append(j)
    unknown = [a for a in drive if a not in path.assets]
    if unknown:
        raise ConfigError(source, "simulation.drive", f"path assets among {list(path.assets)}", unknown)
    rel = path.prices / path.prices[0]
    prices = np.column_stack([rel[:, j] * p0[assets.index(t)] for j, t in zip(cols, names)])
    meta = {**path.meta, "driven": {t: path.assets[j] for j, t in zip(cols, names)}}
    return PricePath(path.times, tuple(names), prices, path.block_seconds, path.gas_gwei, meta)
