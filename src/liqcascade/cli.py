"""The command line: a thin click group over :mod:`liqcascade.api`.

Each command is one library call plus formatting. Errors liqcascade raises on purpose
(bad config, bad data) are printed as one clear line and exit with status 2; nothing is
started or written when the input is bad.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from liqcascade.errors import LiqcascadeError

STORE_HELP = "Results directory (Parquet tables + run manifests, queryable with DuckDB). Default: ./liqcascade-results."
OUT_HELP = ("Results directory (Parquet tables + run manifests, queryable with DuckDB); --out and --store are the same option. "
            "Default: ./liqcascade-results.")
SWEEP_HELP = ("Sweep a dotted config field over values, e.g. shock.WETH=0.2,0.3 or "
              "assets.WETH.liquidation_bonus=0.05,0.08 (repeatable: full factorial): one run per combination and "
              "one table, as `liqcascade sweep --kind {kind}`.")


QUIET_HELP = "No progress on stderr (also: LIQCASCADE_QUIET=1)."


def _progress(label: str, unit: str, quiet: bool, position: int = 0, resumable: bool = False):
    """A progress(done, total) drawing on stderr (a bar on a terminal, a line every 10 s in a pipe),
    or None with --quiet / LIQCASCADE_QUIET. ``resumable``: the first report is what was stored."""
    from liqcascade.execution.progress import for_cli

    return for_cli(label, unit, quiet, position, resumable)


from liqcascade.cli_system import usd as _usd  # noqa: E402  (one USD format for every printed line)


def _print_perps(res) -> None:
    """A perp run: its totals, then the minutes with liquidations or deleveraging."""
    import pandas as pd

    s = res.summary
    click.echo(f"run {res.run_id}  (perps: {s['engine']} {s['market']}, {s['accounts']:,} accounts, {s['steps']} steps)")
    with pd.option_context("display.max_columns", 50, "display.width", 200):
        click.echo(res.table("summary").T.to_string(header=False))
        m = res.table("minutes")
        busy = m[(m["liquidated_usd"] > 1.0) | (m["adl_usd"] > 1.0)]
        click.echo(f"\nminutes with liquidations or ADL ({len(busy)} of {len(m)}):")
        click.echo(busy.to_string(index=False) if len(busy) else "  none")


def _perp_montecarlo(scenario: Path, paths: int, seed: int | None, out: Path, where: dict, others: dict,
                     quiet: bool = False) -> None:
    """``montecarlo`` of a perp scenario: paths resampled from its own path (docs/perps.md, "Risk
    over paths"), in chunks on the executor; the lending-only options are refused."""
    import pandas as pd

    from liqcascade import api
    from liqcascade.errors import ConfigError

    given = [k for k, v in others.items() if v is not None]
    if given:
        _fail(ConfigError(f"--{given[0].replace('_', '-')}", given[0], "no such option for a perp scenario (its "
                          "options: --paths, --seed, --executor, --workers, --chunk-size)"))
    bar = _progress("montecarlo", "chunks", quiet, resumable=True)
    try:
        res = api.perp_montecarlo(scenario, paths, 0 if seed is None else seed, out, progress=bar, **where)
    except LiqcascadeError as e:
        _fail(e)
    finally:
        if bar is not None:
            bar.close()
    click.echo(f"run {res.run_id}  (perps Monte Carlo: {paths:,} paths)")
    with pd.option_context("display.max_columns", 50, "display.width", 200):
        click.echo(res.table("risk").to_string(index=False))
    click.echo(f"\ntables: {', '.join(res.tables)} -> {out / 'runs' / str(res.run_id)}")


def _print_static(res) -> None:
    import pandas as pd
    s = res.summary
    rules = " ".join(str(x) for x in (s.get("protocol"), s.get("version")) if x is not None and x == x)
    click.echo(f"run {res.run_id}  ({rules}, {s['accounts']:,} accounts, {s['holdings']:,} holdings)")
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
    import pandas as pd
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
    from liqcascade.io.store import UnknownRunError

    msg = str(e)
    if isinstance(e, UnknownRunError):  # the store's advice names a Python method; say the command
        from liqcascade.errors import rehint

        root = msg.split(": no ", 1)[0] if ": no " in msg else "DIR"
        msg = rehint(msg, f"`liqcascade runs --out {root}` lists the stored runs")
    click.echo(f"error: {msg}", err=True)
    sys.exit(2)


def _warn_no_venue(res) -> None:
    """On stderr: shocked assets no venue prices (their amplification is 1 by construction)."""
    t = res.table("summary") if "summary" in res.tables else res.table("curve")
    col = "shocked_assets_without_venue" if "summary" in res.tables else "assets_without_venue"
    names = str(t[col].iloc[0]) if col in t.columns and len(t) and isinstance(t[col].iloc[0], str) else ""
    if names:
        click.echo(f"warning: no venue for shocked {names}: nothing sold moves its price, so its amplification "
                   "is 1 by construction; add a [[venues]] entry for it", err=True)


# commands whose stored pieces a rerun picks up (Monte Carlo chunks, a sweep's combinations)
_RESUMES = {"montecarlo": "the chunks already computed are stored",
            "sweep": "finished combinations and Monte Carlo chunks are stored",
            "calibrate": "the Monte Carlo chunks already computed are stored"}


def _interrupted(ctx: click.Context) -> None:
    """Ctrl-C: one line on what is kept and how to go on, exit 130 (128 + SIGINT) as shells do."""
    import shlex
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not print a traceback mid-exit
    name = ctx.invoked_subcommand or ""
    argv = sys.argv[1:]
    kept = _RESUMES.get("sweep" if "--sweep" in argv else name)
    if name == "calibrate" and ("static" in argv or "liquidity" in argv):  # no chunks: stored at the end
        kept = None
    command = shlex.join(["liqcascade", *argv])
    if name in ("serve", "runs", "show", "schema", "conformance"):  # nothing to store or resume
        click.echo("\ninterrupted", err=True)
        sys.exit(130)
    if kept:
        say = f"{kept}; run the same command again (same --out) to resume"
    else:
        say = "nothing of the unfinished run was stored; rerun to start it again"
    click.echo(f"\ninterrupted: {say}: {command}", err=True)
    sys.exit(130)


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    """--version, as click's own option prints it; the version is looked up only here (start-up)."""
    if not value or ctx.resilient_parsing:
        return
    from liqcascade import __version__

    click.echo(f"liqcascade, version {__version__}")
    ctx.exit()


class _Group(click.Group):
    """The command group; a Ctrl-C anywhere ends with :func:`_interrupted` (not click's "Aborted!")."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            _interrupted(ctx)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=_print_version,
              help="Show the version and exit.")
def main() -> None:
    """liqcascade: cascading liquidation risk for DeFi lending.

    A shock moves prices; accounts fall below health 1 and are liquidated under the
    protocol's exact rules; liquidators sell the seized collateral into the venues;
    the sales move prices further; and so on to a fixed point. The commands below run
    that loop on a scenario file (TOML) and store every result as Parquet tables,
    queryable in SQL (DuckDB).
    """


@main.command("run")
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", "--store", "out", type=click.Path(file_okay=False, path_type=Path), default=Path("liqcascade-results"), help=OUT_HELP)
@click.option("--shock", "shock", multiple=True, metavar="ASSET=DROP", help="Replace the scenario's shocks, e.g. --shock WETH=0.3 (repeatable).")
@click.option("--recompute", is_flag=True, help="Run again even if this exact run is stored.")
@click.option("--sweep", "factors", multiple=True, metavar="FIELD=V1,V2,...", help=SWEEP_HELP.format(kind="static"))
@click.option("--quiet", "-q", is_flag=True, help=QUIET_HELP)
def run_cmd(scenario: Path, out: Path, shock: tuple[str, ...], recompute: bool, factors: tuple[str, ...],
            quiet: bool) -> None:
    """One static cascade for the shocks in SCENARIO.

    Prints the summary and per-asset prices, and writes the tables summary, assets,
    rounds and accounts under OUT/runs/<run id>/. With --sweep: one run per combination
    (--shock replaces [shock] first) and one table, as `liqcascade sweep --kind static`.
    """
    from liqcascade import api

    if factors:
        try:
            fixed = {"shock": ("--shock", _parse_shocks(shock))} if shock else None
        except LiqcascadeError as e:
            _fail(e)
        _sweep_and_print(scenario, factors, "static", out, recompute=recompute, quiet=quiet, fixed=fixed)
        return
    try:
        shocks = _parse_shocks(shock) if shock else None
        res = api.run(scenario, out, shocks=shocks, recompute=recompute)
    except LiqcascadeError as e:
        _fail(e)
    if res.kind == "system":
        from liqcascade.cli_system import print_system

        print_system(res)
        _warn_no_venue(res)
    elif res.kind == "perps":
        _print_perps(res)
    else:
        _print_static(res)
        _warn_no_venue(res)
    click.echo(f"\ntables: {', '.join(res.tables)} -> {out / 'runs' / str(res.run_id)}")


@main.command("curve")
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--asset", help="Asset whose initial shock is swept (default: the scenario's [curve] asset).")
@click.option("--shocks", help="start:stop:step as fractions, stop inclusive (e.g. 0:0.8:0.01), or a comma list.")
@click.option("--co-move", "co_move", help="Comma list of assets shocked together with ASSET (e.g. wstETH,rETH,cbETH).")
@click.option("--no-impact", is_flag=True, help="Ignore venues: the no-feedback curve.")
@click.option("--out", "--store", "out", type=click.Path(file_okay=False, path_type=Path), default=Path("liqcascade-results"), help=OUT_HELP)
@click.option("--recompute", is_flag=True, help="Run again even if this exact curve is stored.")
@click.option("--quiet", "-q", is_flag=True, help=QUIET_HELP)
@click.option("--no-alone", is_flag=True, help="A system scenario: the system only, without each market alone at "
              "every shock (one cascade per shock instead of one plus one per market; docs/system.md).")
def curve_cmd(
    scenario: Path, asset: str | None, shocks: str | None, co_move: str | None, no_impact: bool, out: Path,
    recompute: bool, quiet: bool, no_alone: bool,
) -> None:
    """The cascade curve: for each initial shock of ASSET, the cascade's fixed point.

    Per shock: final price and drop, amplification (final drop / initial drop),
    collateral seized and debt repaid (USD), bad debt and rounds. Writes the tables
    curve and curve_assets (per shock and asset).
    """
    from liqcascade import api

    bar = _progress("curve", "shocks", quiet)
    try:
        moves = [a.strip() for a in co_move.split(",") if a.strip()] if co_move else None
        res = api.curve(
            scenario, asset, shocks, out, recompute=recompute, impact=False if no_impact else None,
            co_move=moves, progress=bar, alone=not no_alone,
        )
    except LiqcascadeError as e:
        _fail(e)
    finally:
        if bar is not None:
            bar.close()
    if "alone_bad_debt_usd" in res.table("curve"):
        from liqcascade.cli_system import print_system_curve

        print_system_curve(res)
    else:
        _print_curve(res)
    _warn_no_venue(res)
    click.echo(f"\ntables: {', '.join(res.tables)} -> {out / 'runs' / str(res.run_id)}")


@main.command("simulate")
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", "--store", "out", type=click.Path(file_okay=False, path_type=Path), default=Path("liqcascade-results"), help=OUT_HELP)
@click.option("--recompute", is_flag=True, help="Run again even if this exact simulation is stored.")
@click.option("--quiet", "-q", is_flag=True, help=QUIET_HELP)
@click.option("--sweep", "factors", multiple=True, metavar="FIELD=V1,V2,...", help=SWEEP_HELP.format(kind="simulate"))
def simulate_cmd(scenario: Path, out: Path, recompute: bool, quiet: bool, factors: tuple[str, ...]) -> None:
    """Run SCENARIO block by block (its [simulation] table): the price path, venues that
    recover from liquidation selling, the protocol's oracle, and liquidators with finite
    capacity, gas and a profit threshold.

    Prints liquidations, bad debt and time to clear, and writes the tables steps (per
    block and asset: reference, market and oracle price, liquidations, bad debt so far),
    events (per liquidated account and block), assets and summary. With --sweep: one
    simulation per combination and one table, as `liqcascade sweep --kind simulate`.
    """
    from liqcascade import api

    if factors:
        _sweep_and_print(scenario, factors, "simulate", out, recompute=recompute, quiet=quiet)
        return
    bar = _progress("simulate", "blocks", quiet)  # draws at the first block: bad input prints only its error
    try:
        res = api.simulate(scenario, out, recompute=recompute, progress=bar)
    except LiqcascadeError as e:
        _fail(e)
    finally:
        if bar is not None:
            bar.close()
    if res.kind in ("system_simulation", "system_perps"):
        from liqcascade.cli_system import print_system_perps, print_system_simulation

        (print_system_perps if res.kind == "system_perps" else print_system_simulation)(res)
        click.echo(f"\ntables: {', '.join(res.tables)} -> {out / 'runs' / str(res.run_id)}")
        return
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
        ("impact on path", _impact_on_path(res.config)),
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


def _impact_on_path(config) -> str:
    """``[simulation] impact_on_path`` as run (its default depends on the path's kind)."""
    sim = (config or {}).get("simulation") or {}
    if sim.get("impact_on_path"):
        return str(sim["impact_on_path"])
    replayed = sim.get("path") in ("replay", "candles")
    return "none (default on a replayed path)" if replayed else "full (default)"


@main.command("compare")
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--protocols", "protocols", help="Comma list of protocols (default: aave_v3,compound_v3,maker,liquity_v1).")
@click.option("--dynamic", is_flag=True, help="Also run the scenario's [simulation] block by block for each protocol.")
@click.option("--out", "--store", "out", type=click.Path(file_okay=False, path_type=Path), default=Path("liqcascade-results"), help=OUT_HELP)
@click.option("--recompute", is_flag=True, help="Run again even if this exact comparison is stored.")
@click.option("--quiet", "-q", is_flag=True, help=QUIET_HELP)
def compare_cmd(scenario: Path, protocols: str | None, dynamic: bool, out: Path, recompute: bool,
                quiet: bool) -> None:
    """The same book, venues and crash under several protocols' liquidation rules.

    Only market.protocol changes between the runs; each protocol reads the shared
    parameters in its own meaning (see the protocol tables in docs/scenarios.md).
    Prints one row per protocol (accounts liquidated, collateral seized, final drop of
    the shocked asset, amplification, bad debt; with --dynamic the block-by-block
    lowest market price, bad debt and what the protocol still holds) and writes the
    tables comparison and assets.
    """
    import pandas as pd
    from liqcascade import api

    bar = None
    try:
        names = [p.strip() for p in protocols.split(",") if p.strip()] if protocols else list(api.COMPARE_PROTOCOLS)
        bar = _progress("compare", "runs", quiet)
        res = api.compare(scenario, names, out, recompute=recompute, dynamic=dynamic, progress=bar)
    except LiqcascadeError as e:
        _fail(e)
    finally:
        if bar is not None:
            bar.close()
    t = res.table("comparison")
    view = pd.DataFrame({
        "protocol": t["protocol"],
        "liquidated": t["accounts_liquidated"].map(lambda x: f"{x:,}"),
        "seized": t["collateral_seized_usd"].map(_usd),
        "drop": [f"{a:.1%} -> {b:.1%}" for a, b in zip(t["initial_drop"], t["final_drop"])],
        "amplif.": t["amplification"].map(lambda x: f"{x:.3f}"),
        "bad debt": t["bad_debt_usd"].map(_usd),
    })
    if "sim_bad_debt_usd" in t:
        view["sim: liquidated"] = t["sim_accounts_liquidated"].map(lambda x: f"{x:,}")
        view["sim: lowest market"] = t["sim_market_min_drop"].map(lambda x: f"-{x:.1%}")
        view["sim: bad debt"] = t["sim_bad_debt_usd"].map(_usd)
        view["sim: protocol holds"] = t["sim_protocol_holdings_usd"].map(_usd)
    click.echo(f"run {res.run_id}  shock: {t['driver'].iloc[0]} -{t['initial_drop'].iloc[0]:.1%}")
    click.echo(view.to_string(index=False))
    click.echo(f"\ntables: {', '.join(res.tables)} -> {out / 'runs' / str(res.run_id)}")


@main.command("demo")
@click.option("--out", "--store", "out", type=click.Path(file_okay=False, path_type=Path), default=Path("liqcascade-results"), help=OUT_HELP)
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
    click.echo(f"\nresults in {out}/ (query in SQL: ResultsStore({str(out)!r}).query(...))")


@main.command("warm")
def warm_cmd() -> None:
    """Compile the numba kernels of every engine path (each protocol static and block by
    block, curves, a system of markets) into numba's on-disk cache, on tiny bundled
    scenarios, so that no later run compiles. `make demo` runs it. About a minute of CPU
    the first time; seconds once cached. Prints each step and what it compiled."""
    from liqcascade._jit import DISABLE_JIT_ENV, jit_enabled
    from liqcascade.execution.warm import warm

    if not jit_enabled():
        click.echo(f"the JIT is disabled ({DISABLE_JIT_ENV}): nothing to compile")
        return

    def show(step) -> None:
        what = f"skipped: {step.skipped}" if step.skipped else f"{step.compiled} kernels compiled"
        click.echo(f"  {step.what:<42} {step.seconds:6.1f} s  {what}")

    click.echo("warming numba's cache (nothing is stored):")
    try:
        steps = warm(show)
    except LiqcascadeError as e:
        _fail(e)
    compiled = sum(s.compiled for s in steps)
    click.echo(f"{compiled} kernels compiled in {sum(s.seconds for s in steps):.1f} s"
               + (" (all were cached)" if compiled == 0 else ""))


@main.command("conformance")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
def conformance_cmd(paths: tuple[Path, ...]) -> None:
    """Run protocol conformance vectors (YAML) and print pass/fail per vector.

    With no PATHS, runs every vector file bundled with liqcascade. Exit status 1 if
    any vector fails.
    """
    from liqcascade.protocols import conformance

    try:
        results = conformance.run_paths(list(paths) or None)
    except LiqcascadeError as e:
        _fail(e)
    click.echo(conformance.format_results(results))
    if not all(r.passed for r in results):
        sys.exit(1)


@main.command("runs")
@click.option("--out", "--store", "out", type=click.Path(file_okay=False, path_type=Path), default=Path("liqcascade-results"), help=OUT_HELP)
def runs_cmd(out: Path) -> None:
    """List the runs stored under OUT, oldest first, one line each: run id, kind, created
    (UTC), package version, status and a short label (scenario file; shocks, curve asset,
    paths or swept fields). `liqcascade show RUN_ID` prints a run's tables."""
    import pandas as pd
    from liqcascade.io.store import ResultsStore

    try:
        df = ResultsStore(out, create=False).list_runs()  # a read never creates a store
    except LiqcascadeError as e:
        _fail(e)
    if not len(df):
        click.echo(f"no runs stored in {out}")
        return
    rows = [("run_id", "kind", "created (UTC)", "version", "status", "label")]
    for r in df.itertuples(index=False):
        rows.append((r.run_id, r.kind, pd.Timestamp(r.created_at).strftime("%Y-%m-%d %H:%M:%S"), r.version, r.status,
                     _run_label(r.kind, r.config, r.meta)))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    for row in rows:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths)) + "  " + row[5])


