"""What the command line prints for systems of markets (`run`, `curve`, `network` and
`simulate` on a scenario with ``[[markets]]``)."""

from __future__ import annotations

import click


def usd(x: float) -> str:
    """USD for a terminal: $1.23B, $4.56M, $7.89k, $12.34."""
    a = abs(x)
    for div, suf in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if a >= div:
            return f"${x / div:,.2f}{suf}"
    return f"${x:,.2f}"


def print_system(res) -> None:
    """The system's headline, then one line per market: together, alone and the difference."""
    import pandas as pd
    s = res.summary
    click.echo(f"run {res.run_id}  system of {s['markets']} markets, {s['accounts']:,} accounts")
    lines = [
        ("rounds", f"{s['rounds']}" + ("" if s["converged"] else "  (NOT converged: raise engine.max_rounds)")),
        ("accounts liquidated", f"{s['accounts_liquidated']:,} (alone {s['alone_accounts_liquidated']:,})"),
        ("collateral seized", f"{usd(s['collateral_seized_usd'])} (alone {usd(s['alone_collateral_seized_usd'])})"),
        ("bad debt", f"{usd(s['bad_debt_usd'])} (alone {usd(s['alone_bad_debt_usd'])}; "
                     f"contagion {usd(s['contagion_bad_debt_usd'])})"),
    ]
    if "amplification" in s and s["amplification"] == s["amplification"]:
        lines.append(("amplification", f"{s['amplification']:.3f}  ({s['headline_asset']}: initial drop "
                                       f"{s['initial_drop']:.1%} -> final drop {s['final_drop']:.1%})"))
    if "accounts_left_eligible" in s:  # bounded liquidators (capital_usd, calls_per_round)
        lines.append(("left eligible", f"{s['accounts_left_eligible']:,} accounts, debt "
                                       f"{usd(s['debt_left_eligible_usd'])}, above collateral "
                                       f"{usd(s['shortfall_left_usd'])} (liquidators' capital or capacity)"))
    w = max(len(k) for k, _ in lines)
    for k, v in lines:
        click.echo(f"  {k:<{w}}  {v}")
    m = res.table("markets")
    view = pd.DataFrame({
        "market": m["market"],
        "protocol": m["protocol"],
        "liquidated": m["accounts_liquidated"].map(lambda x: f"{x:,}"),
        "alone": m["alone_accounts_liquidated"].map(lambda x: f"{x:,}"),
        "seized": m["collateral_seized_usd"].map(usd),
        "seized_alone": m["alone_collateral_seized_usd"].map(usd),
        "bad_debt": m["bad_debt_usd"].map(usd),
        "bad_debt_alone": m["alone_bad_debt_usd"].map(usd),
        "contagion_bad_debt": m["contagion_bad_debt_usd"].map(usd),
    })
    click.echo("")
    click.echo(view.to_string(index=False))


def print_system_curve(res) -> None:
    import pandas as pd
    c = res.table("curve")
    click.echo(f"run {res.run_id}  contagion curve of {c['asset'].iloc[0]} ({len(c)} shocks): system vs markets alone")
    view = pd.DataFrame({
        "shock": c["shock"].map(lambda x: f"{x:.2%}"),
        "final_drop": c["final_drop"].map(lambda x: f"{x:.2%}"),
        "seized": c["collateral_seized_usd"].map(usd),
        "seized_alone": c["alone_collateral_seized_usd"].map(usd),
        "bad_debt": c["bad_debt_usd"].map(usd),
        "bad_debt_alone": c["alone_bad_debt_usd"].map(usd),
        "contagion": c["contagion_bad_debt_usd"].map(usd),
    })
    click.echo(view.to_string(index=False))


def print_network(res) -> None:
    import pandas as pd
    print_system(res)
    imp = res.table("importance")
    click.echo("\nsystemic importance (what each market's presence adds to the others):")
    click.echo(pd.DataFrame({
        "rank": imp["rank"], "market": imp["market"],
        "adds_liquidated_usd": imp["adds_collateral_seized_usd"].map(usd),
        "adds_bad_debt": imp["adds_bad_debt_usd"].map(usd),
        "adds_accounts": imp["adds_accounts_liquidated"],
    }).to_string(index=False))
    e = res.table("network_edges")
    click.echo(f"\nnetwork: {len(res.table('network_nodes'))} nodes, {len(e)} edges "
               f"({', '.join(f'{k} {v}' for k, v in e['kind'].value_counts().sort_index().items())})")


