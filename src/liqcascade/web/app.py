"""The dashboard: HTML pages over a results store, each with a JSON twin under ``/api``.

Pages (HTML)                         JSON twin
``/``                                ``/api/runs`` (and ``/api/jobs``)
``/runs/{run_id}``                   ``/api/runs/{run_id}``
``/runs/{run_id}/views/{view}``      ``/api/runs/{run_id}/views/{view}``
``/runs/{run_id}/tables/{table}``    ``/api/runs/{run_id}/tables/{table}``
``/runs/{run_id}/report.html``       ``/api/runs/{run_id}/views`` (every figure)
``/new`` (form, POST starts a run)   ``/api/scenarios``, ``POST /api/jobs``
``/jobs/{job_id}``                   ``/api/jobs/{job_id}``
                                     ``/-/versions``, ``/openapi.json``

Every route is a library call plus formatting. Handlers are plain functions, which FastAPI
runs in its thread pool, so reading tables and drawing figures never blocks the event loop;
runs go to :class:`~liqcascade.web.jobs.JobRunner` (worker processes). Bad input of any kind
gets a 4xx with a message (JSON on API paths, a page elsewhere), never a traceback.
"""

from __future__ import annotations

import json
import logging
import math
import platform
import threading
from contextlib import asynccontextmanager
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from fastapi import FastAPI, Form, Query, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.exceptions import HTTPException

from liqcascade import __version__
from liqcascade.errors import LiqcascadeError, rehint
from liqcascade.io.store import ResultsStore, StoreError, UnknownRunError, UnknownTableError
from liqcascade.report import bundle as _bundle
from liqcascade.report.answer import key_figures
from liqcascade.report.views import VIEW_KEYS, View, headline, views_for
from liqcascade.web import models as M
from liqcascade.web.jobs import JobRunner
from liqcascade.web.limits import Guard, Limits, _is_api
from liqcascade.web.scenarios import BUILTIN, RequestError, RunRequest, list_scenarios, plan
from liqcascade.web.security import Access, scrub, scrub_all, with_headers

log = logging.getLogger("liqcascade.web")
LIST_COLUMNS = (("bad_debt", "bad debt"), ("liquidated", "liquidated"), ("amplification", "amplification"),
                ("result", "result (VaR, calibrated value, F1)"))
"""Headline keys (:data:`liqcascade.report.answer.LIST_KEYS`) the run list shows, with their column titles."""
ViewKey = Literal["markets", "contagion_curve", "contagion", "network", "compare", "sweep", "sweep_markets",
                  "maker_prices", "maker_vaults", "backtest", "curve", "walls", "rounds", "prices", "liquidations",
                  "exceedance", "montecarlo", "market_risk", "mc_metrics", "calibration", "perp_minutes", "liqmap",
                  "perps_lending", "perp_risk"]
assert set(ViewKey.__args__) == set(VIEW_KEYS)  # one list of views, checked at import
VERSION_PACKAGES = ("numpy", "numba", "pandas", "pyarrow", "duckdb", "fastapi", "starlette", "uvicorn", "jinja2", "plotly")
ERRORS = {status: {"model": M.ErrorOut, "description": why,
                   "content": {"application/json": {"example": {"error": why, "status": status}}}}
          for status, why in ((400, "Malformed input, or a Host this server does not answer to"),
                              (404, "No such run, table, job or scenario"),
                              (413, "Request body too large"), (422, "Invalid input"), (429, "Too many runs pending"))}
POST_ERRORS = {**ERRORS, 403: {"model": M.ErrorOut, "description": "From another origin, or without Origin and token; "
                                                                   "or a scenario naming a file outside the store"}}


# ------------------------------------------------------------------ JSON that is always JSON
def json_safe(obj: Any) -> Any:
    """Plain JSON values: numpy scalars unwrapped, NaN as null, +-inf as the strings
    "Infinity"/"-Infinity" (a supply cap of inf means "no cap"), timestamps as ISO text."""
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if obj is pd.NA or obj is pd.NaT:
        return None
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float):
        if math.isnan(obj):
            return None
        if math.isinf(obj):
            return "Infinity" if obj > 0 else "-Infinity"
        return obj
    if isinstance(obj, (str, int, bool)) or obj is None:
        return obj
    if isinstance(obj, (pd.Timestamp,)):
        return obj.isoformat()
    return str(obj)


