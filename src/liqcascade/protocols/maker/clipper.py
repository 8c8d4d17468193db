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
``exact.py``). Not modelled: ``chost`` (the dust rule on partial takes) and the Dog's
``hole``/``Hole`` limits on the DAI in auctions at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from liqcascade.errors import ConfigError
from liqcascade.protocols.base import AftermarketStep, Lots
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
        ]
        for key, ok, expected in checks:
            if not ok:
                raise ConfigError("<maker>", f"market.maker.{key}", expected, getattr(self, key))


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
        }
