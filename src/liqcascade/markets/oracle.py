"""Oracles: the price a protocol reads, block by block, given the market price path.

An oracle is a frozen config object with two faces that compute the same thing:

* **batch** — ``oracle.apply(times, market) -> OracleTrace`` over a whole path.
  ``times`` is int64 seconds per block (strictly increasing), ``market`` float64 per block,
  shape ``(n_blocks,)`` or ``(n_blocks, n_assets)`` (every column is an independent feed
  on the same block clock). This is the fast form (numba or vectorized numpy).
* **streaming** — for a block loop that makes the market price as it goes::

      state = oracle.init(p0, t0)          # block 0 processed
      price0 = oracle.read(state)          # what the protocol reads at block 0
      for t, m in blocks[1:]:
          state, price = oracle.step(state, t, m)

  ``init``/``step`` are pure: the state is an immutable ``NamedTuple`` of numpy arrays
  (never mutated; each step returns a new one). ``p0``/``m`` may be a float or an array of
  one price per asset; ``price`` comes back in the same form. ``state.updated`` says
  whether a new answer landed at the last block, ``state.n_updates`` counts them.

Both faces agree (bit for bit; the geometric TWAP to rounding), which
``tests/test_oracle.py`` checks. ``chainlink_push_kernel`` is the compiled batch kernel
(plain twin in ``oracle_python``) for callers that hold their own arrays. Conventions
shared by all:

* Block 0 is where the feed starts: its first answer is ``market[0]`` and it counts as an
  update (``updated[0]`` is True) unless a delay holds it back.
* ``updated[i]`` means a *new answer landed* at block ``i`` — the protocol's price may
  have changed. ``n_updates`` is the number of such blocks.

The models:

* :class:`Instant` — the market price itself (the static cascade's limit).
* :class:`ChainlinkPush` — deviation threshold + heartbeat, with an optional delay in
  blocks (an OCR round's latency).
* :class:`Twap` — time-weighted average over a trailing window, geometric (Uniswap v3's
  oracle) or arithmetic (Uniswap v2 style).
* :class:`MakerOSM` — Maker's Oracle Security Module: the price read is the value poked
  one hop earlier.

This module knows nothing of protocols (``markets`` layer).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal, NamedTuple, Protocol, runtime_checkable

import numpy as np

from liqcascade._jit import jit_functions
from liqcascade._typing import BoolArray, FloatArray, IntArray
from liqcascade.errors import ConfigError, DataError
from liqcascade.markets import oracle_python as _py

__all__ = [
    "OracleTrace",
    "Oracle",
    "Instant",
    "ChainlinkPush",
    "Twap",
    "MakerOSM",
    "InstantState",
    "ChainlinkState",
    "TwapState",
    "OSMState",
    "run_streaming",
    "chainlink_push_kernel",
]

_K = jit_functions(_py.FUNCTIONS, parallel=_py.PARALLEL)
chainlink_push_kernel = _K["chainlink_push"]
chainlink_quiet_kernel = _K["chainlink_quiet"]
chainlink_step_kernel = _K["chainlink_step"]


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class OracleTrace:
    """What an oracle produced over a path.

    ``price``: the price the protocol reads at each block (same shape as the market).
    ``updated``: True at the blocks where a new answer landed.
    """

    price: FloatArray
    updated: BoolArray
    n_updates: int | IntArray = field(init=False)
    """Number of blocks where a new answer landed (an int, or one per asset column)."""

    def __post_init__(self) -> None:
        n = self.updated.sum(axis=0)
        object.__setattr__(self, "n_updates", int(n) if self.updated.ndim == 1 else n.astype(np.int64))

    def update_times(self, times: IntArray, column: int = 0) -> IntArray:
        """Block times (s) at which a new answer landed (for one asset column)."""
        u = self.updated if self.updated.ndim == 1 else self.updated[:, column]
        return np.asarray(times)[u]


@runtime_checkable
class Oracle(Protocol):
    """What every oracle implements (see the module docstring for the conventions)."""

    def apply(self, times: IntArray, market: FloatArray) -> OracleTrace:
        """The price read and the update flags at every block of a path."""
        ...

    def init(self, p0, t0: int):
        """The state after block 0 (time ``t0``, market price ``p0``)."""
        ...

    def step(self, state, t: int, market_price):
        """``(new_state, price_read)`` after a block at time ``t`` with market price ``market_price``."""
        ...

    def read(self, state):
        """The price the protocol reads in ``state``."""
        ...


# --------------------------------------------------------------------------- input checks


def _check_path(times, market) -> tuple[IntArray, FloatArray, bool]:
    """Validate a path; returns (times int64, market as 2-D float64, was 1-D)."""
    t = np.asarray(times)
    if t.ndim != 1 or t.size == 0:
        raise DataError("<oracle times>", None, f"expected a non-empty 1-D array, got shape {t.shape}")
    if not np.issubdtype(t.dtype, np.integer):
        raise DataError("<oracle times>", None, f"expected int64 seconds, got dtype {t.dtype}")
    t = t.astype(np.int64, copy=False)
    bad = np.flatnonzero(np.diff(t) <= 0)
    if bad.size:
        r = int(bad[0]) + 1
        raise DataError("<oracle times>", r + 1, f"time {t[r]} not after the previous block's {t[r - 1]}")
    m = np.asarray(market, dtype=np.float64)
    one_d = m.ndim == 1
    if one_d:
        m = m[:, None]
    if m.ndim != 2 or m.shape[0] != t.size:
        raise DataError(
            "<oracle market>",
            None,
            f"expected shape ({t.size},) or ({t.size}, n_assets), got {np.shape(market)}",
        )
    ok = np.isfinite(m) & (m > 0.0)
    if not ok.all():
        r = int(np.flatnonzero(~ok.all(axis=1))[0])
        raise DataError("<oracle market>", r + 1, f"prices must be finite and > 0, got {m[r].tolist()}")
    return t, np.ascontiguousarray(m), one_d


def _check_price(p, what: str) -> np.ndarray:
    a = np.array(p, dtype=np.float64)  # a copy: the caller may reuse its array
    if a.ndim > 1 or not (np.isfinite(a) & (a > 0.0)).all():
        why = f"expected a finite price > 0 (or a 1-D array of them), got {p!r}"
        raise DataError(f"<oracle {what}>", None, why)
    return a


def _out(a: np.ndarray):
    """A 0-d array back to a float; arrays stay arrays."""
    return float(a) if a.ndim == 0 else a


def _trace(price: np.ndarray, updated: np.ndarray, one_d: bool) -> OracleTrace:
    if one_d:
        return OracleTrace(price[:, 0].copy(), updated[:, 0].copy())
    return OracleTrace(price, updated)


def _positive(name: str, value: float, allow_inf: bool, allow_zero: bool = False) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        v = math.nan
    low_ok = v >= 0.0 if allow_zero else v > 0.0
    if math.isnan(v) or not low_ok or (math.isinf(v) and not allow_inf):
        what = "a number " + (">= 0" if allow_zero else "> 0") + (" (inf allowed)" if allow_inf else "")
        raise ConfigError("<python>", name, what, value)
    return v


# --------------------------------------------------------------------------- Instant


class InstantState(NamedTuple):
    block: int
    price: np.ndarray
    updated: np.ndarray
    n_updates: np.ndarray


@dataclass(frozen=True)
class Instant:
    """The protocol reads the market price of the same block (no lag, no smoothing)."""

    def apply(self, times: IntArray, market: FloatArray) -> OracleTrace:
        t, m, one_d = _check_path(times, market)
        return _trace(m.copy(), np.ones(m.shape, dtype=bool), one_d)

    def init(self, p0, t0: int) -> InstantState:
        p = _check_price(p0, "p0")
        return InstantState(0, p, np.ones(p.shape, dtype=bool), np.ones(p.shape, dtype=np.int64))

    def step(self, state: InstantState, t: int, market_price) -> tuple[InstantState, object]:
        p = _check_price(market_price, "market_price")
        return InstantState(state.block + 1, p, state.updated, state.n_updates + 1), _out(p)

    def read(self, state: InstantState):
        return _out(state.price)


# --------------------------------------------------------------------------- Chainlink


class ChainlinkState(NamedTuple):
    block: int
    """Index of the last block processed (0 after ``init``)."""
    answer: np.ndarray
    """Answer of the last round opened (pending or landed)."""
    answer_t: np.ndarray
    """Time (s) that round opened."""
    visible: np.ndarray
    """The price the protocol reads."""
    pending_answer: np.ndarray
    """``(delay_blocks, n)`` ring: answers opened in the last ``delay_blocks`` blocks."""
    pending_flag: np.ndarray
    """``(delay_blocks, n)`` ring: whether a round opened at that slot's block."""
    updated: np.ndarray
    n_updates: np.ndarray


