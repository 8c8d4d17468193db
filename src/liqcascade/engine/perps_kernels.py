"""Compiled perp kernels (numba); ``LIQCASCADE_DISABLE_JIT=1`` gives the plain twins."""

from liqcascade._jit import jit_functions
from liqcascade.engine import perps_kernels_python as _py

_K = jit_functions(_py.FUNCTIONS)
account_slack = _K["account_slack"]
account_affine = _K["account_affine"]
affine_pass = _K["affine_pass"]
walk_orders = _K["walk_orders"]
profile_state = _K["profile_state"]
