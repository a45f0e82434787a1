"""Demo data, secrets at rest, /healthz, i18n, settings profiles."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.urls import reverse

from portal.demo import seed_demo
from portal.models import Membership, Merchant, Provider, ProviderStaff, Store

BASE = Path(settings.BASE_DIR)


def _counts():
    return [
        m.objects.count()
        for m in (
            Merchant,
            Store,
            Membership,
            Provider,
            ProviderStaff,
            get_user_model(),
        )
    ]


@pytest.mark.django_db
def test_demo_data_is_complete_and_idempotent():
    merchants = seed_demo()
    assert set(merchants) == {"Demo Bistro", "Other Shop", "Tea House", "Noodle Bar"}
    assert merchants["Demo Bistro"].stores.count() == 2
    assert {
        m.user.username: m.role for m in merchants["Demo Bistro"].memberships.all()
    } == {
        "demo_owner": "owner",
        "demo_staff": "staff",
        "demo_cashier": "cashier",
    }
    provider = Provider.objects.get(name="Demo Provider")
    assert sorted(provider.merchants.values_list("name", flat=True)) == [
        "Noodle Bar",
        "Tea House",
    ]
    before = _counts()
    secrets_before = Merchant.objects.get(name="Demo Bistro").appsecret
    pw_before = get_user_model().objects.get(username="demo_staff").password
    seed_demo()
    assert _counts() == before
    assert Merchant.objects.get(name="Demo Bistro").appsecret == secrets_before
    assert get_user_model().objects.get(username="demo_staff").password == pw_before


@pytest.mark.django_db
def test_secrets_are_encrypted_at_rest_and_never_shown(demo, login):
    bistro = demo["Demo Bistro"]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT appsecret, event_token, encoding_aes_key FROM portal_merchant "
            "WHERE id = %s",
            [bistro.pk],
        )
        raw = cursor.fetchone()
    bistro.refresh_from_db()
    for stored, plain in zip(
        raw,
        (bistro.appsecret, bistro.event_token, bistro.encoding_aes_key),
        strict=True,
    ):
        assert plain and plain not in stored
    assert "*" in repr(bistro.appsecret) and bistro.appsecret not in repr(
        bistro.appsecret
    )
    page = login("demo_owner").get(
        reverse("admin:portal_merchant_change", args=[bistro.pk])
    )
    html = page.content.decode()
    assert page.status_code == 200
    for secret in (bistro.appsecret, bistro.event_token, bistro.encoding_aes_key):
        assert secret not in html


@pytest.mark.django_db
def test_owner_replaces_a_secret_and_blank_keeps_it(demo, login):
    bistro = demo["Demo Bistro"]
    old_token = bistro.event_token
    owner = login("demo_owner")
    url = reverse("admin:portal_merchant_change", args=[bistro.pk])
    bad = owner.post(url, {"name": "Demo Bistro", "encoding_aes_key": "short"})
    assert "encoding_aes_key" in bad.context["adminform"].form.errors
    ok = owner.post(url, {"name": "Demo Bistro", "appsecret": "n" * 32})
    assert ok.status_code == 302
    bistro.refresh_from_db()
    assert bistro.appsecret == "n" * 32 and bistro.event_token == old_token
    # Staff may read the merchant but not change its secrets.
    assert login("demo_staff").post(url, {"name": "X"}).status_code == 403


@pytest.mark.django_db
def test_healthz_reports_each_component(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "database": "ok",
        "cache": "ok",
        "broker": "ok",
    }


@pytest.mark.django_db
def test_healthz_is_503_when_the_broker_is_down(client, settings):
    from portal.celery import app

    old = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    try:
        response = client.get("/healthz")
    finally:
        app.conf.broker_url = old
    assert response.status_code == 503
    assert response.json()["broker"].startswith("error")
    assert response.json()["database"] == "ok"


@pytest.mark.django_db
def test_pages_render_in_both_languages(demo, login):
    client = login("demo_staff")
    client.post(reverse("set_language"), {"language": "zh-hans", "next": "/admin/"})
    zh = client.get(reverse("admin:index")).content.decode()
    assert "商户" in zh and "退出" in zh
    client.post(reverse("set_language"), {"language": "en", "next": "/admin/"})
    en = client.get(reverse("admin:index")).content.decode()
    assert "Merchant" in en and "Log out" in en
    # The dashboard's sections: merchant, cards, coins, redemption.
    for section in ("merchant", "cards", "coins", "redemption"):
        assert f'id="section-{section}"' in en


def _parse_po(path: Path) -> dict[str, str]:
    """msgid -> msgstr (plural forms joined by NUL, as in .mo files); fuzzy marked '#fuzzy'."""
    entries, current, key, fuzzy = {}, {}, None, False

    def flush():
        nonlocal current, fuzzy
        if current.get("msgid"):
            msgid = current["msgid"]
            if "msgid_plural" in current:
                msgid += "\0" + current["msgid_plural"]
                msgstr = "\0".join(
                    current[k] for k in sorted(current) if k.startswith("msgstr[")
                )
            else:
                msgstr = current.get("msgstr", "")
            if "msgctxt" in current:
                msgid = current["msgctxt"] + "\x04" + msgid
            entries[msgid] = "#fuzzy" if fuzzy else msgstr
        current, fuzzy = {}, False

    for line in path.read_text().splitlines():
        if not line.strip():
            flush()
        elif line.startswith("#,") and "fuzzy" in line:
            fuzzy = True
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            current[key] += eval(line)  # noqa: S307  (a .po string literal)
        else:
            key, _, rest = line.partition(" ")
            current[key] = eval(rest)  # noqa: S307
    flush()
    return entries


def test_translations_are_complete_and_compiled():
    """Every message has a zh-hans translation, and the committed .mo files match."""
    import gettext

    for lang in ("zh_Hans", "en"):
        po_file = BASE / f"locale/{lang}/LC_MESSAGES/django.po"
        entries = _parse_po(po_file)
        assert len(entries) > 50
        fuzzy = [k for k, v in entries.items() if v == "#fuzzy"]
        assert not fuzzy, f"{lang}: fuzzy entries need review: {fuzzy[:5]}"
        if lang == "zh_Hans":
            missing = [k for k, v in entries.items() if not v.replace("\0", "")]
            assert not missing, f"untranslated: {missing[:10]}"
        with po_file.with_suffix(".mo").open("rb") as fh:
            catalog = gettext.GNUTranslations(fh)._catalog
        for msgid, msgstr in entries.items():
            if not msgstr.replace("\0", ""):
                continue  # untranslated English falls back to the msgid
            if "\0" in msgid:
                singular = msgid.split("\0")[0]
                assert catalog.get((singular, 0)) == msgstr.split("\0")[0], msgid
            else:
                assert catalog.get(msgid) == msgstr, (
                    f"{lang}: run make messages: {msgid}"
                )


def test_production_profile_passes_the_deploy_check():
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "PORTAL_PROFILE": "production",
        "SECRET_KEY": "x" * 20 + "production-secret-key-with-enough-entropy-9f8e7d",
        "FIELD_ENCRYPTION_KEY": "0" * 43 + "=",
        "DATABASE_URL": "postgres://portal@127.0.0.1:5432/portal",
        "CACHE_URL": "redis://127.0.0.1:6379/1",
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/2",
        "ALLOWED_HOSTS": "portal.example.com",
        "VAR_DIR": str(BASE / "var" / "deploy-check"),
    }
    env.pop("ROOT_URLCONF", None)
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # set for the browser tests only
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_profile_refuses_to_start_without_secrets():
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("SECRET_KEY", "FIELD_ENCRYPTION_KEY")
    }
    env.update(
        DJANGO_SETTINGS_MODULE="portal.settings",
        PORTAL_PROFILE="production",
        VAR_DIR=str(BASE / "var" / "deploy-check"),
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=BASE,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_access_logs_never_show_query_strings():
    """WeChat's query strings carry tokens and secrets: every gunicorn we start logs
    paths only (%(U)s), never the request line (%(r)s) or the query (%(q)s)."""
    from docker import gunicorn_conf as docker_conf
    from portal.management.commands import runall
    from sandbox import gunicorn_conf as sandbox_conf

    for fmt in (
        runall.ACCESS_LOG_FORMAT,
        sandbox_conf.access_log_format,
        docker_conf.access_log_format,
    ):
        assert "%(U)s" in fmt and "%(r)s" not in fmt and "%(q)s" not in fmt
    # …nor in their error lines: every gunicorn we start logs through the logger
    # that hides query strings (its behaviour: portal/tests/test_logs.py).
    commands = runall.Command()._commands(8000, 8001, 1, 1)
    for name in ("web", "sandbox"):
        cmd = commands[name]
        assert cmd[cmd.index("--logger-class") + 1] == "portal.logs.GunicornLogger"
    assert docker_conf.logger_class == "portal.logs.GunicornLogger"
