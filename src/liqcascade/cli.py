"""The command line: a thin click group over :mod:`liqcascade.api`.

Each command is one library call plus formatting. Errors liqcascade raises on purpose
(bad config, bad data) are printed as one clear line and exit with status 2; nothing is
started or written when the input is bad.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
import pandas as pd

from liqcascade import __version__
from liqcascade.errors import LiqcascadeError

STORE_HELP = "Results directory (Parquet tables + DuckDB catalog). Default: ./liqcascade-results."


def _usd(x: float) -> str:
    a = abs(x)
    for div, suf in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if a >= div:
            return f"${x / div:,.2f}{suf}"
    return f"${x:,.2f}"


def _print_static(res) -> None:
    s = res.summary
    click.echo(f"run {res.run_id}  ({s['protocol']} {s['version']}, {s['accounts']:,} accounts, {s['holdings']:,} holdings)")
    lines = [
        ("rounds", f"{s['rounds']}" + ("" if s["converged"] else "  (NOT converged: raise engine.max_rounds)")),
        ("accounts liquidated", f"{s['accounts_liquidated']:,} ({s['liquidation_calls']:,} calls)"),
        ("collateral seized", _usd(s["collateral_seized_usd"])),
        ("debt repaid", _usd(s["debt_repaid_usd"])),
        ("liquidator proceeds", _usd(s["liquidator_proceeds_usd"])),
        ("bad debt", f"{_usd(s['bad_debt_usd'])}  (written off {_usd(s['bad_debt_written_off_usd'])}, "
                     f"unrecoverable {_usd(s['bad_debt_unrecoverable_usd'])}; before shock {_usd(s['bad_debt_before_usd'])})"),
    ]
    if s.get("insolvent_shortfall_usd"):
        lines.append(("insolvent, not closed", f"{_usd(s['insolvent_shortfall_usd'])} of debt above collateral on accounts "
                                               "the run could not finish (blocked, stuck or max_rounds)"))
    if s.get("shocked_assets_not_held"):
        lines.append(("note", f"shocked but held by no account: {s['shocked_assets_not_held']}"))
    if s.get("accounts_blocked"):
        lines.append(("accounts blocked", f"{s['accounts_blocked']:,} (dust rule / minimum size)"))
    if "amplification" in s:
        lines.append(
            ("amplification", f"{s['amplification']:.3f}  ({s['headline_asset']}: initial drop {s['initial_drop']:.1%}"
                              f" -> final drop {s['final_drop']:.1%})")
        )
    w = max(len(k) for k, _ in lines)
    for k, v in lines:
        click.echo(f"  {k:<{w}}  {v}")
    assets = res.table("assets")
    moved = assets[(assets["seized"] > 0) | (assets["repaid"] > 0) | (assets["initial_drop"] != 0)]
    if len(moved):
        view = pd.DataFrame(
            {
                "asset": moved["asset"],
                "price_ref": moved["price_reference"].map(lambda x: f"{x:,.2f}"),
                "shocked": moved["price_shocked"].map(lambda x: f"{x:,.2f}"),
                "final": moved["price_final"].map(lambda x: f"{x:,.2f}"),
                "drop": moved["final_drop"].map(lambda x: f"{x:.2%}"),
                "seized_tokens": moved["seized"].map(lambda x: f"{x:,.2f}"),
                "repaid_tokens": moved["repaid"].map(lambda x: f"{x:,.2f}"),
                "deficit_tokens": moved["deficit"].map(lambda x: f"{x:,.2f}"),
            }
        )
        click.echo("")
        click.echo(view.to_string(index=False))


def _print_curve(res) -> None:
    c = res.table("curve")
    click.echo(f"run {res.run_id}  cascade curve of {c['asset'].iloc[0]} ({len(c)} shocks)")
    view = pd.DataFrame(
        {
            "shock": c["shock"].map(lambda x: f"{x:.0%}" if abs(x * 100 - round(x * 100)) < 1e-9 else f"{x:.2%}"),
            "final_drop": c["final_drop"].map(lambda x: f"{x:.2%}"),
            "amplif": c["amplification"].map(lambda x: "-" if x != x else f"{x:.3f}"),
            "price_final": c["price_final"].map(lambda x: f"{x:,.2f}"),
            "seized": c["collateral_seized_usd"].map(_usd),
            "repaid": c["debt_repaid_usd"].map(_usd),
            "bad_debt": c["bad_debt_usd"].map(_usd),
            "rounds": c["rounds"],
        }
    )
    click.echo(view.to_string(index=False))


def _fail(e: Exception) -> None:
    click.echo(f"error: {e}", err=True)
    sys.exit(2)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="liqcascade")
def main() -> None:
    """liqcascade: cascading liquidation risk for DeFi lending.

    A shock moves prices; accounts fall below health 1 and are liquidated under the
    protocol's exact rules; liquidators sell the seized collateral into the venues;
    the sales move prices further; and so on to a fixed point. The commands below run
    that loop on a scenario file (TOML) and store every result as Parquet tables
    catalogued in DuckDB.
    """


@main.command("run")
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), default=Path("liqcascade-results"), help=STORE_HELP)
@click.option("--shock", "shock", multiple=True, metavar="ASSET=DROP", help="Replace the scenario's shocks, e.g. --shock WETH=0.3 (repeatable).")
@click.option("--recompute", is_flag=True, help="Run again even if this exact run is stored.")
def run_cmd(scenario: Path, out: Path, shock: tuple[str, ...], recompute: bool) -> None:
    """One static cascade for the shocks in SCENARIO.

    Prints the summary and per-asset prices, and writes the tables summary, assets,
    rounds and accounts under OUT/runs/<run id>/.
    """
    from liqcascade import api

    try:
        shocks = _parse_shocks(shock) if shock else None
        res = api.run(scenario, out, shocks=shocks, recompute=recompute)
    except LiqcascadeError as e:
        _fail(e)
    _print_static(res)
    click.echo(f"\ntables: {', '.join(res.tables)} -> {out / 'runs' / str(res.run_id)}")


@main.command("curve")
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--asset", help="Asset whose initial shock is swept (default: the scenario's [curve] asset).")
@click.option("--shocks", help="start:stop:step as fractions, stop inclusive (e.g. 0:0.8:0.01), or a comma list.")
@click.option("--co-move", "co_move", help="Comma list of assets shocked together with ASSET (e.g. wstETH,rETH,cbETH).")
@click.option("--no-impact", is_flag=True, help="Ignore venues: the no-feedback curve.")
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), default=Path("liqcascade-results"), help=STORE_HELP)
@click.option("--recompute", is_flag=True, help="Run again even if this exact curve is stored.")
def curve_cmd(
    scenario: Path, asset: str | None, shocks: str | None, co_move: str | None, no_impact: bool, out: Path, recompute: bool
) -> None:
    """The cascade curve: for each initial shock of ASSET, the cascade's fixed point.

    Per shock: final price and drop, amplification (final drop / initial drop),
    collateral seized and debt repaid (USD), bad debt and rounds. Writes the tables
    curve and curve_assets (per shock and asset).
    """
    from liqcascade import api

    try:
        moves = [a.strip() for a in co_move.split(",") if a.strip()] if co_move else None
        res = api.curve(
            scenario, asset, shocks, out, recompute=recompute, impact=False if no_impact else None, co_move=moves
        )
    except LiqcascadeError as e:
        _fail(e)
    _print_curve(res)
    click.echo(f"\ntables: {', '.join(res.tables)} -> {out / 'runs' / str(res.run_id)}")


@main.command("simulate")
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), default=Path("liqcascade-results"), help=STORE_HELP)
@click.option("--recompute", is_flag=True, help="Run again even if this exact simulation is stored.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def simulate_cmd(scenario: Path, out: Path, recompute: bool, quiet: bool) -> None:
    """Run SCENARIO block by block (its [simulation] table): the price path, venues that
    recover from liquidation selling, the protocol's oracle, and liquidators with finite
    capacity, gas and a profit threshold.

    Prints liquidations, bad debt and time to clear, and writes the tables steps (per
    block and asset: reference, market and oracle price, liquidations, bad debt so far),
    events (per liquidated account and block), assets and summary.
    """
    from liqcascade import api

    bar = None
    try:
        if quiet:
            res = api.simulate(scenario, out, recompute=recompute)
        else:
            with click.progressbar(length=1, label="blocks", show_pos=True, file=sys.stderr) as bar:
                def progress(done: int, total: int) -> None:
                    if bar.length != total:
                        bar.length = total
                    if done % 100 == 0 or done == total:
                        bar.update(done - bar.pos)

                res = api.simulate(scenario, out, recompute=recompute, progress=progress)
    except LiqcascadeError as e:
        _fail(e)
    s = res.summary
    click.echo(f"run {res.run_id}  ({s['protocol']} {s['version']}, {s['accounts']:,} accounts, "
               f"{s['blocks']:,} blocks of {s['block_seconds']:.0f} s)")
    lines = [
        ("accounts liquidated", f"{s['accounts_liquidated']:,} ({s['liquidation_calls']:,} calls)"),
        ("collateral seized", _usd(s["collateral_seized_usd"])),
        ("debt repaid", _usd(s["debt_repaid_usd"])),
        ("bad debt", f"{_usd(s['bad_debt_usd'])}  (written off {_usd(s['bad_debt_written_off_usd'])}, "
                     f"unrecoverable {_usd(s['bad_debt_unrecoverable_usd'])})"),
        ("below HF 1 at the end", f"{s['below_hf1_accounts_end']:,} accounts, {_usd(s['below_hf1_debt_usd_end'])} of debt "
                                  f"(above their collateral: {_usd(s['shortfall_end_usd'])})"),
        ("left undone (max/block)", f"{s['left_unprofitable_block_max']:,} unprofitable, "
                                    f"{s['left_over_capacity_block_max']:,} over capacity"),
        ("time to clear", f"{s['time_to_clear_s'] / 60:.1f} min" if s["cleared"]
                          else f"not cleared: {s['eligible_accounts_end']:,} accounts still eligible at the end"),
    ]
    w = max(len(k) for k, _ in lines)
    for k, v in lines:
        click.echo(f"  {k:<{w}}  {v}")
    a = res.table("assets")
    if len(a):
        view = a[["asset", "price_start", "reference_min", "market_min", "oracle_min", "seized", "repaid"]].copy()
        for c in ("price_start", "reference_min", "market_min", "oracle_min", "seized", "repaid"):
            view[c] = view[c].map(lambda x: f"{x:,.2f}")
        click.echo("")
        click.echo(view.to_string(index=False))
    click.echo(f"\ntables: {', '.join(res.tables)} -> {out / 'runs' / str(res.run_id)}")


@main.command("demo")
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), default=Path("liqcascade-results"), help=STORE_HELP)
@click.option("--recompute", is_flag=True, help="Run again even if stored.")
def demo_cmd(out: Path, recompute: bool) -> None:
    """Run the embedded default scenario: real Aave v3 Ethereum parameters
    (2023-10-31), a seeded synthetic book, and ETH and its liquid-staking tokens
    dropping 30 %; then the cascade curve of ETH (with its LSTs) over 0-60 %."""
    from liqcascade import api

    path = api.default_scenario_path()
    click.echo(f"scenario: {path}")
    try:
        res = api.run(path, out, recompute=recompute)
        _print_static(res)
        click.echo("")
        cur = api.curve(path, store=out, recompute=recompute)
        _print_curve(cur)
    except LiqcascadeError as e:
        _fail(e)
    click.echo(f"\nresults in {out}/ (query with DuckDB: {out}/catalog.duckdb)")


@main.command("conformance")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
def conformance_cmd(paths: tuple[Path, ...]) -> None:
    """Run protocol conformance vectors (YAML) and print pass/fail per vector.

    With no PATHS, runs every vector file bundled with liqcascade. Exit status 1 if
    any vector fails.
    """
    from liqcascade import conformance

    try:
        results = conformance.run_paths(list(paths) or None)
    except LiqcascadeError as e:
        _fail(e)
    click.echo(conformance.format_results(results))
    if not all(r.passed for r in results):
        sys.exit(1)


@main.command("runs")
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), default=Path("liqcascade-results"), help=STORE_HELP)
def runs_cmd(out: Path) -> None:
    """List the runs stored under OUT: run id, kind, when, package version, status."""
    from liqcascade.io.store import ResultsStore

    try:
        df = ResultsStore(out).list_runs()
    except LiqcascadeError as e:
        _fail(e)
    click.echo(df.to_string(index=False) if len(df) else "no runs stored")


@main.command("show")
@click.argument("run_id")
@click.option("--table", default="summary", show_default=True, help="Which table to print.")
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), default=Path("liqcascade-results"), help=STORE_HELP)
def show_cmd(run_id: str, table: str, out: Path) -> None:
    """Print one table of a stored run."""
    from liqcascade.io.store import ResultsStore

    try:
        df = ResultsStore(out).load(run_id, table)
    except LiqcascadeError as e:
        _fail(e)
    with pd.option_context("display.max_columns", 50, "display.width", 200):
        click.echo(df.T.to_string() if table == "summary" else df.to_string(index=False))


@main.command("schema")
def schema_cmd() -> None:
    """Print the scenario file's JSON Schema (every field described)."""
    import json

    from liqcascade.io.config import config_json_schema

    click.echo(json.dumps(config_json_schema(), indent=2))


def _parse_shocks(items: tuple[str, ...]) -> dict[str, float]:
    from liqcascade.errors import ConfigError

    out: dict[str, float] = {}
    for it in items:
        a, sep, v = it.partition("=")
        try:
            if not sep:
                raise ValueError
            out[a.strip()] = float(v)
        except ValueError:
            raise ConfigError("--shock", "shock", "ASSET=DROP, e.g. WETH=0.3", it) from None
    return out


if __name__ == "__main__":  # pragma: no cover
    main()