def _run_label(kind: str, config_json: str, meta_json: str) -> str:
    """A few words naming a stored run: its scenario file and what varies between runs of it."""
    import json

    try:
        config, meta = json.loads(config_json), json.loads(meta_json)
    except ValueError:
        return ""
    config = config if isinstance(config, dict) else {}
    meta = meta if isinstance(meta, dict) else {}
    words = []
    if meta.get("source"):
        words.append(Path(str(meta["source"])).name)
    pct = lambda v: f"{v:.0%}" if isinstance(v, (int, float)) and abs(v * 100 - round(v * 100)) < 1e-9 else str(v)  # noqa: E731
    if kind == "static" and isinstance(config.get("shock"), dict):
        words.append("shock " + (", ".join(f"{a} {pct(v)}" for a, v in config["shock"].items()) or "none"))
    elif kind == "curve" and meta.get("asset"):
        impact = (config.get("engine") or {}).get("impact", True) if isinstance(config.get("engine"), dict) else True
        words.append(f"curve of {meta['asset']}" + ("" if impact is not False else ", no impact"))
    elif kind == "montecarlo" and meta.get("paths") is not None:
        words.append(f"{meta['paths']:,} paths, seed {meta.get('seed')}")
    elif kind == "sweep" and meta.get("factors"):
        words.append(f"{meta.get('run_kind', '')} sweep of {', '.join(map(str, meta['factors']))} "
                     f"({meta.get('combinations', '?')} combinations)")
    return ", ".join(words)


