"""Contagion across the markets of a system, and the system's exposure network.

- :func:`leave_one_out` -- the contagion matrix: for each pair (source i, target j), market
  j's liquidations and bad debt with every market present and with market i removed. The
  difference is what i's presence does to j through the venues they share.
- :func:`importance` -- a systemic-importance ranking: what each market's presence adds to
  all the others (USD liquidated, bad debt, accounts), from the matrix.
- :func:`propagation` -- round by round, which market liquidated how much (USD at the
  round's prices): the order in which the cascade spreads.
- :func:`exposure_graph` -- markets, assets and venues as a directed graph (networkx) with
  edges weighted by collateral and debt held (USD at reference prices), USD sold by each
  market into each venue, and each venue's price impact (final drop beyond the shock); where
  accounts are linked to owners, one node per group of owners spanning the same markets.
"""

from __future__ import annotations

from typing import Mapping

import networkx as nx
import numpy as np
import pandas as pd

from liqcascade.engine.result import Result
from liqcascade.engine.system import SystemCascade

MATRIX_FIELDS = ("accounts_liquidated", "collateral_seized_usd", "bad_debt_usd")


def leave_one_out(solver: SystemCascade, shocks: Mapping[str, float]) -> pd.DataFrame:
    """One row per (source, target) pair of distinct markets: the target's numbers with all
    markets (``*_with``) and without the source (``*_without``), and ``delta_*`` = with - without."""
    names = solver.system.names
    together = _market_numbers(solver, shocks, names)
    rows = []
    for src in names:
        rest = [n for n in names if n != src]
        without = _market_numbers(solver, shocks, rest) if rest else {}
        for dst in rest:
            row: dict[str, object] = {"source": src, "target": dst}
            for f in MATRIX_FIELDS:
                row[f"{f}_with"] = together[dst][f]
                row[f"{f}_without"] = without[dst][f]
                row[f"delta_{f}"] = together[dst][f] - without[dst][f]
            rows.append(row)
    cols = ["source", "target"] + [f"{p}{f}{s}" for f in MATRIX_FIELDS for p, s in (("", "_with"), ("", "_without"),
                                                                                    ("delta_", ""))]
    return pd.DataFrame(rows, columns=cols)


def _market_numbers(solver: SystemCascade, shocks: Mapping[str, float], names) -> dict[str, dict[str, float]]:
    out = solver.run(shocks, only=list(names), keep_arrays=False)
    res = {}
    for n, o in out.markets.items():
        s = solver.totals(n, o)
        res[n] = {f: s[f] for f in MATRIX_FIELDS}
    return res


def importance(matrix: pd.DataFrame, names: tuple[str, ...]) -> pd.DataFrame:
    """Each market's effect on all the others (sums of the matrix's deltas over targets),
    ranked by the bad debt it adds, then the USD liquidated it adds."""
    cols = [f"delta_{f}" for f in MATRIX_FIELDS]
    by_src = matrix.groupby("source")[cols].sum() if len(matrix) else pd.DataFrame(columns=cols)
    by_src = by_src.reindex(list(names), fill_value=0.0)
    out = by_src.rename(columns={f"delta_{f}": f"adds_{f}" for f in MATRIX_FIELDS}).reset_index(names="market")
    out = out.sort_values(["adds_bad_debt_usd", "adds_collateral_seized_usd"], ascending=False, kind="stable")
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    return out.reset_index(drop=True)


def propagation(rounds: pd.DataFrame) -> pd.DataFrame:
    """Per round and market: eligible accounts, calls, USD seized and repaid at the round's
    prices (from a system run's ``rounds`` table)."""
    if rounds.empty:
        return pd.DataFrame(columns=["round", "market", "eligible_accounts", "liquidation_calls",
                                     "collateral_seized_usd", "debt_repaid_usd"])
    r = rounds.assign(
        collateral_seized_usd=rounds["collateral_seized"] * rounds["price_before"],
        debt_repaid_usd=rounds["debt_repaid"] * rounds["price_before"],
    )
    g = r.groupby(["round", "market"], sort=True)
    return g.agg(
        eligible_accounts=("eligible_accounts", "first"),
        liquidation_calls=("liquidation_calls", "first"),
        collateral_seized_usd=("collateral_seized_usd", "sum"),
        debt_repaid_usd=("debt_repaid_usd", "sum"),
    ).reset_index()


