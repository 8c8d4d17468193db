"""The dashboard: FastAPI pages over a results store, a JSON twin for each, bounded runs.

``create_app(store_dir, limits)`` builds the app; ``serve(...)`` runs it with uvicorn (the
``liqcascade serve`` command). See docs/dashboard.md for the routes, the caps and the security
notes.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

from liqcascade.web.limits import Limits
from liqcascade.web.security import Access


def __getattr__(name: str):
    # the app (FastAPI, plotly) loads on first use, so the run worker starts light
    if name == "create_app":
        from liqcascade.web.app import create_app

        return create_app
    raise AttributeError(name)


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and 'localhost'."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(store_dir: str | Path, host: str = "127.0.0.1", port: int = 8000, limits: Limits | None = None,
          access: Access | None = None) -> None:
    """Serve the dashboard until interrupted; ``access`` defaults to the loopback names and
    ``host`` with ``port`` (see :meth:`Access.serving`)."""
    import uvicorn

    from liqcascade.web.app import create_app

    app = create_app(store_dir, limits, access or Access.serving(host, port))
    uvicorn.run(app, host=host, port=port, log_level="info", limit_concurrency=64, timeout_keep_alive=5,
                server_header=False)


__all__ = ["Access", "Limits", "create_app", "is_loopback", "serve"]