@main.command("show")
@click.argument("run_id")
@click.option("--table", default="summary", show_default=True, help="Which table to print.")
@click.option("--out", "--store", "out", type=click.Path(file_okay=False, path_type=Path), default=Path("liqcascade-results"), help=OUT_HELP)
def show_cmd(run_id: str, table: str, out: Path) -> None:
    """Print one table of a stored run."""
    import pandas as pd
    from liqcascade.io.store import ResultsStore

    try:
        df = ResultsStore(out, create=False).load(run_id, table)
    except LiqcascadeError as e:
        _fail(e)
    with pd.option_context("display.max_columns", 50, "display.width", 200):
        click.echo(df.T.to_string() if table == "summary" else df.to_string(index=False))


@main.command("schema")
@click.option("--system", is_flag=True, help="The schema of a system scenario ([[markets]]; docs/system.md).")
@click.option("--perps", is_flag=True, help="The schema of a perp scenario ([perps]; docs/perps.md).")
def schema_cmd(system: bool, perps: bool) -> None:
    """Print the scenario file's JSON Schema (every field described)."""
    import json

    from liqcascade.io.config import config_json_schema

    if perps:
        from liqcascade.io.perp_scenario import PerpScenarioConfig

        click.echo(json.dumps(PerpScenarioConfig.model_json_schema(), indent=2))
        return
    if system:
        from liqcascade.io.system import SystemScenarioConfig

        click.echo(json.dumps(SystemScenarioConfig.model_json_schema(), indent=2))
        return
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



@main.command("maker-replay")
@click.option("--date", default="2021-01-21", show_default=True,
              help="Day of the shipped Uniswap v2 ETH/DAI prices (US Pacific; the window is the 24 h they cover).")
@click.option("--no-user-events", is_flag=True, help="Keep the book as it was at the start (no owner top-ups).")
@click.option("--out", "--store", "out", type=click.Path(file_okay=False, path_type=Path), default=Path("liqcascade-results"), help=OUT_HELP)
@click.option("--dai-usd", "dai_usd", type=float, default=1.0, show_default=True,
              help="DAI's USD price, to turn the pool's DAI per ETH into the USD price Maker's oracle reads.")
@click.option("--price-file", "price_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Read DATE's prices from this Uniswap v2 reserves CSV (period_start_utc, dai_reserve, "
                   "weth_reserve; labels in US Pacific time) instead of the shipped slice.")
