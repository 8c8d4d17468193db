"""Generated input against the app's own OpenAPI description: no endpoint answers 5xx.

schemathesis reads ``/openapi.json`` from the ASGI app (no network, no server) and, for
every operation, hypothesis draws requests from its schema: valid input (positive mode) and
input that breaks it (negative mode: wrong types, missing fields, out-of-range numbers, odd
path segments). Runs are recorded, not executed (the runner is a stand-in), so generated run
requests cost nothing; every other endpoint is the real one over a copy of the faces store.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from tests.web.conftest import BASE, make_app, test_client

EXAMPLES = 3
"""Cases drawn per operation and mode (about 17 operations)."""


@pytest.fixture(scope="module")
def web_app(web_store):
    root, _ = web_store
    app = make_app(root, fake_runner=True)
    with test_client(app):  # runs the lifespan
        yield app


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=lambda m: m.value)
def test_no_endpoint_answers_5xx(web_app, mode):
    schema = schemathesis.openapi.from_asgi("/openapi.json", web_app, headers={"host": BASE.split("//")[1]})
    ops = [r.ok() for r in schema.get_all_operations()]
    assert len(ops) >= 15  # every route is described
    seen: dict[str, set[int]] = {}

    for op in ops:
        @given(case=op.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def check(case):
            # as the dashboard's own pages would: its Host, and its Origin on posts
            response = case.call(base_url=BASE, headers={"origin": BASE})
            assert response.status_code < 500, (
                f"{case.method} {case.formatted_path} {case.query or ''}: {response.status_code} {response.text[:300]}")
            if response.status_code >= 400 and case.path.startswith(("/api/", "/-/")):
                body = response.json()
                assert body["status"] == response.status_code and body["error"], body
            seen.setdefault(op.label, set()).add(response.status_code)

        try:
            check()
        except Unsatisfiable:  # nothing to break: no parameters, or only free-form ones
            assert mode is GenerationMode.NEGATIVE, op.label
            seen[op.label] = set()
    assert len(seen) == len(ops)
    if mode is GenerationMode.POSITIVE:  # valid run requests got through the Host and Origin checks
        assert 202 in seen["POST /api/jobs"], seen["POST /api/jobs"]