class SafeJSON(JSONResponse):
    def render(self, content: Any) -> bytes:
        return json.dumps(json_safe(content), allow_nan=False, separators=(",", ":")).encode("utf-8")


def _records(df: pd.DataFrame) -> list[list[Any]]:
    return [list(r) for r in df.itertuples(index=False)]


# ------------------------------------------------------------------ library calls
class Dashboard:
    """The store, its runner and a cache of drawn views (runs never change once stored)."""

    def __init__(self, store_dir: str | Path, limits: Limits) -> None:
        root = Path(store_dir)
        if root.is_symlink():
            raise StoreError(f"{root}: the store must not be a symlink")
        self.store = ResultsStore(root)
        self.root = self.store.root
        self.limits = limits
        self.runner = JobRunner(self.store, limits)
        self._cache: dict[tuple, Any] = {}
        self._lock = threading.Lock()

    def _stamp(self) -> tuple:
        """Changes whenever the store does (a run saved, by this server or another process)."""
        return self.store.stamp()

    def _cached(self, key: tuple, make):
        with self._lock:
            hit = self._cache.get(key)
        if hit is None:
            hit = make()
            with self._lock:
                while len(self._cache) >= 64:
                    self._cache.pop(next(iter(self._cache)))
                self._cache[key] = hit
        return hit

    def bundle(self, run_id: str) -> _bundle.Bundle:
        """The run and its companions (found again whenever the catalog changes)."""
        return self._cached(("bundle", run_id, self._stamp()), lambda: _bundle.find(self.store, run_id))

    def views(self, run_id: str) -> tuple[_bundle.Bundle, list[View]]:
        """The run's views, drawn once per set of companion runs."""
        b = self.bundle(run_id)
        return b, self._cached(("views",) + tuple(r.run_id for r in b.members()), lambda: views_for(b))

    def view(self, run_id: str, key: str) -> tuple[_bundle.Bundle, View]:
        b, vs = self.views(run_id)
        for v in vs:
            if v.key == key:
                return b, v
        raise HTTPException(404, f"run {run_id} has no {key!r} view; it has {[v.key for v in vs]}")

    def runs(self) -> list[dict[str, Any]]:
        """Finished runs, newest first (a run still landing in parts is not listed)."""
        cat = self.store.list_runs()
        finished = set(cat.run_id[cat.status == "finished"])
        out = []
        done = [r for r in reversed(_bundle.runs(self.store)) if r.run_id in finished]
        answers = self._cached(("answers", self._stamp()), lambda: self._answers(done))
        for r in done:
            shock = _shock_text(r.config) if r.kind in ("static", "simulation") else ""
            out.append({"run_id": r.run_id, "kind": r.kind, "name": r.config.get("name", ""), "shock": shock,
                        "created_at": r.created_at[:19],
                        "version": r.version, "asset": r.asset, "via": r.meta.get("via", ""),
                        "headline": answers.get(r.run_id, []),
                        "links": {"html": f"/runs/{r.run_id}", "api": f"/api/runs/{r.run_id}"}})
        return out

    def _answers(self, runs: list[_bundle.RunInfo]) -> dict[str, list[dict[str, str]]]:
        """Each run's headline block (read from its own tables only; no companions needed)."""
        return {r.run_id: [vars(f) for f in key_figures(_bundle.Bundle(self.store, r))] for r in runs}

    def run(self, run_id: str) -> dict[str, Any]:
        """Everything about one run (JSON-ready): summary, tables, views, companions, config."""
        return self._cached(("run", run_id, self._stamp()), lambda: self._run(run_id))

    def _run(self, run_id: str) -> dict[str, Any]:
        b, vs = self.views(run_id)
        t = b.target
        comp = {role: (r.run_id if r else None) for role, r in (("curve", b.curve), ("curve_no_feedback", b.curve_flat),
                                                                 ("walls", b.walls), ("simulation", b.simulation))}
        tables = [{"name": n, "rows": self._rows(t.run_id, n), "links": {"html": f"/runs/{t.run_id}/tables/{n}",
                                                                         "api": f"/api/runs/{t.run_id}/tables/{n}"}}
                  for n in b.tables(t)]
        return {
            "run_id": t.run_id, "kind": t.kind, "name": t.config.get("name", ""), "created_at": t.created_at,
            "version": t.version, "headline": [vars(f) for f in key_figures(b)],
            "summary": b.load(t, "summary").iloc[0].to_dict() if b.has(t, "summary") else {},
            "tables": tables, "companions": comp,
            "views": [{"key": v.key, "title": v.title, "links": {"html": f"/runs/{t.run_id}/views/{v.key}",
                                                                  "api": f"/api/runs/{t.run_id}/views/{v.key}"}} for v in vs],
            "report": f"/runs/{t.run_id}/report.html", "config": t.config, "meta": t.meta,
        }

    def _rows(self, run_id: str, table: str) -> int:
        import pyarrow.parquet as pq

        p = self.store.path(run_id, table)
        if p.is_dir():  # a table stored in parts
            return sum(int(pq.read_metadata(f).num_rows) for f in sorted(p.glob("*.parquet")))
        return int(pq.read_metadata(p).num_rows)

    def table(self, run_id: str, table: str, offset: int, limit: int) -> tuple[pd.DataFrame, int]:
        """Rows ``offset`` .. ``offset + limit`` of a stored table, and its row count."""
        import pyarrow.parquet as pq

        p = self.store.path(run_id, table)
        if p.is_dir():
            df = self.store.load(run_id, table)
            return df.iloc[offset:offset + limit].reset_index(drop=True), len(df)
        t = pq.read_table(p)
        return t.slice(min(offset, t.num_rows), limit).to_pandas(), t.num_rows

    def scenarios(self) -> list[str]:
        return list_scenarios(self.root)