@click.option("--recompute", is_flag=True, help="Run again even if this exact replay is stored.")
def maker_replay_cmd(date: str, no_user_events: bool, out: Path, dai_usd: float, price_file: Path | None,
                     recompute: bool) -> None:
    """Replay MakerDAO ETH-B through a day under the Cat's rules (Liquidations 1.2: OSM one
    hour late, bites of at most dunk) and score the simulated bites against the recorded ones.

    Prints precision, recall and F1 over vaults, collateral simulated vs recorded and the
    timing; writes the tables summary, vaults, bites and steps.
    """
    from liqcascade.execution.maker_replay import replay_ethb

    from liqcascade.errors import ConfigError

    try:
        res = replay_ethb(date, apply_user_events=not no_user_events, dai_usd=dai_usd, price_file=price_file,
                          store=out, recompute=recompute)
    except ConfigError as e:  # the library's argument names, said as this command's options
        _fail(e.renamed("liqcascade maker-replay", {"date": "--date", "dai_usd": "--dai-usd",
                                                    "price_file": "--price-file"}))
    except LiqcascadeError as e:
        _fail(e)
    s = res.summary
    click.echo(f"run {res.run_id}  ETH-B {s['window_start']} to {s['window_end']}, "
               f"owner actions {'replayed' if s['apply_user_events'] else 'ignored'}"
               + (f", DAI at {s['dai_usd']:g} USD" if s["dai_usd"] != 1.0 else ""))
    for label, value in {
        "vaults bitten": f"{s['vaults_simulated']} simulated, {s['vaults_actual']} recorded "
                         f"(TP {s['true_positives']}, FP {s['false_positives']}, FN {s['false_negatives']})",
        "precision / recall / F1": f"{s['precision']:.3f} / {s['recall']:.3f} / {s['f1']:.3f}",
        "collateral (ETH)": f"{s['sim_collateral_eth']:,.1f} simulated, {s['actual_collateral_eth']:,.1f} recorded "
                            f"({s['collateral_rel_diff']:+.1%}); vaults in both: {s['tp_sim_collateral_eth']:,.1f} "
                            f"vs {s['tp_actual_collateral_eth']:,.1f}",
        "first bite, sim - recorded": f"median {s['timing_diff_median_s'] / 60:+.1f} min, "
                                      f"largest {s['timing_diff_max_abs_s'] / 60:.1f} min either way",
    }.items():
        click.echo(f"  {label:<26}  {value}")
    v = res.table("vaults")
    miss = v[v["outcome"].isin(["FP", "FN"])]
    if len(miss):
        click.echo("\n" + miss[["vault", "outcome", "liquidation_price_start", "user_events", "sim_collateral_eth",
                                "actual_collateral_eth"]].to_string(index=False))
    click.echo(f"\ntables: {', '.join(res.tables)} -> {out / 'runs' / str(res.run_id)}")


@main.command("montecarlo")
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--paths", "paths", type=int, default=1000, show_default=True, help="Monte Carlo paths.")
@click.option("--executor", default="local", show_default=True,
              help="serial, local (processes on this machine), dask (a local Dask cluster) or dask://HOST:PORT.")
@click.option("--workers", type=int, help="Worker processes (local, dask). Default: all cores.")
@click.option("--chunk-size", "chunk_size", type=int, help="Paths per chunk (one stored part each). Default: ~100 chunks.")
@click.option("--seed", type=int, help="Root seed (default: the [montecarlo] table's).")
@click.option("--reserves", "reserves", type=float, help="Reserves in USD for P(bad debt > reserves) (default: the table's).")
@click.option("--out", "--store", "out", type=click.Path(file_okay=False, path_type=Path), default=Path("liqcascade-results"), help=OUT_HELP)
@click.option("--quiet", "-q", is_flag=True, help=QUIET_HELP)
@click.option("--sweep", "factors", multiple=True, metavar="FIELD=V1,V2,...", help=SWEEP_HELP.format(kind="montecarlo"))
@click.option("--alone", is_flag=True, help="A system scenario: also run every market alone on each path (one more "
              "simulation per market and path): the contagion's distribution, table contagion_risk.")
def montecarlo_cmd(scenario: Path, paths: int, executor: str, workers: int | None, chunk_size: int | None,
                   seed: int | None, reserves: float | None, out: Path, quiet: bool, factors: tuple[str, ...],
                   alone: bool) -> None:
    """Run SCENARIO over many random price paths (its [montecarlo] table; each path through
    the [simulation] engine) and print the risk: VaR and CVaR of bad debt at 95/99/99.9 %
    with confidence intervals, P(insolvent), P(bad debt > reserves), liquidations at risk,
    and the paths needed for a +-10 % interval.

    Chunks of paths land in OUT/runs/<run id>/paths/ as they finish; run the same command
    again after an interruption and only the missing chunks run. Writes the tables paths
    (one row per path) and risk. With --sweep: one Monte Carlo run per combination (--reserves
    replaces [montecarlo].reserves_usd first) and one table of risk estimates, as
    `liqcascade sweep --kind montecarlo`.
    """
    from liqcascade.execution.api import montecarlo
    from liqcascade.execution.runs import is_perp

    if is_perp(scenario):
        _perp_montecarlo(scenario, paths, seed, out, dict(executor=executor, workers=workers, chunk_size=chunk_size),
                         dict(reserves=reserves, sweep=factors or None, alone=alone or None), quiet)
        return
    if factors and alone:
        from liqcascade.errors import ConfigError

        _fail(ConfigError("--alone", "alone", "no --sweep with --alone (a sweep's Monte Carlo runs the markets "
                          "together only)", True))
    if factors:
        fixed = None if reserves is None else {"montecarlo.reserves_usd": ("--reserves", reserves)}
        _sweep_and_print(scenario, factors, "montecarlo", out, quiet=quiet, fixed=fixed, paths=paths,
                         executor=executor, workers=workers, chunk_size=chunk_size, seed=seed)
        return
    # drawn at the first report: bad input prints only its error
    bar = _progress("montecarlo", "chunks", quiet, resumable=True)
    try:
        res = montecarlo(scenario, paths, executor=executor, workers=workers, chunk_size=chunk_size, seed=seed,
                         reserves_usd=reserves, store=out, progress=bar, alone=alone)
    except LiqcascadeError as e:
        _fail(e)
    finally:
        if bar is not None:
            bar.close()
    _print_montecarlo(res)
    if "market_risk" in res.tables:
        from liqcascade.cli_system import print_market_risk

        print_market_risk(res)
    click.echo(f"\ntables: {', '.join(res.tables)} -> {out / 'runs' / str(res.run_id)}")


def _interval(r, fmt) -> str:
    f = lambda x: "inf" if x == float("inf") else fmt(x)  # noqa: E731 - an open-ended interval
    return f"{f(r.estimate)}  [{f(r.lo)}, {f(r.hi)}]"


def _needed(r) -> str:
    import pandas as pd
    return "-" if pd.isna(r.paths_needed) else f"{int(r.paths_needed):,}"


