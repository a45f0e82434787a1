"""The API's frame (portal/api.py): tenancy per router, one error shape for every
error, documented on every operation, and docs for signed-in users served from
the portal itself."""

from __future__ import annotations

import json

import pytest
from django.contrib.staticfiles import finders
from django.test import Client
from django.urls import reverse

from portal.api_errors import ERROR_STATUSES, ErrorCode

SHAPE = {"code", "message", "field"}


def _error(response, status: int, code: ErrorCode, field=None) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == SHAPE, body
    assert body["code"] == code and body["message"], body
    assert body["field"] == field, body
    return body


@pytest.mark.django_db
def test_docs_and_schema_are_for_signed_in_users_and_load_nothing_from_a_cdn(
    demo, login
):
    for name in ("api:openapi-view", "api:openapi-json"):
        anonymous = Client().get(reverse(name))
        assert anonymous.status_code == 302
        assert anonymous["Location"].startswith(reverse("login"))
    client = login("demo_staff")
    docs = client.get(reverse("api:openapi-view"))
    html = docs.content.decode()
    assert docs.status_code == 200
    assert "/static/ninja/swagger-ui-bundle.js" in html
    assert "/static/ninja/swagger-ui-init.js" in html
    for cdn in ("cdn.", "jsdelivr", "unpkg", "https://"):
        assert cdn not in html, cdn
    for asset in ("swagger-ui-bundle.js", "swagger-ui-init.js", "swagger-ui.css"):
        assert finders.find(f"ninja/{asset}"), asset  # collected with the portal's
    assert client.get(reverse("api:openapi-json")).json()["openapi"].startswith("3.")


@pytest.mark.django_db
def test_every_operation_documents_the_one_error_shape(demo, login):
    schema = login("demo_staff").get(reverse("api:openapi-json")).json()
    error = schema["components"]["schemas"]["Error"]
    assert set(error["properties"]) == SHAPE
    codes = schema["components"]["schemas"]["ErrorCode"]["enum"]
    assert codes == [c.value for c in ErrorCode]
    operations = 0
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            operations += 1
            documented = operation["responses"]
            for status in ERROR_STATUSES:
                ref = documented[str(status)]["content"]["application/json"]["schema"]
                assert ref == {"$ref": "#/components/schemas/Error"}, (path, status)
            ok = [s for s in documented if s.startswith("2")]
            assert ok and "schema" in documented[ok[0]]["content"]["application/json"]
            assert operation["security"], (method, path)  # every operation signed-in
    assert operations >= 6


@pytest.mark.django_db
def test_every_error_answers_the_one_shape(demo, login, settings):
    anonymous = Client()
    _error(anonymous.get("/api/coins/balance"), 401, ErrorCode.NOT_AUTHENTICATED)
    _error(anonymous.post("/api/cards/preview"), 401, ErrorCode.NOT_AUTHENTICATED)
    cashier = login("demo_cashier")  # signed in, but neither cards nor coins
    _error(cashier.get("/api/coins/balance"), 403, ErrorCode.FORBIDDEN)
    _error(
        cashier.post("/api/cards/preview", "{}", content_type="application/json"),
        403,
        ErrorCode.FORBIDDEN,
    )
    strict = login("demo_staff")
    strict.handler.enforce_csrf_checks = True
    _error(
        strict.post("/api/cards/preview", "{}", content_type="application/json"),
        403,
        ErrorCode.CSRF_FAILED,
    )
    staff = login("demo_staff")
    _error(staff.get("/api/coins/recharges/999999"), 404, ErrorCode.NOT_FOUND)
    _error(staff.get("/api/coins/stock-orders/abc"), 422, ErrorCode.INVALID, "order_id")
    _error(
        staff.post(
            "/api/cards/preview?quantity=lots",
            json.dumps({"card": {}}),
            content_type="application/json",
        ),
        422,
        ErrorCode.INVALID,
        "quantity",
    )
    _error(
        staff.post("/api/cards/preview", "{not json", content_type="application/json"),
        400,
        ErrorCode.INVALID,
        None,
    )
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.factories import png

    too_big = SimpleUploadedFile("b.png", png() + b"0" * 1_100_000)
    _error(
        staff.post("/api/cards/images", {"file": too_big}),
        400,
        ErrorCode.IMAGE_TOO_LARGE,
        "file",
    )
    settings.WECHAT_API_BASE = "http://127.0.0.1:9/sandbox/"  # nothing answers
    body = _error(
        staff.post("/api/cards/images", {"file": SimpleUploadedFile("a.png", png())}),
        502,
        ErrorCode.WECHAT_UNAVAILABLE,
    )
    assert "WeChat" in body["message"]


@pytest.mark.django_db
def test_tenancy_is_resolved_per_router_with_its_capability(demo, login):
    """Every operation authenticates through its router's MerchantAuth; the role's
    capability is checked there, not in the endpoint."""
    from portal.api import MerchantAuth, api
    from portal.roles import Capability
    from redemption.api import TillKeyAuth

    wanted = {
        "cards": Capability.CARDS,
        "coins": Capability.COINS,
        "redemption": Capability.REDEEM,
    }
    seen = set()
    for router in api._get_bound_routers():
        for path_view in router.path_operations.values():
            for operation in path_view.operations:
                tag = (operation.tags or router.tags or ["portal"])[0]
                auths = list(operation.auth_callbacks)
                if tag == "redemption":  # a store's API key first, else the session
                    key = auths.pop(0)
                    assert isinstance(key, TillKeyAuth), operation.view_func
                [auth] = auths
                assert isinstance(auth, MerchantAuth), operation.view_func
                assert auth.capability == wanted.get(tag), operation.view_func
                seen.add(tag)
    assert seen == {"cards", "coins", "portal", "redemption"}
    # Another merchant's object is a 404, as if it did not exist.
    from coins.models import Recharge

    theirs = Recharge.objects.create(
        merchant=demo["Other Shop"], order_id="r-other", coin_count=5, qrcode_url="x"
    )
    _error(
        login("demo_staff").get(f"/api/coins/recharges/{theirs.pk}"),
        404,
        ErrorCode.NOT_FOUND,
    )
    assert (
        login("other_staff").get(f"/api/coins/recharges/{theirs.pk}").status_code == 200
    )
