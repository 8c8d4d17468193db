"""The dashboard in a real browser: ``liqcascade serve`` in a subprocess on a free loopback
port, Debian's chromium driven by Playwright, every request not to the server blocked.

Checks that each view page draws the figure its JSON twin describes (same traces, in the
same order; the Monte Carlo histogram counts all 100 hand-made paths), that nothing is
fetched from anywhere else, and that the form starts a run whose result page appears.
(The report file in a browser is tested in tests/report.)
Screenshots of the main pages go to ``$LIQCASCADE_ARTIFACTS`` (default: a temporary folder).

Without chromium these tests fail; ``LIQCASCADE_SKIP_BROWSER=1`` skips them instead.
"""

from __future__ import annotations

import httpx
import pytest

from tests import browser as B
from tests.report.stores import N_PATHS, values

pytestmark = pytest.mark.browser
MAIN_VIEWS = ("curve", "walls", "liquidations", "montecarlo", "calibration")
"""Views whose pages are saved as screenshots (with the index, run pages and the form)."""


@pytest.fixture(scope="module")
def server(web_store, tmp_path_factory):
    """(base URL, run ids): the real command serving a copy of the faces store."""
    root, ids = web_store
    log = tmp_path_factory.mktemp("server") / "serve.log"
    with B.serve_store(root, log, "--max-seconds", "60") as base:
        yield base, ids


@pytest.fixture
def page(browser, server):
    base, _ = server
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.blocked = B.block_network(pg, [f"{base}/"])
    pg.errors = B.console_errors(pg)
    pg.set_default_timeout(30_000)
    yield pg
    context.close()


def _drawn(page, key: str) -> list[dict]:
    """Name, type and number of points of each trace plotly drew in #fig-<key> (from its
    full data, where the figure JSON's typed arrays are decoded)."""
    page.wait_for_selector(f"#fig-{key}.js-plotly-plot")
    return page.evaluate(
        """(key) => document.getElementById('fig-' + key)._fullData.map(t => ({
               name: t._input.name ?? null, type: t._input.type ?? 'scatter',
               n: (t.y && t.y.length !== undefined) ? t.y.length : null,
               ysum: (t.type === 'bar' && t.y) ? Array.from(t.y).reduce((a, b) => a + b, 0) : null}))""",
        key,
    )


def _clean(page) -> None:
    assert page.blocked == [], f"requests outside the server: {page.blocked}"
    assert page.errors == [], f"console errors: {page.errors}"


def test_index_lists_the_runs(page, server):
    base, ids = server
    page.goto(f"{base}/")
    rows = page.eval_on_selector_all("#runs tr[data-run]", "rs => rs.map(r => r.dataset.run)")
    sweep = httpx.get(f"{base}/api/runs/{ids['sweep']}/tables/sweep", timeout=30).json()
    combos = {r[sweep["columns"].index("run_id")] for r in sweep["rows"]}
    assert set(rows) == set(ids.values()) | combos  # the sweep's combinations are runs of their own
    # the answer columns: the hand-made Monte Carlo run's VaR 99 % (stores.MC_RISK) in its row
    result = page.text_content(f'#runs tr[data-run="{ids["montecarlo"]}"] td[data-key=result]')
    assert result.strip() == "$98.00k"
    B.screenshot(page, "dashboard-index")
    _clean(page)


@pytest.mark.parametrize("role", ["compare", "sweep", "maker_replay", "replay"])
def test_every_kind_opens_with_its_answer_and_draws_its_views(page, server, role):
    base, ids = server
    rid = ids[role]
    page.goto(f"{base}/runs/{rid}")
    first = page.evaluate("() => document.querySelector('main').firstElementChild.id")
    assert first == "answer"
    assert page.locator("#answer .key-figure").count() >= 2
    info = httpx.get(f"{base}/api/runs/{rid}", timeout=30).json()
    assert info["views"], role
    for v in info["views"]:
        page.goto(f"{base}{v['links']['html']}")
        drawn = _drawn(page, v["key"])
        assert drawn and sum(t["n"] or 0 for t in drawn) > 0, v["key"]
    page.goto(f"{base}{info['report']}")
    page.wait_for_selector(".figure.js-plotly-plot")
    assert page.evaluate("() => document.querySelector('main').firstElementChild.id") == "answer"
    B.screenshot(page, f"run-{role}")
    _clean(page)