def _print_montecarlo(res) -> None:
    import pandas as pd
    risk, p = res.table("risk"), res.table("paths")
    click.echo(f"run {res.run_id}  {len(p):,} paths, root seed {int(p['seed'].iloc[0])}")
    bad = risk[risk["metric"] == "bad_debt_usd"]
    rows = [("level", "VaR of bad debt", "paths for +-10 %", "CVaR (ES) of bad debt", "paths for +-10 %")]
    for lvl in sorted(bad["level"].dropna().unique()):
        var = bad[(bad["statistic"] == "var") & (bad["level"] == lvl)].iloc[0]
        es = bad[(bad["statistic"] == "es") & (bad["level"] == lvl)].iloc[0]
        rows.append((f"{lvl:.1%}", _interval(var, _usd), _needed(var), _interval(es, _usd), _needed(es)))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    for r in rows:
        click.echo("  " + "  ".join(c.ljust(w) for c, w in zip(r, widths)))
    pct = lambda x: f"{x:.2%}"  # noqa: E731
    for stat, label in (("p_insolvent", "P(bad debt > 0)"), ("p_exceeds_reserves", "P(bad debt > reserves)")):
        hit = bad[bad["statistic"] == stat]
        if len(hit):
            r = hit.iloc[0]
            click.echo(f"  {label:<24}{_interval(r, pct)}  (paths for +-10 %: {_needed(r)})")
    click.echo("")
    view = []
    for metric, fmt in (("collateral_seized_usd", _usd), ("accounts_liquidated", lambda x: f"{x:,.0f}"),
                        ("amplification", lambda x: f"{x:.3f}"), ("time_to_clear_s", lambda x: f"{x / 60:,.1f} min")):
        m = risk[risk["metric"] == metric].set_index(["statistic", "level"], drop=False)
        if not len(m):
            continue
        cells = {"metric": metric, "paths": f"{int(m['n_paths'].iloc[0]):,}"}
        for stat, lvl in (("mean", None), ("var", 0.99), ("es", 0.99)):
            hit = m[(m["statistic"] == stat) & ((m["level"] == lvl) if lvl else m["level"].isna())]
            cells[stat if lvl is None else f"{stat} 99%"] = _interval(hit.iloc[0], fmt) if len(hit) else "-"
        view.append(cells)
    click.echo(pd.DataFrame(view).to_string(index=False))
    click.echo("(liquidations at risk = VaR of collateral seized; time to clear: first to last liquidation, inf when "
               "accounts a liquidator would take were still waiting at the end of a path)")
    if any(c["metric"] == "amplification" for c in view):
        note = _amplification_caveat(p)
        if note:
            click.echo(note)


SMALL_DROP = 0.01
"""An exogenous headline drop below this makes a path's amplification (a ratio of drops) noise."""


def _amplification_caveat(paths: pd.DataFrame) -> str | None:
    """One line when at least 1 % of the paths the amplification is taken over (headline fell)
    fell less than :data:`SMALL_DROP`: the tail of a ratio of small numbers is then theirs."""
    if "exogenous_drop" not in paths or "amplification" not in paths:
        return None
    drop = paths.loc[paths["amplification"].notna(), "exogenous_drop"]
    small = int((drop < SMALL_DROP).sum())
    if not len(drop) or small < 0.01 * len(drop):
        return None
    return (f"caution: {small:,} of the {len(drop):,} paths behind amplification ({small / len(drop):.0%}) have an "
            f"exogenous drop below {SMALL_DROP:.0%}; there final / exogenous drop is a ratio of small numbers (noise) "
            f"and drives its mean and tail. Filter the paths table on exogenous_drop >= {SMALL_DROP:g} (docs/montecarlo.md).")



@main.command("report")
@click.argument("target")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=Path("report.html"),
              show_default=True, help="The HTML file to write.")
@click.option("--store", type=click.Path(file_okay=False, path_type=Path), default=Path("liqcascade-results"), help=STORE_HELP)
@click.option("--no-complete", is_flag=True, help="For a RUN_ID: report only what is stored; do not run the missing "
                                                  "curves and walls from the run's scenario file.")
@click.option("--simulate", is_flag=True, help="For a SCENARIO with a [simulation] table: run the simulation too.")
def report_cmd(target: str, output: Path, store: Path, no_complete: bool, simulate: bool) -> None:
    """One self-contained HTML report of TARGET: a stored RUN_ID or a SCENARIO.toml.

    A scenario is run first (its static cascade, the cascade curve with and without
    feedback, the liquidation walls; stored runs are reused). The file opens offline
    anywhere: plotly.js is inside it once and nothing is fetched. It shows the cascade
    curve beside the no-feedback curve, the liquidation walls beside what the cascade
    liquidates, the cascade round by round, price paths, liquidations and bad debt over
    time for simulations, the bad-debt distribution with VaR/CVaR for Monte Carlo runs
    and the metric against the parameter for calibrations; each figure names the stored
    table it was drawn from, and the config and run ids are at the end.
    """
    from liqcascade.report import write_report

    try:
        rep = write_report(store, target, output, option="-o/--output", complete=not no_complete, simulate=simulate)
    except LiqcascadeError as e:
        _fail(e)
    size = output.stat().st_size / 1e6
    click.echo(f"report of run {rep.run_id}: {', '.join(v.title for v in rep.views) or 'no figures'}")
    for note in rep.notes:
        click.echo(f"  not included: {note}")
    click.echo(f"-> {output} ({size:.2f} MB)")


@main.command("serve")
@click.option("--store", "--out", "store", type=click.Path(file_okay=False, path_type=Path), default=Path("liqcascade-results"), help=OUT_HELP)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind (loopback by default).")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="TCP port.")
@click.option("--max-accounts", default=200_000, show_default=True, type=click.IntRange(1, None),
              help="Largest book a run started from the dashboard may have.")
@click.option("--max-blocks", default=2_000, show_default=True, type=click.IntRange(2, None),
              help="Most blocks of a simulation started from the dashboard.")
@click.option("--max-seconds", default=120.0, show_default=True, type=click.FloatRange(1, None),
              help="Wall time of one run; its worker process is stopped after this.")
@click.option("--max-paths", default=200, show_default=True, type=click.IntRange(1, None),
              help="Most mark paths of a perp Monte Carlo started from the dashboard.")
@click.option("--scenarios", "scenarios_from", type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="Copy this folder's scenarios (and their CSV/Parquet/JSON files) into STORE/scenarios/ first, "
                   "e.g. --scenarios examples.")
@click.option("--allowed-host", "allowed_hosts", multiple=True, metavar="NAME[:PORT]",
              help="Another Host name the dashboard answers to (repeatable), e.g. the name of a reverse proxy; "
                   "127.0.0.1, localhost, [::1] and --host with --port always are.")
def serve_cmd(store: Path, host: str, port: int, max_accounts: int, max_blocks: int, max_seconds: float,
              max_paths: int, scenarios_from: Path | None, allowed_hosts: tuple[str, ...]) -> None:
    """The dashboard: stored runs and their figures as pages, each with a JSON twin under
    /api (OpenAPI at /openapi.json), and a form to start a bounded static cascade, short
    simulation, perp run or perp Monte Carlo on a scenario of STORE/scenarios/ or the built-in default. Binds loopback
    by default; it has no authentication (see docs/dashboard.md)."""
    from liqcascade.web import Access, Limits, is_loopback, serve
    from liqcascade.web.scenarios import import_scenarios

    try:
        access = Access.serving(host, port, allowed_hosts)  # a bad name stops here: nothing copied or started
    except LiqcascadeError as e:
        _fail(e)
    if not is_loopback(host):
        bar = "!" * 78
        click.echo(f"{bar}\nWARNING: binding {host}, not loopback. The dashboard has no authentication: anyone who "
                   f"can reach this address can read every run in {store} and start runs.\n{bar}", err=True)
    limits = Limits(max_accounts=max_accounts, max_blocks=max_blocks, max_seconds=max_seconds, max_paths=max_paths)
    try:
        if scenarios_from is not None:
            copied = import_scenarios(store, scenarios_from)
            click.echo(f"copied {len(copied)} file(s) from {scenarios_from} into {store / 'scenarios'}", err=True)
        serve(store, host, port, limits, access)
    except LiqcascadeError as e:
        _fail(e)


# ----------------------------------------------------------------- calibration and sweeps (issue 5)
def _range_opt(text: str | None):
    from liqcascade.errors import ConfigError

    if text is None:
        return None
    lo, sep, hi = text.partition(":")
    try:
        if not sep:
            raise ValueError
        return float(lo), float(hi)
    except ValueError:
        raise ConfigError("--range", "range", "LO:HI, two numbers (e.g. 0.7:0.95)", text) from None


_PERP_CAL_OPTIONS = ("asset", "loss", "kind", "method", "blocks", "share", "book", "interval", "market", "budget_market")


