"""API keys for machines (issue 10 §4): owners make them (shown once, stored hashed),
list and revoke them; staff and cashiers cannot; another merchant's key is a 404."""

from __future__ import annotations

import hashlib
import re

import pytest
from django.test import Client
from django.urls import reverse

from portal.models import Merchant, Store
from redemption import services
from redemption.models import TillKey

KEYS = "/redemption/keys/"


def _make(client, merchant, name="Till 1", poi="100001"):
    store = Store.objects.get(merchant=merchant, poi_id=poi)
    return client.post(KEYS, {"name": name, "store": store.pk})


def test_the_key_is_shown_once_and_only_its_hash_is_kept(demo, login):
    bistro = demo["Demo Bistro"]
    owner = login("demo_owner")
    assert owner.get(KEYS).status_code == 200
    made = _make(owner, bistro)
    assert made.status_code == 302
    key = TillKey.objects.get(merchant=bistro)
    assert made["Location"] == reverse("redemption:keys_created", args=[key.pk])
    shown = owner.get(made["Location"])
    html = shown.content.decode()
    raw = re.search(r'value="(fct_[^"]+)" data-copy-source data-raw-key', html).group(1)
    assert shown["Cache-Control"] == "no-store"
    assert "data-copy-button" in html and "curl -X POST" in html
    assert f"Authorization: Bearer {raw}" in html and "/api/redemption/consume" in html
    assert key.key_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert key.prefix == raw[:12] and raw not in str(
        TillKey.objects.filter(pk=key.pk).values().get()
    )
    # Never again: not on a reload, not in the list.
    again = owner.get(made["Location"]).content.decode()
    assert raw not in again and "data-key-gone" in again
    listing = owner.get(KEYS).content.decode()
    assert raw not in listing
    assert f"<code>{key.prefix}…</code>" in listing and "Till 1" in listing
    assert "Never" in listing  # not used yet
    # The key works until it is revoked.
    assert services.till_key_authenticate(raw) == key
    assert "Never" not in owner.get(KEYS).content.decode()  # last used shown
    confirm = owner.get(reverse("redemption:keys_revoke", args=[key.pk]))
    assert (
        confirm.status_code == 200 and "data-confirm-revoke" in confirm.content.decode()
    )
    assert services.till_key_authenticate(raw) == key  # a GET revokes nothing
    revoked = owner.post(reverse("redemption:keys_revoke", args=[key.pk]))
    assert revoked.status_code == 302 and revoked["Location"] == KEYS
    assert services.till_key_authenticate(raw) is None
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert "data-revoked" in owner.get(KEYS).content.decode()


def test_revoking_needs_the_csrf_token(demo):
    from django.contrib.auth import get_user_model

    bistro = demo["Demo Bistro"]
    key, raw = services.till_key_create(
        merchant=bistro, store=bistro.stores.first(), name="POS"
    )
    client = Client(enforce_csrf_checks=True)
    client.force_login(
        get_user_model().objects.get(username="demo_owner"),
        backend="django.contrib.auth.backends.ModelBackend",
    )
    url = reverse("redemption:keys_revoke", args=[key.pk])
    assert client.post(url).status_code == 403
    assert services.till_key_authenticate(raw) == key
    page = client.get(url).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    assert client.post(url, {"csrfmiddlewaretoken": token}).status_code == 302
    assert services.till_key_authenticate(raw) is None


@pytest.mark.parametrize("username", ["demo_staff", "demo_cashier"])
def test_only_owners_manage_keys(demo, login, username):
    bistro = demo["Demo Bistro"]
    key, _raw = services.till_key_create(
        merchant=bistro, store=bistro.stores.first(), name="POS"
    )
    client = login(username)
    assert client.get(KEYS).status_code == 403
    assert _make(client, bistro).status_code == 403
    assert (
        client.get(reverse("redemption:keys_revoke", args=[key.pk])).status_code == 403
    )
    assert (
        client.post(reverse("redemption:keys_revoke", args=[key.pk])).status_code == 403
    )
    assert TillKey.objects.filter(merchant=bistro).count() == 1
    key.refresh_from_db()
    assert key.revoked_at is None


def test_another_merchants_keys_are_not_found(demo, login):
    bistro, other = demo["Demo Bistro"], demo["Other Shop"]
    theirs, raw = services.till_key_create(
        merchant=other, store=other.stores.first(), name="Their POS"
    )
    owner = login("demo_owner")
    assert (
        owner.get(reverse("redemption:keys_revoke", args=[theirs.pk])).status_code
        == 404
    )
    assert (
        owner.post(reverse("redemption:keys_revoke", args=[theirs.pk])).status_code
        == 404
    )
    assert (
        owner.get(reverse("redemption:keys_created", args=[theirs.pk])).status_code
        == 404
    )
    assert "Their POS" not in owner.get(KEYS).content.decode()
    assert services.till_key_authenticate(raw) == theirs  # untouched
    # A store of another merchant is not a choice.
    refused = owner.post(KEYS, {"name": "Sneaky", "store": other.stores.first().pk})
    assert refused.status_code == 400
    assert "Select a valid choice" in refused.content.decode()
    assert not TillKey.objects.filter(merchant=bistro).exists()
    # A key needs a name.
    nameless = owner.post(KEYS, {"name": " ", "store": bistro.stores.first().pk})
    assert nameless.status_code == 400
    assert not TillKey.objects.filter(merchant=bistro).exists()


def test_the_raw_key_of_one_creation_is_not_shown_for_another_key(demo, login):
    bistro = demo["Demo Bistro"]
    owner = login("demo_owner")
    first = _make(owner, bistro, name="Till 1")
    _make(owner, bistro, name="Till 2")  # replaces the one waiting to be shown
    assert "data-key-gone" in owner.get(first["Location"]).content.decode()
    assert Merchant.objects.filter(till_keys__isnull=False).distinct().count() == 1
