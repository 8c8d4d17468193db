"""Shapes of the JSON API's answers, for its OpenAPI description (``/openapi.json``).

Handlers build plain dicts and answer them as strict JSON; these models document those dicts
(and the tests validate real answers against them). Figures are plotly JSON, configs and
summaries the stored ones: free-form objects here.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Links(_Out):
    html: str
    api: str
    run: str | None = None


class JobOut(_Out):
    """A run started from the dashboard."""

    job_id: str
    kind: str
    scenario: str
    request: dict[str, Any]
    created_at: str
    status: str
    started_at: str | None
    finished_at: str | None
    run_id: str | None
    error: str | None
    links: Links


class KeyFigureOut(_Out):
    key: str = Field(description="bad_debt, liquidated, amplification, result or other")
    label: str
    value: str = Field(description="formatted with its unit ($1.23M, 12.5%, 1.85x)")
    detail: str
    table: str = Field(description="the stored table it was read from")


class RunSummary(_Out):
    run_id: str
    kind: str
    name: str
    shock: str
    created_at: str
    version: str
    asset: str | None
    via: str
    headline: list[KeyFigureOut] = Field(description="the run's headline block (bad debt, liquidated, VaR ...)")
    links: Links


class RunsOut(_Out):
    runs: list[RunSummary]
    jobs: list[JobOut]


class JobsOut(_Out):
    jobs: list[JobOut]


class TableRef(_Out):
    name: str
    rows: int
    links: Links


class ViewRef(_Out):
    key: str
    title: str
    links: Links


class RunOut(_Out):
    run_id: str
    kind: str
    name: str
    created_at: str
    version: str
    headline: list[KeyFigureOut] = Field(description="the run's headline block, the answer first")
    summary: dict[str, Any]
    tables: list[TableRef]
    companions: dict[str, str | None]
    views: list[ViewRef]
    report: str
    config: dict[str, Any]
    meta: dict[str, Any]


class SourceOut(_Out):
    table: str
    run_id: str
    kind: str
    note: str


class FrameOut(_Out):
    columns: list[str]
    rows: list[list[Any]]


class ViewOut(_Out):
    key: str
    title: str
    caption: str
    sources: list[SourceOut]
    figure: dict[str, Any]
    """A plotly figure: ``data`` (traces) and ``layout``."""
    table: FrameOut | None


class ViewsOut(_Out):
    run_id: str
    headline: dict[str, str]
    views: list[ViewOut]


class TableOut(_Out):
    run_id: str
    table: str
    total_rows: int
    offset: int
    limit: int
    columns: list[str]
    rows: list[list[Any]]


class ScenariosOut(_Out):
    scenarios: list[str]
    limits: dict[str, float]
    request_schema: dict[str, Any]
    csrf_token: str = Field(description="This server's token: send it as X-CSRF-Token (or the form's csrf_token "
                                        "field) with a POST that has no Origin header.")


class ErrorOut(_Out):
    error: str
    status: int
    detail: Any = None