def _perp_calibrate(scenario: Path, param: str, budget: float | None, metric: str, confidence: float, paths: int,
                    seed: int | None, value_range: str | None, grid: int, tol: float | None, out: Path,
                    recompute: bool, where: dict) -> None:
    """``calibrate`` of a perp scenario (docs/perps.md, "Calibrating perp margins"): the options
    of the lending calibration are refused; without --paths the scenario's own path is used."""
    from liqcascade.errors import ConfigError
    from liqcascade.execution.perp_calibrate import perp_calibrate

    ctx = click.get_current_context()
    given = [k for k in _PERP_CAL_OPTIONS if ctx.get_parameter_source(k).name != "DEFAULT"]
    default = {k: ctx.get_parameter_source(k).name == "DEFAULT" for k in ("metric", "paths")}
    try:
        if given:
            raise ConfigError(f"--{given[0].replace('_', '-')}", given[0], "no such option for a perp scenario (see "
                              "docs/perps.md, Calibrating perp margins)")
        if budget is None:
            raise ConfigError("--budget", "budget", "a finite budget ≥ 0 (required)")
        res = perp_calibrate(scenario, param, budget, "p_adl" if default["metric"] else metric, confidence,
                             None if default["paths"] else paths, 0 if seed is None else seed,
                             _range_opt(value_range), grid, tol, out, recompute, **where)
    except LiqcascadeError as e:
        _fail(e)
    s = res.summary
    c = res.table("candidates").sort_values("value")
    where = "the scenario's own path" if s["own_path"] else f"{int(s['paths']):,} resampled paths, seed {s['seed']}"
    click.echo(f"run {res.run_id}  {s['param']} of a perp scenario: {s['metric']} at {s['confidence']:.3g} <= "
               f"{s['budget']:,.6g}  ({where})")
    click.echo(c[["value", "estimate", "within_budget", "stage"]].to_string(index=False))
    chosen = s["chosen"]
    click.echo(f"\n  chosen {s['param']}: " + ("none" if chosen != chosen else f"{chosen:,.6g}")
               + f"  ({s['status']}; {int(s['evaluations'])} evaluations)")
    click.echo(f"\ntables: {', '.join(res.tables)} -> {out / 'runs' / str(res.run_id)}")


@main.command("calibrate")
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--param", required=True, help="liquidation_threshold, liquidation_bonus, supply_cap, borrow_cap or debt_ceiling; "
              "for a perp scenario maintenance_scale, max_leverage or oi_cap (docs/perps.md).")
@click.option("--asset", help="The asset whose parameter is searched (e.g. WETH); required but for a perp scenario.")
@click.option("--budget", type=float, help="Largest acceptable metric (USD for bad debt); required unless --method liquidity.")
@click.option("--confidence", type=float, default=0.99, show_default=True, help="Level of the VaR / CVaR.")
@click.option("--metric", default="var", show_default=True, help="var, cvar (= es) or mean of the loss over paths.")
@click.option("--loss", default="bad_debt_usd", show_default=True,
              help="Per-path loss: bad_debt_usd, collateral_seized_usd (liquidations at risk), debt_repaid_usd, accounts_liquidated.")
@click.option("--kind", default="montecarlo", show_default=True, help="montecarlo ([montecarlo] paths) or static (the [shock]).")
@click.option("--method", default="search", show_default=True, help="search (the risk metric) or liquidity (the fast cap rule).")
@click.option("--blocks", type=int, default=1, show_default=True, help="--method liquidity: blocks the liquidation is spread over.")
@click.option("--share", type=float, default=1.0, show_default=True, help="--method liquidity: share of the cap liquidated.")
@click.option("--paths", type=int, default=1000, show_default=True, help="Monte Carlo paths per candidate (the same paths for all).")
@click.option("--seed", type=int, help="Root seed (default: the [montecarlo] table's).")
@click.option("--executor", default="local", show_default=True, help="serial, local, dask or dask://HOST:PORT.")
@click.option("--workers", type=int, help="Worker processes (local, dask). Default: all cores.")
@click.option("--chunk-size", "chunk_size", type=int,
              help="Paths per chunk, one stored part each (default: about 25 chunks per candidate).")
@click.option("--range", "value_range", help="LO:HI of the values searched (default depends on --param; see docs/calibration.md).")
@click.option("--grid", type=int, default=9, show_default=True, help="Values on the first grid (then bisection).")
@click.option("--tol", type=float, help="Bisection tolerance in the parameter's unit (default: range / 512).")
@click.option("--book", default="health", show_default=True,
              help="liquidation_threshold: health (borrowers keep their health factor) or fixed (amounts stay).")
@click.option("--interval", type=float, default=0.95, show_default=True, help="Confidence of the intervals around each estimate.")
@click.option("--out", "--store", "out", type=click.Path(file_okay=False, path_type=Path), default=Path("liqcascade-results"), help=OUT_HELP)
@click.option("--recompute", is_flag=True, help="Search again even if this exact calibration is stored.")
@click.option("--quiet", "-q", is_flag=True, help=QUIET_HELP)
@click.option("--market", help="A system scenario ([[markets]]): the market whose parameter moves.")
@click.option("--budget-market", "budget_market",
              help="A system scenario: the market whose loss the budget is on (default: the system's total).")
def calibrate_cmd(scenario: Path, param: str, asset: str, budget: float | None, confidence: float, metric: str, loss: str,
                  kind: str, method: str, blocks: int, share: float, paths: int, seed: int | None, executor: str,
                  workers: int | None, chunk_size: int | None, value_range: str | None, grid: int, tol: float | None,
                  book: str, interval: float, out: Path, recompute: bool, quiet: bool, market: str | None,
                  budget_market: str | None) -> None:
    """The highest liquidation threshold (lowest bonus, largest supply/borrow cap or debt
    ceiling) of ASSET that keeps the metric (e.g. the 99 % VaR of bad debt) within --budget,
    every candidate on the same Monte Carlo paths; or, with --method liquidity, the largest
    supply cap whose liquidation over --blocks blocks stays profitable after slippage.

    Prints the explored curve and the chosen value; writes the tables candidates and
    summary (and candidate_paths) under OUT/runs/<run id>/.
    """
    import pandas as pd
    from liqcascade.execution import calibrate as cal
    from liqcascade.errors import ConfigError
    from liqcascade.execution.runs import is_perp

    if is_perp(scenario):
        _perp_calibrate(scenario, param, budget, metric, confidence, paths, seed, value_range, grid, tol, out,
                        recompute, dict(executor=executor, workers=workers, chunk_size=chunk_size))
        return
    bars: list = []
    try:
        if asset is None:
            raise ConfigError("--asset", "asset", "the asset whose parameter is searched (required for a lending scenario)")
        if method == "liquidity":
            if param != "supply_cap":
                raise ConfigError("--param", "param", "supply_cap with --method liquidity", param)
            res = cal.liquidity_cap(scenario, asset, blocks, share, store=out)
        elif method == "search":
            if budget is None:
                raise ConfigError("--budget", "budget", "a finite budget > 0 (required with --method search)")
            say = _progress("calibrate", "candidates", quiet)
            chunks = _progress("  chunks", "chunks", quiet, 1, resumable=True)
            bars.extend(b for b in (say, chunks) if b is not None)
            res = cal.calibrate(scenario, param, asset, budget, confidence, metric, loss, kind, paths, seed, executor,
                                workers, chunk_size, _range_opt(value_range), grid, tol, book, interval, out, say,
                                recompute, chunk_progress=chunks, market=market, budget_market=budget_market)
        else:
            raise ConfigError("--method", "method", "search or liquidity", method)
    except LiqcascadeError as e:
        _fail(e)
    finally:
        for b in bars:
            b.close()
    s = res.summary
    c = res.table("candidates").sort_values("value")
    if s.get("method") == "liquidity":
        click.echo(f"run {res.run_id}  liquidity cap rule for {s['asset']}: sale of {s['share']:.0%} of the cap over "
                   f"{s['blocks']} block(s), liquidator's bonus {s['budget']:.2%}")
        click.echo(f"  largest supply cap      {s['chosen']:,.2f} {s['asset']}  ({_usd(s['chosen_usd'])} at "
                   f"{s['price']:,.2f})")
        click.echo(f"  per-block sale          {s['per_block_tokens']:,.2f} {s['asset']} (slippage = bonus)")
        click.echo(f"  current supply (book)   {s['current_supply']:,.2f} {s['asset']}")
    else:
        money = s["loss"] != "accounts_liquidated"
        fmt = (lambda x: "inf" if x == float("inf") else _usd(x)) if money else (lambda x: f"{x:,.1f}")
        view = pd.DataFrame({
            s["param"]: c["value"].map(lambda x: f"{x:,.6g}"),
            s["metric"]: [f"{fmt(e)}  [{fmt(lo)}, {fmt(hi)}]" for e, lo, hi in zip(c["estimate"], c["lo"], c["hi"])],
            "within": c["within_budget"].map(lambda x: "yes" if x else "no"),
            "stage": c["stage"],
        })
        where = f" in market {s['market']}, budget on {s['budget_on']}" if "market" in s else ""
        click.echo(f"run {res.run_id}  {s['param']} of {s['asset']}{where}: {s['metric']} at {s['confidence']:.3g} <= "
                   f"{fmt(s['budget'])}  ({s['kind']}, {int(s['paths']):,} path(s) per candidate, seed {s['seed']})")
        click.echo(view.to_string(index=False))
        chosen = s["chosen"]
        click.echo(f"\n  chosen {s['param']}: " + ("none" if chosen != chosen else f"{chosen:,.6g}")
                   + f"  (current {s['current']:,.6g}; {s['status']}; {int(s['evaluations'])} evaluations, "
                     f"{s['wall_s']:.1f} s)")
    click.echo(f"\ntables: {', '.join(res.tables)} -> {out / 'runs' / str(res.run_id)}")


