"""Sign-in, lockout, logout, roles and the landing page."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client, override_settings
from django.urls import reverse

from portal.demo import DEMO_PASSWORD


def _sign_in(client: Client, username: str, password: str):
    return client.post(reverse("login"), {"username": username, "password": password})


@pytest.mark.django_db
def test_demo_logins_work_and_land_by_role(demo):
    for username, landing in (
        ("demo_owner", reverse("admin:index")),
        ("demo_staff", reverse("admin:index")),
        ("demo_provider", reverse("admin:index")),
        ("other_staff", reverse("admin:index")),
        ("demo_cashier", reverse("redemption:home")),
    ):
        client = Client()
        response = _sign_in(client, username, DEMO_PASSWORD)
        assert response.status_code == 302, username
        page = client.get(response["Location"], follow=True)
        assert page.redirect_chain[-1][0] if page.redirect_chain else True
        assert page.request["PATH_INFO"] == landing, username
        assert page.status_code == 200


@pytest.mark.django_db
@override_settings(AXES_FAILURE_LIMIT=3)
def test_wrong_passwords_lock_the_account(demo):
    client = Client()
    for _ in range(2):
        response = _sign_in(client, "demo_staff", "wrong")
        assert response.status_code == 200
        assert response.context["form"].non_field_errors()
    locked = _sign_in(client, "demo_staff", "wrong")
    assert locked.status_code == 429
    assert "locked" in locked.content.decode()
    # Now even the right password is refused, from any client.
    again = _sign_in(Client(), "demo_staff", DEMO_PASSWORD)
    assert again.status_code == 429
    # Other accounts are not affected (a shop's tills share one IP).
    assert _sign_in(Client(), "demo_owner", DEMO_PASSWORD).status_code == 302


@pytest.mark.django_db
@override_settings(AXES_FAILURE_LIMIT=3)
def test_lockout_can_be_reset_by_command(demo):
    from django.core.management import call_command

    for _ in range(3):
        _sign_in(Client(), "demo_staff", "wrong")
    assert _sign_in(Client(), "demo_staff", DEMO_PASSWORD).status_code == 429
    call_command("axes_reset_username", "demo_staff")
    assert _sign_in(Client(), "demo_staff", DEMO_PASSWORD).status_code == 302


@pytest.mark.django_db
def test_logout_needs_post_and_ends_the_session(demo, login):
    client = login("demo_staff")
    assert client.get(reverse("admin:index")).status_code == 200
    assert client.get(reverse("logout")).status_code == 405
    client.post(reverse("logout"))
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302 and reverse("login") in response["Location"]


@pytest.mark.django_db
def test_csrf_is_enforced_on_sign_in_and_switching(demo):
    client = Client(enforce_csrf_checks=True)
    assert _sign_in(client, "demo_staff", DEMO_PASSWORD).status_code == 403
    user = get_user_model().objects.get(username="demo_provider")
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    response = client.post(
        reverse("switch_merchant"), {"merchant": demo["Tea House"].pk}
    )
    assert response.status_code == 403


@pytest.mark.django_db
def test_user_without_merchant_gets_403(db):
    user = get_user_model().objects.create_user("stray", password="x-long-pass-123")
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    assert client.get(reverse("home")).status_code == 403
    assert client.get(reverse("admin:index")).status_code == 403


@pytest.mark.django_db
def test_staff_cannot_manage_staff_or_stores_but_owner_can(demo, login):
    staff = login("demo_staff")
    assert staff.get(reverse("admin:portal_membership_changelist")).status_code == 403
    assert staff.get(reverse("admin:portal_store_add")).status_code == 403
    assert staff.get(reverse("admin:portal_store_changelist")).status_code == 200
    owner = login("demo_owner")
    response = owner.post(
        reverse("admin:portal_membership_add"),
        {
            "username": "till_3",
            "password1": "a-long-enough-pass-91",
            "password2": "a-long-enough-pass-91",
            "role": "cashier",
            "stores": [demo["Demo Bistro"].stores.first().pk],
        },
    )
    assert response.status_code == 302
    new = get_user_model().objects.get(username="till_3")
    assert new.memberships.get().merchant == demo["Demo Bistro"]
    assert _sign_in(Client(), "till_3", "a-long-enough-pass-91").status_code == 302


@pytest.mark.django_db
def test_last_owner_cannot_be_demoted_or_removed(demo, login):
    from portal.models import Membership

    owner = login("demo_owner")
    own = Membership.objects.get(user__username="demo_owner")
    response = owner.post(
        reverse("admin:portal_membership_change", args=[own.pk]),
        {"role": "staff", "is_active": "on"},
    )
    assert response.status_code == 200
    assert "own role" in str(response.context["adminform"].form.non_field_errors())
    assert (
        owner.get(reverse("admin:portal_membership_delete", args=[own.pk])).status_code
        == 403
    )
    own.refresh_from_db()
    assert own.role == "owner"


@pytest.mark.django_db
def test_taken_username_is_a_field_error(demo, login):
    owner = login("demo_owner")
    response = owner.post(
        reverse("admin:portal_membership_add"),
        {
            "username": "other_staff",
            "password1": "a-long-enough-pass-91",
            "password2": "a-long-enough-pass-91",
            "role": "staff",
        },
    )
    assert "username" in response.context["adminform"].form.errors
    assert not demo["Demo Bistro"].memberships.filter(user__username="other_staff")
