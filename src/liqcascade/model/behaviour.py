"""Owners who react: what vault owners do as their position nears liquidation, measured on
an hourly panel and fitted as a binned hazard (pure NumPy; the data are read in
:mod:`liqcascade.execution.behaviour`).

The panel
---------
One row per (vault, hour) while the vault owes debt: its distance to liquidation at the hour's
opening price, ``d = ink * price / (debt * mat) - 1`` (``d = HF - 1``; the collateral ratio over
the liquidation ratio, minus one), and what its owner did during the hour, netted over the
hour's deposits, withdrawals, draws and repayments and valued at the *same* opening price, so
that a price move alone is never counted as an action:

- **protect**: the owner's actions raised the ratio (a top-up, a repayment, or both) or closed
  the debt;
- **lever**: they lowered it (a draw or a withdrawal) and left debt;
- ``hf_after``: the HF the owner left (inf when the debt was closed).

Hours inside an excluded window (the held-aside fortnight) are not in the panel.

Why a binned hazard
-------------------
The per-hour probability of acting is estimated per distance bin as ``k / n`` (actions over
vault-hours) with the binomial standard error ``sqrt(p (1 - p) / n)``. A logistic curve would
force the probability to be monotone in the distance and smooth across the boundary at HF 1,
where OSM delay makes the hours just below 1 (market price) different in kind; the bins assume
no shape, their counts say how much each number rests on, and the forward model uses them as
they are. The standard errors treat vault-hours as independent; one owner's hours are not, so
they understate the uncertainty (the distinct vaults per bin are reported alongside).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from liqcascade._typing import FloatArray, IntArray
from liqcascade.errors import ConfigError

DEFAULT_EDGES: tuple[float, ...] = (-0.3, 0.0, 0.02, 0.05, 0.1, 0.2, 0.35, 0.5, 1.0, 2.0)
"""Distance bins ``d = HF - 1``: lower edges; the last value is the panel's upper cut."""
HOUR = 3600
STALE_HOURS = 24
"""A vault whose market HF stays below 1 for longer than this was not a position on chain:
Maker's keepers bark within an hour or two of the OSM, so its liquidation is missing from the
ledger (held aside, or not recorded). Its hours from the start of that run are left out."""

# event kinds of the panel builder's inputs
DEPOSIT, WITHDRAW, BORROW, REPAY, LIQUIDATION = range(5)


@dataclass(frozen=True)
class VaultEvents:
    """Every vault's changes, in time order: ``t`` (Unix s), ``vault`` (id), ``kind`` (0 deposit,
    1 withdraw, 2 borrow, 3 repay, 4 liquidation), ``dink`` (collateral tokens, signed) and
    ``dart`` (normalised debt, signed: DAI / rate at the event)."""

    t: FloatArray
    vault: IntArray
    kind: IntArray
    dink: FloatArray
    dart: FloatArray


@dataclass(frozen=True)
class Hours:
    """The hourly grid: ``start`` (Unix s of each hour), ``price`` (collateral USD at the
    hour's open), ``rate`` (debt accumulator at the hour's start), ``mat`` (liquidation ratio)."""

    start: FloatArray
    price: FloatArray
    rate: FloatArray
    mat: FloatArray


@dataclass(frozen=True)
class Panel:
    """Vault-hours (one entry per array element): ``vault``, ``hour`` (index into the grid),
    ``d`` (HF - 1 at the hour's open), ``protect`` / ``lever`` (what the owner did in the hour,
    see the module docstring), ``repaid`` (the hour's net debt change was negative),
    ``hf_after`` (HF the owner left at the same price; inf once the debt is closed)."""

    vault: IntArray
    hour: IntArray
    d: FloatArray
    protect: np.ndarray
    lever: np.ndarray
    repaid: np.ndarray
    hf_after: FloatArray


