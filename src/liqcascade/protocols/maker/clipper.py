"""Maker's Clipper auctions block by block (the dynamic engine's aftermarket for Maker).

``bark`` hands a vault's collateral (the lot) and its debt times ``chop`` (the tab) to an
auction that starts at ``top = oracle * buf`` and falls along the collateral's price curve
(``abaci.sol``: linear, stairstep exponential, exponential). Keepers ``take`` when the
auction price is below what they get for the collateral on the market, net of their
margin: they buy (up to the lot and what the remaining tab needs) as much as the market
absorbs, after everything already taken this block, before its marginal price falls to
``price / (1 - margin)`` — the size that maximises their profit. When the tab is covered the rest
of the lot returns to the vault; when the lot is gone first the uncovered debt is bad
debt. An auction older than ``tail`` or whose price fell below ``cusp * top`` is reset
(``redo``) at the current oracle price. Source: makerdao/dss ``clip.sol`` (see
``exact.py``).

The Dog's limits: ``Dirt`` (all ilks) and each ilk's ``dirt`` are the tabs of the running
auctions (``bark`` adds the tab, each take ``digs`` what it paid, a finished auction the
tab left), and a bark puts up at most ``min(Hole - Dirt, hole - dirt)``: beyond that it is
partial (the vault keeps the rest of its debt and collateral, in proportion) or, with no
room, waits until takes free some. One ilk per collateral asset, each with ``hole_usd``.
The ilk's ``dust`` (``dust_usd``, least vault debt) on a partial bark, as ``dog.sol``: a
vault that would be left with less than dust of debt is barked whole (its tab may exceed
the room), and a partial auction whose own debt would be below dust is not started (the
vault waits for more room); float rule ``fast.dog_bark``, integer rule ``exact.bark``.
``chost`` (``chost_usd``): a take that leaves part of the tab must leave at least chost
(it is cut back), unless it takes the whole lot. The dynamic engine counts a vault that
waits for room (none, or too little for a non-dusty auction) as eligible and waiting.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from liqcascade.errors import ConfigError
from liqcascade.protocols.base import AftermarketStep, Lots
from liqcascade.protocols.mechanisms import kernels_python as K
from liqcascade.protocols.mechanisms.selling import profitable_take
from liqcascade.protocols.maker.fast import CURVE_EXPONENTIAL, CURVE_LINEAR, CURVE_STAIRSTEP, auction_price

CURVES = {"linear": CURVE_LINEAR, "stairstep": CURVE_STAIRSTEP, "exponential": CURVE_EXPONENTIAL}


@dataclass(frozen=True)
class ClipperSettings:
    """One ilk's Clipper. Defaults: ETH-B from Liquidations 2.0 (block 12,381,609: buf 1.3,
    tail 8,400 s, cusp 0.4, chip 0.1 %; stairstep 1 % per 90 s and a 300 DAI tip as on the
    ETH ilks)."""

    buf: float = 1.3
    tail: float = 8400.0
    cusp: float = 0.4
    curve: str = "stairstep"
    cut: float = 0.99
    """Stairstep: factor per ``step``; exponential: factor per second."""
    step: float = 90.0
    tau: float = 7200.0
    """Linear: seconds to zero."""
    chip: float = 0.001
    tip: float = 300.0
    keeper_margin: float = 0.03
    hole_usd: float = np.inf
    """Each ilk's ``hole``: most tab (DAI) in its auctions at once; inf = no limit. ETH-A
    today: 65M (reference §4); ETH-B's on 2021-05-19 is not in our data."""
    Hole_usd: float = np.inf
    """The Dog's ``Hole``: most tab in all auctions at once; inf = no limit (mainnet: 100M)."""
    chost_usd: float = 0.0
    """``chost = dust * chop``: least tab a partial take may leave (0 = none; ETH-A today:
    15,000 * 1.13 = 16,950)."""
    dust_usd: float | Mapping[str, float] | tuple[tuple[str, float], ...] = 0.0
    """Each ilk's ``dust``, least vault debt (DAI), for the Dog's partial-bark rules: one
    value for every collateral asset, or per asset symbol (unlisted: 0; kept as sorted
    ``(symbol, value)`` pairs); 0 = no rule (ETH-A today: 15,000)."""

    def __post_init__(self) -> None:
        checks = [
            ("buf", self.buf > 0, "a number > 0"),
            ("tail", self.tail > 0, "seconds > 0"),
            ("cusp", 0 <= self.cusp < 1, "a fraction in [0, 1)"),
            ("curve", self.curve in CURVES, f"one of {list(CURVES)}"),
            ("cut", 0 < self.cut <= 1, "a factor in (0, 1]"),
            ("step", self.step > 0, "seconds > 0"),
            ("tau", self.tau > 0, "seconds > 0"),
            ("chip", 0 <= self.chip < 1, "a fraction in [0, 1)"),
            ("tip", self.tip >= 0, "DAI >= 0"),
            ("keeper_margin", 0 <= self.keeper_margin < 1, "a fraction in [0, 1)"),
            ("hole_usd", self.hole_usd > 0, "DAI > 0 (inf = no limit)"),
            ("Hole_usd", self.Hole_usd > 0, "DAI > 0 (inf = no limit)"),
            ("chost_usd", 0 <= self.chost_usd < np.inf, "DAI >= 0, finite"),
        ]
        for key, ok, expected in checks:
            if not ok:
                raise ConfigError("<maker>", f"market.maker.{key}", expected, getattr(self, key))
        dust = self.dust_usd
        per_asset = isinstance(dust, (Mapping, tuple))
        # a mapping is kept as sorted (symbol, value) pairs: hashable and immutable like the rest
        pairs = list(dust.items() if isinstance(dust, Mapping) else dust) if per_asset else [("", dust)]
        for pair in pairs:
            name, v = pair if isinstance(pair, tuple) and len(pair) == 2 else ("", pair)
            key = "market.maker.auctions.dust_usd" + (f".{name}" if per_asset else "")
            number = isinstance(v, (int, float)) and not isinstance(v, bool)
            if not isinstance(name, str) or not number or not (0 <= v < np.inf):
                raise ConfigError("<maker>", key, "DAI >= 0, finite (one value, or one per collateral symbol)", v)
        if per_asset:
            object.__setattr__(self, "dust_usd", tuple(sorted((a, float(v)) for a, v in pairs)))

    def dust_by_asset(self, assets) -> np.ndarray:
        """``dust_usd`` per asset of ``assets`` (symbols, the book's order)."""
        dust = self.dust_usd
        if not isinstance(dust, tuple):
            return np.full(len(assets), float(dust))
        unknown = [a for a, _ in dust if a not in assets]
        if unknown:
            raise ConfigError("<maker>", f"market.maker.auctions.dust_usd.{unknown[0]}",
                              f"a collateral asset of the market {list(assets)}", unknown[0])
        per = dict(dust)
        return np.array([per.get(a, 0.0) for a in assets])


