"""Who may talk to the dashboard, and what its answers may say.

- :class:`Access`: the Host names the server answers to (a DNS-rebinding page sends its own
  name, so it is refused on every route), the origins whose pages may change state, and a
  per-server token that the dashboard's own form carries for clients that send no Origin.
- :func:`scrub`: error texts without the server's paths, interpreter or process ids.
- :func:`with_headers`: the security headers every response carries.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import re
import secrets
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from liqcascade.errors import ConfigError

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
"""Names a browser on this machine uses for a loopback server (always allowed, with the port)."""
STATE_CHANGING = frozenset({"POST", "PUT", "DELETE", "PATCH"})
TOKEN_FIELD = "csrf_token"
"""Form field of the per-server token (the dashboard's own form has it)."""
TOKEN_HEADER = b"x-csrf-token"
"""Header of the per-server token (for API clients that send no Origin)."""

# Pages may use their own stylesheet and scripts only; plotly needs inline styles and data:
# images (its PNG export). Responses that carry their own policy (the self-contained report)
# keep it.
PAGE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
            "connect-src 'self'; font-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
# 'same-origin', not 'no-referrer': under 'no-referrer' a browser sends `Origin: null` with
# the dashboard's own form posts, which the origin check refuses; other sites still get no
# referrer.
SECURITY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", PAGE_CSP.encode()),
)

_LABEL = r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)"
_HOSTNAME = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*$")


def _name(host: str) -> str:
    """``host`` as it appears in a Host header: lower case, IPv6 addresses in brackets."""
    h = host.strip().lower()
    if h.startswith("[") and h.endswith("]"):
        h = h[1:-1]
    try:
        ip = ipaddress.ip_address(h)
    except ValueError:
        return h
    return f"[{ip.compressed}]" if ip.version == 6 else ip.compressed


def _split(entry: str) -> tuple[str, int | None]:
    """NAME or NAME:PORT of ``--allowed-host`` as (Host-header name, port or None)."""
    text = entry.strip()
    expected = "a host name or IP address, optionally with :PORT (e.g. dash.example.com, 10.0.0.5:8000, [fd00::1]:8000)"
    name, port = text, None
    m = re.fullmatch(r"(\[[^\]]*\]|[^:\[\]]*):(\d{1,5})", text)
    if m:
        name, port = m.group(1), int(m.group(2))
    if port is not None and not 1 <= port <= 65535:
        raise ConfigError("liqcascade serve", "--allowed-host", expected, entry)
    host = _name(name)
    try:
        version = ipaddress.ip_address(host.strip("[]")).version
    except ValueError:
        version = None
    if version is None:  # a name: labels of letters, digits and '-', not ending in a number (999.1.1.1)
        ok = not name.startswith("[") and _HOSTNAME.match(host) is not None and not host.rsplit(".", 1)[-1].isdigit()
    else:  # brackets around an IPv6 address, and only there
        ok = name.startswith("[") == (version == 6)
    if not ok:
        raise ConfigError("liqcascade serve", "--allowed-host", expected, entry)
    return host, port


@dataclass(frozen=True)
class Access:
    """The Host header values and Origin values one server accepts, and its token."""

    hosts: frozenset[str]
    """Exact Host header values (lower case), e.g. ``127.0.0.1:8000``."""
    origins: frozenset[str]
    """Exact Origin values (scheme://host[:port], lower case) allowed to change state."""
    token: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)
    """Per-server secret: accepted instead of an Origin (form field or ``X-CSRF-Token``)."""

    @classmethod
    def serving(cls, host: str = "127.0.0.1", port: int = 8000, allowed: Iterable[str] = ()) -> Access:
        """The allow-lists of a server bound to ``host``:``port``: the loopback names and
        ``host`` with that port (plain http), and each ``allowed`` entry: ``NAME:PORT`` exactly,
        ``NAME`` bare (a proxy on the scheme's default port) or with the served port, over
        http or https (a proxy that terminates TLS)."""
        hosts: set[str] = set()
        origins: set[str] = set()
        for name in (*LOOPBACK_NAMES, _name(host)):
            values = {f"{name}:{port}"} | ({name} if port == 80 else set())
            hosts |= values
            origins |= {f"http://{v}" for v in values}
        for entry in allowed:
            name, p = _split(entry)
            values = {f"{name}:{p}"} if p is not None else {name, f"{name}:{port}"}
            hosts |= values
            origins |= {f"{scheme}://{v}" for v in values for scheme in ("http", "https")}
        return cls(frozenset(hosts), frozenset(origins))

    def host_ok(self, host: str | None) -> bool:
        return host is not None and host.lower() in self.hosts

    def origin_ok(self, origin: str) -> bool:
        """Exactly one of the allowed origins (``null`` never is)."""
        return origin.lower() in self.origins

    def token_ok(self, token: str | None) -> bool:
        return token is not None and hmac.compare_digest(token.encode("utf-8", "replace"), self.token.encode())