def _shock_text(config: dict[str, Any]) -> str:
    """A run's shock as price moves, e.g. 'WETH -30%, wstETH -30%' ('' when it has none)."""
    try:
        return ", ".join(f"{a} {-float(v):+.0%}" for a, v in config["shock"].items())
    except (KeyError, AttributeError, TypeError, ValueError):
        return ""


def view_json(v: View) -> dict[str, Any]:
    return {"key": v.key, "title": v.title, "caption": v.caption,
            "sources": [{"table": s.table, "run_id": s.run_id, "kind": s.kind, "note": s.note} for s in v.sources],
            "figure": v.figure,
            "table": None if v.table is None else {"columns": list(v.table.columns), "rows": _records(v.table)}}


@lru_cache(maxsize=1)
def versions() -> dict[str, str]:
    """Versions of liqcascade, Python and the libraries the results depend on."""
    out = {"liqcascade": __version__, "python": platform.python_version()}
    for p in VERSION_PACKAGES:
        try:
            out[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            out[p] = "not installed"
    return out


# ------------------------------------------------------------------ pages
@lru_cache(maxsize=1)
def _env():
    import jinja2

    from liqcascade.report.html import environment

    env = environment()
    env.loader = jinja2.ChoiceLoader([jinja2.PackageLoader("liqcascade.web", "templates"), env.loader])
    return env


def _page(name: str, status: int = 200, **ctx) -> HTMLResponse:
    if name == "new.html.j2":  # the form's choice of deleveraging policies for a perp scenario
        from liqcascade.io.perp_scenario import ADL_NAMES

        ctx.setdefault("adl_names", ADL_NAMES)
    html = _env().get_template(name).render(version=__version__, **ctx)
    return HTMLResponse(html, status_code=status)


def _static_files() -> dict[str, tuple[Path, str]]:
    from importlib import resources

    import plotly

    return {
        "plotly.min.js": (Path(plotly.__file__).parent / "package_data" / "plotly.min.js", "text/javascript"),
        "figures.js": (Path(str(resources.files("liqcascade.report") / "templates" / "figures.js")), "text/javascript"),
    }


def _form_request(fields: dict[str, str]) -> RunRequest:
    """The form's text fields as a :class:`RunRequest` (empty fields mean 'keep the scenario's')."""
    data: dict[str, Any] = {k: v.strip() for k, v in fields.items() if v is not None and v.strip() != ""}
    if "shocks" in data:
        data["shocks"] = _parse_shocks(data["shocks"])
    if "impact" in data:
        data["impact"] = data["impact"] in ("on", "true", "1", "yes")
    return RunRequest.model_validate(data)


def _parse_shocks(text: str) -> dict[str, float]:
    out = {}
    for part in text.replace("\n", ",").split(","):
        if not part.strip():
            continue
        a, sep, v = part.partition("=")
        try:
            out[a.strip()] = float(v)
        except ValueError:
            raise RequestError(f"shocks: expected ASSET=DROP pairs such as 'WETH=0.3, wstETH=0.3', got {part.strip()!r}",
                               422) from None
        if not sep or not a.strip():
            raise RequestError(f"shocks: expected ASSET=DROP, got {part.strip()!r}", 422)
    return out


# ------------------------------------------------------------------ the app
class App(FastAPI):
    """The FastAPI app with the security headers added outside every other layer, so that
    answers made before routing (400, 403, 413, 422) and by the 500 handler carry them too."""

    async def __call__(self, scope, receive, send):
        await super().__call__(scope, receive, with_headers(send) if scope["type"] == "http" else send)


def create_app(store_dir: str | Path = "liqcascade-results", limits: Limits | None = None,
               access: Access | None = None) -> FastAPI:
    """The dashboard over the store at ``store_dir`` (created if missing) with ``limits``,
    answering the Host names and origins of ``access`` (default: loopback on port 8000)."""
    limits = limits or Limits()
    access = access or Access.serving()
    dash = Dashboard(store_dir, limits)

    @asynccontextmanager
    async def lifespan(app):
        dash.runner.start()
        yield
        dash.runner.shutdown()

    app = App(
        title="liqcascade dashboard",
        version=__version__,
        description="Stored liquidation-cascade runs: pages and their JSON twins; start bounded runs.",
        lifespan=lifespan,
        docs_url=None,  # the interactive docs page loads its scripts from a CDN; /openapi.json is the description
        redoc_url=None,
    )
    app.state.dashboard = dash
    app.state.access = access
    _handlers(app)
    _api_routes(app, dash)
    _page_routes(app, dash)
    app.add_middleware(Guard, max_body_bytes=limits.max_body_bytes, access=access)
    return app


def _error(request: Request, status: int, message: str, detail: Any = None,
           headers: dict[str, str] | None = None) -> Response:
    dash = getattr(request.app.state, "dashboard", None)
    # messages name the store as <store>, and no other folder, interpreter or process of the server
    message = scrub(message, None if dash is None else dash.root)
    if _is_api(request.url.path):
        body = {"error": message, "status": status}
        if detail is not None:
            body["detail"] = detail
        return SafeJSON(body, status_code=status, headers=headers)
    resp = _page("error.html.j2", status=status, status_code=status, message=message, detail=detail)
    resp.headers.update(headers or {})
    return resp


def _allowed_methods(request: Request) -> str:
    """The methods of every route whose path matches the request's (for a 405's Allow)."""
    from starlette.routing import Match

    methods: set[str] = set()
    for route in request.app.router.routes:
        if getattr(route, "methods", None) and route.matches(request.scope)[0] is not Match.NONE:
            methods |= set(route.methods)
    if "GET" in methods:  # the Guard answers HEAD wherever GET works
        methods.add("HEAD")
    return ", ".join(sorted(methods))


def _handlers(app: FastAPI) -> None:
    def validation(request: Request, exc: RequestValidationError | ValidationError):
        errs = [{"loc": [str(x) for x in e.get("loc", ())], "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
                for e in exc.errors()]
        first = errs[0] if errs else {"loc": [], "msg": "invalid input"}
        if first.get("type") == "json_invalid":
            err = (exc.errors()[0].get("ctx") or {}).get("error", "")
            return _error(request, 422, f"the request body is not valid JSON{': ' + str(err) if err else ''}", errs)
        where = ".".join(x for x in first["loc"] if x not in ("body", "query", "path"))
        return _error(request, 422, f"{where}: {first['msg']}" if where else first["msg"], errs)

    app.add_exception_handler(RequestValidationError, validation)
    app.add_exception_handler(ValidationError, validation)
    def http_error(request: Request, exc: HTTPException):
        message = str(exc.detail)
        headers = dict(exc.headers or {})
        if exc.status_code == 404 and message == "Not Found":  # no route matched
            message = f"no such page or API path: {request.url.path} (the routes are listed in /openapi.json)"
        elif exc.status_code == 405:  # starlette's Allow names the first matching route's methods only
            headers["Allow"] = _allowed_methods(request)
            message = f"{request.method} is not allowed on {request.url.path} (allowed: {headers['Allow']})"
        return _error(request, exc.status_code, message, headers=headers)

    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestError, lambda r, e: _error(r, e.status, str(e)))
    app.add_exception_handler(UnknownRunError, lambda r, e: _error(
        r, 404, rehint(str(e), "GET /api/runs lists the stored runs (the page / shows them)")))
    app.add_exception_handler(UnknownTableError, lambda r, e: _error(r, 404, str(e)))
    app.add_exception_handler(StoreError, lambda r, e: _error(r, 400, str(e)))
    app.add_exception_handler(LiqcascadeError, lambda r, e: _error(r, 422, str(e)))

    def unexpected(request: Request, exc: Exception):
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return _error(request, 500, f"internal error ({type(exc).__name__}); the server log has the details")

    app.add_exception_handler(Exception, unexpected)
    try:
        import duckdb

        def store_busy(request: Request, exc: Exception):
            # duckdb's text names the catalog's path and the process holding it (interpreter, PID)
            log.warning("store error on %s %s: %s", request.method, request.url.path, exc)
            return _error(request, 503, f"the store is busy or unreadable ({type(exc).__name__}); try again, "
                                        "the server log has the details")

        app.add_exception_handler(duckdb.Error, store_busy)
    except ImportError:  # pragma: no cover - duckdb is a dependency
        pass


RunId = Annotated[str, PathParam(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$", max_length=128,
                                  description="A stored run's id (letters, digits, '-', '_').")]
TableName = Annotated[str, PathParam(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,62}$", max_length=63,
                                     description="A table of the run (see the run's 'tables').")]
