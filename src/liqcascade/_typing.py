"""Array and unit aliases used across liqcascade.

Unit aliases say what a number means; they are plain ``float``/``int`` at run time.
"""

from __future__ import annotations

from typing import TypeAlias

import numpy as np
import numpy.typing as npt

FloatArray: TypeAlias = npt.NDArray[np.float64]
IntArray: TypeAlias = npt.NDArray[np.int64]
Int32Array: TypeAlias = npt.NDArray[np.int32]
BoolArray: TypeAlias = npt.NDArray[np.bool_]

Usd: TypeAlias = float
"""A value in the quote currency (USD by default)."""
TokenAmount: TypeAlias = float
"""An amount in whole token units (1.0 = one WETH), float64."""
Fraction: TypeAlias = float
"""A dimensionless share, 0.83 = 83 %."""
Wad: TypeAlias = int
"""Integer fixed point with 18 decimals (1e18 = 1.0)."""
Ray: TypeAlias = int
"""Integer fixed point with 27 decimals (1e27 = 1.0)."""
Bps: TypeAlias = int
"""Integer basis points (1e4 = 100 %)."""
Wei: TypeAlias = int
"""Integer amount in a token's smallest unit."""
