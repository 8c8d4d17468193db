"""The dashboard's access rules (docs/dashboard.md, Security notes; issue 10 item 2): a Host
allow-list on every route (DNS rebinding), state-changing requests only from the server's
own origins or with its token, the security headers and ``Allow`` on every answer, and
error texts without the server's paths, interpreter or process ids."""

from __future__ import annotations

import os
import re
import sys
import tempfile

import pytest

from liqcascade.errors import ConfigError
from liqcascade.web.security import PAGE_CSP, Access, scrub
from tests.web.conftest import BASE, make_app, test_client

OWN_HOST = "127.0.0.1:8000"


@pytest.fixture(scope="module")
def bare(web_store):
    """A client that sends no Origin (curl, scripts), over an app whose runner records requests."""
    root, _ = web_store
    with test_client(make_app(root, fake_runner=True), origin=None) as c:
        yield c


def _submitted(c) -> int:
    return len(c.app.state.dashboard.runner.submitted)


def _token(c) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/new").text)
    assert m, "the form carries no token"
    return m.group(1)


# ------------------------------------------------------------------ the allow-lists
def test_allowed_hosts_and_origins_by_hand():
    a = Access.serving("192.168.1.20", 8123, ["dash.example.com", "10.0.0.5:9000", "[FD00::1]:8443"])
    assert a.hosts == {"127.0.0.1:8123", "localhost:8123", "[::1]:8123", "192.168.1.20:8123",
                       "dash.example.com", "dash.example.com:8123", "10.0.0.5:9000", "[fd00::1]:8443"}
    assert a.origins == {"http://127.0.0.1:8123", "http://localhost:8123", "http://[::1]:8123",
                         "http://192.168.1.20:8123",
                         "http://dash.example.com", "https://dash.example.com", "http://dash.example.com:8123",
                         "https://dash.example.com:8123", "http://10.0.0.5:9000", "https://10.0.0.5:9000",
                         "http://[fd00::1]:8443", "https://[fd00::1]:8443"}
    # a browser leaves out the default port of the scheme
    assert Access.serving("::1", 80).hosts == {"127.0.0.1:80", "127.0.0.1", "localhost:80", "localhost", "[::1]:80",
                                               "[::1]"}
    assert not a.origin_ok("null") and a.origin_ok("HTTP://LOCALHOST:8123")


@pytest.mark.parametrize("bad", ["http://dash.example.com", "dash.example.com/x", "*.example.com", "", "a:99999",
                                 "[not-an-ip]:80", "-bad-.example", "a b",
                                 "999.1.1.1", "[1.2.3.4]", "a:0"])
def test_allowed_host_values_are_checked(bad):
    with pytest.raises(ConfigError, match="--allowed-host"):
        Access.serving("127.0.0.1", 8000, [bad])


def test_serve_refuses_a_bad_allowed_host_before_anything(tmp_path, monkeypatch):
    from click.testing import CliRunner

    import liqcascade.web as web
    from liqcascade.cli import main
    from tests.report.stores import EXAMPLES

    calls = []
    monkeypatch.setattr(web, "serve", lambda *a, **k: calls.append(a))
    store = tmp_path / "s"
    r = CliRunner().invoke(main, ["serve", "--store", str(store), "--scenarios", str(EXAMPLES),
                                  "--allowed-host", "http://evil.example"])
    assert r.exit_code == 2 and "--allowed-host" in r.output and "http://evil.example" in r.output
    assert calls == [] and not store.exists()
    ok = CliRunner().invoke(main, ["serve", "--store", str(store), "--port", "8123",
                                   "--allowed-host", "dash.example.com", "--allowed-host", "10.0.0.5:9000"])
    assert ok.exit_code == 0 and len(calls) == 1
    access = calls[0][4]
    assert {"dash.example.com", "dash.example.com:8123", "10.0.0.5:9000", "127.0.0.1:8123"} <= access.hosts


# ------------------------------------------------------------------ Host: every route
SPOOFED = ["evil.example", "evil.example:8000", "127.0.0.1:9999", "localhost.evil.example:8000", "127.0.0.2:8000"]
READS = ["/", "/api/runs", "/api/runs/{static}", "/runs/{static}", "/api/jobs", "/api/scenarios", "/new",
         "/-/versions", "/openapi.json", "/static/figures.js", "/nothing/here"]


