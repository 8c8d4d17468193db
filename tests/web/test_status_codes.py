"""Status codes the docs promise (docs/dashboard.md, Errors): every path trick is 422 naming
the field, an unknown run is 404 pointing at GET /api/runs, HEAD answers like GET without a
body, and error bodies are JSON under /api (review finding 8)."""

from __future__ import annotations

import pytest


def _json_error(resp, status: int) -> str:
    assert resp.status_code == status, resp.text[:300]
    assert resp.headers["content-type"].startswith("application/json")
    body = resp.json()
    assert body["status"] == status
    return body["error"]


TRICKS = [
    ("/api/runs/..%2f..%2fetc", "run_id", "../../etc"),
    ("/api/runs/..%2F..%2Fetc%2Fpasswd", "run_id", "../../etc/passwd"),
    ("/api/runs/a%5cb", "run_id", "a\\b"),
    ("/api/runs/{static}/tables/..%2fcatalog", "table", "../catalog"),
    ("/api/runs/{static}/views/..%2fx", "view", "../x"),
    ("/api/jobs/..%2f..%2fetc", "job_id", "../../etc"),
]


@pytest.mark.parametrize("url, field, shown", TRICKS)
def test_encoded_separators_are_422_naming_the_field(client, web_store, url, field, shown):
    _, ids = web_store
    err = _json_error(client.get(url.format(static=ids["static"])), 422)
    assert err.startswith(f"{field}: expected letters, digits") and repr(shown) in err


@pytest.mark.parametrize("url", ["/runs/..%2f..%2fetc/report.html", "/static/..%2f..%2fpyproject.toml",
                                 "/static/%2e%2e", "/runs/%2e%2e"])
def test_page_path_tricks_are_422_pages(client, url):
    r = client.get(url)
    assert r.status_code == 422 and r.headers["content-type"].startswith("text/html")
    assert "[project]" not in r.text


@pytest.mark.parametrize("name", ["../etc/passwd", "../../etc/passwd", "/etc/hosts.toml", "a/b.toml", "..\\x.toml"])
def test_scenario_names_with_folders_are_422(client, name):
    runner = client.app.state.dashboard.runner
    n = len(runner.submitted)
    err = _json_error(client.post("/api/jobs", json={"scenario": name}), 422)
    assert "no folders" in err and repr(name) in err
    assert len(runner.submitted) == n


def test_unknown_run_points_at_the_runs_listing(client):
    err = _json_error(client.get("/api/runs/feedfacefeedface"), 404)
    assert "no finished run 'feedfacefeedface'" in err
    assert "GET /api/runs" in err and "list_runs()" not in err
    page = client.get("/runs/feedfacefeedface")
    assert page.status_code == 404 and "GET /api/runs" in page.text and "list_runs()" not in page.text


def test_well_formed_but_unknown_static_file_is_404(client):
    r = client.get("/static/report.html.j2")
    assert r.status_code == 404


@pytest.mark.parametrize("url", ["/", "/new", "/runs/{static}", "/runs/{static}/tables/summary", "/api/runs",
                                 "/api/runs/{static}", "/api/runs/{static}/tables/summary", "/api/scenarios",
                                 "/api/jobs", "/-/versions", "/openapi.json", "/static/figures.js"])
def test_head_answers_like_get_without_a_body(client, web_store, url):
    _, ids = web_store
    url = url.format(static=ids["static"])
    get, head = client.get(url), client.head(url)
    assert get.status_code == 200 and head.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == get.headers["content-type"]
    assert int(head.headers["content-length"]) == len(get.content)
    assert head.headers["x-frame-options"] == "DENY"


@pytest.mark.parametrize("url, status", [("/api/runs/feedfacefeedface", 404), ("/api/runs/..%2fx", 422),
                                         ("/nothing/here", 404)])
def test_head_errors_keep_their_status(client, url, status):
    r = client.head(url)
    assert r.status_code == status and r.content == b""


def test_methods_a_path_lacks_are_405_json(client):
    err = _json_error(client.delete("/api/runs"), 405)
    assert "DELETE is not allowed" in err
    assert client.head("/api/jobs").status_code == 200  # HEAD follows GET /api/jobs


def test_malformed_content_length_in_process_is_json(client):
    # uvicorn refuses this header itself (plain text, documented); the app's own answer is JSON
    import asyncio

    sent = []

    async def receive():
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(m):
        sent.append(m)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": "/api/jobs", "raw_path": b"/api/jobs", "query_string": b"", "root_path": "",
             "headers": [(b"host", b"127.0.0.1:8000"), (b"origin", b"http://127.0.0.1:8000"),
                         (b"content-type", b"application/json"), (b"content-length", b"12abc")],
             "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 8000)}
    asyncio.run(client.app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    assert start["status"] == 400
    assert dict(start["headers"])[b"content-type"] == b"application/json"
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    assert b'"status": 400' in body and b"Content-Length" in body