def host_refusal(access: Access, headers: dict[bytes, bytes]) -> str | None:
    """Why a request's Host is refused (400 on every route), or ``None``: a page served
    under another name (DNS rebinding) sends that name."""
    host = headers.get(b"host")
    if host is None:
        return "the request has no Host header"
    text = host.decode("latin-1")
    if access.host_ok(text):
        return None
    return f"Host {text!r} is not a name this server answers to; serve with --allowed-host NAME to add one"


def origin_refusal(access: Access, method: str, headers: dict[bytes, bytes]) -> str | None:
    """Why a state-changing request is refused for its Origin (403), or ``None``: an Origin
    other than this server's (``null`` included: sandboxed frames, privacy redirects)."""
    origin = headers.get(b"origin")
    if method not in STATE_CHANGING or origin is None or access.origin_ok(origin.decode("latin-1")):
        return None
    return (f"cross-site request refused: {method} from origin {origin.decode('latin-1')!r}, which is not "
            "this server's; only the dashboard's own pages may change state")


def needs_token(method: str, headers: dict[bytes, bytes]) -> bool:
    """A state-changing request without an Origin: it must carry the server's token."""
    return method in STATE_CHANGING and b"origin" not in headers


def token_refusal(access: Access, headers: dict[bytes, bytes], body: bytes) -> str | None:
    """``None`` when the request (already known to lack an Origin) carries the server's
    token, in the ``X-CSRF-Token`` header or the ``csrf_token`` field of a URL-encoded form."""
    token = headers.get(TOKEN_HEADER)
    if token is not None:
        ok = access.token_ok(token.decode("latin-1"))
    elif headers.get(b"content-type", b"").split(b";")[0].strip().lower() == b"application/x-www-form-urlencoded":
        values = parse_qs(body.decode("latin-1"), max_num_fields=100).get(TOKEN_FIELD, [])
        ok = len(values) == 1 and access.token_ok(values[0])
    else:
        ok = False
    if ok:
        return None
    return ("a request that changes state needs an Origin header naming this server, or this server's token "
            f"(the {TOKEN_FIELD!r} form field of the dashboard's own form, or the X-CSRF-Token header: "
            "see GET /api/scenarios)")


def with_headers(send):
    """A ``send`` that adds each security header a response does not set itself."""
    async def inner(message):
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            names = {k.lower() for k, _ in headers}
            message = {**message, "headers": headers + [h for h in SECURITY_HEADERS if h[0] not in names]}
        await send(message)

    return inner


# ------------------------------------------------------------------ what answers may say
_PID = re.compile(r"\s*\(?\b(?:pid|process id)\b\s*[:=#]?\s*\d+\)?", re.IGNORECASE)
_PATH_TAIL = r"(?:[/\\][^\s'\"<>,;:()]*)?"


@lru_cache(maxsize=1)
def _server_prefixes() -> tuple[str, ...]:
    """Folders of this server whose names an answer must not show: the interpreter and its
    environment, the installed package, the working folder, home and the temporary folder."""
    import liqcascade

    cands = [sys.executable, os.path.realpath(sys.executable), sys.prefix, sys.base_prefix, sys.exec_prefix,
             str(Path(liqcascade.__file__).resolve().parent.parent), os.getcwd(), os.path.expanduser("~"),
             tempfile.gettempdir(), os.path.realpath(tempfile.gettempdir())]
    # the root folder alone would eat every '/' of a message
    return tuple(sorted({c.rstrip("/\\") for c in cands if c and len(c.rstrip("/\\")) > 1}, key=len, reverse=True))


def scrub(message: str, store_root: Path | str | None = None) -> str:
    """``message`` for a client: the store named ``<store>`` (paths inside it kept relative
    to it), any other path under the server's own folders as ``<server path>``, process ids
    dropped."""
    out = message
    if store_root is not None:
        root = Path(store_root)
        for r in sorted({str(root), str(root.resolve())}, key=len, reverse=True):
            out = out.replace(r, "<store>")
    for prefix in _server_prefixes():
        out = re.sub(re.escape(prefix) + r"(?![\w.-])" + _PATH_TAIL, "<server path>", out)
    return _PID.sub("", out)


def scrub_all(obj: Any, store_root: Path | str | None = None) -> Any:
    """``obj`` (JSON-like) with :func:`scrub` applied to every string in it, keys included."""
    if isinstance(obj, str):
        return scrub(obj, store_root)
    if isinstance(obj, dict):
        return {scrub_all(k, store_root): scrub_all(v, store_root) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [scrub_all(v, store_root) for v in obj]
    return obj


__all__ = ["Access", "LOOPBACK_NAMES", "PAGE_CSP", "SECURITY_HEADERS", "host_refusal", "origin_refusal", "scrub",
           "scrub_all", "token_refusal", "with_headers"]
