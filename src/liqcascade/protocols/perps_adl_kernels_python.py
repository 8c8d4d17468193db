"""Plain-Python kernel of the ADL ranking (the numba twin is built in :mod:`.perps_adl`).

Why packed keys: ranking a million positions with ``np.argsort(score)`` costs ~100 ms on the
2-core machine, sorting a million plain 64-bit integers with ``np.sort`` under half that
(NumPy's vectorised sort handles values, not index arrays, fastest). So each position becomes
one unsigned 64-bit word: the high 32 bits order as its score (descending, at float32
precision), the low 32 bits are its index; sorting the words and keeping the low halves is
the ranking, ties (scores equal to seven significant digits) in index order.
"""

from __future__ import annotations

import numpy as np


def pack_rank_keys(score: np.ndarray, out: np.ndarray) -> None:
    """``out[i]``: the word whose ascending order is ``score`` descending, then ``i`` ascending.

    A float32's bit pattern sorts as the number once negative values have every bit flipped
    and positive ones their sign bit set; the complement of that reverses the order. NaN ranks
    last, and -0.0 as 0.0."""
    sign = np.uint32(0x80000000)
    allbits = np.uint32(0xFFFFFFFF)
    bits = score.astype(np.float32).view(np.uint32)
    for i in range(score.shape[0]):
        b = bits[i]
        if score[i] != score[i]:
            k = allbits
        elif b == sign:
            k = ~sign  # -0.0 in float32 (a tiny negative rounds to it): +0.0's key
        elif b & sign:
            k = b  # a negative number: the complement of its flipped bits
        else:
            k = ~(b | sign)
        out[i] = (np.uint64(k) << np.uint64(32)) | np.uint64(i)


FUNCTIONS = {"pack_rank_keys": pack_rank_keys}