def build_panel(ev: VaultEvents, hours: Hours, exclude: tuple[tuple[float, float], ...] = (),
                d_max: float = DEFAULT_EDGES[-1], min_debt: float = 1.0, stale_hours: int = STALE_HOURS) -> Panel:
    """The vault-hour panel of ``ev`` on ``hours`` (module docstring). Hours starting inside
    an ``exclude`` window ``[lo, hi)`` (Unix s) or whose hour reaches into one are left out;
    so are hours with less than ``min_debt`` of debt and with ``d >= d_max``, and a vault's
    hours from the start of a run of more than ``stale_hours`` consecutive hours below HF 1
    (see :data:`STALE_HOURS`)."""
    keep_hour = np.ones(hours.start.shape[0], dtype=bool)
    for lo, hi in exclude:
        keep_hour &= ~((hours.start + HOUR > lo) & (hours.start < hi))
    parts: list[tuple[np.ndarray, ...]] = []
    order = np.lexsort((ev.t, ev.vault))
    vaults, first = np.unique(ev.vault[order], return_index=True)
    bounds = np.append(first, order.shape[0])
    for v, lo, hi in zip(vaults.tolist(), bounds[:-1].tolist(), bounds[1:].tolist()):
        sel = order[lo:hi]
        rows = _vault_hours(ev, sel, hours, keep_hour, d_max, min_debt)
        if rows is not None:
            rows = _drop_stale(rows, stale_hours)
        if rows is not None:
            parts.append((np.full(rows[0].shape[0], v, dtype=np.int64), *rows))
    if not parts:
        e = np.empty(0)
        return Panel(e.astype(np.int64), e.astype(np.int64), e, e.astype(bool), e.astype(bool), e.astype(bool), e)
    cols = [np.concatenate(c) for c in zip(*parts)]
    return Panel(*cols)


def _vault_hours(ev: VaultEvents, sel: IntArray, hours: Hours, keep_hour: np.ndarray, d_max: float,
                 min_debt: float) -> tuple[np.ndarray, ...] | None:
    """One vault's panel rows (hour, d, protect, lever, repaid, hf_after) or None."""
    t = ev.t[sel]
    owner = ev.kind[sel] != LIQUIDATION
    ink = np.concatenate([[0.0], np.cumsum(ev.dink[sel])])
    art = np.concatenate([[0.0], np.cumsum(ev.dart[sel])])
    own_ink = np.concatenate([[0.0], np.cumsum(np.where(owner, ev.dink[sel], 0.0))])
    own_art = np.concatenate([[0.0], np.cumsum(np.where(owner, ev.dart[sel], 0.0))])
    h0 = int(np.searchsorted(hours.start, t[0], side="right"))  # first hour starting after the first event
    if h0 >= hours.start.shape[0]:
        return None
    h = np.arange(h0, hours.start.shape[0])
    hs = hours.start[h]
    i0 = np.searchsorted(t, hs, side="left")  # events strictly before the hour
    i1 = np.searchsorted(t, hs + HOUR, side="left")  # ... and before its end
    k = np.maximum(ink[i0], 0.0)
    a = np.maximum(art[i0], 0.0)
    rate, px, mat = hours.rate[h], hours.price[h], hours.mat[h]
    debt = a * rate
    ok = keep_hour[h] & (debt >= min_debt)
    with np.errstate(divide="ignore", invalid="ignore"):
        d = k * px / (debt * mat) - 1.0
    ok &= d < d_max
    if not ok.any():
        return None
    h, i0, i1, k, a, d, rate, px, mat, debt = (x[ok] for x in (h, i0, i1, k, a, d, rate, px, mat, debt))
    k2 = np.maximum(k + own_ink[i1] - own_ink[i0], 0.0)
    a2 = np.maximum(a + own_art[i1] - own_art[i0], 0.0)
    closed = a2 * rate < min_debt
    with np.errstate(divide="ignore", invalid="ignore"):
        hf_after = np.where(closed, np.inf, k2 * px / (a2 * rate * mat))
    hf = d + 1.0
    acted = i1 > i0
    protect = acted & (closed | (hf_after > hf * (1.0 + 1e-9)))
    lever = acted & ~closed & (hf_after < hf * (1.0 - 1e-9))
    repaid = a2 < a * (1.0 - 1e-9)
    return h, d, protect, lever, repaid, hf_after


