"""The synthetic book's health-factor mixture (``hf_*`` knobs of
:func:`~liqcascade.model.synthetic.synthetic_book`) fitted to a sample of real health factors
by the Kolmogorov-Smirnov distance (pure NumPy).

The mixture's CDF, for ``x >= 1`` (accounts below 1 and without debt are not part of it):

- near: ``1 + hf_near_width * Beta(a, b)``: the regularised incomplete beta, integrated
  numerically on a 4 001-point grid (a, b >= 1, so the density is bounded);
- mid: ``1 + (hf_mid_median - 1) * exp(hf_mid_sigma * Z)``: ``Phi(ln((x - 1) / (m - 1)) / s)``;
- tail: ``min(hf_tail_start * (1 + Lomax(alpha)), hf_max)``: ``1 - (x / start) ** -alpha``
  from ``start`` on, 1 from ``hf_max`` on.

The fit minimises ``sup |F_mixture - F_sample|`` by Nelder-Mead over the knobs mapped to
unbounded coordinates (logits for shares, logs for widths), from the synthetic book's
defaults and from a few other starts; ``hf_max`` stays 100.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from liqcascade._typing import FloatArray
from liqcascade.errors import ConfigError

HF_MAX = 100.0
_GRID = np.linspace(0.0, 1.0, 4001)
_erf = np.frompyfunc(math.erf, 1, 1)


@dataclass(frozen=True)
class HfMixture:
    """The ``hf_*`` knobs of :func:`~liqcascade.model.synthetic.synthetic_book` (same names)."""

    hf_near_weight: float = 0.50
    hf_near_width: float = 0.30
    hf_near_shape: tuple[float, float] = (1.2, 2.0)
    hf_mid_weight: float = 0.35
    hf_mid_median: float = 1.7
    hf_mid_sigma: float = 0.50
    hf_tail_start: float = 2.5
    hf_tail_alpha: float = 1.5

    def knobs(self) -> dict[str, object]:
        """Keyword arguments for ``synthetic_book``."""
        return asdict(self) | {"hf_near_shape": tuple(self.hf_near_shape)}

    def cdf(self, x: FloatArray) -> FloatArray:
        """P(HF <= x) under the mixture (module docstring)."""
        x = np.asarray(x, dtype=float)
        a, b = self.hf_near_shape
        dens = _GRID ** (a - 1.0) * (1.0 - _GRID) ** (b - 1.0)
        cum = np.concatenate([[0.0], np.cumsum(0.5 * (dens[1:] + dens[:-1]) * np.diff(_GRID))])
        near = np.interp((x - 1.0) / self.hf_near_width, _GRID, cum / cum[-1], left=0.0, right=1.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.log(np.maximum(x - 1.0, 1e-300) / (self.hf_mid_median - 1.0)) / self.hf_mid_sigma
        mid = np.where(x > 1.0, 0.5 * (1.0 + _erf(z / math.sqrt(2.0)).astype(float)), 0.0)
        tail = np.where(x >= self.hf_tail_start, 1.0 - (np.maximum(x, self.hf_tail_start) / self.hf_tail_start)
                        ** -self.hf_tail_alpha, 0.0)
        tail = np.where(x >= HF_MAX, 1.0, tail)
        w_tail = 1.0 - self.hf_near_weight - self.hf_mid_weight
        return self.hf_near_weight * near + self.hf_mid_weight * mid + w_tail * tail


def ks_distance(sample: FloatArray, mix: HfMixture) -> float:
    """Kolmogorov-Smirnov distance between a sample's empirical CDF and the mixture's."""
    x = np.sort(np.asarray(sample, dtype=float))
    n = x.shape[0]
    f = mix.cdf(x)
    i = np.arange(1, n + 1)
    return float(max(np.max(i / n - f), np.max(f - (i - 1) / n)))


def _to_mix(u: FloatArray) -> HfMixture:
    sig = lambda v: 1.0 / (1.0 + math.exp(-v))  # noqa: E731
    near = sig(u[0])
    mid = (1.0 - near) * sig(u[1])
    return HfMixture(near, 0.02 + math.exp(u[2]), (1.0 + math.exp(u[3]), 1.0 + math.exp(u[4])), mid,
                     1.02 + math.exp(u[5]), 0.05 + math.exp(u[6]), 1.2 + math.exp(u[7]), 0.2 + math.exp(u[8]))


def _from_mix(m: HfMixture) -> FloatArray:
    logit = lambda p: math.log(max(p, 1e-6) / max(1.0 - p, 1e-6))  # noqa: E731
    mid_share = m.hf_mid_weight / max(1.0 - m.hf_near_weight, 1e-9)
    return np.array([logit(m.hf_near_weight), logit(mid_share), math.log(m.hf_near_width - 0.02),
                     math.log(max(m.hf_near_shape[0] - 1.0, 1e-6)), math.log(max(m.hf_near_shape[1] - 1.0, 1e-6)),
                     math.log(m.hf_mid_median - 1.02), math.log(m.hf_mid_sigma - 0.05), math.log(m.hf_tail_start - 1.2),
                     math.log(m.hf_tail_alpha - 0.2)])


def _nelder_mead(f, x0: FloatArray, step: float = 0.5, iters: int = 1500) -> FloatArray:
    """Minimise ``f`` from ``x0`` (standard coefficients: reflect 1, expand 2, contract 0.5, shrink 0.5)."""
    n = x0.shape[0]
    pts = np.vstack([x0] + [x0 + step * np.eye(n)[i] for i in range(n)])
    vals = np.array([f(p) for p in pts])
    for _ in range(iters):
        o = np.argsort(vals)
        pts, vals = pts[o], vals[o]
        if vals[-1] - vals[0] < 1e-7:
            break
        c = pts[:-1].mean(axis=0)
        r = c + (c - pts[-1])
        fr = f(r)
        if fr < vals[0]:
            e = c + 2.0 * (c - pts[-1])
            fe = f(e)
            pts[-1], vals[-1] = (e, fe) if fe < fr else (r, fr)
        elif fr < vals[-2]:
            pts[-1], vals[-1] = r, fr
        else:
            k = c + 0.5 * (pts[-1] - c)
            fk = f(k)
            if fk < vals[-1]:
                pts[-1], vals[-1] = k, fk
            else:
                pts[1:] = pts[0] + 0.5 * (pts[1:] - pts[0])
                vals[1:] = [f(p) for p in pts[1:]]
    return pts[int(np.argmin(vals))]


STARTS: tuple[HfMixture, ...] = (
    HfMixture(),
    HfMixture(0.2, 0.3, (1.2, 2.0), 0.6, 2.0, 0.6, 3.0, 1.5),
    HfMixture(0.1, 0.5, (1.5, 1.5), 0.7, 2.5, 0.8, 5.0, 1.0),
)
"""Starting points of the fit: the synthetic book's defaults, and books with fewer accounts
near 1 (ETH-B owners keep more room than Aave's)."""


@dataclass(frozen=True)
class HfFit:
    """A fitted mixture, its KS distance to the sample and the sample's size."""

    mixture: HfMixture
    ks: float
    n: int


def fit_hf_mixture(sample: FloatArray, starts: tuple[HfMixture, ...] = STARTS) -> HfFit:
    """The mixture closest to ``sample`` (health factors >= 1) in KS distance."""
    x = np.sort(np.asarray(sample, dtype=float))
    if x.shape[0] < 10 or not np.all(np.isfinite(x)) or x[0] < 1.0:
        raise ConfigError("<hf_fit>", "sample", "at least 10 finite health factors >= 1", x.shape[0])
    x = np.minimum(x, HF_MAX)
    best = None
    for s in starts:
        u = _nelder_mead(lambda v: ks_distance(x, _to_mix(v)), _from_mix(s))
        m = _to_mix(u)
        d = ks_distance(x, m)
        if best is None or d < best.ks:
            best = HfFit(m, d, int(x.shape[0]))
    return best


__all__ = ["HF_MAX", "HfFit", "HfMixture", "STARTS", "fit_hf_mixture", "ks_distance"]
