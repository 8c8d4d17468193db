"""The ``[montecarlo]`` table of a scenario file: how Monte Carlo price paths are drawn.

The table only *describes* the path model; :meth:`MonteCarloConfig.path_model` turns it into
the :class:`~liqcascade.scenarios.montecarlo.PathModel` the scenarios layer draws from (and
checks: a correlation matrix that is not positive semidefinite, an unknown asset, a return
file that does not exist are :class:`~liqcascade.errors.ConfigError` naming the key).
Everything else a Monte Carlo run needs (oracle, liquidators, venue dynamics, which market
assets a path asset drives) comes from the scenario's ``[simulation]`` table.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from liqcascade.errors import ConfigError


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, strict=True)  # as io.config


class JumpsConfig(_Model):
    """Merton jumps: one Poisson clock common to all path assets (a market-wide event)."""

    intensity: float = Field(ge=0, description="Jumps per year (e.g. 10 = about one every 5 weeks).")
    mean: dict[str, float] = Field(
        default_factory=dict, description="Mean jump of the log price per path asset (-0.08 = about -8 %); missing: 0."
    )
    std: dict[str, float] = Field(
        default_factory=dict, description="Standard deviation of the log-price jump per path asset; missing: 0."
    )
    compensate: bool = Field(
        True, description="Lower the drift so the jumps keep the expected return (false: jumps add a downward drift)."
    )


class DepegConfig(_Model):
    """A peg or correlation break of one path asset (an LST or a stablecoin)."""

    asset: str = Field(description="The path asset that breaks away (e.g. stETH).")
    drop: float = Field(gt=0, lt=1, description="Fractional fall of its price at the break (0.07 = -7 %).")
    probability: float = Field(ge=0, le=1, description="Chance that a path has the break (once, at a uniformly drawn block).")
    duration_blocks: int = Field(1, ge=1, description="Blocks over which the fall unfolds (log-linear; 1 = at once).")
    vol_after: float = Field(
        0.0, ge=0, description="Annualised volatility of an independent extra move after the break (it decouples)."
    )


class CorrBreakConfig(_Model):
    """Set one pair's correlation (a regime in which the pair no longer moves together)."""

    assets: tuple[str, str] = Field(description="The two path assets, e.g. [\"ETH\", \"stETH\"].")
    corr: float = Field(ge=-1, le=1, description="Their correlation in the stressed regime.")


class MonteCarloConfig(_Model):
    """Monte Carlo price paths (`liqcascade montecarlo`); each path runs the `[simulation]` engine."""

    kind: Literal["gbm", "bootstrap"] = Field(
        "gbm", description="gbm: correlated GBM with optional Merton jumps; bootstrap: block bootstrap of real hourly returns."
    )
    blocks: int = Field(288, gt=1, le=1_000_000, description="Blocks per path (288 x 300 s = one day).")
    block_seconds: int = Field(300, gt=0, description="Seconds per block.")
    seed: int = Field(0, ge=0, description="Root seed: path i draws from numpy SeedSequence(seed, spawn_key=(i,)).")
    vol: dict[str, float] = Field(
        default_factory=dict, description="gbm: annualised volatility per path asset (names the path assets, in order)."
    )
    corr: list[list[float]] | None = Field(None, description="gbm: correlation matrix in the order of `vol` (identity if omitted).")
    drift: dict[str, float] = Field(default_factory=dict, description="gbm: annualised drift per path asset (missing: 0).")
    jumps: JumpsConfig | None = Field(None, description="gbm: Merton jumps (none when omitted).")
    returns: dict[str, str] = Field(
        default_factory=dict,
        description="bootstrap: path asset -> hourly candles: 'builtin:ETHUSDT_1h' or 'builtin:BTCUSDT_1h' (Binance spot "
        "2021-04 to 2023-12) or a candle CSV relative to this file.",
    )
    block_hours: int = Field(24, ge=1, description="bootstrap: length of each resampled run of consecutive hours.")
    vol_scale: float | dict[str, float] = Field(
        1.0, description="Stress: multiply volatility (gbm) or the log returns (bootstrap), for all or per path asset."
    )
    corr_break: list[CorrBreakConfig] = Field(default_factory=list, description="Stress (gbm): pair correlations to set.")
    depeg: list[DepegConfig] = Field(default_factory=list, description="Stress: peg or correlation breaks.")
    headline: str | None = Field(
        None, description="Path asset whose drop the amplification compares with (default: the first path asset)."
    )
    reserves_usd: float = Field(
        0.0, ge=0, description="Reserves (USD) for P(bad debt > reserves); --reserves overrides (does not change the run id)."
    )

    def path_assets(self) -> tuple[str, ...]:
        return tuple(self.vol if self.kind == "gbm" else self.returns)

    def _returns_file(self, asset: str, base_dir: Path, source: str) -> str | Path:
        from liqcascade.io.config import resolve_path  # config.py imports this module

        ref = self.returns[asset]
        return ref if ref.startswith("builtin:") else resolve_path(ref, base_dir, source, f"montecarlo.returns.{asset}")

    def path_model(self, base_dir: Path, source: str):
        """The scenarios-layer path model this table describes (validated)."""
        from liqcascade import scenarios as scn
        from liqcascade.scenarios import montecarlo as mc

        if self.kind == "gbm":
            if not self.vol:
                raise ConfigError(source, "montecarlo.vol", "annualised volatility per path asset for kind = gbm")
            if self.returns:
                raise ConfigError(source, "montecarlo.returns", "no return files for kind = gbm", list(self.returns))
            j = self.jumps
            base = mc.GbmModel(
                vol=self.vol, corr=self.corr, drift=self.drift,
                jumps=None if j is None else scn.Jumps(j.intensity, j.mean, j.std, j.compensate),
            )
        else:
            if not self.returns:
                raise ConfigError(source, "montecarlo.returns", "path asset = hourly candle file entries for kind = bootstrap")
            for key, given in (("vol", self.vol), ("corr", self.corr), ("drift", self.drift), ("jumps", self.jumps)):
                if given:
                    raise ConfigError(source, f"montecarlo.{key}", "nothing for kind = bootstrap (the returns are real)", given)
            frames = {a: mc.hourly_returns_source(self._returns_file(a, base_dir, source), source,
                                                  f"montecarlo.returns.{a}") for a in self.returns}
            base = mc.BootstrapModel(frames, self.block_hours)
        return mc.PathModel(
            base, self.blocks, self.block_seconds, self.vol_scale,
            tuple(mc.CorrBreak(c.assets[0], c.assets[1], c.corr) for c in self.corr_break),
            tuple(mc.Depeg(d.asset, d.drop, d.probability, d.duration_blocks, d.vol_after) for d in self.depeg),
            source=source,
        )