@pytest.mark.parametrize("role", ["static", "montecarlo", "calibration"])
def test_view_pages_draw_what_their_json_twin_says(page, server, role):
    base, ids = server
    rid = ids[role]
    page.goto(f"{base}/runs/{rid}")
    links = page.eval_on_selector_all("#views a", "as => as.map(a => a.getAttribute('href'))")
    info = httpx.get(f"{base}/api/runs/{rid}", timeout=30).json()
    assert links == [v["links"]["html"] for v in info["views"]] and links
    B.screenshot(page, f"run-{role}")
    for v in info["views"]:
        page.goto(f"{base}{v['links']['html']}")
        drawn = _drawn(page, v["key"])
        twin = httpx.get(f"{base}{v['links']['api']}", timeout=30).json()["figure"]["data"]
        assert [(t["name"], t["type"]) for t in drawn] == [(t.get("name"), t.get("type", "scatter")) for t in twin]
        # every trace drawn with all its points (plotly decodes the typed arrays of the JSON)
        assert [t["n"] for t in drawn] == [None if t.get("y") is None else len(values(t["y"])) for t in twin]
        assert sum(t["n"] or 0 for t in drawn) > 0
        if v["key"] == "montecarlo":
            assert [t["ysum"] for t in drawn if t["type"] == "bar"] == [N_PATHS]
        if v["key"] in MAIN_VIEWS:
            B.screenshot(page, f"view-{v['key']}")
    _clean(page)


def test_the_form_starts_a_run_whose_result_appears(page, server):
    base, _ = server
    page.goto(f"{base}/new")
    B.screenshot(page, "form")
    page.select_option("#scenario", "small_book.toml")
    page.fill("#shocks", "WETH=0.35, wstETH=0.35")
    with page.expect_request(f"{base}/new") as posted:
        page.click("#start")
    # the page's own origin, not 'null' (Referrer-Policy: same-origin; the server refuses 'null')
    assert posted.value.header_value("origin") == base
    page.wait_for_url(f"{base}/jobs/*")
    # the job page refreshes itself until the run is done
    page.wait_for_selector("#status[data-status=finished], #status[data-status=failed]", timeout=90_000)
    assert page.get_attribute("#status", "data-status") == "finished", page.inner_text("main")
    page.click("#run-link")
    rid = page.url.rsplit("/", 1)[1]
    info = httpx.get(f"{base}/api/runs/{rid}", timeout=30).json()
    assert info["config"]["shock"] == {"WETH": 0.35, "wstETH": 0.35} and info["meta"]["via"] == "dashboard"
    assert rid in page.inner_text("h1")
    page.goto(f"{base}/")
    assert page.locator(f'#runs tr[data-run="{rid}"]').count() == 1
    assert page.locator("#jobs tr[data-status=finished]").count() == 1
    B.screenshot(page, "form-result")
    _clean(page)


def test_a_page_elsewhere_cannot_start_a_run(page, server):
    """A page of another origin (here an opaque one, as a sandboxed frame's) posts the form:
    the browser sends its Origin (``null``), the server refuses it, no job is queued."""
    base, _ = server
    before = httpx.get(f"{base}/api/jobs", timeout=30).json()["jobs"]
    page.set_content(f'<form method="post" action="{base}/new" id="f"><input name="scenario" value="small_book.toml">'
                     '<input name="shocks" value="WETH=0.3"></form>')
    with page.expect_response(f"{base}/new") as answer:
        page.eval_on_selector("#f", "f => f.submit()")
    assert answer.value.status == 403
    assert answer.value.request.header_value("origin") == "null"
    assert httpx.get(f"{base}/api/jobs", timeout=30).json()["jobs"] == before
    assert page.blocked == []