def _drop_stale(rows: tuple[np.ndarray, ...], stale_hours: int) -> tuple[np.ndarray, ...] | None:
    """``rows`` up to the first run of more than ``stale_hours`` consecutive hours with d < 0."""
    h, d = rows[0], rows[1]
    below = d < 0.0
    # run id: a new run starts at every row that is not the next hour of a below-1 row
    start = below & ~np.concatenate([[False], below[:-1] & (np.diff(h) == 1)])
    run = np.cumsum(start)
    lengths = np.bincount(run[below], minlength=run.max() + 1) if below.any() else np.zeros(1, dtype=np.int64)
    long_runs = np.flatnonzero(lengths > stale_hours)
    if long_runs.size == 0:
        return rows
    cut = int(np.flatnonzero(start & (run == long_runs[0]))[0])
    return tuple(x[:cut] for x in rows) if cut else None


@dataclass(frozen=True)
class HazardBin:
    """One distance bin of the fit: ``lo <= d < hi``."""

    lo: float
    hi: float
    hours: int
    vaults: int
    protect: int
    lever: int

    @property
    def p_protect(self) -> float:
        return self.protect / self.hours if self.hours else math.nan

    @property
    def p_lever(self) -> float:
        return self.lever / self.hours if self.hours else math.nan

    @property
    def se_protect(self) -> float:
        return _se(self.p_protect, self.hours)

    @property
    def se_lever(self) -> float:
        return _se(self.p_lever, self.hours)


def _se(p: float, n: int) -> float:
    return math.sqrt(p * (1.0 - p) / n) if n else math.nan


@dataclass(frozen=True)
class Refill:
    """New borrowing that refills the book, per day: ``days`` counted; ``new_vaults_per_day``
    (mean, with its standard error); ``draw_share_per_day``: DAI drawn in the day over the
    book's debt at its start (mean, SE); ``draw_slope``: OLS slope of that share on the day's
    ETH log return (its SE); a positive slope means owners draw more on rising days."""

    days: int
    new_vaults_per_day: float
    new_vaults_se: float
    draw_share_per_day: float
    draw_share_se: float
    draw_slope: float
    draw_slope_se: float


