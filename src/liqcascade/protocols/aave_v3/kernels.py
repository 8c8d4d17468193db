"""Compiled Aave v3 book kernels (numba), twins of ``kernels_python``.

``LIQCASCADE_DISABLE_JIT=1`` makes these the plain-Python functions.
"""

from __future__ import annotations

from liqcascade._jit import jit_functions
from liqcascade.protocols.aave_v3 import kernels_python as _py

_K = jit_functions(_py.FUNCTIONS, parallel=_py.PARALLEL, inline=_py.INLINE)

health_pass = _K["health_pass"]
health_all = _K["health_all"]
health_table = _K["health_table"]
sweep = _K["sweep"]
scan = _K["scan"]
scan_since = _K["scan_since"]
first_call = _K["first_call"]
liquidate_list = _K["liquidate_list"]
bad_debt_pass = _K["bad_debt_pass"]
PAIR_LARGEST = _py.PAIR_LARGEST
PAIR_MAX_BONUS = _py.PAIR_MAX_BONUS
HF_INF = _py.HF_INF
SKIP_MARGIN = _py.SKIP_MARGIN