StaticName = Annotated[str, PathParam(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", max_length=64,
                                      description="A static file of the server (plotly.min.js, figures.js).")]
JobId = Annotated[str, PathParam(pattern=r"^[A-Za-z0-9]{1,32}$", max_length=32, description="A job id from POST /api/jobs.")]
TableLimit = Query(100, ge=1, le=100_000, description="Rows to return (at most the server's max_table_rows).")
Offset = Query(0, ge=0, le=10**12, description="First row (0-based).")


def _api_routes(app: FastAPI, dash: Dashboard) -> None:
    @app.get("/api/runs", response_class=SafeJSON, response_model=M.RunsOut, tags=["runs"], summary="Stored runs, newest first")
    def api_runs():
        return SafeJSON({"runs": dash.runs(), "jobs": [j.as_dict() for j in dash.runner.jobs()]})

    @app.get("/api/runs/{run_id}", response_class=SafeJSON, response_model=M.RunOut, tags=["runs"], responses=ERRORS,
             summary="One run: summary, tables, views, companions, config")
    def api_run(run_id: RunId):
        # a run's meta names the scenario file it came from: by the store, not by a server path
        return SafeJSON(scrub_all(dash.run(run_id), dash.root))

    @app.get("/api/runs/{run_id}/views", response_class=SafeJSON, response_model=M.ViewsOut, tags=["runs"], responses=ERRORS,
             summary="Every figure of a run (the report's content)")
    def api_views(run_id: RunId):
        b, vs = dash.views(run_id)
        return SafeJSON({"run_id": run_id, "headline": dict(headline(b)), "views": [view_json(v) for v in vs]})

    @app.get("/api/runs/{run_id}/views/{view}", response_class=SafeJSON, response_model=M.ViewOut, tags=["runs"], responses=ERRORS,
             summary="One figure (plotly JSON) with the tables it was drawn from")
    def api_view(run_id: RunId, view: ViewKey):
        return SafeJSON(view_json(dash.view(run_id, view)[1]))

    @app.get("/api/runs/{run_id}/tables/{table}", response_class=SafeJSON, response_model=M.TableOut, tags=["runs"], responses=ERRORS,
             summary="Rows of a stored table")
    def api_table(run_id: RunId, table: TableName, offset: int = Offset, limit: int = TableLimit):
        df, total = dash.table(run_id, table, offset, min(limit, dash.limits.max_table_rows))
        return SafeJSON({"run_id": run_id, "table": table, "total_rows": total, "offset": offset, "limit": len(df),
                         "columns": list(df.columns), "rows": _records(df)})

    @app.get("/api/scenarios", response_class=SafeJSON, response_model=M.ScenariosOut, tags=["runs"], summary="Scenarios a run may start from, and the caps")
    def api_scenarios():
        return SafeJSON({"scenarios": dash.scenarios(), "limits": dash.limits.as_dict(),
                         "request_schema": RunRequest.model_json_schema(), "csrf_token": app.state.access.token})

    @app.post("/api/jobs", response_class=SafeJSON, response_model=M.JobOut, status_code=202, tags=["jobs"], responses=POST_ERRORS,
              summary="Start a static cascade, a short simulation, a perp run or a perp Monte Carlo on a stored scenario")
    def api_start(req: RunRequest):
        job = dash.runner.submit(plan(dash.root, req, dash.limits))
        return SafeJSON(job.as_dict(), status_code=202)

    @app.get("/api/jobs", response_class=SafeJSON, response_model=M.JobsOut, tags=["jobs"], summary="Runs started here, newest first")
    def api_jobs():
        return SafeJSON({"jobs": [j.as_dict() for j in dash.runner.jobs()]})

    @app.get("/api/jobs/{job_id}", response_class=SafeJSON, response_model=M.JobOut, tags=["jobs"], responses=ERRORS, summary="One started run")
    def api_job(job_id: JobId):
        job = dash.runner.get(job_id)
        if job is None:
            raise HTTPException(404, f"no job {job_id!r} (jobs are remembered until the server stops)")
        return SafeJSON(job.as_dict())

    @app.get("/-/versions", response_class=SafeJSON, response_model=dict[str, str], tags=["server"], summary="Versions of liqcascade and its libraries")
    def api_versions():
        return SafeJSON(versions())