@dataclass(frozen=True)
class BehaviourParams:
    """What the forward model uses (:mod:`liqcascade.engine.dynamic.behaviour`).

    Per distance bin (``edges``: lower edges of ``d = HF - 1``, one more than the rates; below
    the first edge the first bin applies, from the last edge up the last bin): the per-hour
    probability that an owner **protects** (tops up collateral, or repays with probability
    ``repay_share``) to ``restore_hf``, and that an owner **levers** (draws more debt) down to
    ``lever_hf``. A protect applies only below ``restore_hf``, a lever only above ``lever_hf``."""

    edges: tuple[float, ...]
    protect_per_hour: tuple[float, ...]
    lever_per_hour: tuple[float, ...]
    restore_hf: float
    lever_hf: float
    repay_share: float
    seed: int = 0
    opening: "OpenParams | None" = None
    """New accounts during the run (:class:`OpenParams`); None: none open."""
    protect_return_slope: tuple[float, ...] = ()
    """Per bin, the log-rate slope of the protect probability on the collateral's log return
    over the 24 hours before (``()``: none; the probabilities are then the bins' as given)."""
    lever_return_slope: tuple[float, ...] = ()
    """Likewise for the lever probability."""
    return_range: tuple[float, float] = (0.0, 0.0)
    """The returns the slopes were fitted on: a run's return is clipped to it."""

    def __post_init__(self) -> None:
        src = "<behaviour>"
        e = np.asarray(self.edges, dtype=float)
        m = len(self.protect_per_hour)
        if e.ndim != 1 or e.shape[0] != m + 1 or m < 1 or not np.all(np.isfinite(e)) or np.any(np.diff(e) <= 0):
            raise ConfigError(src, "behaviour.edges", f"{m + 1} increasing finite distances (one more than the "
                              "rates)", self.edges)
        for key in ("protect_per_hour", "lever_per_hour"):
            r = np.asarray(getattr(self, key), dtype=float)
            if r.shape != (m,) or not np.all((r >= 0) & (r <= 1)):
                raise ConfigError(src, f"behaviour.{key}", f"{m} probabilities in [0, 1]", getattr(self, key))
        if not (self.restore_hf > 1.0 and math.isfinite(self.restore_hf)):
            raise ConfigError(src, "behaviour.restore_hf", "a finite health factor > 1", self.restore_hf)
        if not (self.lever_hf >= 1.0 and math.isfinite(self.lever_hf)):
            raise ConfigError(src, "behaviour.lever_hf", "a finite health factor >= 1", self.lever_hf)
        if not 0.0 <= self.repay_share <= 1.0:
            raise ConfigError(src, "behaviour.repay_share", "a share in [0, 1]", self.repay_share)
        if int(self.seed) < 0:
            raise ConfigError(src, "behaviour.seed", "an integer >= 0", self.seed)
        for key in ("protect_return_slope", "lever_return_slope"):
            r = np.asarray(getattr(self, key), dtype=float)
            if not (r.shape == (0,) or (r.shape == (m,) and np.all(np.isfinite(r)))):
                raise ConfigError(src, f"behaviour.{key}", f"{m} finite log-rate slopes (one per bin) or none",
                                  getattr(self, key))
        lo, hi = (tuple(self.return_range) + (math.nan, math.nan))[:2]
        if len(self.return_range) != 2 or not (math.isfinite(lo) and math.isfinite(hi) and lo <= 0.0 <= hi):
            raise ConfigError(src, "behaviour.react_return_range", "[least, greatest] finite log returns around 0",
                              self.return_range)

    @property
    def reacts_to_return(self) -> bool:
        """Whether a probability depends on the collateral's 24-hour return."""
        return bool(self.protect_return_slope) or bool(self.lever_return_slope)

    def per_block(self, d: FloatArray, seconds: float, r: FloatArray | None = None) -> tuple[FloatArray, FloatArray]:
        """(protect, lever) probabilities within ``seconds`` at distances ``d``: a constant
        hourly hazard ``p`` gives ``1 - (1 - p) ** (seconds / 3600)``. With return slopes and
        ``r`` (each account's collateral log return over the 24 hours before, clipped to
        :attr:`return_range`), the bin's hourly ``p`` becomes ``min(1, p * exp(slope * r))``."""
        k = np.clip(np.searchsorted(np.asarray(self.edges), d, side="right") - 1, 0, len(self.protect_per_hour) - 1)
        x = seconds / HOUR
        hp = np.asarray(self.protect_per_hour)[k]
        hl = np.asarray(self.lever_per_hour)[k]
        if r is not None and self.reacts_to_return:
            rc = np.clip(r, *self.return_range)
            if self.protect_return_slope:
                hp = np.minimum(1.0, hp * np.exp(np.asarray(self.protect_return_slope)[k] * rc))
            if self.lever_return_slope:
                hl = np.minimum(1.0, hl * np.exp(np.asarray(self.lever_return_slope)[k] * rc))
        pp = 1.0 - (1.0 - hp) ** x
        pl = 1.0 - (1.0 - hl) ** x
        return pp, pl


@dataclass(frozen=True)
class ReturnResponse:
    """How the hazards depend on the market: per distance bin, a Poisson regression
    (:class:`PoissonFit`, exposure one vault-hour) of protections and of levers on ETH's log
    return over the 24 hours before the hour (``rate``: the hourly probability at a zero
    return); ``hours`` fitted (those with a day of price history); ``return_range`` their least
    and greatest return; ``restore_slope``: the OLS slope of log ``hf_after`` of the
    protections that set ``restore_hf`` on the same return (with its standard error).
    ``protect_slope_se_clustered`` / ``lever_slope_se_clustered``: per bin, the larger of the
    slope's cluster-robust standard errors by UTC day and by vault (:func:`clustered_slope_se`):
    one day's move reaches many vaults at once, and one owner's hours are alike."""

    protect: tuple[PoissonFit, ...]
    lever: tuple[PoissonFit, ...]
    hours: int
    return_range: tuple[float, float]
    restore_slope: float
    restore_slope_se: float
    protect_slope_se_clustered: tuple[float, ...] = ()
    lever_slope_se_clustered: tuple[float, ...] = ()