def print_system_simulation(res) -> None:
    """The system's block-by-block headline, then one line per market: together, alone and
    the difference, and when it cleared."""
    import pandas as pd
    s = res.summary
    click.echo(f"run {res.run_id}  system of {s['markets']} markets, {s['accounts']:,} accounts, "
               f"{s['blocks']:,} blocks of {s['block_seconds']:.0f} s")
    alone = "alone_accounts_liquidated" in s
    lines = [
        ("accounts liquidated", f"{s['accounts_liquidated']:,}"
                                + (f" (alone {s['alone_accounts_liquidated']:,})" if alone else "")),
        ("collateral seized", usd(s["collateral_seized_usd"])
                              + (f" (alone {usd(s['alone_collateral_seized_usd'])})" if alone else "")),
        ("bad debt", usd(s["bad_debt_usd"]) + (f" (alone {usd(s['alone_bad_debt_usd'])}; "
                                               f"contagion {usd(s['contagion_bad_debt_usd'])})" if alone else "")),
        ("cleared", "every market" if s["cleared"] else "not every market: see `markets`"),
    ]
    w = max(len(k) for k, _ in lines)
    for k, v in lines:
        click.echo(f"  {k:<{w}}  {v}")
    m = res.table("markets")
    cols = {
        "market": m["market"],
        "protocol": m["protocol"],
        "liquidated": m["accounts_liquidated"].map(lambda x: f"{x:,}"),
        "seized": m["collateral_seized_usd"].map(usd),
        "bad_debt": m["bad_debt_usd"].map(usd),
        "cleared_in": [f"{t / 60:.1f} min" if c else "not cleared" for c, t in zip(m["cleared"], m["time_to_clear_s"])],
    }
    if alone:
        cols["alone"] = m["alone_accounts_liquidated"].map(lambda x: f"{x:,}")
        cols["bad_debt_alone"] = m["alone_bad_debt_usd"].map(usd)
        cols["contagion_bad_debt"] = m["contagion_bad_debt_usd"].map(usd)
    click.echo("")
    click.echo(pd.DataFrame(cols).to_string(index=False))


def print_market_risk(res) -> None:
    """A system's Monte Carlo, per market: its bad debt's mean, 99 % VaR and ES, P(bad debt > 0)
    and its liquidations at risk (99 % VaR of collateral seized), on the system's paths."""
    import pandas as pd
    r = res.table("market_risk")

    def cell(m: str, metric: str, stat: str, level: float | None, fmt) -> str:
        hit = r[(r["market"] == m) & (r["metric"] == metric) & (r["statistic"] == stat)
                & ((r["level"] == level) if level is not None else r["level"].isna())]
        return fmt(float(hit["estimate"].iloc[0])) if len(hit) else "-"

    rows = []
    for m in r["market"].unique():
        rows.append({
            "market": m,
            "bad_debt_mean": cell(m, "bad_debt_usd", "mean", None, usd),
            "bad_debt_var_99": cell(m, "bad_debt_usd", "var", 0.99, usd),
            "bad_debt_es_99": cell(m, "bad_debt_usd", "es", 0.99, usd),
            "p_insolvent": cell(m, "bad_debt_usd", "p_insolvent", None, lambda x: f"{x:.2%}"),
            "seized_var_99": cell(m, "collateral_seized_usd", "var", 0.99, usd),
        })
    if "contagion_risk" in res.tables:  # each market also alone on every path
        c = res.table("contagion_risk")
        for row in rows:
            hit = c[(c["market"] == row["market"]) & (c["statistic"] == "mean")]
            row["contagion_bad_debt_mean"] = usd(float(hit["estimate"].iloc[0]))
    click.echo("\nper market, all markets together on the same paths (table market_risk, intervals there):")
    click.echo(pd.DataFrame(rows).to_string(index=False))


def print_system_perps(res) -> None:
    """A system with perp markets: the lending markets' lines (as a system simulation's, alone
    meaning without the perps), then one line per perp market with the arbitrage's flow."""
    import pandas as pd

    print_system_simulation(res)
    p = res.table("perp_markets")
    cols = {
        "perp_market": p["perp_market"], "engine": p["engine"],
        "liquidated": p["liquidated_usd"].map(usd), "adl": p["adl_usd"].map(usd), "fund_end": p["fund_end_usd"].map(usd),
        "arb_spot_sold": p["arb_spot_sold_usd"].map(usd), "arb_spot_bought": p["arb_spot_bought_usd"].map(usd),
    }
    if "alone_liquidated_usd" in p:
        cols["liquidated_alone"] = p["alone_liquidated_usd"].map(usd)
    click.echo("\n(alone: the lending markets without the perps above, the perps without the lending markets below)")
    click.echo("perp markets and the arbitrage's spot legs:")
    click.echo(pd.DataFrame(cols).to_string(index=False))
