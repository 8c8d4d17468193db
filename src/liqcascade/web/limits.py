"""What the server accepts: request size, run size and wall-time caps, and the ASGI layer
that enforces the request-size cap and the Host, Origin and token rules of
:mod:`liqcascade.web.security` before any route runs."""

from __future__ import annotations

import json
from dataclasses import dataclass

from liqcascade.web import security


@dataclass(frozen=True)
class Limits:
    """Caps of one server (``liqcascade serve`` options set them)."""

    max_body_bytes: int = 32 * 1024
    """Largest request body; a bigger one gets 413 before any of it is parsed."""
    max_accounts: int = 200_000
    """Largest book a run started from the dashboard may have (synthetic or file)."""
    max_blocks: int = 2_000
    """Most blocks of a simulation started from the dashboard."""
    max_paths: int = 200
    """Most mark paths of a perp Monte Carlo started from the dashboard."""
    max_seconds: float = 120.0
    """Wall time of one run; its worker process is stopped after this."""
    max_pending: int = 4
    """Runs queued or running at once; more get 429."""
    workers: int = 1
    """Runs executed at the same time (each in its own process)."""
    max_table_rows: int = 1_000
    """Most rows one table page returns."""

    def as_dict(self) -> dict[str, float]:
        return dict(self.__dict__)


def _is_api(path: str) -> bool:
    return path.startswith("/api/") or path.startswith("/-/") or path == "/openapi.json"


async def _reject(scope, send, status: int, message: str) -> None:
    """Answer ``status`` with ``message``: JSON on API paths, a small HTML page elsewhere."""
    import html

    if _is_api(scope.get("path", "")):
        body = json.dumps({"error": message, "status": status}).encode()
        ctype = b"application/json"
    else:
        body = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{status}</title></head>"
                f"<body><h1>{status}</h1><p>{html.escape(message)}</p><p><a href='/'>Runs</a></p></body></html>").encode()
        ctype = b"text/html; charset=utf-8"
    # the security headers are added by the app's outermost layer (liqcascade.web.app.App)
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", ctype), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


# the path parameter that follows each fixed segment, to name it in a 422
_PARAM_AFTER = {"runs": "run_id", "tables": "table", "views": "view", "jobs": "job_id", "static": "name"}


def _encoded_separator(scope) -> str | None:
    """The 422 message for a path whose raw form hides a '/' or '\\' inside a segment
    (``..%2f..%2fetc``): such a segment is a malformed id, not a route to look for."""
    from urllib.parse import unquote

    raw = scope.get("raw_path") or scope.get("path", "").encode()
    if b"%2f" not in raw.lower() and b"%5c" not in raw.lower():
        return None
    segs = raw.decode("latin-1").split("/")
    for i, seg in enumerate(segs):
        if "%2f" in seg.lower() or "%5c" in seg.lower():
            name = _PARAM_AFTER.get(segs[i - 1], "path") if i else "path"
            return (f"{name}: expected letters, digits, '-' or '_' (no '/', '\\' or '..'), "
                    f"got {unquote(seg)!r}")
    return None  # pragma: no cover - the check above found one


def _without_body(send):
    """A ``send`` for HEAD: the GET answer's status and headers (Content-Length included), no body."""
    async def inner(message):
        if message["type"] == "http.response.body":
            message = {**message, "body": b""}
        await send(message)

    return inner


class Guard:
    """ASGI middleware: refuses a Host not served here (400), a state-changing request
    from another origin (403) or without an Origin and without the server's token (403),
    caps the request body (declared or streamed), refuses ids with an encoded '/' (422)
    and answers HEAD as GET without a body."""

    def __init__(self, app, max_body_bytes: int, access: security.Access) -> None:
        self.app = app
        self.max_body = max_body_bytes
        self.access = access

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if scope.get("method") == "HEAD":
            scope, send = {**scope, "method": "GET"}, _without_body(send)
        headers = dict(scope.get("headers", []))
        # the Host first: a rebinding page learns nothing, not even which paths exist
        refused = security.host_refusal(self.access, headers)
        if refused is not None:
            return await _reject(scope, send, 400, refused)
        refused = security.origin_refusal(self.access, scope["method"], headers)
        if refused is not None:
            return await _reject(scope, send, 403, refused)
        bad_path = _encoded_separator(scope)
        if bad_path is not None:
            return await _reject(scope, send, 422, bad_path)
        declared = headers.get(b"content-length")
        if declared is not None:
            if not declared.isdigit():
                return await _reject(scope, send, 400, "malformed Content-Length header")
            if int(declared) > self.max_body:
                return await _reject(scope, send, 413, f"request body of {int(declared)} bytes is over this server's cap "
                                                       f"of {self.max_body} bytes")
        body = bytearray()
        while True:
            msg = await receive()
            if msg["type"] == "http.disconnect":
                return None
            body += msg.get("body", b"")
            if len(body) > self.max_body:
                return await _reject(scope, send, 413, f"request body over this server's cap of {self.max_body} bytes")
            if not msg.get("more_body", False):
                break
        if security.needs_token(scope["method"], headers):
            refused = security.token_refusal(self.access, headers, bytes(body))
            if refused is not None:
                return await _reject(scope, send, 403, refused)
        return await self.app(scope, _replay(bytes(body), receive), send)


def _replay(body: bytes, receive):
    """A ``receive`` that hands the app the body already read, then defers to the client."""
    done = False

    async def inner():
        nonlocal done
        if not done:
            done = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return inner