def _page_routes(app: FastAPI, dash: Dashboard) -> None:
    _run_pages(app, dash)
    _form_pages(app, dash)
    _static_route(app)


def _run_pages(app: FastAPI, dash: Dashboard) -> None:
    """The pages that read the store: the list of runs, a run, a figure, a table, a report."""

    @app.get("/", response_class=HTMLResponse, tags=["pages"], summary="Stored runs")
    def index():
        runs = [{**r, "columns": {k: next((f for f in r["headline"] if f["key"] == k), None) for k, _ in LIST_COLUMNS}}
                for r in dash.runs()]
        return _page("index.html.j2", runs=runs, list_columns=LIST_COLUMNS, jobs=[j.as_dict() for j in dash.runner.jobs()][:20],
                     store=dash.root.name)

    @app.get("/runs/{run_id}", response_class=HTMLResponse, tags=["pages"], responses=ERRORS, summary="One run")
    def run_page(run_id: RunId):
        info = dash.run(run_id)
        b = dash.bundle(run_id)
        return _page("run.html.j2", run=info, headline=headline(b),
                     config=json.dumps(info["config"], indent=1, sort_keys=True, default=str))

    @app.get("/runs/{run_id}/views/{view}", response_class=HTMLResponse, tags=["pages"], responses=ERRORS,
             summary="One figure")
    def view_page(run_id: RunId, view: ViewKey):
        from liqcascade.report.html import figure_payload

        b, v = dash.view(run_id, view)
        _, all_views = dash.views(run_id)
        return _page("view.html.j2", run_id=run_id, kind=b.target.kind, view=v, views=all_views,
                     figures=figure_payload([v]))

    @app.get("/runs/{run_id}/tables/{table}", response_class=HTMLResponse, tags=["pages"], responses=ERRORS,
             summary="Rows of a stored table")
    def table_page(run_id: RunId, table: TableName, offset: int = Offset, limit: int = TableLimit):
        df, total = dash.table(run_id, table, offset, min(limit, dash.limits.max_table_rows))
        return _page("table.html.j2", run_id=run_id, table=table, df=df, total=total, offset=offset, limit=len(df))

    @app.get("/runs/{run_id}/report.html", response_class=HTMLResponse, tags=["pages"], responses=ERRORS,
             summary="The self-contained HTML report of a run")
    def report_page(run_id: RunId):
        from liqcascade.report import make_report
        from liqcascade.report.html import REPORT_CSP

        dash.bundle(run_id)  # a stored run, or 400/404: never a path or scenario name handed to make_report
        rep = make_report(dash.store, run_id, complete=False)
        return HTMLResponse(rep.html, headers={"content-security-policy": REPORT_CSP,
                                               "content-disposition": f'inline; filename="report-{run_id}.html"'})



