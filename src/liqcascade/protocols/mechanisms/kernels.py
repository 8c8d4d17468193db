"""Compiled mechanism kernels (numba), twins of ``kernels_python``.

``LIQCASCADE_DISABLE_JIT=1`` makes these the plain-Python functions.
"""

from __future__ import annotations

from liqcascade._jit import jit_functions
from liqcascade.protocols.mechanisms import kernels_python as _py

_K = jit_functions(_py.FUNCTIONS, parallel=_py.PARALLEL)

sweep = _K["sweep"]
sweep_serial = _K["sweep_serial"]
scan = _K["scan"]
first_call = _K["first_call"]
liquidate_list = _K["liquidate_list"]