def exposure_graph(solver: SystemCascade, result: Result) -> nx.MultiDiGraph:
    """The system as a graph: nodes ``market:NAME``, ``asset:SYM``, ``venue:SYM`` (and
    ``owners:A+B`` where accounts are linked to owners, :func:`_owner_groups`); edges
    ``collateral`` (market -> asset, USD held at reference prices), ``debt`` (asset -> market,
    USD owed), ``sold`` (market -> venue, USD received for what the market's liquidators sold
    there), ``impact`` (venue -> asset, the final drop beyond the initial shock)."""
    sysm = solver.system
    g = nx.MultiDiGraph()
    for name in sysm.names:
        rules = sysm.markets[name].rules
        g.add_node(f"market:{name}", kind="market", label=name, protocol=rules.describe().get("protocol", rules.name))
    for a in sysm.assets:
        g.add_node(f"asset:{a}", kind="asset", label=a)
    for a in sysm.venues:
        g.add_node(f"venue:{a}", kind="venue", label=f"{a} venue")
    for name, m in sysm.markets.items():
        coll, debt = m.book.totals_by_asset()
        for j, a in enumerate(m.assets):
            if coll[j] > 0:
                g.add_edge(f"market:{name}", f"asset:{a}", kind="collateral", usd=float(coll[j] * m.prices[j]))
            if debt[j] > 0:
                g.add_edge(f"asset:{a}", f"market:{name}", kind="debt", usd=float(debt[j] * m.prices[j]))
    for row in result["market_assets"].itertuples(index=False):
        if row.asset in sysm.venues and row.collateral_sold > 0:
            g.add_edge(f"market:{row.market}", f"venue:{row.asset}", kind="sold", usd=float(row.proceeds_usd),
                       tokens=float(row.collateral_sold))
    for row in result["assets"].itertuples(index=False):
        if row.asset in sysm.venues:
            g.add_edge(f"venue:{row.asset}", f"asset:{row.asset}", kind="impact",
                       impact=float(row.final_drop - row.initial_drop))
    if sysm.owners:
        _owner_groups(g, sysm)
    return g


def _owner_groups(g: nx.MultiDiGraph, sysm) -> None:
    """Owners as nodes ``owners:A+B`` -- one per set of markets the owners' accounts span (so
    the graph stays small whatever the number of owners) -- with ``owns`` edges to each of
    those markets weighted by the group's collateral there (USD at reference prices)."""
    from liqcascade.engine.system_owners import owned_accounts

    acc = owned_accounts(sysm, {})
    if not len(acc):
        return
    order = {n: k for k, n in enumerate(sysm.names)}
    acc = acc.assign(rank=acc["market"].map(order)).sort_values(["rank"], kind="stable")
    span = acc.groupby("owner", sort=False)["market"].agg(lambda s: "+".join(dict.fromkeys(s)))
    acc = acc.assign(group=acc["owner"].map(span))
    counts = span.value_counts()
    for group, usd in acc.groupby(["group", "market"], sort=False)["collateral_usd_before"].sum().items():
        name, market = group
        node = f"owners:{name}"
        if node not in g:
            g.add_node(node, kind="owners", label=f"{int(counts[name])} owners of {name}")
        g.add_edge(node, f"market:{market}", kind="owns", usd=float(usd))


def graph_tables(g: nx.MultiDiGraph) -> dict[str, pd.DataFrame]:
    """The graph as two tables: ``network_nodes`` (id, kind, label, protocol) and
    ``network_edges`` (source, target, kind, usd, tokens, impact; NaN where not applicable)."""
    nodes = pd.DataFrame(
        [{"id": n, "kind": d["kind"], "label": d["label"], "protocol": d.get("protocol")} for n, d in g.nodes(data=True)],
        columns=["id", "kind", "label", "protocol"],
    )
    edges = pd.DataFrame(
        [{"source": u, "target": v, "kind": d["kind"], "usd": d.get("usd", np.nan), "tokens": d.get("tokens", np.nan),
          "impact": d.get("impact", np.nan)} for u, v, d in g.edges(data=True)],
        columns=["source", "target", "kind", "usd", "tokens", "impact"],
    )
    return {"network_nodes": nodes, "network_edges": edges}


def graph_from_tables(nodes: pd.DataFrame, edges: pd.DataFrame) -> nx.MultiDiGraph:
    """The graph back from its two stored tables (attributes that are NaN/None are left out,
    so GraphML and node-link JSON carry only what applies to each node and edge)."""
    g = nx.MultiDiGraph()
    for row in nodes.to_dict("records"):
        g.add_node(row.pop("id"), **_present(row))
    for row in edges.to_dict("records"):
        g.add_edge(row.pop("source"), row.pop("target"), **_present(row))
    return g


def _present(d: dict) -> dict:
    return {k: v for k, v in d.items() if v is not None and not (isinstance(v, float) and np.isnan(v))}


def write_graph(g: nx.MultiDiGraph, graphml: str | None = None, node_link_json: str | None = None) -> None:
    """Export ``g`` as GraphML and/or node-link JSON (networkx's formats)."""
    import json

    if graphml:
        nx.write_graphml(g, graphml)
    if node_link_json:
        with open(node_link_json, "w", encoding="utf-8") as f:
            json.dump(nx.node_link_data(g, edges="edges"), f, indent=1)
