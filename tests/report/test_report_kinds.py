"""Reports of every run kind open with the answer: the headline block is the first thing in
<main>, before any note, figure or field list; compare, sweep and Maker replay reports have
figures; every report stays self-contained."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from liqcascade.report import make_report
from liqcascade.report.answer import key_figures
from tests.report.test_report import check_self_contained

KINDS = ["static", "curve", "walls", "simulation", "montecarlo", "calibration", "replay", "compare", "sweep",
         "maker_replay"]


class _Main(HTMLParser):
    """The ids/classes of <main>'s direct children, in order, and the key figures' text."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0
        self.in_main = False
        self.children: list[tuple[str, str, str]] = []
        self.figures: list[str] = []
        self._kf = 0
        self._text: list[str] = []

    def handle_starttag(self, tag, attrs):
        d = dict(attrs)
        if tag == "main":
            self.in_main, self.depth = True, 0
            return
        if not self.in_main:
            return
        if self.depth == 0:
            self.children.append((tag, d.get("id") or "", d.get("class") or ""))
        if "key-figure" == d.get("class"):
            self._kf, self._text = self.depth, []
        self.depth += 1

    def handle_endtag(self, tag):
        if tag == "main":
            self.in_main = False
            return
        if self.in_main:
            self.depth -= 1
            if self._kf and self.depth == self._kf:
                self.figures.append(" ".join(self._text))
                self._kf = 0

    def handle_data(self, data):
        if self._kf and data.strip():
            self._text.append(data.strip())


def parse_main(html: str) -> _Main:
    p = _Main()
    p.feed(html)
    return p


@pytest.mark.parametrize("role", KINDS)
def test_report_opens_with_the_headline(faces_store, faces_bundles, role):
    root, ids = faces_store
    rep = make_report(root, ids[role], complete=False)
    check_self_contained(rep.html)
    main = parse_main(rep.html)
    assert main.children[0][:2] == ("section", "answer"), main.children[:3]
    figs = key_figures(faces_bundles[role])
    assert figs and len(main.figures) == len(figs)
    for f, text in zip(figs, main.figures):
        assert text.startswith(f"{f.label} {f.value}"), (text, f)
    order = [c[1] for c in main.children]
    # the full field list stays, labelled, below the figures
    assert order.index("summary") > max((order.index(f"view-{v.key}") for v in rep.views), default=0)
    assert "All summary fields" in rep.html


@pytest.mark.parametrize("role, keys", [
    ("compare", ["compare"]), ("sweep", ["sweep"]), ("maker_replay", ["maker_prices", "maker_vaults"]),
])
def test_compare_sweep_and_maker_replay_reports_are_not_empty(faces_store, role, keys):
    root, ids = faces_store
    rep = make_report(root, ids[role], complete=False)
    assert [v.key for v in rep.views] == keys
    for k in keys:
        assert f'id="fig-{k}"' in rep.html
