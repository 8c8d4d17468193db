"""Compiled candidate passes (numba); ``LIQCASCADE_DISABLE_JIT=1`` gives the plain twin."""

from liqcascade._jit import jit_functions
from liqcascade.engine.dynamic import pricing_python as _py

_K = jit_functions(_py.FUNCTIONS)
price_into = _K["price_into"]
idle_counts = _K["idle_counts"]
mark_members = _K["mark_members"]
restart_clocks = _K["restart_clocks"]
merge_kept = _K["merge_kept"]
