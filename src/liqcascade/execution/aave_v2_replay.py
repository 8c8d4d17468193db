"""Aave v2's liquidations hour by hour on a replayed day: a simulation against the chain.

The recorded side is the shipped slice of Aave v2's ``LiquidationCall`` events
(``data/replays/aave_v2_liquidations_2021-04-17_18.csv``, ATTRIBUTION-replays.md). Its USD
amounts are recomputed, as the shared data's README asks: the raw ``principalAmount`` in the
debt reserve's decimals, times the Aave v2 oracle's ETH price of that reserve at the event
(``reservePriceETHPrincipal``; WETH is 1 ETH), times the ETHUSDT close of the event's hour from
the scenario's own ETH candles. The simulated side is the ``events`` table of the scenario's
simulation (calls and debt repaid per block, summed per hour of the block's time).

``python -m liqcascade.execution.aave_v2_replay SCENARIO.toml`` prints the table that
docs/protocols.md shows for ``examples/replay_2021_04_18_aave_v2.toml``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from liqcascade.errors import ConfigError, DataError
from liqcascade.execution import runs

EVENTS_FILE = "aave_v2_liquidations_2021-04-17_18.csv"

# Decimals of the Aave v2 reserves that appear as debt in the shipped slice (ERC-20 decimals;
# the same as the 2021-05-18 parameter set where it has them).
DEBT_DECIMALS = {"USDC": 6, "USDT": 6, "GUSD": 2, "WBTC": 8}
_EVENT_COLUMNS = ("timestamp", "principalReserve", "principalAmount", "reservePriceETHPrincipal")


@dataclass(frozen=True)
class HourlyComparison:
    """Liquidation calls and debt repaid (USD) per hour, simulated and recorded, over the
    hours of the scenario's path; with the totals, the peak hours and the correlations."""

    table: pd.DataFrame  # hour, sim_calls, real_calls, sim_repaid_usd, real_repaid_usd
    sim_peak_hour: pd.Timestamp
    real_peak_hour: pd.Timestamp
    calls_correlation: float
    repaid_correlation: float

    def text(self) -> str:
        t = self.table
        lines = [f"{'hour (UTC)':<17} {'sim calls':>9} {'real calls':>10} {'sim repaid $M':>13} {'real repaid $M':>14}"]
        for r in t.itertuples():
            lines.append(f"{r.hour:%Y-%m-%d %H:%M} {r.sim_calls:>9d} {r.real_calls:>10d} "
                         f"{r.sim_repaid_usd / 1e6:>13.2f} {r.real_repaid_usd / 1e6:>14.2f}")
        lines.append(f"{'total':<17} {int(t.sim_calls.sum()):>9d} {int(t.real_calls.sum()):>10d} "
                     f"{t.sim_repaid_usd.sum() / 1e6:>13.2f} {t.real_repaid_usd.sum() / 1e6:>14.2f}")
        lines.append(f"peak hour: simulated {self.sim_peak_hour:%Y-%m-%d %H:%M}, recorded {self.real_peak_hour:%Y-%m-%d %H:%M}")
        lines.append(f"correlation of hourly calls {self.calls_correlation:.3f}, of hourly debt repaid "
                     f"{self.repaid_correlation:.3f}")
        return "\n".join(lines)


def shipped_events() -> Path:
    """The shipped slice of Aave v2 liquidation events."""
    return Path(str(resources.files("liqcascade") / "data" / "replays" / EVENTS_FILE))


def recorded_hourly(events_csv: Path, eth_usd_close: pd.Series, decimals: dict[str, int]) -> pd.DataFrame:
    """Recorded calls and debt repaid (USD) per hour. ``eth_usd_close`` is indexed by the hour's
    start (UTC); ``decimals`` maps a debt reserve to its decimals (18 when absent)."""
    ev = pd.read_csv(events_csv, dtype={"principalAmount": str})
    missing = [c for c in _EVENT_COLUMNS if c not in ev.columns]
    if missing:
        raise DataError(str(events_csv), None, f"columns {list(_EVENT_COLUMNS)}; missing {missing}")
    hour = pd.to_datetime(ev["timestamp"], unit="s").dt.floor("h")
    if not hour.isin(eth_usd_close.index).all():
        raise DataError(str(events_csv), None, "every event inside the hours of the ETH candles")
    # WETH's oracle price in ETH is 1 by definition (the source leaves it empty)
    price_eth = ev["reservePriceETHPrincipal"].where(ev["principalReserve"] != "WETH", 1e18)
    if price_eth.isna().any():
        row = int(np.flatnonzero(price_eth.isna().to_numpy())[0]) + 2
        raise DataError(str(events_csv), row, "reservePriceETHPrincipal (the debt reserve's oracle price in ETH wei)")
    amount = np.array([int(a) for a in ev["principalAmount"]], dtype=np.float64)
    scale = 10.0 ** ev["principalReserve"].map(lambda s: decimals.get(s, 18)).to_numpy(dtype=np.float64)
    usd = amount / scale * price_eth.to_numpy() / 1e18 * eth_usd_close.loc[hour].to_numpy()
    out = pd.DataFrame({"hour": hour, "real_calls": 1, "real_repaid_usd": usd})
    return out.groupby("hour", as_index=False).sum()


def simulated_hourly(events: pd.DataFrame) -> pd.DataFrame:
    """Simulated calls and debt repaid (USD) per hour of the blocks' times."""
    hour = pd.to_datetime(events["time"], unit="s").dt.floor("h")
    out = pd.DataFrame({"hour": hour, "sim_calls": events["calls"], "sim_repaid_usd": events["debt_repaid_usd"]})
    return out.groupby("hour", as_index=False).sum()


def _eth_candles(sc) -> pd.Series:
    sim = sc.config.simulation
    if sim is None or sim.path != "candles" or "ETH" not in sim.candles:
        raise ConfigError(sc.source, "simulation.candles", "a candles path with ETH candles (their closes price the events)")
    from liqcascade.io.config import resolve_path

    path = resolve_path(sim.candles["ETH"], sc.base_dir, sc.source, "simulation.candles.ETH")
    c = pd.read_csv(path, parse_dates=["date"])
    return pd.Series(c["close"].to_numpy(dtype=np.float64), index=c["date"].dt.floor("h"))


def compare(scenario: str | Path, store=runs.DEFAULT_STORE, events_csv: Path | None = None) -> HourlyComparison:
    """Run (or load) the scenario's simulation and compare it with the recorded events, hour by
    hour over the hours of the scenario's ETH candles."""
    sc = runs.load_scenario(scenario)
    close = _eth_candles(sc)
    res = runs.simulate(sc, store)
    real = recorded_hourly(events_csv or shipped_events(), close, DEBT_DECIMALS)
    sim = simulated_hourly(res.tables["events"])
    t = pd.DataFrame({"hour": close.index}).merge(sim, on="hour", how="left").merge(real, on="hour", how="left")
    t = t.fillna(0.0).astype({"sim_calls": np.int64, "real_calls": np.int64})
    return HourlyComparison(
        table=t,
        sim_peak_hour=t.hour[int(t.sim_calls.to_numpy().argmax())],
        real_peak_hour=t.hour[int(t.real_calls.to_numpy().argmax())],
        calls_correlation=float(np.corrcoef(t.sim_calls, t.real_calls)[0, 1]),
        repaid_correlation=float(np.corrcoef(t.sim_repaid_usd, t.real_repaid_usd)[0, 1]),
    )


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m liqcascade.execution.aave_v2_replay SCENARIO.toml", file=sys.stderr)
        return 2
    print(compare(args[0]).text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