@dataclass(frozen=True)
class ChainlinkPush:
    """A Chainlink-style push feed (deviation threshold + heartbeat, optional delay).

    The exact rule, checked at every block ``i`` (times ``t_i``, market ``m_i``):

    * Rounds start at the first block: block 0 opens a round with answer ``m_0``.
    * Block ``i > 0`` opens a new round, with answer ``m_i``, when
      ``|m_i / a − 1| ≥ deviation`` or ``t_i − t_a ≥ heartbeat_s``, where ``a`` and ``t_a``
      are the answer and time of the last round *opened* — not the price the protocol
      currently sees (a round in flight is already the reference, as the off-chain nodes
      compare with the answer they have just reported).
    * A round opened at block ``i`` lands at block ``i + delay_blocks``: from then on the
      protocol reads its answer. Before the first round lands it reads ``m_0``.

    ``updated`` marks the blocks where a round landed. ``deviation=0`` opens a round at
    every block. ``deviation=inf`` and
    ``heartbeat_s=inf`` give a feed that never updates after block 0. Real feeds: ETH/USD
    on mainnet is 0.5 % / 3600 s (see ``markets.chainlink_check`` for how well this rule
    reproduces its 2023 rounds).
    """

    deviation: float = 0.005
    heartbeat_s: float = 3600.0
    delay_blocks: int = 0

    def __post_init__(self) -> None:
        _positive("ChainlinkPush.deviation", self.deviation, allow_inf=True, allow_zero=True)
        _positive("ChainlinkPush.heartbeat_s", self.heartbeat_s, allow_inf=True)
        if not isinstance(self.delay_blocks, (int, np.integer)) or self.delay_blocks < 0:
            raise ConfigError("<python>", "ChainlinkPush.delay_blocks", "an integer >= 0", self.delay_blocks)

    def apply(self, times: IntArray, market: FloatArray) -> OracleTrace:
        t, m, one_d = _check_path(times, market)
        rounds = np.empty(m.shape, dtype=np.bool_)
        price = np.empty_like(m)
        updated = np.empty(m.shape, dtype=np.bool_)
        chainlink_push_kernel(
            t,
            m,
            float(self.deviation),
            float(self.heartbeat_s),
            int(self.delay_blocks),
            rounds,
            price,
            updated,
        )
        return _trace(price, updated, one_d)

    def init(self, p0, t0: int) -> ChainlinkState:
        p = _check_price(p0, "p0")
        d = int(self.delay_blocks)
        shape = p.shape
        pend_a = np.empty((d, *shape))
        pend_f = np.zeros((d, *shape), dtype=bool)
        if d == 0:
            updated = np.ones(shape, dtype=bool)
        else:
            pend_a[0] = p
            pend_f[0] = True
            updated = np.zeros(shape, dtype=bool)
        return ChainlinkState(
            0,
            p,
            np.full(shape, int(t0), dtype=np.int64),
            p,
            pend_a,
            pend_f,
            updated,
            updated.astype(np.int64),
        )

    def step(self, state: ChainlinkState, t: int, market_price) -> tuple[ChainlinkState, object]:
        m = _check_price(market_price, "market_price")
        b = state.block + 1
        if self.delay_blocks == 0 and m.ndim == 1 and state.answer.ndim == 1:  # one compiled pass, the same values
            k = m.shape[0]
            answer, visible, answer_t, n_up = np.empty(k), np.empty(k), np.empty(k, np.int64), np.empty(k, np.int64)
            fire = np.empty(k, dtype=bool)
            chainlink_step_kernel(m, int(t), state.answer, state.answer_t, state.visible, state.n_updates,
                                  float(self.deviation), float(self.heartbeat_s), answer, answer_t, visible, fire, n_up)
            new = ChainlinkState(b, answer, answer_t, visible, state.pending_answer, state.pending_flag, fire, n_up)
            return new, visible
        dev = np.abs(m / state.answer - 1.0) >= self.deviation
        fire = dev | ((int(t) - state.answer_t) >= self.heartbeat_s)
        answer = np.where(fire, m, state.answer)
        answer_t = np.where(fire, np.int64(t), state.answer_t)
        d = int(self.delay_blocks)
        if d == 0:
            landed = fire
            visible = np.where(fire, m, state.visible)
            pend_a, pend_f = state.pending_answer, state.pending_flag
        else:
            slot = b % d
            landed = state.pending_flag[slot]
            visible = np.where(landed, state.pending_answer[slot], state.visible)
            pend_a = state.pending_answer.copy()
            pend_f = state.pending_flag.copy()
            pend_a[slot] = m
            pend_f[slot] = fire
        new = ChainlinkState(b, answer, answer_t, visible, pend_a, pend_f, landed, state.n_updates + landed)
        return new, _out(visible)

    def quiet_blocks(self, state: ChainlinkState, times: IntArray, market: FloatArray) -> tuple[int, ChainlinkState]:
        """How many of the next blocks (``times``, ``market``: one row per block) open no
        round, and the state after them: what :meth:`step` gives block by block over those
        blocks (same answer, nothing landed). 0 when the feed has a delay (rounds in flight
        land on their own) or a price is not one :meth:`step` accepts (it raises there)."""
        m = np.asarray(market, dtype=np.float64)
        if self.delay_blocks != 0 or state.answer.ndim != 1 or m.ndim != 2 or m.shape[0] == 0:
            return 0, state
        # the same comparisons as step's, row by row, stopping at the first row that opens a round
        n = int(chainlink_quiet_kernel(np.asarray(times, dtype=np.int64), np.ascontiguousarray(m), state.answer,
                                       state.answer_t, float(self.deviation), float(self.heartbeat_s)))
        if n == 0:
            return 0, state
        quiet = np.zeros(state.answer.shape, dtype=bool)
        return n, state._replace(block=state.block + n, updated=quiet, n_updates=state.n_updates + quiet)

    def read(self, state: ChainlinkState):
        return _out(state.visible)


