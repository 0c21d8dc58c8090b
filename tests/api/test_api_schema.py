"""Property-based tests of every operation of /openapi.json (schemathesis): no 5xx for any
generated request, as an admin (the widest access) and anonymously, on GeoPackage and
PostGIS. Examples are bounded per operation so the whole run stays short (< 2 min)."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from minewatch.api import create_app
from tests.api.conftest import auth

pytestmark = pytest.mark.slow
EXAMPLES = 6


@pytest.mark.parametrize("role", ["admin", "anonymous"])
def test_no_operation_gives_a_server_error(role, api_registry, tokens):
    app = create_app(api_registry)
    headers = auth(tokens.get(role))
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures, statuses, n_ops = [], [], 0
    for result in schema.get_all_operations():
        op = result.ok()
        n_ops += 1

        @given(case=op.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def check(case):
            response = case.call(headers=headers)
            statuses.append(response.status_code)
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} {case.query} "
                                f"-> {response.status_code}: {response.text[:200]}")

        check()
    assert n_ops >= 30 and len(statuses) >= 2 * n_ops
    if role == "admin":  # not only refusals
        assert sum(200 <= s < 300 for s in statuses) >= n_ops // 3
    assert failures == []
