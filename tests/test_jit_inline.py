"""``jit_functions(..., inline=...)``: a helper named there is compiled with numba's
``inline="always"`` (into its compiled callers) and gives the plain function's numbers."""

from __future__ import annotations

import numpy as np
import pytest

from liqcascade import _jit


def scaled_sum(x, scale, out):
    """A helper with array arguments, like the per-account kernels' helpers."""
    t = 0.0
    for i in range(x.shape[0]):
        t += x[i] * scale
    out[0] += t
    return t


def caller(x, out):
    total = 0.0
    for k in range(3):
        total += scaled_sum(x, 1.5 + k, out)
    return total


FUNCTIONS = {"scaled_sum": scaled_sum, "caller": caller}


@pytest.mark.skipif(not _jit.jit_enabled(), reason="inlining is numba's")
def test_an_inlined_helper_gives_the_plain_numbers():
    compiled = _jit.jit_functions(FUNCTIONS, inline=frozenset({"scaled_sum"}))
    assert compiled["scaled_sum"].targetoptions["inline"] == "always"
    assert compiled["caller"].targetoptions["inline"] == "never"
    x = np.array([0.1, 0.2, 0.3])
    out_plain = np.zeros(1)
    out_jit = np.zeros(1)
    # by hand: (0.1 + 0.2 + 0.3) * (1.5 + 2.5 + 3.5) = 4.5, up to rounding; the twins agree exactly
    assert caller(x, out_plain) == compiled["caller"](x, out_jit) == pytest.approx(4.5)
    assert out_plain[0] == out_jit[0] == pytest.approx(4.5)


def test_the_aave_liquidation_is_inlined_into_its_sweeps():
    from liqcascade.protocols.aave_v3 import kernels_python

    # a call per liquidated account cost as much as the liquidation (docs/benchmarks.md)
    assert kernels_python.INLINE == {"liquidate_one", "liquidate_from"}
    assert set(kernels_python.INLINE) <= set(kernels_python.FUNCTIONS)