@main.command("sweep")
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--sweep", "factors", multiple=True, required=True, metavar="FIELD=V1,V2,...",
              help="A dotted config field and its values, e.g. shock.WETH=0.2,0.3 or assets.WETH.liquidation_threshold=0.8,0.82 (repeatable: full factorial).")
@click.option("--kind", default="static", show_default=True, help="static (run), simulate or montecarlo.")
@click.option("--paths", type=int, default=1000, show_default=True, help="Monte Carlo paths per combination.")
@click.option("--seed", type=int, help="Monte Carlo root seed (default: the [montecarlo] table's).")
@click.option("--executor", default="local", show_default=True, help="Monte Carlo: serial, local, dask or dask://HOST:PORT.")
@click.option("--workers", type=int, help="Worker processes (local, dask). Default: all cores.")
@click.option("--chunk-size", "chunk_size", type=int, help="Monte Carlo paths per chunk.")
@click.option("--out", "--store", "out", type=click.Path(file_okay=False, path_type=Path), default=Path("liqcascade-results"), help=OUT_HELP)
@click.option("--recompute", is_flag=True, help="Run again even if stored.")
@click.option("--quiet", "-q", is_flag=True, help=QUIET_HELP)
def sweep_cmd(scenario: Path, factors: tuple[str, ...], kind: str, paths: int, seed: int | None, executor: str,
              workers: int | None, chunk_size: int | None, out: Path, recompute: bool, quiet: bool) -> None:
    """Run SCENARIO for every combination of the --sweep values (full factorial) and print one
    table with the swept fields as columns; writes the table sweep (and sweep_risk for Monte
    Carlo); each combination is also a stored run of its own. `liqcascade run|simulate|montecarlo
    SCENARIO --sweep ...` run the same."""
    _sweep_and_print(scenario, factors, kind, out, recompute=recompute, quiet=quiet, paths=paths,
                     executor=executor, workers=workers, chunk_size=chunk_size, seed=seed)


def _sweep_and_print(scenario: Path, factors: tuple[str, ...], kind: str, out: Path, recompute: bool = False,
                     quiet: bool = False, fixed: dict | None = None, paths: int = 1000, executor: str = "local",
                     workers: int | None = None, chunk_size: int | None = None, seed: int | None = None) -> None:
    """:func:`liqcascade.execution.sweep.sweep` and its table: the body of `sweep` and of the --sweep option."""
    from liqcascade.execution.sweep import sweep

    say = _progress("sweep", "combinations", quiet)
    unit = "chunks" if kind == "montecarlo" else "blocks"
    steps = None if kind == "static" else _progress(f"  {unit}", unit, quiet, 1,
                                                    resumable=kind == "montecarlo")
    try:
        res = sweep(scenario, list(factors), kind, paths, executor, workers, chunk_size, seed, out, say, recompute,
                    fixed=fixed, step_progress=steps)
    except LiqcascadeError as e:
        _fail(e)
    finally:
        for b in (steps, say):
            if b is not None:
                b.close()
    t = res.table("sweep")
    names = [f.partition("=")[0].strip() for f in factors]
    shown = ["bad_debt_usd", "collateral_seized_usd", "accounts_liquidated", "headline_asset", "amplification",
             "bad_debt_usd_mean",
             "bad_debt_usd_var_99", "bad_debt_usd_es_99", "bad_debt_usd_p_insolvent", "collateral_seized_usd_var_99"]
    view = t[names + [c for c in shown if c in t.columns] + ["run_id"]].copy()
    for c in view.columns:
        if (c.endswith("_usd") or "_usd_" in c) and "p_insolvent" not in c:
            view[c] = view[c].map(_usd)
    click.echo(f"run {res.run_id}  sweep of {len(t)} combination(s), kind {kind}")
    click.echo(view.to_string(index=False))
    if "sweep_markets" in res.tables:  # a system: each market at every combination
        m = res.table("sweep_markets")
        per = m[names + ["market"] + [c for c in shown if c in m.columns and c != "headline_asset"]].copy()
        for c in per.columns:
            if (c.endswith("_usd") or "_usd_" in c) and "p_insolvent" not in c:
                per[c] = per[c].map(_usd)
        click.echo("\nper market (table sweep_markets):")
        click.echo(per.to_string(index=False))
    click.echo(f"\ntables: {', '.join(res.tables)} -> {out / 'runs' / str(res.run_id)}")


@main.command("network")
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--shock", "shock", multiple=True, metavar="ASSET=DROP", help="Replace the scenario's shocks (repeatable).")
@click.option("--graphml", type=click.Path(dir_okay=False, path_type=Path), help="Also write the network as GraphML.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the network as node-link JSON.")
@click.option("--out", "--store", "out", type=click.Path(file_okay=False, path_type=Path), default=Path("liqcascade-results"), help=OUT_HELP)
@click.option("--recompute", is_flag=True, help="Run again even if stored.")
def network_cmd(scenario: Path, shock: tuple[str, ...], graphml: Path | None, json_out: Path | None, out: Path,
                recompute: bool) -> None:
    """The exposure network of a system scenario ([[markets]]) at its shock.

    Runs the system's cascade, then each market left out in turn: the contagion matrix
    (liquidations and bad debt in market j with and without market i), a systemic-importance
    ranking, the round-by-round propagation, and the network of markets, assets and venues
    (edges: collateral and debt USD per market and asset, USD sold per market and venue,
    price impact per venue). Tables contagion, importance, propagation, network_nodes,
    network_edges (and the system run's); --graphml / --json export the graph.
    """
    from liqcascade import api
    from liqcascade.cli_system import print_network
    from liqcascade.risk.contagion import graph_from_tables, write_graph

    for p in (graphml, json_out):
        if p is not None and not p.parent.is_dir():
            _fail(LiqcascadeError(f"{p}: its folder {p.parent} does not exist"))
    try:
        res = api.network(scenario, out, shocks=_parse_shocks(shock) if shock else None, recompute=recompute)
    except LiqcascadeError as e:
        _fail(e)
    print_network(res)
    if graphml or json_out:
        g = graph_from_tables(res.table("network_nodes"), res.table("network_edges"))
        write_graph(g, str(graphml) if graphml else None, str(json_out) if json_out else None)
        for p in (graphml, json_out):
            if p is not None:
                click.echo(f"wrote {p}")
    click.echo(f"\ntables: {', '.join(res.tables)} -> {out / 'runs' / str(res.run_id)}")


