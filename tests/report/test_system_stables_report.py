"""The network figure of a system whose accounts are linked to owners: the owner group's
node and edges, and the owners who lost most, read from the stored tables."""

from __future__ import annotations

from liqcascade.io.store import ResultsStore
from liqcascade.report import make_report
from liqcascade.report.bundle import find
from liqcascade.report.views import view
from tests.io.test_system_stables import SCENARIO


def test_network_view_draws_owner_groups_and_lists_the_owners(tmp_path):
    p = tmp_path / "stables.toml"
    p.write_text(SCENARIO)
    rep = make_report(tmp_path / "res", p)
    b = find(ResultsStore(tmp_path / "res"), rep.run_id)
    v = view(b, "network")
    assert "owners" in [s.table for s in v.sources]
    owners = b.load(b.target, "owners")
    top = owners.sort_values("loss_usd", ascending=False, kind="stable").head(20)
    assert list(v.table["owner"]) == list(top["owner"])
    assert v.table["loss_usd"].is_monotonic_decreasing
    names = [t.get("name") for t in v.figure["data"]]
    assert "ownerss" not in names and "owners" in " ".join(str(n) for n in names)
    assert "owns edge" in names