# --------------------------------------------------------------------------- TWAP


class TwapState(NamedTuple):
    block: int
    x0: np.ndarray
    """The first block's value (log price when geometric); accumulators hold ``x − x0``."""
    obs_t: np.ndarray
    """Start time (s) of each price segment still needed (1-D int64)."""
    obs_c: np.ndarray
    """Cumulative ∫ x(s) ds up to ``obs_t`` (x = log price when geometric), ``(n_obs, *shape)``."""
    obs_x: np.ndarray
    """Value held from ``obs_t`` on, same shape as ``obs_c``."""
    price: np.ndarray
    updated: np.ndarray
    n_updates: np.ndarray


@dataclass(frozen=True)
class Twap:
    """Time-weighted average of the market price over the trailing ``window_s`` seconds.

    The market price is a step function of time: ``m_j`` holds from block ``j``'s time to
    the next block's (what a pool's cumulative accumulator records). The value read at
    block ``i`` is the average over ``[t_i − window_s, t_i)``, so the current block's
    own price does not enter (as with Uniswap's ``observe``/``consult``, which accrue the
    price in force *before* the block). Before the path began the price is taken as
    ``m_0`` (the accumulator's history is flat), so block 0 reads ``m_0``.

    ``kind="geometric"`` (the default) averages log prices and reads ``exp`` of the mean:
    Uniswap v3's oracle accumulates ticks (log base 1.0001 of the price), so its TWAP is a
    geometric mean (whitepaper §5.2). Tick rounding (< 1 bp) is not modelled.
    ``kind="arithmetic"`` averages prices (Uniswap v2's ``price0CumulativeLast``).
    Every block counts as an update (the read moves continuously).

    Precision: the average is a difference of running integrals (of ``x − x_0``), so its
    relative rounding error grows like ``1e-16 · path length / window`` — about 1e-12 for
    a 9-month path of 12 s blocks and a 30-minute window.
    """

    window_s: float = 1800.0
    kind: Literal["geometric", "arithmetic"] = "geometric"

    def __post_init__(self) -> None:
        _positive("Twap.window_s", self.window_s, allow_inf=False)
        if self.kind not in ("geometric", "arithmetic"):
            raise ConfigError("<python>", "Twap.kind", "'geometric' or 'arithmetic'", self.kind)

    @property
    def _geo(self) -> bool:
        return self.kind == "geometric"

    def _fwd(self, p: np.ndarray) -> np.ndarray:
        return np.log(p) if self._geo else p

    def _back(self, x: np.ndarray) -> np.ndarray:
        return np.exp(x) if self._geo else x

    def apply(self, times: IntArray, market: FloatArray) -> OracleTrace:
        t, m, one_d = _check_path(times, market)
        x0 = self._fwd(m[0])
        x = self._fwd(m) - x0
        dt = np.diff(t).astype(np.float64)
        cum = np.empty_like(x)
        cum[0] = 0.0
        np.cumsum(x[:-1] * dt[:, None], axis=0, out=cum[1:])
        s = t - self.window_s  # float start of each window
        j = np.maximum(np.searchsorted(t, s, side="right") - 1, 0)
        cum_s = cum[j] + x[j] * (s - t[j])[:, None]
        avg = (cum - cum_s) / self.window_s
        return _trace(self._back(avg + x0), np.ones(m.shape, dtype=bool), one_d)

    def init(self, p0, t0: int) -> TwapState:
        p = _check_price(p0, "p0")
        x0 = self._fwd(p)
        return TwapState(
            0,
            x0,
            np.array([int(t0)], dtype=np.int64),
            np.zeros((1, *p.shape)),
            np.zeros((1, *p.shape)),
            p,
            np.ones(p.shape, dtype=bool),
            np.ones(p.shape, dtype=np.int64),
        )

    def step(self, state: TwapState, t: int, market_price) -> tuple[TwapState, object]:
        m = _check_price(market_price, "market_price")
        t = int(t)
        c_now = state.obs_c[-1] + state.obs_x[-1] * float(t - state.obs_t[-1])
        obs_t = np.append(state.obs_t, np.int64(t))
        obs_c = np.concatenate([state.obs_c, c_now[None, ...]])
        obs_x = np.concatenate([state.obs_x, (self._fwd(m) - state.x0)[None, ...]])
        s = t - self.window_s
        j = max(int(np.searchsorted(obs_t, s, side="right")) - 1, 0)
        c_s = obs_c[j] + obs_x[j] * (s - obs_t[j])
        price = self._back((c_now - c_s) / self.window_s + state.x0)
        # segments that end at or before the window start are never needed again
        keep = slice(j, None)
        new = TwapState(
            state.block + 1,
            state.x0,
            obs_t[keep],
            obs_c[keep],
            obs_x[keep],
            price,
            state.updated,
            state.n_updates + 1,
        )
        return new, _out(price)

    def read(self, state: TwapState):
        return _out(state.price)