@main.command("backtest")
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", "--store", "out", type=click.Path(file_okay=False, path_type=Path), default=Path("liqcascade-results"), help=OUT_HELP)
@click.option("--recompute", is_flag=True, help="Run again even if this exact backtest is stored.")
@click.option("--price-band", type=float, default=0.0, show_default=True,
              help="Also score with the oracle reading the collateral's path price times 1 - D and 1 + D "
                   "(e.g. 0.005: the price source's uncertainty; tables band and flips).")
@click.option("--quiet", "-q", is_flag=True, help=QUIET_HELP)
def backtest_cmd(scenario: Path, out: Path, recompute: bool, price_band: float, quiet: bool) -> None:
    """Replay SCENARIO (its [simulation], with [simulation.events]) and score it against the
    liquidations its [backtest] table names: account precision and recall, collateral and
    debt error, liquidations per hour and day (docs/backtests.md)."""
    from liqcascade.execution.backtest import backtest

    bar = _progress("backtest", "blocks", quiet)
    try:
        res = backtest(scenario, out, recompute=recompute, progress=bar, price_band=price_band)
    except LiqcascadeError as e:
        _fail(e)
    finally:
        if bar is not None:
            bar.close()
    s = res.table("score").iloc[0]
    click.echo(f"run {res.run_id}  ({s['window_start']} to {s['window_end']} UTC, impact on path: {s['impact_on_path']})")
    if s.get("quote") or s.get("oracle_floor"):
        click.echo(f"  price source: path in {s.get('quote') or '?'}, oracle floor "
                   f"{s.get('oracle_floor') or 'none'}")
    lines = [
        ("accounts liquidated", f"simulated {s['simulated_accounts']}, recorded {s['recorded_accounts']}, "
                                f"both {s['true_positives']}"),
        ("precision / recall", f"{s['precision']:.2f} / {s['recall']:.2f}"),
        ("collateral", f"simulated {s['simulated_collateral']:,.1f}, recorded {s['recorded_collateral']:,.1f} "
                       f"({s['collateral_error']:+.0%})"),
        ("debt", f"simulated {s['simulated_debt_usd']:,.0f}, recorded {s['recorded_debt']:,.0f} ({s['debt_error']:+.0%})"),
        ("per hour / per day", f"correlation {s['hourly_correlation']:.2f} / {s['daily_correlation']:.2f}"),
        ("peak hour", f"simulated {s['simulated_peak_hour'] or '-'}, recorded {s['recorded_peak_hour'] or '-'}"),
    ]
    if "ledger_errors" in res.tables:  # left out of the replay and the score: the Vat would refuse their record
        le = res.table("ledger_errors")
        lines.append(("ledger errors", f"{len(le)} left out" + (f" ({', '.join(le['account'].astype(str))})"
                                                                 if len(le) else "")))
    if "band" in res.tables:
        b = res.table("band")
        lo, hi = b.iloc[0], b.iloc[-1]
        lines.append((f"oracle {lo['oracle_shift']:+.2%} / {hi['oracle_shift']:+.2%}",
                      f"precision {lo['precision']:.2f} / {hi['precision']:.2f}, recall {lo['recall']:.2f} / "
                      f"{hi['recall']:.2f}, collateral {lo['collateral_error']:+.0%} / "
                      f"{hi['collateral_error']:+.0%}"))
        f = res.table("flips")
        lines.append(("edge accounts", ", ".join(f["account_id"].astype(str)) or "-"))
    w = max(len(k) for k, _ in lines)
    for k, v in lines:
        click.echo(f"  {k:<{w}}  {v}")
    click.echo(f"\ntables: {', '.join(res.tables)} -> {out / 'runs' / str(res.run_id)}")


@main.command("ethb-window")
@click.argument("window")
@click.option("--output", "-o", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder to write scenario.toml and its files into.")
@click.option("--oracle", type=click.Choice(["path", "chain-floor"]), default="path", show_default=True,
              help="chain-floor: the OSM's hourly price also raised to the floor the owners' accepted draws and "
              "withdrawals prove (docs/backtests.md).")
@click.option("--quote", type=click.Choice(["as-recorded", "usd"]), default="as-recorded", show_default=True,
              help="usd: Binance's ETHUSDT path divided by USDCUSDT (shipped for May 2022 only).")
def ethb_window_cmd(window: str, output: Path, oracle: str, quote: str) -> None:
    """Write a MakerDAO ETH-B backtest scenario for WINDOW (2021-04, 2021-06, 2022-01, 2022-05,
    2022-06 or 2022-11; or START..END in UTC days; or the days 2021-01-11, 2021-01-21 or
    2021-02-22, priced by their Uniswap v2 ETH/DAI reserves) from the shipped ETH-B history."""
    from liqcascade.errors import ConfigError
    from liqcascade.execution.backtest import ETHB_POOL_DAYS, ETHB_WINDOWS, write_ethb_day, write_ethb_window

    if window in ETHB_POOL_DAYS:
        try:
            toml = write_ethb_day(output, window, oracle=oracle, quote=quote)
        except LiqcascadeError as e:
            _fail(e)
        click.echo(f"wrote {toml}")
        return
    if window in ETHB_WINDOWS:
        start, end = ETHB_WINDOWS[window]
    elif ".." in window:
        start, end = window.split("..", 1)
    else:
        _fail(ConfigError("<command line>", "WINDOW", f"one of {list(ETHB_WINDOWS) + list(ETHB_POOL_DAYS)} or "
                          "START..END", window))
    try:
        toml = write_ethb_window(output, start, end, window, oracle=oracle, quote=quote)
    except LiqcascadeError as e:
        _fail(e)
    click.echo(f"wrote {toml}")


@main.command("fit-behaviour")
@click.option("--write", "write", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the fit as JSON (the shipped one: src/liqcascade/data/behaviour/ethb_fit.json).")
@click.option("--books", is_flag=True, help="Also fit the synthetic book's HF mixture to ETH-B books rebuilt on "
              "2021-04-05, 2021-09-01, 2022-05-01 and 2022-11-01, and print the KS distances and quantiles.")
@click.option("--write-books", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="With --books: write the per-date mixtures as JSON (the shipped "
              "src/liqcascade/data/behaviour/ethb_hf_presets.json).")
def fit_behaviour_cmd(write: Path | None, books: bool, write_books: Path | None) -> None:
    """Fit the owners' behaviour to the shipped MakerDAO ETH-B history (held-aside fortnight
    2021-05-17..31 excluded) and print it: per distance bin the hourly probabilities of a
    protect and a lever with their standard errors and sample counts, the restored and levered
    HF, and the refill rates (docs/behaviour.md)."""
    import json

    from liqcascade.errors import ConfigError
    from liqcascade.execution.behaviour import fit_ethb, format_fit, write_fit

    if write_books is not None and not books:
        _fail(ConfigError("<command line>", "--write-books", "--books with it"))
    try:
        fit = fit_ethb()
    except LiqcascadeError as e:
        _fail(e)
    click.echo(format_fit(fit))
    if write is not None:
        write_fit(fit, write)
        click.echo(f"wrote {write}")
    if books:
        from liqcascade.execution.behaviour import fit_books, format_books

        fitted = fit_books()
        click.echo(format_books(fitted))
        if write_books is not None:
            write_books.parent.mkdir(parents=True, exist_ok=True)
            write_books.write_text(json.dumps(fitted, indent=1) + "\n")
            click.echo(f"wrote {write_books}")


if __name__ == "__main__":  # pragma: no cover
    main()