def _form_pages(app: FastAPI, dash: Dashboard) -> None:
    """The form that starts a run, and the page of a started run."""

    @app.get("/new", response_class=HTMLResponse, tags=["pages"], summary="Form: start a run")
    def new_page():
        return _page("new.html.j2", scenarios=dash.scenarios(), limits=dash.limits, form={}, error=None,
                     csrf_token=app.state.access.token)

    @app.post("/new", response_class=HTMLResponse, tags=["pages"], responses=POST_ERRORS, summary="Start a run from the form")
    def new_submit(  # its Origin or csrf_token field was checked before the route (web.limits.Guard)
        scenario: str = Form(BUILTIN, max_length=120), kind: str = Form("static", max_length=20),
        shocks: str = Form("", max_length=2000), n_accounts: str = Form("", max_length=20),
        sell_fraction: str = Form("", max_length=30), impact: str = Form("", max_length=10),
        blocks: str = Form("", max_length=20), path: str = Form("", max_length=20),
        duration_blocks: str = Form("", max_length=20), oracle: str = Form("", max_length=20),
        liquidations_per_block: str = Form("", max_length=30), min_profit_usd: str = Form("", max_length=30),
        fund_usd: str = Form("", max_length=30), adl: str = Form("", max_length=40),
        paths: str = Form("", max_length=20), seed: str = Form("", max_length=20),
    ):
        form = dict(scenario=scenario, kind=kind, shocks=shocks, n_accounts=n_accounts, sell_fraction=sell_fraction,
                    impact=impact, blocks=blocks, path=path, duration_blocks=duration_blocks, oracle=oracle,
                    liquidations_per_block=liquidations_per_block, min_profit_usd=min_profit_usd,
                    fund_usd=fund_usd, adl=adl, paths=paths, seed=seed)
        try:
            job = dash.runner.submit(plan(dash.root, _form_request(form), dash.limits))
        except ValidationError as e:
            err = e.errors()[0]
            msg = f"{'.'.join(str(x) for x in err['loc'])}: {err['msg']}"
            return _page("new.html.j2", status=422, scenarios=dash.scenarios(), limits=dash.limits, form=form, error=msg,
                         csrf_token=app.state.access.token)
        except (RequestError, LiqcascadeError) as e:
            status = e.status if isinstance(e, RequestError) else 422
            return _page("new.html.j2", status=status, scenarios=dash.scenarios(), limits=dash.limits, form=form,
                         error=scrub(str(e), dash.root), csrf_token=app.state.access.token)
        return RedirectResponse(f"/jobs/{job.job_id}", status_code=303)

    @app.get("/jobs/{job_id}", response_class=HTMLResponse, tags=["pages"], responses=ERRORS, summary="One started run")
    def job_page(job_id: JobId):
        job = dash.runner.get(job_id)
        if job is None:
            raise HTTPException(404, f"no job {job_id!r} (jobs are remembered until the server stops)")
        return _page("job.html.j2", job=job.as_dict())



def _static_route(app: FastAPI) -> None:
    static = _static_files()

    @app.get("/static/{name}", tags=["pages"], responses=ERRORS, summary="plotly.js and the figure script")
    def static_file(name: StaticName):
        if name not in static:
            raise HTTPException(404, f"no static file {name!r}")
        path, ctype = static[name]
        return Response(path.read_bytes(), media_type=ctype, headers={"cache-control": "public, max-age=86400"})


__all__ = ["Dashboard", "create_app", "json_safe", "versions"]
