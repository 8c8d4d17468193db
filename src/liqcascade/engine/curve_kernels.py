"""Compiled cascade-curve kernels (numba); ``LIQCASCADE_DISABLE_JIT=1`` gives the plain twins."""

from liqcascade._jit import jit_functions
from liqcascade.engine import curve_kernels_python as _py

_K = jit_functions(_py.FUNCTIONS)
first_round_bounds = _K["first_round_bounds"]
split_values = _K["split_values"]
asset_masks = _K["asset_masks"]
held_bounds = _K["held_bounds"]
byte_extremes = _K["byte_extremes"]
MASK_ASSETS = _py.MASK_ASSETS
MASK_BYTES = _py.MASK_BYTES
