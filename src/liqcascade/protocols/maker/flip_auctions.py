"""Maker Liquidations 1.2 block by block: Cat bites into Flipper auctions, bid on by keepers
whose transactions must be included in congested blocks (the dynamic engine's aftermarket for
``[market] version = "liquidations-1.2"``).

The auction follows ``flip.sol`` (integer rule in :mod:`liqcascade.protocols.maker.flipper`):
the Cat splits a bitten vault into auctions of at most ``lump`` collateral and ``dunk`` tab;
bids raise the DAI offered for the lot by at least ``beg`` (tend) until it reaches ``tab``,
then lower the lot by at least ``beg`` for the tab (dent); an auction ends ``ttl`` after its
last bid or ``tau`` after its kick, whichever comes first, and one with no bid by ``end``
restarts (``tick``). The winner gets the lot; the DAI raised repays the vault's debt (bad debt
when short) and what dent gave up goes back to the vault.

Keepers (:class:`Keeper`) are the only bidders. Each block, a keeper that is not the high bidder
and has no bid in flight on an auction, ``latency_s`` after the auction last changed, prices the
lot at the market (``depth``: the venues' marginal price after selling the lot, averaged with
the price before) less its ``discount`` and the gas of its bid, and sends a bid within its
free DAI ``capital_usd``: strategy ``value`` bids its whole valuation (capped at the tab),
``increment`` the least valid raise (``beg``; its first bid ``min_bid_usd``). A bid is a
transaction at the keeper's fixed ``gas_gwei``: it is included only in a block whose
inclusion price (the block's gas price times a log-normal draw of width ``inclusion_sigma``)
is at most ``gas_gwei``; until then it waits, and when it lands the auction may have moved on
(then it reverts and costs gas). A transaction whose ``gas_limit`` is below ``gas_per_bid``
runs out of gas. Auctions that receive no landing bid but one stay at that bid: on a
congested chain they are won at whatever the keepers whose transactions land bid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from liqcascade.errors import ConfigError
from liqcascade.protocols.base import AftermarketStep, Lots
from liqcascade.protocols.mechanisms import kernels_python as K

STRATEGIES = ("value", "increment")


@dataclass(frozen=True)
class Keeper:
    """One group of identical Flipper keepers (``count`` of them)."""

    name: str = "keeper"
    count: int = 1
    strategy: str = "value"
    """``value``: bid the lot's value to it at once (capped at the tab); ``increment``: the
    least raise the Flipper accepts (``beg``), up to that value."""
    gas_gwei: float = 20.0
    """Gas price of its bid transactions (fixed: the keeper software's setting)."""
    gas_limit: int = 300_000
    """Gas limit of its transactions: below the bid's ``gas_per_bid`` they run out of gas."""
    capital_usd: float = 1e6
    """DAI it can have in bids at once (it gets it back when outbid, and the lot's market
    value when it wins)."""
    latency_s: float = 60.0
    """Seconds from an auction's last change to its bid being sent."""
    discount: float = 0.05
    """Margin below the lot's market value at which it values the lot."""
    min_bid_usd: float = 1.0
    """``increment``: its first bid on an auction with no bid."""

    def __post_init__(self) -> None:
        checks = [
            ("count", isinstance(self.count, int) and self.count >= 1, "an integer >= 1"),
            ("strategy", self.strategy in STRATEGIES, f"one of {list(STRATEGIES)}"),
            ("gas_gwei", self.gas_gwei >= 0 and math.isfinite(self.gas_gwei), "gwei >= 0, finite"),
            ("gas_limit", isinstance(self.gas_limit, int) and self.gas_limit > 0, "an integer > 0"),
            ("capital_usd", self.capital_usd > 0, "DAI > 0"),
            ("latency_s", self.latency_s >= 0 and math.isfinite(self.latency_s), "seconds >= 0, finite"),
            ("discount", 0 <= self.discount < 1, "a fraction in [0, 1)"),
            ("min_bid_usd", self.min_bid_usd > 0 and math.isfinite(self.min_bid_usd), "DAI > 0, finite"),
        ]
        for key, ok, expected in checks:
            if not ok:
                raise ConfigError("<maker>", f"market.maker.flip.keepers.{self.name}.{key}", expected, getattr(self, key))


@dataclass(frozen=True)
class FlipSettings:
    """One ilk's Cat and Flipper, and the keepers. Defaults: ETH-A on 2020-03-12 (beg 3 %,
    ttl 10 min, tau 6 h, lump 50 ETH, chop 13 % from the market's bonus); see docs/maker_flip.md."""

    beg: float = 0.03
    ttl_s: float = 600.0
    tau_s: float = 21600.0
    lump: float = 50.0
    """Most collateral (tokens) in one auction (Cat ``lump``, Liquidations 1.0); inf = none."""
    dunk_usd: float = math.inf
    """Most tab (DAI) in one auction (Cat ``dunk``, Liquidations 1.2); inf = none."""
    box_usd: float = math.inf
    """Most tab (DAI) in all auctions at once (Cat ``box``); inf = none (before 1.2)."""
    bite_value_usd: float = 50.0
    """What a bite is worth to the keeper that sends it (the Cat pays nothing: keepers bite to
    open the auctions they bid in); the engine's liquidators bite when it covers their gas."""
    gas_per_bid: int = 200_000
    """Gas a tend or dent uses."""
    inclusion_sigma: float = 0.5
    """Log-normal width of a block's inclusion price around the path's gas price."""
    seed: int = 0
    near_zero_share: float = 0.05
    """An auction is won at a near-zero bid when the bid is below this share of its tab."""
    keepers: tuple[Keeper, ...] = field(default_factory=lambda: (Keeper(),))

    def __post_init__(self) -> None:
        checks = [
            ("beg", 0 <= self.beg < 1, "a fraction in [0, 1)"),
            ("ttl_s", self.ttl_s > 0 and math.isfinite(self.ttl_s), "seconds > 0, finite"),
            ("tau_s", self.tau_s > 0 and math.isfinite(self.tau_s), "seconds > 0, finite"),
            ("lump", self.lump > 0, "tokens > 0 (inf = no limit)"),
            ("dunk_usd", self.dunk_usd > 0, "DAI > 0 (inf = no limit)"),
            ("box_usd", self.box_usd > 0, "DAI > 0 (inf = no limit)"),
            ("bite_value_usd", self.bite_value_usd >= 0 and math.isfinite(self.bite_value_usd), "DAI >= 0, finite"),
            ("gas_per_bid", isinstance(self.gas_per_bid, int) and self.gas_per_bid > 0, "an integer > 0"),
            ("inclusion_sigma", self.inclusion_sigma >= 0 and math.isfinite(self.inclusion_sigma), "a number >= 0"),
            ("near_zero_share", 0 < self.near_zero_share < 1, "a fraction in (0, 1)"),
            ("keepers", len(self.keepers) >= 1, "at least one keeper group"),
        ]
        for key, ok, expected in checks:
            if not ok:
                raise ConfigError("<maker>", f"market.maker.flip.{key}", expected, getattr(self, key))


@dataclass
class _Tx:
    """A bid in flight: keeper ``k`` offers ``bid`` DAI for ``lot`` on auction ``aid``."""

    k: int
    aid: int
    bid: float
    lot: float
    sent: float


class FlipAuctions:
    """The running Flipper auctions of one market and its keepers (auctions columnar, by id)."""

    _F = ("aid", "account", "row", "asset", "lot", "tab", "debt", "bid", "guy", "tic", "end", "kick", "changed")

    def __init__(self, settings: FlipSettings, chop_by_asset, n_assets: int) -> None:
        self.s = settings
        self.chop = np.asarray(chop_by_asset, dtype=np.float64)
        self.k = n_assets
        self.a = {f: np.empty(0, dtype=np.int64 if f in ("aid", "account", "row", "asset", "guy") else np.float64)
                  for f in self._F}
        groups = settings.keepers
        self.kg = np.repeat(np.arange(len(groups)), [g.count for g in groups])
        self.free = np.array([groups[g].capital_usd for g in self.kg])
        self.pending: list[_Tx] = []
        self.rng = np.random.default_rng(settings.seed)
        self.gas_gwei = 0.0
        self.gas_asset_usd = 0.0
        self.next_id = 0
        self.stats = {key: 0.0 for key in (
            "auctions_kicked", "auctions_dealt", "auction_ticks", "bids_landed", "bids_reverted", "bids_out_of_gas",
            "auction_raised_usd", "auction_penalty_usd", "auction_bad_debt_usd", "keeper_gas_usd",
            "auctions_won_zero", "auctions_won_near_zero", "auction_minutes_sum")}
        self.durations: list[float] = []

    # --- engine interface ------------------------------------------------------------------------

    def see_gas(self, gas_gwei: float, gas_asset_usd: float) -> None:
        self.gas_gwei, self.gas_asset_usd = float(gas_gwei), float(gas_asset_usd)

    def sync_limits(self, state) -> bool:
        """The Cat's ``box - litter`` into the bark kernel's room (each ilk unlimited)."""
        if state is None or state.shape[0] < K.N_STATE + 2 * self.k or math.isinf(self.s.box_usd):
            return False
        room = max(self.s.box_usd - float(self.a["tab"].sum()), 0.0)  # box - litter
        grew = room > state[K.ST_DOG_ROOM] + 1e-9 * self.s.box_usd
        state[K.ST_DOG_ROOM] = room
        return bool(grew)

    def receive(self, t: int, lots: Lots, oracle) -> None:
        """Bites: each vault's lot and tab split into auctions of at most ``lump`` and ``dunk``."""
        s = self.s
        for j in range(lots.amount.size):
            lot, debt = float(lots.amount[j]), float(lots.debt_usd[j])
            if lot <= 0.0:
                continue
            tab = debt * self.chop[lots.asset[j]]
            n = max(1, math.ceil(lot / s.lump - 1e-12) if math.isfinite(s.lump) else 1,
                    math.ceil(tab / s.dunk_usd - 1e-12) if math.isfinite(s.dunk_usd) else 1)
            new = {"aid": self.next_id + np.arange(n), "account": np.full(n, lots.account[j]),
                   "row": np.full(n, lots.row[j]), "asset": np.full(n, lots.asset[j]), "lot": np.full(n, lot / n),
                   "tab": np.full(n, tab / n), "debt": np.full(n, debt / n), "bid": np.zeros(n),
                   "guy": np.full(n, -1), "tic": np.zeros(n), "end": np.full(n, t + s.tau_s),
                   "kick": np.full(n, float(t)), "changed": np.full(n, float(t))}
            self.next_id += n
            for f in self._F:
                self.a[f] = np.concatenate([self.a[f], new[f].astype(self.a[f].dtype)])
            self.stats["auctions_kicked"] += n

    def step(self, t: int, oracle, depth) -> AftermarketStep:
        """Land the bids this block includes, end the auctions that are over, send new bids."""
        returned: dict[int, float] = {}
        inclusion = self.gas_gwei * math.exp(self.s.inclusion_sigma * self.rng.standard_normal())
        px = self._exit_prices(oracle, depth)
        self._land(t, inclusion, px, returned)
        sold, proceeds, bad = self._deal(t, px)
        self._tick(t)
        self._send(t, px)
        rows = np.fromiter(returned.keys(), dtype=np.int64, count=len(returned))
        amt = np.fromiter(returned.values(), dtype=np.float64, count=len(returned))
        return AftermarketStep(sold, proceeds, rows, amt, bad)

    def holdings(self):
        return np.bincount(self.a["asset"], weights=self.a["lot"], minlength=self.k)

    def facts(self) -> dict[str, float]:
        st = dict(self.stats)
        dealt = max(st["auctions_dealt"], 1.0)
        d = np.asarray(self.durations) if self.durations else np.zeros(1)
        st.update({
            "auctions_open_end": int(self.a["lot"].size),
            "bids_pending_end": len(self.pending),
            "auction_share_won_zero": st["auctions_won_zero"] / dealt,
            "auction_share_won_near_zero": st["auctions_won_near_zero"] / dealt,
            "auction_minutes_median": float(np.median(d)),
            "auction_minutes_max": float(d.max()),
            "auction_open_debt_usd": float(np.clip(self.a["debt"] - self.a["bid"], 0, None).sum()),
        })
        for key in ("auctions_kicked", "auctions_dealt", "auction_ticks", "bids_landed", "bids_reverted",
                    "bids_out_of_gas", "auctions_won_zero", "auctions_won_near_zero"):
            st[key] = int(st[key])
        del st["auction_minutes_sum"]
        return st

    # --- the block's parts -----------------------------------------------------------------------

    def _exit_prices(self, oracle, depth) -> np.ndarray:
        """Per asset: the market price now (``[k, 0]``) and the marginal price after selling one
        ``lump`` (``[k, 1]``; the oracle's lot when ``lump`` is unlimited), by bisection on ``depth``."""
        out = np.zeros((self.k, 2))
        for i in np.unique(self.a["asset"]) if self.a["asset"].size else ():
            size = self.s.lump if math.isfinite(self.s.lump) else float(self.a["lot"][self.a["asset"] == i].max())
            out[i, 0] = _price_for(depth, int(i), 1e-12, 4.0 * float(oracle[i]))
            out[i, 1] = _price_for(depth, int(i), size, out[i, 0])
        return out

    def _values(self, g: Keeper, idx: np.ndarray, lot: np.ndarray, px) -> np.ndarray:
        """What a keeper of group ``g`` pays at most for ``lot`` of auctions ``idx`` (DAI), after gas."""
        i = self.a["asset"][idx]
        size = self.s.lump if math.isfinite(self.s.lump) else np.maximum(lot, 1e-12)
        # the average price of selling ``lot``: the marginal price falls linearly with the size
        unit = px[i, 0] - (px[i, 0] - px[i, 1]) * np.minimum(lot / size, 1.0) / 2.0
        return lot * unit * (1.0 - g.discount) - self._gas_usd(g.gas_gwei, self.s.gas_per_bid)

    def _gas_usd(self, gwei: float, gas: float) -> float:
        return gwei * 1e-9 * gas * self.gas_asset_usd

    def _send(self, t: float, px) -> None:
        """Each keeper's new bids (at most one in flight per keeper and auction), in kick order
        while its free DAI lasts."""
        a, s = self.a, self.s
        if a["lot"].size == 0:
            return
        live = ((a["tic"] == 0) | (a["tic"] > t)) & (a["end"] > t)
        for k in range(self.kg.size):
            g = s.keepers[self.kg[k]]
            flying = np.fromiter((x.aid for x in self.pending if x.k == k), dtype=np.int64)
            idx = np.flatnonzero(live & (a["guy"] != k) & (t - a["changed"] >= g.latency_s)
                                 & ~np.isin(a["aid"], flying))
            if idx.size == 0:
                continue
            bid, lot = self._offers(g, idx, px, self.free[k])
            ok = np.flatnonzero(np.isfinite(bid))
            ok = ok[np.cumsum(bid[ok]) <= self.free[k]]
            for j in ok:
                self.pending.append(_Tx(k, int(a["aid"][idx[j]]), float(bid[j]), float(lot[j]), t))
            self.free[k] -= float(bid[ok].sum())

    def _offers(self, g: Keeper, idx: np.ndarray, px, free: float) -> tuple[np.ndarray, np.ndarray]:
        """A keeper's bid (DAI, inf = none) and lot on auctions ``idx``, by its strategy: in tend
        a higher DAI bid for the lot (``value``: its valuation, capped at the tab; ``increment``:
        the least raise, ``beg``), in dent the tab for less collateral (``value``: the lot worth
        the tab to it; ``increment``: ``lot / (1 + beg)``), never beyond its valuation or its
        ``free`` DAI."""
        a, beg = self.a, self.s.beg
        lot, tab, bid = a["lot"][idx], a["tab"][idx], a["bid"][idx]
        value = self._values(g, idx, lot, px)
        least = np.where(bid > 0.0, bid * (1.0 + beg), 0.0)
        tend = bid < tab * (1.0 - 1e-12)
        want = np.minimum(np.maximum(least, g.min_bid_usd), tab) if g.strategy == "increment" else np.minimum(value, tab)
        want = np.minimum(np.minimum(want, value), free)
        tend_ok = tend & (want > bid) & ((want >= least) | (want >= tab * (1.0 - 1e-12)))
        most = lot / (1.0 + beg)
        unit = np.where(lot > 0, value / np.where(lot > 0, lot, 1.0), 0.0)
        need = np.where(unit > 0, tab / np.where(unit > 0, unit, 1.0), np.inf)
        dent_ok = ~tend & (need <= most)
        out_bid = np.where(tend_ok, want, np.where(dent_ok, tab, np.inf))
        out_lot = np.where(tend, lot, most if g.strategy == "increment" else need)
        return out_bid, out_lot

    def _land(self, t: float, inclusion: float, px, returned: dict[int, float]) -> None:
        """Bids whose gas price clears the block's inclusion price land, highest price first."""
        keep: list[_Tx] = []
        landing: list[_Tx] = []
        for tx in self.pending:
            (landing if self.s.keepers[self.kg[tx.k]].gas_gwei >= inclusion else keep).append(tx)
        landing.sort(key=lambda x: -self.s.keepers[self.kg[x.k]].gas_gwei)
        self.pending = keep
        where = {int(aid): j for j, aid in enumerate(self.a["aid"])}
        for tx in landing:
            g = self.s.keepers[self.kg[tx.k]]
            self.free[tx.k] += tx.bid
            if g.gas_limit < self.s.gas_per_bid:
                self.stats["keeper_gas_usd"] += self._gas_usd(g.gas_gwei, g.gas_limit)
                self.stats["bids_out_of_gas"] += 1
                continue
            self.stats["keeper_gas_usd"] += self._gas_usd(g.gas_gwei, self.s.gas_per_bid)
            j = where.get(tx.aid)
            if j is None or not self._apply(t, j, tx, returned):
                self.stats["bids_reverted"] += 1
            else:
                self.stats["bids_landed"] += 1

    def _apply(self, t: float, j: int, tx: _Tx, returned: dict[int, float]) -> bool:
        """``tend``/``dent`` as flip.sol checks them now; False when it would revert."""
        a, beg = self.a, self.s.beg
        if not ((a["tic"][j] == 0 or a["tic"][j] > t) and a["end"][j] > t) or a["guy"][j] == tx.k:
            return False
        if self.free[tx.k] < tx.bid:
            return False
        lot, tab, bid = a["lot"][j], a["tab"][j], a["bid"][j]
        if not accepts(float(bid), float(lot), float(tab), tx.bid, tx.lot, beg):
            return False
        if a["guy"][j] >= 0:
            self.free[a["guy"][j]] += bid
        self.free[tx.k] -= tx.bid
        if tx.lot < lot:
            row = int(a["row"][j])
            returned[row] = returned.get(row, 0.0) + float(lot - tx.lot)
        a["lot"][j], a["bid"][j], a["guy"][j] = tx.lot, tx.bid, tx.k
        a["tic"][j], a["changed"][j] = t + self.s.ttl_s, t
        return True

    def _deal(self, t: float, px):
        """Auctions past ``tic`` or ``end`` with a bid: the lot to the winner, the bid to the debt."""
        a = self.a
        sold, proceeds = np.zeros(self.k), np.zeros(self.k)
        done = (a["tic"] != 0) & ((a["tic"] < t) | (a["end"] < t))
        bad = 0.0
        for j in np.flatnonzero(done):
            i, k, bid, lot = int(a["asset"][j]), int(a["guy"][j]), float(a["bid"][j]), float(a["lot"][j])
            sold[i] += lot
            proceeds[i] += bid
            self.free[k] += lot * px[i, 0]  # the winner sells the lot on at the market
            short = float(a["debt"][j]) - bid
            bad += max(short, 0.0)
            self.stats["auction_penalty_usd"] += max(-short, 0.0)
            self.stats["auctions_won_zero"] += bid <= 1.0  # "zero": at most 1 DAI (a bid must exceed 0)
            self.stats["auctions_won_near_zero"] += bid < self.s.near_zero_share * float(a["tab"][j])
            self.durations.append((t - float(a["kick"][j])) / 60.0)
        n = int(done.sum())
        if n:
            self.stats["auctions_dealt"] += n
            self.stats["auction_raised_usd"] += float(proceeds.sum())
            self.stats["auction_bad_debt_usd"] += bad
            for f in self._F:
                a[f] = a[f][~done]
        return sold, proceeds, bad

    def _tick(self, t: float) -> None:
        """Auctions past ``end`` with no bid restart for ``tau``."""
        a = self.a
        stale = (a["tic"] == 0) & (a["end"] < t)
        if stale.any():
            a["end"][stale] = t + self.s.tau_s
            self.stats["auction_ticks"] += int(stale.sum())


def accepts(bid: float, lot: float, tab: float, new_bid: float, new_lot: float, beg: float) -> bool:
    """Whether ``flip.sol`` takes a bid of ``new_bid`` DAI for ``new_lot`` on an auction at
    (``bid``, ``lot``, ``tab``) with ``beg`` (a fraction), in float: a ``tend`` (same lot) must
    exceed the bid, not exceed the tab, and be at least ``bid * (1 + beg)`` or the tab; a
    ``dent`` (smaller lot, the tab bid) needs the tab already bid and ``new_lot * (1 + beg) <=
    lot``. Equalities hold within 1e-12 relative (the integer rule, ``flipper.tend``/``dent``,
    compares exact products)."""
    eps = 1e-12
    if new_lot >= lot * (1.0 - eps):  # tend
        if abs(new_lot - lot) > eps * lot:
            return False
        raise_ok = new_bid >= bid * (1.0 + beg) * (1.0 - eps) or abs(new_bid - tab) <= eps * tab
        return bid < new_bid <= tab * (1.0 + eps) and raise_ok
    return (abs(new_bid - tab) <= eps * tab and bid >= tab * (1.0 - eps)
            and new_lot * (1.0 + beg) <= lot * (1.0 + eps))


def _price_for(depth, i: int, amount: float, hi: float) -> float:
    """The highest price at which the market absorbs ``amount`` of asset ``i`` (bisection)."""
    lo = 0.0
    if depth(i, hi) >= amount:
        return hi
    for _ in range(48):
        mid = 0.5 * (lo + hi)
        if depth(i, mid) >= amount:
            lo = mid
        else:
            hi = mid
    return lo
