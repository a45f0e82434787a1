"""No merchant ever sees another's data: every admin model, every view (SPEC §2).

The walk is generic over ``portal_site._registry``: a model registered later is
walked too, and the test fails if the demo data has no Demo Bistro row for it.
"""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from portal.middleware import SESSION_KEY
from portal.sites import portal_site
from portal.tests.admin_walk import merchant_objects

STANDARD_VIEWS = {"changelist", "add", "history", "delete", "change"}


def _admin_urls():
    yield from portal_site._registry.items()


@pytest.mark.django_db
def test_every_admin_model_is_walked_and_refused(demo, login):
    bistro = demo["Demo Bistro"]
    client = login("other_staff")
    walked = 0
    for model, model_admin in _admin_urls():
        objs = merchant_objects(model, bistro)
        assert objs, f"demo data has no Demo Bistro {model.__name__} to walk"
        opts = model._meta
        prefix = f"admin:{opts.app_label}_{opts.model_name}"
        changelist = client.get(reverse(f"{prefix}_changelist"))
        assert changelist.status_code in (200, 403), model
        for obj in objs:
            change_url = reverse(f"{prefix}_change", args=[obj.pk])
            if changelist.status_code == 200:
                assert change_url not in changelist.content.decode(), model
            for name in ("change", "delete", "history"):
                url = reverse(f"{prefix}_{name}", args=[obj.pk])
                assert client.get(url).status_code in (403, 404), (model, name)
            assert client.post(
                reverse(f"{prefix}_delete", args=[obj.pk]), {"post": "yes"}
            ).status_code in (403, 404), model
            # 405: a read-only page refuses POST whatever the object (no leak).
            assert client.post(change_url, {}).status_code in (403, 404, 405), model
            # Custom views of the model admin, with the foreign object's id.
            for pattern in model_admin.get_urls():
                name = (pattern.name or "").rsplit("_", 1)[-1]
                if not pattern.name or name in STANDARD_VIEWS:
                    continue
                if "object_id" in pattern.pattern.regex.groupindex or "pk" in (
                    pattern.pattern.regex.groupindex
                ):
                    key = (
                        "object_id"
                        if "object_id" in pattern.pattern.regex.groupindex
                        else "pk"
                    )
                    url = reverse(f"admin:{pattern.name}", kwargs={key: obj.pk})
                    assert client.get(url).status_code in (403, 404), url
                    assert client.post(url, {}).status_code in (403, 404, 405), url
            assert model._default_manager.filter(pk=obj.pk).exists(), "nothing deleted"
        walked += 1
    assert walked == len(portal_site._registry) and walked >= 3


@pytest.mark.django_db
def test_switching_to_a_foreign_merchant_is_refused(demo, login):
    client = login("other_staff")
    response = client.post(
        reverse("switch_merchant"), {"merchant": demo["Demo Bistro"].pk}
    )
    assert response.status_code == 403
    # Even a forged session value is re-checked on every request.
    session = client.session
    session[SESSION_KEY] = demo["Demo Bistro"].pk
    session.save()
    page = client.get(reverse("admin:portal_merchant_changelist"))
    assert "Other Shop" in page.content.decode()
    assert "Demo Bistro" not in page.content.decode()


@pytest.mark.django_db
def test_cashier_cannot_enter_the_admin(demo, login):
    client = login("demo_cashier")
    response = client.get(reverse("admin:index"))
    assert response.status_code == 302
    assert response["Location"] == reverse("redemption:home")
    for model in portal_site._registry:
        url = reverse(
            f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist"
        )
        assert client.get(url).status_code in (302, 403)
    landing = client.get(reverse("home"), follow=True)
    assert landing.redirect_chain[-1][0] == reverse("redemption:home")
    assert landing.status_code == 200


@pytest.mark.django_db
def test_provider_sees_exactly_its_sub_merchants(demo, login):
    client = login("demo_provider")
    page = client.get(reverse("admin:index"))
    assert page.status_code == 200
    options = [m.name for m in page.context["switchable_merchants"]]
    assert sorted(options) == ["Noodle Bar", "Tea House"]
    for name in ("Tea House", "Noodle Bar"):
        ok = client.post(reverse("switch_merchant"), {"merchant": demo[name].pk})
        assert ok.status_code == 302
        stores = client.get(reverse("admin:portal_store_changelist")).content.decode()
        assert demo[name].stores.first().name in stores
        assert "Demo Bistro" not in stores
    for name in ("Demo Bistro", "Other Shop"):
        denied = client.post(reverse("switch_merchant"), {"merchant": demo[name].pk})
        assert denied.status_code == 403


@pytest.mark.django_db
def test_ops_site_is_for_superusers_only(demo, login):
    client = login("demo_owner")
    bistro = demo["Demo Bistro"]
    for url in (
        reverse("ops:index"),
        reverse("ops:portal_merchant_change", args=[bistro.pk]),
        reverse("ops:auth_user_changelist"),
    ):
        assert client.get(url).status_code == 403
    anonymous = Client().get(reverse("ops:index"), follow=True)
    assert anonymous.redirect_chain[-1][0].startswith(reverse("login"))


@pytest.mark.django_db
def test_list_filters_and_fk_choices_are_scoped(demo, login):
    """A staff member adding a cashier sees only their own merchant's stores."""
    client = login("demo_owner")
    page = client.get(reverse("admin:portal_membership_add")).content.decode()
    assert "People&#x27;s Square" in page or "People's Square" in page
    assert "Other Shop" not in page and "Tea House" not in page
    other_store = demo["Other Shop"].stores.first()
    response = client.post(
        reverse("admin:portal_membership_add"),
        {
            "username": "new_cashier",
            "password1": "a-long-enough-pass-91",
            "password2": "a-long-enough-pass-91",
            "role": "cashier",
            "stores": [other_store.pk],
        },
    )
    assert response.status_code == 200  # the form comes back with an error
    assert "stores" in response.context["adminform"].form.errors
