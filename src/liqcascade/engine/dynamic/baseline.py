"""``impact_on_path = "excess"``: on a replayed path, only the simulated selling beyond what
the path already contains moves the price.

The baseline is, per asset and block, the tokens the real liquidations sold into the market
(e.g. the recorded liquidations' collateral). Every block it is added to what is not yet
matched; the simulated sales use that up first, without keeping a price move (the path
already holds it), and only the rest keeps its permanent and transient impact.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

from liqcascade._typing import FloatArray
from liqcascade.errors import ConfigError


@dataclass
class Baseline:
    per_block: dict[int, FloatArray]
    """Asset index -> tokens the path's own liquidations sold in each block."""
    left: FloatArray
    """Per asset: baseline not yet matched by simulated sales (tokens)."""
    block: int = 0


def baseline_state(assets: tuple[str, ...], n_blocks: int, series: Mapping[str, FloatArray] | None) -> Baseline:
    """Validate ``series`` (asset -> tokens per block, finite, >= 0) against the market."""
    out: dict[int, FloatArray] = {}
    for a, s in (series or {}).items():
        if a not in assets:
            raise ConfigError("<baseline>", f"impact_baseline.{a}", f"an asset of the market {list(assets)}", a)
        arr = np.asarray(s, dtype=np.float64)
        if arr.shape != (n_blocks,) or not np.all(np.isfinite(arr)) or np.any(arr < 0):
            raise ConfigError("<baseline>", f"impact_baseline.{a}", f"{n_blocks} finite amounts >= 0", arr.shape)
        out[assets.index(a)] = arr
    return Baseline(out, np.zeros(len(assets)))


def split_sales(bl: Baseline, amount: FloatArray) -> tuple[FloatArray, FloatArray]:
    """This block's sales as (covered by the baseline, in excess of it); advances the block."""
    for i, arr in bl.per_block.items():
        bl.left[i] += arr[bl.block]
    bl.block += 1
    covered = np.minimum(amount, bl.left)
    bl.left -= covered
    return covered, amount - covered


__all__ = ["Baseline", "baseline_state", "split_sales"]
