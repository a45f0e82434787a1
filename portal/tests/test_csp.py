"""The Content-Security-Policy header on every portal response and on the sandbox's
pages, and templates that need nothing it forbids (tests/e2e/test_csp.py checks
the pages in a browser)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

POLICY = "Content-Security-Policy"


def _directives(header: str) -> dict[str, list[str]]:
    found = {}
    for part in header.split(";"):
        name, *values = part.split()
        found[name] = values
    return found


@pytest.mark.django_db
def test_every_portal_response_has_the_policy(demo, login):
    staff = login("demo_staff")
    answers = [
        Client().get(reverse("login")),
        Client().get("/healthz"),
        staff.get(reverse("admin:index")),
        staff.get(reverse("admin:coins_ledgerentry_changelist")),
        staff.get("/api/coins/balance"),
        staff.get("/admin/no-such-page/"),
        Client().get("/api/coins/balance"),
    ]
    for response in answers:
        policy = _directives(response[POLICY])
        assert policy["default-src"] == ["'self'"]
        assert policy["script-src"] == ["'self'"]  # no inline scripts, no eval
        assert policy["style-src"] == ["'self'"]  # no style attributes
        assert policy["img-src"][:2] == ["'self'", "data:"]  # QR codes, icons
        assert "https://mmbiz.qpic.cn" in policy["img-src"]  # WeChat's card images
        assert policy["frame-ancestors"] == ["'none'"]
        assert policy["form-action"] == ["'self'"]
        assert policy["object-src"] == ["'none'"]


def test_card_images_may_come_from_wechat_or_the_sandbox_on_its_own_port(settings):
    from portal.middleware import content_security_policy

    images = _directives(content_security_policy("http://127.0.0.1:8001/sandbox/"))
    assert "http://127.0.0.1:8001" in images["img-src"]  # `make run`'s sandbox
    real = _directives(content_security_policy("https://api.weixin.qq.com/"))
    assert "https://mmbiz.qpic.cn" in real["img-src"]


@pytest.mark.django_db
def test_the_sandbox_pages_have_the_sandbox_policy(demo, settings):
    response = Client().get("/sandbox/console/")
    assert response.status_code == 200
    policy = _directives(response[POLICY])
    assert policy["script-src"] == ["'self'"] and policy["style-src"] == ["'self'"]
    assert policy["img-src"] == ["'self'", "data:"]  # not the portal's image hosts
    assert policy["frame-ancestors"] == ["'none'"]


def test_the_sandbox_imports_nothing_from_the_portal_for_it():
    source = (Path(settings.BASE_DIR) / "sandbox" / "security.py").read_text()
    assert not re.search(
        r"^(from|import) (portal|cards|coins|redemption)", source, re.M
    )


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>")
STYLE_ATTRIBUTE = re.compile(r"<[^>]+\sstyle=", re.S)
EVENT_ATTRIBUTE = re.compile(r"<[^>]+\son[a-z]+=", re.S)


def test_no_template_has_an_inline_script_style_attribute_or_handler():
    """What the policy forbids is not written in the first place."""
    offenders = []
    for path in sorted((Path(settings.BASE_DIR) / "templates").rglob("*.html")):
        text = path.read_text()
        for name, pattern in (
            ("inline <script>", INLINE_SCRIPT),
            ("style attribute", STYLE_ATTRIBUTE),
            ("on* handler", EVENT_ATTRIBUTE),
        ):
            if pattern.search(text):
                offenders.append(f"{path.relative_to(settings.BASE_DIR)}: {name}")
    assert offenders == []


def test_no_python_code_writes_a_style_attribute_or_an_inline_script():
    """HTML built in Python (format_html in admin displays) follows the policy too."""
    offenders = []
    for app in ("portal", "cards", "coins", "redemption", "sandbox", "wechat"):
        for path in sorted((Path(settings.BASE_DIR) / app).rglob("*.py")):
            if "tests" in path.parts or "migrations" in path.parts:
                continue
            text = path.read_text()
            if re.search(r"""\sstyle=\\?["']""", text) or "<script>" in text:
                offenders.append(str(path.relative_to(settings.BASE_DIR)))
    assert offenders == []