def fit_return_response(panel: Panel, r_hour: FloatArray, keep_hour: np.ndarray, edges: tuple[float, ...] = DEFAULT_EDGES,
                        near: float = 0.2, hour_day: IntArray | None = None) -> ReturnResponse:
    """:class:`ReturnResponse` of ``panel``: ``r_hour`` is the covariate of each hour of the
    grid, ``keep_hour`` the hours that may be fitted, ``hour_day`` each hour's day (the
    clusters; default: 24 hours of the grid each). A bin without an action of a kind gets
    rate 0 and slope 0 (standard errors nan)."""
    e = np.asarray(edges, dtype=float)
    ok = keep_hour[panel.hour] & np.isfinite(r_hour[panel.hour])
    k = np.searchsorted(e, panel.d, side="right") - 1
    x = r_hour[panel.hour]
    day = (np.arange(r_hour.shape[0]) // 24 if hour_day is None else np.asarray(hour_day))[panel.hour]
    fits: dict[str, list[PoissonFit]] = {"protect": [], "lever": []}
    cl: dict[str, list[float]] = {"protect": [], "lever": []}
    for i in range(e.shape[0] - 1):
        m = ok & (k == i)
        for act, out in fits.items():
            y = getattr(panel, act)[m].astype(float)
            f = (fit_poisson_rate(y, np.ones_like(y), x[m]) if y.sum() > 0 and y.size >= 3
                 else PoissonFit(int(y.size), 0.0, math.nan, 0.0, math.nan, 1.0))
            out.append(f)
            cl[act].append(max(clustered_slope_se(y, x[m], f, day[m]), clustered_slope_se(y, x[m], f, panel.vault[m]))
                           if f.rate > 0 else math.nan)
    prot = ok & panel.protect & (panel.d < near) & (k >= 0) & np.isfinite(panel.hf_after)
    xs, ys = x[prot], np.log(panel.hf_after[prot])
    slope, se = _ols_slope(xs, ys)
    inside = ok & (k >= 0) & (k < e.shape[0] - 1)
    fitted = x[inside]
    rng = (float(fitted.min()), float(fitted.max())) if fitted.size else (0.0, 0.0)
    return ReturnResponse(tuple(fits["protect"]), tuple(fits["lever"]), int(np.unique(panel.hour[inside]).shape[0]),
                          rng, slope, se, tuple(cl["protect"]), tuple(cl["lever"]))


def clustered_slope_se(y: FloatArray, x: FloatArray, fit: PoissonFit, clusters: IntArray) -> float:
    """The cluster-robust (sandwich) standard error of ``fit``'s slope, exposure one per
    element: ``I^-1 (sum_c s_c s_c') I^-1`` with ``I`` the Fisher information and ``s_c`` the
    score summed over cluster ``c``. Clusters of one element give the heteroskedasticity-robust
    error; no small-sample correction."""
    mu = fit.rate * np.exp(fit.slope * x)
    X = np.column_stack([np.ones_like(x), x])
    inv = np.linalg.inv(X.T @ (X * mu[:, None]))
    _, c = np.unique(clusters, return_inverse=True)
    score = np.zeros((int(c.max()) + 1, 2))
    np.add.at(score, c, X * (y - mu)[:, None])
    return math.sqrt(float((inv @ (score.T @ score) @ inv)[1, 1]))


def _ols_slope(x: FloatArray, y: FloatArray) -> tuple[float, float]:
    """The OLS slope of ``y`` on ``x`` with its classical standard error (nan with < 3 points)."""
    n = int(x.shape[0])
    xc = x - x.mean() if n else x
    sxx = float(xc @ xc)
    if n < 3 or sxx <= 0:
        return math.nan, math.nan
    b = float(xc @ (y - y.mean())) / sxx
    res = y - y.mean() - b * xc
    return b, math.sqrt(float(res @ res) / (n - 2) / sxx)


@dataclass(frozen=True)
class BehaviourFit:
    """The fit of a panel: hazard bins, the restored and levered HF (median and quartiles
    with their counts), the share of protections that repaid and that closed the debt, and
    the refill rates."""

    bins: tuple[HazardBin, ...]
    restore_hf: float
    restore_iqr: tuple[float, float]
    restore_n: int
    lever_hf: float
    lever_iqr: tuple[float, float]
    lever_n: int
    repay_share: float
    close_share: float
    refill: Refill | None = None
    excluded: tuple[tuple[float, float], ...] = field(default_factory=tuple)
    openings: "Openings | None" = None
    returns: ReturnResponse | None = None

    def params(self, seed: int = 0, react_to_return: bool = True) -> BehaviourParams:
        """The forward model's parameters from this fit (empty bins get probability 0); the
        opening process's without its pair (a run names the pair its new accounts open). With
        :attr:`returns` (and ``react_to_return``), each bin's probabilities are its regressions'
        rates at a zero return, with their slopes; else the bins' ``k / n``."""
        edges = tuple(b.lo for b in self.bins) + (self.bins[-1].hi,)
        nz = lambda x: 0.0 if math.isnan(x) else x  # noqa: E731
        opening = None if self.openings is None else self.openings.params()
        rr = self.returns
        if rr is None or not react_to_return:
            return BehaviourParams(edges, tuple(nz(b.p_protect) for b in self.bins),
                                   tuple(nz(b.p_lever) for b in self.bins), self.restore_hf, self.lever_hf,
                                   self.repay_share, seed, opening)
        return BehaviourParams(edges, tuple(min(1.0, f.rate) for f in rr.protect), tuple(min(1.0, f.rate) for f in rr.lever),
                               self.restore_hf, self.lever_hf, self.repay_share, seed, opening,
                               tuple(f.slope for f in rr.protect), tuple(f.slope for f in rr.lever), rr.return_range)


def fit_behaviour(panel: Panel, edges: tuple[float, ...] = DEFAULT_EDGES, near: float = 0.2,
                  refill: Refill | None = None, excluded: tuple[tuple[float, float], ...] = ()) -> BehaviourFit:
    """Binned hazards of ``panel`` over ``edges``; the restored HF is the median ``hf_after``
    of protections starting at ``d < near`` that left debt (what owners near liquidation
    restore to), the levered HF the median ``hf_after`` of every lever."""
    e = np.asarray(edges, dtype=float)
    k = np.searchsorted(e, panel.d, side="right") - 1
    bins = []
    for i in range(e.shape[0] - 1):
        m = k == i
        bins.append(HazardBin(float(e[i]), float(e[i + 1]), int(m.sum()), int(np.unique(panel.vault[m]).shape[0]),
                              int(panel.protect[m].sum()), int(panel.lever[m].sum())))
    prot = panel.protect & (panel.d < near) & (panel.d >= e[0])
    rest = panel.hf_after[prot & np.isfinite(panel.hf_after)]
    lev = panel.hf_after[panel.lever & (k >= 0) & (k < e.shape[0] - 1)]
    q = lambda x: (float(np.median(x)), (float(np.quantile(x, 0.25)), float(np.quantile(x, 0.75)))) \
        if x.size else (math.nan, (math.nan, math.nan))  # noqa: E731
    r_med, r_iqr = q(rest)
    l_med, l_iqr = q(lev)
    all_prot = panel.protect & (k >= 0) & (k < e.shape[0] - 1)
    n_prot = int(all_prot.sum())
    repay = float(panel.repaid[all_prot].mean()) if n_prot else math.nan
    close = float(np.isinf(panel.hf_after[all_prot]).mean()) if n_prot else math.nan
    return BehaviourFit(tuple(bins), r_med, r_iqr, int(rest.size), l_med, l_iqr, int(lev.size), repay, close,
                        refill, tuple(excluded))


def fit_refill(day_start: FloatArray, new_vaults: FloatArray, drawn: FloatArray, book_debt: FloatArray,
               log_return: FloatArray) -> Refill:
    """Refill rates over days (one element per day; days with no book debt are dropped):
    the means of new vaults and of ``drawn / book_debt`` with their standard errors, and the
    OLS slope of the share on ``log_return`` with its classical standard error."""
    ok = book_debt > 0
    nv, share, x = new_vaults[ok], drawn[ok] / book_debt[ok], log_return[ok]
    n = int(share.shape[0])
    if n < 3:
        raise ConfigError("<behaviour>", "refill", "at least 3 days with debt on the book", n)
    mean_se = lambda y: (float(y.mean()), float(y.std(ddof=1) / math.sqrt(n)))  # noqa: E731
    nv_m, nv_se = mean_se(nv)
    sh_m, sh_se = mean_se(share)
    slope, slope_se = _ols_slope(x, share)
    return Refill(n, nv_m, nv_se, sh_m, sh_se, slope, slope_se)


OPEN_LEVELS: tuple[float, ...] = tuple(i / 20 for i in range(21))
"""Probability levels of the opening HF and size quantiles (0, 5 %, ..., 100 %)."""


@dataclass(frozen=True)
class PoissonFit:
    """A Poisson regression with a log link and an exposure: counts ``y_i ~ Poisson(e_i *
    exp(a + b x_i))``. ``rate`` = ``exp(a)`` (events per unit of exposure at ``x = 0``),
    ``slope`` = ``b``; standard errors from the inverse Fisher information, scaled by
    ``sqrt(dispersion)`` (Pearson chi-square over the degrees of freedom) when the counts vary
    more than a Poisson's (quasi-Poisson)."""

    n: int
    rate: float
    rate_se: float
    slope: float
    slope_se: float
    dispersion: float


def fit_poisson_rate(counts: FloatArray, exposure: FloatArray, x: FloatArray, iterations: int = 50) -> PoissonFit:
    """Maximum likelihood of :class:`PoissonFit` by Newton's method (the log-likelihood is
    concave in ``(a, b)``); cells with zero exposure are dropped."""
    ok = exposure > 0
    y, e, xx = (np.asarray(v, dtype=float)[ok] for v in (counts, exposure, x))
    n = int(y.shape[0])
    if n < 3 or y.sum() <= 0:
        raise ConfigError("<behaviour>", "openings", "at least 3 cells with exposure and one event", n)
    X = np.column_stack([np.ones(n), xx])
    beta = np.array([math.log(y.sum() / e.sum()), 0.0])
    for _ in range(iterations):
        mu = e * np.exp(X @ beta)
        info = X.T @ (X * mu[:, None])
        step = np.linalg.solve(info, X.T @ (y - mu))
        beta = beta + step
        if np.max(np.abs(step)) < 1e-12:
            break
    mu = e * np.exp(X @ beta)
    info = X.T @ (X * mu[:, None])
    disp = max(1.0, float(((y - mu) ** 2 / mu).sum()) / (n - 2))
    se = np.sqrt(np.diag(np.linalg.inv(info)) * disp)
    rate = math.exp(float(beta[0]))
    return PoissonFit(n, rate, rate * float(se[0]), float(beta[1]), float(se[1]), disp)


def quantile_knots(x: FloatArray, levels: tuple[float, ...] = OPEN_LEVELS) -> tuple[float, ...]:
    """The sample quantiles of ``x`` at ``levels`` (linear interpolation between order statistics)."""
    return tuple(float(v) for v in np.quantile(np.asarray(x, dtype=float), levels))


def draw_quantiles(knots: tuple[float, ...], u: FloatArray, levels: tuple[float, ...] = OPEN_LEVELS) -> FloatArray:
    """Draws from the distribution whose quantile function is linear between ``knots`` at
    ``levels``: ``u`` uniform on [0, 1] maps to ``Q(u)`` (inverse-CDF sampling)."""
    return np.interp(u, levels, knots)


@dataclass(frozen=True)
class Openings:
    """New accounts (vaults that draw debt for the first time), measured: their rate per
    day per account owing at the day's start, its response to the collateral's log return
    over the 24 hours before (:class:`PoissonFit` on hourly counts), and the opening HF and
    size (debt over the book's mean debt per owing account) as quantiles at
    :data:`OPEN_LEVELS`. ``n`` openings measured; ``below_one`` left out of the HF quantiles
    (at HF < 1 at the market price: the chain would refuse them at its oracle's);
    ``return_range``: the least and greatest 24-hour log return of the hours fitted (the
    forward model does not extrapolate beyond it)."""

    n: int
    below_one: int
    hours: int
    rate: PoissonFit
    hf_quantiles: tuple[float, ...]
    size_quantiles: tuple[float, ...]
    return_range: tuple[float, float]

    def params(self) -> "OpenParams":
        return OpenParams(self.rate.rate, self.rate.slope, self.hf_quantiles, self.size_quantiles, self.return_range)


@dataclass(frozen=True)
class OpenParams:
    """The forward model of new accounts (:mod:`liqcascade.engine.dynamic.openings`): per
    block, a Poisson number of openings with mean ``per_account_day * accounts * days *
    exp(return_slope * r)`` (``accounts`` owing at the run's start, ``r`` the collateral's
    path log return over the 24 hours before the block, clipped to ``return_range``, the
    returns the slope was fitted on); each opens at an HF and a size
    (times the book's mean debt per owing account at the start) drawn from the quantiles at
    :data:`OPEN_LEVELS`. ``pair`` = (collateral, debt) of the market; ``scale`` multiplies
    the rate (0: none open)."""

    per_account_day: float
    return_slope: float
    hf_quantiles: tuple[float, ...]
    size_quantiles: tuple[float, ...]
    return_range: tuple[float, float] = (0.0, 0.0)
    pair: tuple[str, str] | None = None
    scale: float = 1.0

    def __post_init__(self) -> None:
        src, m = "<behaviour>", len(OPEN_LEVELS)
        if not (self.per_account_day >= 0 and math.isfinite(self.per_account_day)):
            raise ConfigError(src, "behaviour.open_per_account_day", "a finite rate >= 0", self.per_account_day)
        if not math.isfinite(self.return_slope):
            raise ConfigError(src, "behaviour.open_return_slope", "a finite number", self.return_slope)
        lo, hi = (tuple(self.return_range) + (math.nan, math.nan))[:2]
        if len(self.return_range) != 2 or not (math.isfinite(lo) and math.isfinite(hi) and lo <= 0.0 <= hi):
            raise ConfigError(src, "behaviour.open_return_range", "[least, greatest] finite log returns around 0",
                              self.return_range)
        if not (self.scale >= 0 and math.isfinite(self.scale)):
            raise ConfigError(src, "behaviour.open_scale", "a finite multiplier >= 0", self.scale)
        hq, sq = np.asarray(self.hf_quantiles, dtype=float), np.asarray(self.size_quantiles, dtype=float)
        if hq.shape != (m,) or not np.all(np.isfinite(hq)) or np.any(np.diff(hq) < 0) or hq[0] <= 1.0:
            raise ConfigError(src, "behaviour.open_hf_quantiles", f"{m} non-decreasing finite health factors, the "
                              "first > 1 (an account never opens liquidatable)", self.hf_quantiles)
        if sq.shape != (m,) or not np.all(np.isfinite(sq)) or np.any(np.diff(sq) < 0) or sq[0] <= 0.0:
            raise ConfigError(src, "behaviour.open_size_quantiles", f"{m} non-decreasing finite sizes > 0",
                              self.size_quantiles)
        if self.pair is not None and (len(self.pair) != 2 or self.pair[0] == self.pair[1]):
            raise ConfigError(src, "behaviour.open_pair", "[collateral, debt]: two different assets", self.pair)


__all__ = ["DEFAULT_EDGES", "OPEN_LEVELS", "OpenParams", "Openings", "PoissonFit", "draw_quantiles", "fit_poisson_rate",
           "quantile_knots", "STALE_HOURS", "BehaviourFit", "BehaviourParams", "HazardBin", "Hours", "Panel", "Refill", "VaultEvents",
           "ReturnResponse", "build_panel", "clustered_slope_se", "fit_behaviour", "fit_refill", "fit_return_response"]