@pytest.mark.parametrize("host", SPOOFED)
@pytest.mark.parametrize("url", READS)
def test_reads_with_another_host_are_400(client, web_store, url, host):
    _, ids = web_store
    r = client.get(url.format(static=ids["static"]), headers={"host": host})
    assert r.status_code == 400, r.text[:200]
    assert "not a name this server answers to" in r.text
    assert not any(rid in r.text for rid in ids.values())  # no run listed to a rebinding page


@pytest.mark.parametrize("host", SPOOFED)
def test_posts_with_another_host_are_400_and_start_nothing(client, host):
    n = _submitted(client)
    # a rebinding page's Origin names the same (attacker's) host as its Host header
    r = client.post("/api/jobs", json={"scenario": "small_book.toml"}, headers={"host": host, "origin": f"http://{host}"})
    assert r.status_code == 400 and r.json()["status"] == 400
    r = client.post("/new", data={"scenario": "small_book.toml", "shocks": "WETH=0.3", "csrf_token": _token(client)},
                    headers={"host": host, "origin": f"http://{host}"}, follow_redirects=False)
    assert r.status_code == 400
    assert _submitted(client) == n


def test_head_with_another_host_is_400_without_a_body(client):
    r = client.head("/api/runs", headers={"host": "evil.example:8000"})
    assert r.status_code == 400 and r.content == b""


@pytest.mark.parametrize("host", ["127.0.0.1:8000", "localhost:8000", "[::1]:8000", "LOCALHOST:8000"])
def test_loopback_names_with_the_port_are_served(client, host):
    assert client.get("/api/runs", headers={"host": host}).status_code == 200


def test_an_allowed_host_is_served_and_its_origins_may_post(web_store):
    root, _ = web_store
    app = make_app(root, fake_runner=True, access=Access.serving("127.0.0.1", 8000, ["dash.example.com"]))
    with test_client(app, origin=None) as c:
        assert c.get("/api/runs", headers={"host": "dash.example.com"}).status_code == 200
        r = c.post("/api/jobs", json={"scenario": "small_book.toml"},
                   headers={"host": "dash.example.com", "origin": "https://dash.example.com"})
        assert r.status_code == 202 and len(app.state.dashboard.runner.submitted) == 1
        assert c.get("/api/runs", headers={"host": "other.example.com"}).status_code == 400


# ------------------------------------------------------------------ Origin and token
@pytest.mark.parametrize("origin", ["null", "http://evil.example", "http://127.0.0.1:9999", "https://127.0.0.1:8000",
                                    "http://127.0.0.1", "http://127.0.0.1:8000.evil.example"])
def test_posts_from_another_origin_are_403_and_start_nothing(client, origin):
    n = _submitted(client)
    r = client.post("/api/jobs", json={"scenario": "small_book.toml"}, headers={"origin": origin})
    assert r.status_code == 403 and "cross-site request refused" in r.json()["error"]
    r = client.post("/new", data={"scenario": "small_book.toml", "shocks": "WETH=0.3"}, headers={"origin": origin},
                    follow_redirects=False)
    assert r.status_code == 403 and r.headers["content-type"].startswith("text/html")
    assert _submitted(client) == n


def test_a_valid_token_does_not_excuse_a_foreign_origin(client):
    n = _submitted(client)
    r = client.post("/api/jobs", json={"scenario": "small_book.toml"},
                    headers={"origin": "null", "x-csrf-token": _token(client)})
    assert r.status_code == 403 and _submitted(client) == n


def test_posts_without_origin_or_token_are_403(bare):
    n = _submitted(bare)
    r = bare.post("/api/jobs", json={"scenario": "small_book.toml"})
    assert r.status_code == 403 and "X-CSRF-Token" in r.json()["error"]
    assert bare.post("/new", data={"scenario": "small_book.toml", "shocks": "WETH=0.3"},
                     follow_redirects=False).status_code == 403
    assert bare.post("/api/jobs", json={"scenario": "small_book.toml"},
                     headers={"x-csrf-token": "not-the-token"}).status_code == 403
    assert bare.post("/new", data={"scenario": "small_book.toml", "csrf_token": "not-the-token"},
                     follow_redirects=False).status_code == 403
    for method in ("PUT", "DELETE", "PATCH"):
        assert bare.request(method, "/api/runs").status_code == 403
    assert _submitted(bare) == n


