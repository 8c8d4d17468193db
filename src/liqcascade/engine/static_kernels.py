"""Compiled static-solver kernels (numba); ``LIQCASCADE_DISABLE_JIT=1`` gives the plain twins."""

from liqcascade._jit import jit_functions
from liqcascade.engine import static_kernels_python as _py

_K = jit_functions(_py.FUNCTIONS)
reset_touched = _K["reset_touched"]