class ClipperAuctions:
    """The running auctions of one market (columnar, in kick order)."""

    _FIELDS = ("account", "row", "asset", "lot", "tab", "debt", "raised", "top", "start")

    def __init__(self, settings: ClipperSettings, chop_by_asset, n_assets: int) -> None:
        self.s = settings
        self.chop = np.asarray(chop_by_asset, dtype=np.float64)
        self.k = n_assets
        self.a = {f: np.empty(0, dtype=np.int64 if f in ("account", "row", "asset") else np.float64)
                  for f in self._FIELDS}
        self.kicked = 0
        self.resets = 0
        self.finished = 0
        self.raised_usd = 0.0
        self.bad_debt_usd = 0.0
        self.penalty_usd = 0.0
        self.incentives_usd = 0.0
        self.dirt_peak_usd = 0.0
        self.ilk_dirt_peak_usd = 0.0
        self._limit = np.concatenate([[settings.Hole_usd], np.full(n_assets, settings.hole_usd)])

    def see_gas(self, gas_gwei: float, gas_asset_usd: float) -> None:
        """The block's gas price does not change a take: keepers buy within the block, their
        gas in their margin (the Flipper's keepers, whose bids wait for inclusion, use it)."""

    def dirt(self):
        """Each ilk's ``dirt`` (USD): the tab of its running auctions; ``Dirt`` is the sum."""
        return np.bincount(self.a["asset"], weights=self.a["tab"], minlength=self.k)

    def sync_limits(self, state) -> bool:
        """Write the Dog's room (``Hole - Dirt``, each ``hole - dirt``) into the book's
        ``state`` for the bark kernel; True when some room grew since the kernel last
        lowered it (a bark that waited for room may go now)."""
        if state is None or state.shape[0] < K.N_STATE + 2 * self.k:
            return False
        dirt = self.dirt()
        lim = self._limit
        used = np.concatenate([[dirt.sum()], dirt])
        inf = np.isinf(lim)
        room = np.where(inf, np.inf, lim - used)
        room = np.where(inf | (room > 1e-9 * np.where(inf, 0.0, lim)), room, 0.0)
        idx = np.concatenate([[K.ST_DOG_ROOM], K.N_STATE + 2 * np.arange(self.k)])
        grew = bool(np.any(~inf & (room > state[idx] + 1e-9 * np.where(inf, 0.0, lim))))
        state[idx] = room
        return grew

    def receive(self, t: int, lots: Lots, oracle) -> None:
        if lots.amount.size == 0:
            return
        # one auction per vault (Maker vaults hold one collateral)
        tab = lots.debt_usd * self.chop[lots.asset]
        new = {
            "account": lots.account, "row": lots.row, "asset": lots.asset, "lot": lots.amount.astype(np.float64),
            "tab": tab, "debt": lots.debt_usd.astype(np.float64), "raised": np.zeros(lots.amount.size),
            "top": oracle[lots.asset] * self.s.buf, "start": np.full(lots.amount.size, float(t)),
        }
        for f in self._FIELDS:
            self.a[f] = np.concatenate([self.a[f], new[f]])
        self.kicked += int(lots.amount.size)
        self.incentives_usd += float((self.s.tip + self.s.chip * tab).sum())
        dirt = self.dirt()
        self.dirt_peak_usd = max(self.dirt_peak_usd, float(dirt.sum()))
        self.ilk_dirt_peak_usd = max(self.ilk_dirt_peak_usd, float(dirt.max()))

    def step(self, t: int, oracle, depth) -> AftermarketStep:
        a, s = self.a, self.s
        curve = CURVES[s.curve]
        sold = np.zeros(self.k)
        proceeds = np.zeros(self.k)
        closed = np.zeros(a["lot"].size, dtype=np.bool_)
        ret_rows: list[int] = []
        ret_amt: list[float] = []
        bad = 0.0
        for j in range(a["lot"].size):
            i = int(a["asset"][j])
            elapsed = t - a["start"][j]
            price = auction_price(curve, a["top"][j], elapsed, s.tau, s.cut, s.step)
            if elapsed > s.tail or price < s.cusp * a["top"][j]:
                a["top"][j] = oracle[i] * s.buf
                a["start"][j] = float(t)
                price = a["top"][j]
                self.resets += 1
                self.incentives_usd += s.tip + s.chip * a["tab"][j]
            if price <= 0.0:
                continue
            q = profitable_take(min(a["lot"][j], a["tab"][j] / price), price, s.keeper_margin,
                                depth(i, price / (1.0 - s.keeper_margin)), sold[i])
            if q <= 0.0:
                continue
            pay = q * price
            if (s.chost_usd > 0.0 and q < a["lot"][j] * (1.0 - 1e-12) and a["tab"][j] - pay > 1e-9 * max(1.0, pay)
                    and a["tab"][j] - pay < s.chost_usd):
                # chost: a partial take may not leave less than chost of tab; it is cut back
                # to leave chost, and none can be made once the tab is chost or less
                if a["tab"][j] <= s.chost_usd:
                    continue
                q = (a["tab"][j] - s.chost_usd) / price
                pay = q * price
            a["lot"][j] -= q
            a["tab"][j] -= pay
            a["raised"][j] += pay
            sold[i] += q
            proceeds[i] += pay
            covered = a["tab"][j] <= 1e-9 * max(1.0, pay)
            if covered or a["lot"][j] <= 1e-12:
                closed[j] = True
                if covered and a["lot"][j] > 0.0:
                    ret_rows.append(int(a["row"][j]))
                    ret_amt.append(float(a["lot"][j]))
                short = a["debt"][j] - a["raised"][j]
                bad += max(short, 0.0)
                self.penalty_usd += max(-short, 0.0)
        if closed.any():
            self.finished += int(closed.sum())
            for f in self._FIELDS:
                a[f] = a[f][~closed]
        self.raised_usd += float(proceeds.sum())
        self.bad_debt_usd += bad
        return AftermarketStep(sold, proceeds, np.asarray(ret_rows, dtype=np.int64), np.asarray(ret_amt), bad)

    def holdings(self):
        return np.bincount(self.a["asset"], weights=self.a["lot"], minlength=self.k)

    def facts(self) -> dict[str, float]:
        return {
            "auctions_kicked": self.kicked,
            "auctions_finished": self.finished,
            "auctions_open_end": int(self.a["lot"].size),
            "auction_resets": self.resets,
            "auction_raised_usd": self.raised_usd,
            "auction_penalty_usd": self.penalty_usd,
            "auction_bad_debt_usd": self.bad_debt_usd,
            "auction_open_tab_usd": float(self.a["tab"].sum()),
            "auction_open_debt_usd": float(np.clip(self.a["debt"] - self.a["raised"], 0, None).sum()),
            "keeper_incentives_usd": self.incentives_usd,
            "dog_dirt_peak_usd": self.dirt_peak_usd,
            "dog_ilk_dirt_peak_usd": self.ilk_dirt_peak_usd,
        }
