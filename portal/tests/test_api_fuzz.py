"""Fuzzing stays on (issue 8 §7): schemathesis sends generated requests, valid and
invalid, to every operation of /api/openapi.json as a signed-in staff member.
Never a server error; every answer matches the schema (status, content type,
body), errors included. Bounded and repeatable: a fixed number of examples per
operation (about 300 in all) from a fixed seed (derandomized)."""

from __future__ import annotations

import pytest
import requests
import schemathesis
from django.conf import settings
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

EXAMPLES = 300
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def _signed_in(live_server, username: str) -> requests.Session:
    """A browser's session: the session cookie, and the CSRF token on writes."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    client = Client()
    client.force_login(
        get_user_model().objects.get(username=username),
        backend="django.contrib.auth.backends.ModelBackend",
    )
    session = requests.Session()
    session.cookies.set(settings.SESSION_COOKIE_NAME, client.cookies["sessionid"].value)
    page = session.get(live_server.url + "/admin/", timeout=10)
    assert page.status_code == 200
    session.headers["X-CSRFToken"] = session.cookies[settings.CSRF_COOKIE_NAME]
    session.headers["Referer"] = live_server.url + "/admin/"
    return session


@pytest.mark.fuzz
def test_every_operation_survives_generated_requests(live_demo, live_server):
    session = _signed_in(live_server, "demo_staff")
    raw = session.get(live_server.url + "/api/openapi.json", timeout=10).json()
    schema = schemathesis.openapi.from_dict(raw)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 6
    per_operation = max(10, EXAMPLES // (2 * len(operations)))
    sent = 0
    for operation in operations:
        for mode in (
            schemathesis.GenerationMode.POSITIVE,
            schemathesis.GenerationMode.NEGATIVE,
        ):

            @hypothesis_settings(
                max_examples=per_operation,
                derandomize=True,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def run(case):
                nonlocal sent
                case.call_and_validate(
                    base_url=live_server.url, session=session, checks=CHECKS
                )
                sent += 1

            run()
    assert sent >= EXAMPLES // 2