# --------------------------------------------------------------------------- Maker OSM


class OSMState(NamedTuple):
    block: int
    zzz: int
    """Start (s) of the hop in which the last poke happened (``prev(now)`` in osm.sol)."""
    cur: np.ndarray
    """The value the protocol reads (``peek``/``read``)."""
    nxt: np.ndarray
    """The value that becomes ``cur`` at the next poke."""
    updated: np.ndarray
    n_updates: np.ndarray


@dataclass(frozen=True)
class MakerOSM:
    """Maker's Oracle Security Module (makerdao/osm, ``src/osm.sol``).

    The contract keeps two values, ``cur`` (what ``peek``/``read`` return) and ``nxt``.
    ``poke()`` may run once ``now ≥ zzz + hop``; it sets ``cur = nxt``, ``nxt`` = the
    source's price now, and ``zzz = now − now % hop`` (the start of the current hop). At
    construction ``cur = nxt`` = the source price and ``zzz`` = the start of that hop.

    Here ``hop = delay_s``, the source is the market price, and a keeper pokes at the
    first block of every new hop (the first block with ``t ≥ zzz + hop``). So the price read
    during hop ``k`` is the market price at the first block of hop ``k − 1``: at time ``t``
    it is between one and two hops old (1.5 hops averaged over time), and any market move
    reaches the protocol one to two hops later. ``updated`` marks the pokes (block 0
    included). Not
    modelled: the source is itself a medianizer with its own update rule, and keepers may
    poke late.
    """

    delay_s: int = 3600

    def __post_init__(self) -> None:
        if not isinstance(self.delay_s, (int, np.integer)) or self.delay_s <= 0:
            raise ConfigError("<python>", "MakerOSM.delay_s", "integer seconds > 0", self.delay_s)

    def apply(self, times: IntArray, market: FloatArray) -> OracleTrace:
        t, m, one_d = _check_path(times, market)
        hop = int(self.delay_s)
        bucket = t // hop
        poke = np.empty(t.size, dtype=bool)
        poke[0] = True
        poke[1:] = bucket[1:] != bucket[:-1]
        idx = np.flatnonzero(poke)  # block of each poke; idx[0] = 0 is the construction
        # value poked at each poke; the construction sets cur = nxt = m_0
        nxt_vals = m[idx]
        cur_vals = np.concatenate([m[:1], nxt_vals[:-1]])  # cur after poke q = nxt of poke q-1
        q = np.cumsum(poke) - 1  # index of the last poke at or before each block
        price = cur_vals[q]
        updated = np.repeat(poke[:, None], m.shape[1], axis=1)
        return _trace(price, updated, one_d)

    def init(self, p0, t0: int) -> OSMState:
        p = _check_price(p0, "p0")
        t0 = int(t0)
        hop = int(self.delay_s)
        ones = np.ones(p.shape, dtype=bool)
        return OSMState(0, t0 - t0 % hop, p, p, ones, ones.astype(np.int64))

    def step(self, state: OSMState, t: int, market_price) -> tuple[OSMState, object]:
        m = _check_price(market_price, "market_price")
        t = int(t)
        hop = int(self.delay_s)
        if t >= state.zzz + hop:
            upd = np.ones(m.shape, dtype=bool)
            new = OSMState(state.block + 1, t - t % hop, state.nxt, m, upd, state.n_updates + 1)
        else:
            upd = np.zeros(m.shape, dtype=bool)
            new = OSMState(state.block + 1, state.zzz, state.cur, state.nxt, upd, state.n_updates)
        return new, _out(new.cur)

    def read(self, state: OSMState):
        return _out(state.cur)


# --------------------------------------------------------------------------- helpers


def run_streaming(oracle, times: IntArray, market: FloatArray) -> OracleTrace:
    """Drive ``oracle.init``/``step`` over a path (slow; the reference for ``apply``).

    Used by the tests to tie the two faces together, and a template for a block loop.
    """
    t, m, one_d = _check_path(times, market)
    col = (lambda i: m[i, 0]) if one_d else (lambda i: m[i])
    state = oracle.init(col(0), int(t[0]))
    price = np.empty_like(m)
    updated = np.empty(m.shape, dtype=bool)
    price[0] = oracle.read(state)
    updated[0] = state.updated
    for i in range(1, t.size):
        state, p = oracle.step(state, int(t[i]), col(i))
        price[i] = p
        updated[i] = state.updated
    return _trace(price, updated, one_d)
