"""Compiled engine kernels (numba); ``LIQCASCADE_DISABLE_JIT=1`` gives the plain twins."""

from liqcascade._jit import jit_functions
from liqcascade.engine import kernels_python as _py

_K = jit_functions(_py.FUNCTIONS, parallel=_py.PARALLEL)
greedy_pick = _K["greedy_pick"]
flow_hits = _K["flow_hits"]
gather_rows = _K["gather_rows"]
row_spans = _K["row_spans"]
row_numbers = _K["row_numbers"]
