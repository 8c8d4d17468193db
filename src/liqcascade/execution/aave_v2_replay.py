"""Aave v2's liquidations hour by hour on a replayed day: a simulation against the chain.

The recorded side is the shipped slice of Aave v2's ``LiquidationCall`` events
(``data/replays/aave_v2_liquidations_2021-04-17_18.csv``, and ``..._stress_days.csv`` for the
stress days; ATTRIBUTION-replays.md). Its USD amounts are recomputed, as the shared data's
README asks: the raw ``principalAmount`` in the debt reserve's decimals, times the Aave v2
oracle's ETH price of that reserve at the event (``reservePriceETHPrincipal``, in wei; WETH is
1 ETH), times the ETHUSDT close of the event's hour from the scenario's own ETH candles. From
2021-07-28 the source's rows are already scaled (``principalAmount`` in decimal tokens, the
price in ETH): a row is raw when its amount is an integer, and each row's price must be in its
form's range (above 1e6 wei for a raw one, below 1e3 ETH for a scaled one). The simulated
side is the ``events`` table of the scenario's simulation (calls and debt repaid per block,
summed per hour of the block's time).

``python -m liqcascade.execution.aave_v2_replay SCENARIO.toml`` prints the table that
docs/protocols.md shows for ``examples/replay_2021_04_18_aave_v2.toml``;
``python -m liqcascade.execution.aave_v2_replay DAY`` that of a stress day
(:data:`STRESS_DAYS`, docs/backtests.md).
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
DEBT_DECIMALS = {"USDC": 6, "USDT": 6, "GUSD": 2, "WBTC": 8, "AmmUSDC": 6, "AmmUSDT": 6}
# (the AMM market's reserves are the same tokens: their decimals)
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
    # the source's rows before 2021-07-28 are raw (integer amounts in the reserve's decimals,
    # prices in ETH wei); later rows are scaled (decimal tokens, prices in ETH)
    text = ev["principalAmount"].astype(str).str.strip()
    raw = text.str.fullmatch(r"\d+").to_numpy()
    # WETH's oracle price in ETH is 1 by definition (the source leaves raw rows' empty)
    price = ev["reservePriceETHPrincipal"].where(ev["principalReserve"] != "WETH", 1e18).to_numpy(dtype=np.float64)
    price = np.where(raw, price / 1e18, ev["reservePriceETHPrincipal"].to_numpy(dtype=np.float64))
    amount = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64)
    # a raw price is ETH wei (above 1e6 for any reserve here), a scaled one ETH (below 1e3)
    bad = ~np.isfinite(price) | ~np.isfinite(amount) | (price <= 0) | (price >= 1e3)
    if bad.any():
        row = int(np.flatnonzero(bad)[0]) + 2
        raise DataError(str(events_csv), row, "principalAmount (integer in the reserve's decimals, or decimal tokens) "
                        "and reservePriceETHPrincipal (the debt reserve's oracle price in ETH wei, or in ETH)")
    scale = np.where(raw, 10.0 ** ev["principalReserve"].map(lambda s: decimals.get(s, 18)).to_numpy(dtype=np.float64),
                     1.0)
    usd = amount / scale * price * eth_usd_close.loc[hour].to_numpy()
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


# --- stress days -------------------------------------------------------------------------------

STRESS_DAYS = ("2021-06-21", "2021-06-22", "2021-12-04", "2022-01-21", "2022-01-22", "2022-01-24", "2022-02-24")
"""The days from 2021-04-05 (hourly prices) to 2022-04 (the shipped events) with at least 200
Aave v2 liquidation calls."""
STRESS_EVENTS = "aave_v2_liquidations_stress_days.csv"
BTC_HOURLY = "binance_btcusdt_1h_aave_v2_stress_days.csv"
COLLATERAL_USD = 5.40e9
"""The book's collateral: Aave's TVL on 2021-04-25 (the 2021-04-18 example's citation), for every day."""
_PRESETS = (("2021-04-05", "ethb-2021-04-05"), ("2021-09-01", "ethb-2021-09-01"))

_DAY_TOML = '''# Aave v2 on {day}: the 2021-04-18 example's market, book and settings (its comments say why) on
# the hourly candles from 12:00 UTC the day before to 24:00; written by
# liqcascade.execution.aave_v2_replay.write_day. The book: 15,000 accounts, collateral sized to
# $5.40 bn (April 2021), health factors from the ETH-B fit of the latest date before the day.
name = "aave-v2-{day}"
description = "Aave v2 on {day} (rule set 2, parameters of May 2021), hourly candles"

[market]
protocol = "aave_v3"
version = "2"
params = "builtin:aave_v2_ethereum_2021-05-18"
assets = ["WETH", "WBTC", "USDC", "USDT", "DAI"]

[prices.overrides]
WETH = {weth!r}
WBTC = {wbtc!r}

[positions]
source = "synthetic"
n_accounts = 15000
seed = 7
debt_usd = {debt!r}
hf_preset = "{preset}"

[[venues]]
kind = "impact"
asset = "WETH"
depth_usd = 1e9
coefficient = 0.2
permanent_fraction = 0.0

[[venues]]
kind = "impact"
asset = "WBTC"
depth_usd = 1e9
coefficient = 0.2
permanent_fraction = 0.0

[simulation]
path = "candles"
candles = {{ ETH = "eth_1h.csv", BTC = "btc_1h.csv" }}
drive = {{ ETH = ["WETH"], BTC = ["WBTC"] }}
impact_on_path = "none"

[simulation.oracle]
kind = "chainlink"
deviation = 0.005
heartbeat_s = 3600

[simulation.liquidators]
liquidations_per_block = 40
gas_per_call = 500000
gas_gwei = 100
min_profit_usd = 10
'''


def _hours(frame: pd.DataFrame, lo: pd.Timestamp, hi: pd.Timestamp, what: str) -> pd.DataFrame:
    t = pd.to_datetime(frame["date"])
    out = frame[(t >= lo) & (t < hi)]
    if len(out) != int((hi - lo) / pd.Timedelta(hours=1)):
        raise DataError(what, None, f"every hour from {lo} to {hi}, got {len(out)} rows")
    return out


def write_day(out_dir: str | Path, day: str) -> Path:
    """Write the Aave v2 replay of stress day ``day`` (one of :data:`STRESS_DAYS`) into
    ``out_dir``: ``scenario.toml``, the ETH and BTC hourly candles from 12:00 UTC the day
    before to 24:00, and ``events.csv`` (the shipped events of those hours). The book's debt is
    set so that its collateral is :data:`COLLATERAL_USD` at the first prices."""
    from liqcascade.execution.backtest import ETH_HOURLY, data_dir
    from liqcascade.io import scenario as S

    if day not in STRESS_DAYS:
        raise ConfigError("<python>", "day", f"one of {list(STRESS_DAYS)}", day)
    hi = pd.Timestamp(day) + pd.Timedelta(days=1)
    lo = hi - pd.Timedelta(hours=36)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    eth = _hours(pd.read_csv(data_dir() / ETH_HOURLY), lo, hi, ETH_HOURLY)
    btc = _hours(pd.read_csv(data_dir() / "replays" / BTC_HOURLY), lo, hi, BTC_HOURLY)
    eth.to_csv(out / "eth_1h.csv", index=False)
    btc.to_csv(out / "btc_1h.csv", index=False)
    ev = pd.read_csv(data_dir() / "replays" / STRESS_EVENTS, dtype=str)
    t = pd.to_datetime(ev["timestamp"].astype("int64"), unit="s")
    ev[(t >= lo) & (t < hi)].to_csv(out / "events.csv", index=False)
    preset = [name for start, name in _PRESETS if pd.Timestamp(start) < lo][-1]
    fmt = dict(day=day, weth=float(eth["open"].iloc[0]), wbtc=float(btc["open"].iloc[0]), preset=preset)
    toml = out / "scenario.toml"
    # the debt that gives the synthetic book the cited collateral (health factors are unchanged by it)
    toml.write_text(_DAY_TOML.format(debt=1e9, **fmt))
    m = S.load(toml).model
    coll = float((m.book.collateral * np.asarray(m.prices)[m.book.asset]).sum())
    toml.write_text(_DAY_TOML.format(debt=float(f"{1e9 * COLLATERAL_USD / coll:.4g}"), **fmt))
    return toml


def compare_day(day: str, out_dir: str | Path, store=runs.DEFAULT_STORE) -> HourlyComparison:
    """:func:`write_day` then :func:`compare` against the day's events."""
    toml = write_day(out_dir, day)
    return compare(toml, store, events_csv=Path(out_dir) / "events.csv")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m liqcascade.execution.aave_v2_replay SCENARIO.toml | STRESS_DAY", file=sys.stderr)
        return 2
    if args[0] in STRESS_DAYS:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            print(compare_day(args[0], tmp, store=None).text())
        return 0
    print(compare(args[0]).text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
