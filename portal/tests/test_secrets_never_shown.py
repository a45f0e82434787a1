"""Secrets never reach a page (README "Configuration"; issue 8 §2).

Every page of both admin sites (the portal's /admin/ and the operator's /ops/) is
walked as every demo role and as a superuser: each site's own pages, every model's
changelist, add page, custom views, and per object its change (or view-only)
page, history and delete confirmation. The HTML of each answer, error pages and
the CSV export included, must hold none of the demo's secrets: the merchants'
AppSecret, event token and EncodingAESKey, the sandbox accounts' copies, the
provider's component secret, and the new values typed into the forms.
"""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core import checks
from django.test import Client
from django.urls import reverse

from portal.admin_base import SecretsWriteOnly, secret_problems
from portal.fields import Secret
from portal.models import Merchant, Provider
from portal.sites import portal_site
from portal.tests.admin_walk import merchant_objects, model_pages, site_pages

ROLES = ("demo_owner", "demo_staff", "demo_cashier", "demo_provider", "other_staff")
NEW_SECRET = "typed-appsecret-0123456789abcdef"
NEW_TOKEN = "typedtoken0123456789"


def _plain(value) -> str:
    return value.plain() if isinstance(value, Secret) else str(value)


def _demo_secrets() -> set[str]:
    from sandbox.models import Account

    found = set()
    for merchant in Merchant.objects.all():
        found |= {merchant.appsecret, merchant.event_token, merchant.encoding_aes_key}
    for provider in Provider.objects.all():
        found.add(provider.component_appsecret)
    for account in Account.objects.all():
        found |= {account.secret, account.token, account.encoding_aes_key}
    return {_plain(s) for s in found if s}


def _body(response) -> str:
    if response.streaming:
        return b"".join(response.streaming_content).decode("utf-8", "replace")
    return response.content.decode("utf-8", "replace")


def _superuser():
    return get_user_model().objects.create_superuser(
        "walk_root", "root@example.com", "a-long-enough-pass-91"
    )


def _clients(login) -> dict[str, Client]:
    clients = {role: login(role) for role in ROLES}
    root = Client()
    root.force_login(_superuser(), backend="django.contrib.auth.backends.ModelBackend")
    clients["superuser"] = root
    return clients


def _pages(demo) -> list[str]:
    """Every page of both sites, with objects of three merchants (the one with
    encrypted events, another, a provider's) and the operator's rows."""
    merchants = [demo["Demo Bistro"], demo["Other Shop"], demo["Tea House"]]
    urls = [*site_pages(portal_site), *site_pages(admin.site)]
    for model in portal_site._registry:
        objects = [o for m in merchants for o in merchant_objects(model, m, limit=1)]
        urls += model_pages(portal_site, model, objects)
    for model in admin.site._registry:
        urls += model_pages(admin.site, model, model._default_manager.all()[:2])
    # The sandbox's console (mounted with the portal here, as in the tests' server).
    urls.append(reverse("sandbox:console"))
    return urls


def _write_history(clients, demo) -> None:
    """Secrets changed once on each site (LogEntry rows), and a refused form
    that must not echo what was typed."""
    bistro = demo["Demo Bistro"]
    portal_url = reverse("admin:portal_merchant_change", args=[bistro.pk])
    ops_url = reverse("ops:portal_merchant_change", args=[bistro.pk])
    owner, root = clients["demo_owner"], clients["superuser"]
    saved = owner.post(portal_url, {"name": "Demo Bistro", "event_token": NEW_TOKEN})
    assert saved.status_code == 302
    refused = owner.post(
        portal_url, {"name": "", "appsecret": NEW_SECRET, "encoding_aes_key": "x"}
    )
    assert refused.status_code == 200 and NEW_SECRET not in _body(refused)
    data = {"name": "Demo Bistro", "appid": bistro.appid, "provider": ""}
    assert root.post(ops_url, {**data, "appsecret": NEW_SECRET}).status_code == 302
    refused = root.post(ops_url, {**data, "name": "", "event_token": NEW_TOKEN + "x"})
    assert refused.status_code == 200 and NEW_TOKEN + "x" not in _body(refused)


@pytest.mark.django_db
def test_no_page_of_either_admin_site_shows_a_secret(demo, login):
    Provider.objects.filter(name="Demo Provider").update(
        component_appsecret="provider-component-secret-4242"
    )
    clients = _clients(login)
    _write_history(clients, demo)
    secrets = _demo_secrets() | {NEW_SECRET, NEW_TOKEN}
    assert NEW_SECRET in secrets and len(secrets) >= 10
    from django.contrib.admin.models import LogEntry

    history = list(LogEntry.objects.values_list("change_message", "object_repr"))
    assert len(history) >= 2  # both sites recorded the changes: names, not values
    assert not [s for s in secrets for row in history if s in "".join(row)]
    pages = _pages(demo)
    shown = {role: 0 for role in clients}
    for role, client in clients.items():
        for url in pages:
            response = client.get(url)
            html = _body(response)
            leaked = [s[:4] + "…" for s in secrets if s in html]
            assert not leaked, f"{role} GET {url} ({response.status_code}): {leaked}"
            is_admin = url.startswith(("/admin/", "/ops/"))
            shown[role] += is_admin and response.status_code == 200
    # The walk reached the pages: each role that may enter saw many of them.
    assert shown["superuser"] > 100 and shown["demo_owner"] > 30
    assert shown["demo_staff"] > 10 and shown["demo_provider"] > 10, shown
    assert shown["demo_cashier"] == 0


@pytest.mark.django_db
def test_view_only_merchant_page_says_set_or_not_set(demo, login):
    bistro = demo["Demo Bistro"]
    url = reverse("admin:portal_merchant_change", args=[bistro.pk])
    page = login("demo_staff").get(url)
    html = page.content.decode()
    assert page.status_code == 200
    assert "field-appsecret_state" in html and "field-encoding_aes_key_state" in html
    assert 'name="appsecret"' not in html  # no input: staff may not replace it
    other = demo["Other Shop"]  # plain mode: no EncodingAESKey
    html = login("other_staff").get(
        reverse("admin:portal_merchant_change", args=[other.pk])
    )
    assert "Not set" in html.content.decode()
    owner = login("demo_owner").get(url).content.decode()
    assert 'name="appsecret"' in owner and 'type="password"' in owner


def test_a_secret_masks_itself_wherever_it_is_turned_into_text():
    secret = Secret("s3cr3t-value")
    percent = "%s" % secret  # noqa: UP031  (logging's way)
    for text in (str(secret), repr(secret), f"{secret}", percent):
        assert "s3cr3t" not in text
    assert secret.encode() == b"s3cr3t-value" and secret.plain() == "s3cr3t-value"
    assert Secret(secret).plain() == "s3cr3t-value"  # a copy keeps the characters


def test_the_system_check_refuses_an_admin_that_could_show_a_secret():
    site = admin.AdminSite(name="check-walk")

    class Careless(admin.ModelAdmin):
        list_display = ["name", "appsecret"]
        search_fields = ["^event_token"]
        fields = ["name", "encoding_aes_key"]

    careless = Careless(Merchant, site)
    ids = sorted(e.id for e in secret_problems(careless))
    assert ids == ["portal.E001", "portal.E002", "portal.E002", "portal.E003"]

    class Careful(SecretsWriteOnly, admin.ModelAdmin):
        fields = ["name"]

    assert secret_problems(Careful(Merchant, site)) == []
    registered = checks.run_checks(tags=[checks.Tags.security])
    assert not [e for e in registered if e.id.startswith("portal.E00")]