def test_the_own_origin_may_post(client):
    n = _submitted(client)
    r = client.post("/api/jobs", json={"scenario": "small_book.toml"}, headers={"origin": BASE})
    assert r.status_code == 202 and _submitted(client) == n + 1


def test_token_flow_for_clients_without_origin(bare):
    n = _submitted(bare)
    token = _token(bare)  # the dashboard's own form carries it
    assert bare.get("/api/scenarios").json()["csrf_token"] == token  # and the form's JSON twin
    r = bare.post("/new", data={"scenario": "small_book.toml", "shocks": "WETH=0.3", "csrf_token": token},
                  follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/jobs/")
    r = bare.post("/api/jobs", json={"scenario": "small_book.toml"}, headers={"x-csrf-token": token})
    assert r.status_code == 202
    assert _submitted(bare) == n + 2


def test_each_server_has_its_own_token(web_store):
    root, _ = web_store
    assert make_app(root, fake_runner=True).state.access.token != make_app(root, fake_runner=True).state.access.token


# ------------------------------------------------------------------ headers and Allow on every answer
def _big_body() -> bytes:
    return b"{" + b" " * 40_000 + b"}"


EARLY = [  # (method, url, extra headers, body, status)
    ("DELETE", "/api/runs", {}, None, 405),
    ("PUT", "/new", {}, None, 405),
    ("POST", "/api/jobs", {"content-type": "application/json"}, _big_body(), 413),
    ("GET", "/api/runs/..%2fetc", {}, None, 422),
    ("GET", "/runs/..%2fetc", {}, None, 422),
    ("POST", "/api/jobs", {"content-type": "application/json"}, b"{not json", 422),
    ("GET", "/nothing/here", {}, None, 404),
    ("GET", "/api/runs", {"host": "evil.example"}, None, 400),
    ("POST", "/api/jobs", {"origin": "null"}, b"{}", 403),
    ("GET", "/static/figures.js", {}, None, 200),
    ("GET", "/static/plotly.min.js", {}, None, 200),
]


@pytest.mark.parametrize("method, url, headers, body, status", EARLY, ids=[f"{m} {u} {s}" for m, u, _, _, s in EARLY])
def test_security_headers_on_every_answer(client, method, url, headers, body, status):
    r = client.request(method, url, headers=headers, content=body)
    assert r.status_code == status, r.text[:200]
    assert r.headers["content-security-policy"] == PAGE_CSP
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["referrer-policy"] == "same-origin"


def test_a_500_carries_the_headers_too(web_store, monkeypatch):
    root, _ = web_store
    app = make_app(root, fake_runner=True)
    monkeypatch.setattr(app.state.dashboard, "runs", lambda: 1 / 0)
    with test_client(app) as c:
        r = c.get("/api/runs")
    assert r.status_code == 500 and r.headers["content-security-policy"] == PAGE_CSP
    assert r.headers["x-frame-options"] == "DENY"


@pytest.mark.parametrize("method, url, allow", [
    ("DELETE", "/api/runs", "GET, HEAD"),
    ("PUT", "/new", "GET, HEAD, POST"),  # two routes share the path: GET /new and POST /new
    ("GET", "/api/jobs/abc/x", None),  # no route: 404, not 405
    ("PATCH", "/api/jobs", "GET, HEAD, POST"),
    ("DELETE", "/runs/abc", "GET, HEAD"),
])
def test_every_405_says_what_is_allowed(client, method, url, allow):
    r = client.request(method, url)
    if allow is None:
        assert r.status_code == 404 and "allow" not in r.headers
        return
    assert r.status_code == 405 and r.headers["allow"] == allow
    assert f"allowed: {allow}" in r.text


# ------------------------------------------------------------------ nothing of the server in answers
def _server_bits(root) -> list[str]:
    return [str(root), str(root.resolve()), sys.executable, os.path.realpath(sys.executable), sys.prefix,
            tempfile.gettempdir() + "/", os.getcwd() + "/", f"PID {os.getpid()}"]


def _clean(text: str, root) -> None:
    found = [b for b in _server_bits(root) if b in text]
    assert found == [] and not re.search(r"\bpid\b", text, re.IGNORECASE), (found, text[:400])


def _duckdb_lock_text(root) -> str:
    # the shape of duckdb's text when another process holds the catalog
    return (f'IO Error: Could not set lock on file "{root}/catalog.duckdb": Conflicting lock is held in '
            f"{sys.executable} (PID {os.getpid()}) by user root. See also https://duckdb.org/docs/connect/concurrency")


@pytest.mark.parametrize("url", ["/api/runs", "/"])
def test_store_busy_answer_names_no_path_or_process(web_store, monkeypatch, url):
    import duckdb

    root, _ = web_store
    app = make_app(root, fake_runner=True)

    def busy():
        raise duckdb.IOException(_duckdb_lock_text(root))

    monkeypatch.setattr(app.state.dashboard, "runs", busy)
    with test_client(app) as c:
        r = c.get(url)
    assert r.status_code == 503 and "busy" in r.text and r.headers["content-security-policy"] == PAGE_CSP
    _clean(r.text, root)


def test_a_request_without_host_is_400(client):
    import asyncio

    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(m):
        sent.append(m)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.0", "method": "GET", "scheme": "http",
             "path": "/api/runs", "raw_path": b"/api/runs", "query_string": b"", "root_path": "", "headers": [],
             "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 8000)}
    asyncio.run(client.app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    assert start["status"] == 400 and dict(start["headers"])[b"content-security-policy"] == PAGE_CSP.encode()
    assert b"no Host header" in b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


def test_unexpected_error_answer_names_no_path_or_process(web_store, monkeypatch):
    root, _ = web_store
    app = make_app(root, fake_runner=True)

    def boom(run_id):
        raise RuntimeError(f"cannot open {root}/runs/x with {sys.executable} (pid {os.getpid()})")

    monkeypatch.setattr(app.state.dashboard, "run", boom)
    with test_client(app) as c:
        for url in ("/api/runs/abc", "/runs/abc"):
            r = c.get(url)
            assert r.status_code == 500 and "RuntimeError" in r.text
            _clean(r.text, root)


class _Store:
    def __init__(self, root, fail: Exception | None = None) -> None:
        self.root, self.fail = root, fail

    def save(self, *a):
        if self.fail is not None:
            raise self.fail


def test_failed_job_texts_name_the_store_not_the_server(web_store, monkeypatch):
    from liqcascade.web.jobs import Job, JobRunner
    from liqcascade.web.limits import Limits

    root, _ = web_store
    runner = JobRunner(_Store(root), Limits())
    job = Job("j1", "static", "small_book.toml", {})
    # a data error of a run names its file: under the store, relative to it
    monkeypatch.setattr(runner, "_in_process", lambda spec: ("error", f"{root}/scenarios/book.csv: row 3: negative debt"))
    runner._run(job, None)
    assert job.status == "failed" and job.error == "<store>/scenarios/book.csv: row 3: negative debt"
    # the store or the process machinery failing: only the exception's type
    runner = JobRunner(_Store(root, OSError(f"[Errno 28] No space left: '{root}/runs/x' in {sys.executable}")), Limits())
    monkeypatch.setattr(runner, "_in_process", lambda spec: ("ok", ("rid", "static", {}, {}, {})))
    job = Job("j2", "static", "small_book.toml", {})
    runner._run(job, None)
    assert job.status == "failed" and "OSError" in job.error
    _clean(job.error, root)
    runner.shutdown()


def test_a_bug_in_a_run_reaches_the_job_page_as_its_type_only(monkeypatch, web_store, capsys):
    from liqcascade.web import worker

    root, _ = web_store

    def bug(spec):
        raise KeyError(f"{sys.executable} {root}/scenarios/x.toml pid {os.getpid()}")

    monkeypatch.setattr(worker, "execute", bug)
    outcome, message = worker.answer(None)
    assert outcome == "error" and "KeyError" in message
    _clean(message, root)
    assert sys.executable in capsys.readouterr().err  # the traceback goes to the server's log


def test_run_answers_name_no_server_path(client, web_store):
    root, ids = web_store
    for rid in ids.values():  # the CLI stored each run's scenario file by its path on this machine
        info = client.get(f"/api/runs/{rid}")
        assert info.status_code == 200
        _clean(info.text, root)


def test_scrub_by_hand(tmp_path):
    store = tmp_path / "store"
    text = (f"{store}/scenarios/a.csv: row 2: bad; lock held in {sys.executable} (PID 4242); "
            f"see {sys.prefix}/lib/x.py, and /api/runs")
    assert scrub(text, store) == "<store>/scenarios/a.csv: row 2: bad; lock held in <server path>; " \
                                 "see <server path>, and /api/runs"
