"""Writes for tenancy: merchants, stores and staff. Views and admin only call these."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

import wechat
from wechat import errors as wx
from wechat.tokens import CredentialUnavailable

from .models import Membership, Merchant, Provider, ProviderStaff, Store
from .roles import Role

User = get_user_model()


@transaction.atomic
def store_save(
    *,
    merchant: Merchant,
    poi_id: str,
    name: str,
    address: str = "",
    store: Store | None = None,
) -> Store:
    """Create or update one of ``merchant``'s stores; a POI id is unique per merchant."""
    store = store or Store()
    if store.pk is None:
        store.merchant = merchant
    elif store.merchant_id != merchant.pk:
        raise ValidationError(_("This store belongs to another merchant."))
    store.poi_id, store.name, store.address = (
        poi_id.strip(),
        name.strip(),
        address.strip(),
    )
    try:
        with transaction.atomic():
            store.save()
    except IntegrityError as exc:
        raise ValidationError(
            {"poi_id": _("Another store of this merchant already has this POI id.")}
        ) from exc
    return store


@transaction.atomic
def staff_member_create(
    *,
    merchant: Merchant,
    username: str,
    password: str,
    role: str,
    stores: Iterable[Store] = (),
) -> Membership:
    """A new user working for ``merchant`` in ``role``.

    Only new usernames: an existing account is never attached to a merchant by name,
    or one merchant could take over another's user.
    """
    if role not in dict(Membership.ROLE_CHOICES):
        raise ValidationError({"role": _("Choose a valid role.")})
    stores = list(stores)
    if any(s.merchant_id != merchant.pk for s in stores):
        raise ValidationError({"stores": _("Choose stores of this merchant only.")})
    try:
        with transaction.atomic():
            user = User.objects.create_user(username=username, password=password)
    except IntegrityError as exc:
        # Neutral: the name may belong to another merchant's user, which must not
        # be revealed (the admin form says the same).
        raise ValidationError(
            {"username": _("This username cannot be used. Choose another one.")}
        ) from exc
    membership = Membership.objects.create(user=user, merchant=merchant, role=role)
    membership.stores.set(stores)
    return membership


@transaction.atomic
def staff_member_update(
    *,
    membership: Membership,
    actor,
    role: str,
    stores: Iterable[Store] = (),
    is_active: bool = True,
    password: str = "",
) -> Membership:
    """Change a staff member's role, stores, access or password.

    A merchant always keeps at least one active owner, and nobody changes their own role
    or locks themselves out.
    """
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    stores = list(stores)
    if any(s.merchant_id != membership.merchant_id for s in stores):
        raise ValidationError({"stores": _("Choose stores of this merchant only.")})
    staff_member_update_check(
        membership=membership, actor=actor, role=role, is_active=is_active
    )
    membership.role = role
    membership.save(update_fields=["role"])
    membership.stores.set(stores)
    user = membership.user
    user.is_active = is_active
    if password:
        user.set_password(password)
    user.save()
    return membership


def staff_member_update_check(
    *, membership: Membership, actor, role: str, is_active: bool
) -> None:
    """Raises ValidationError when the change would break a staff rule (read-only)."""
    if membership.user_id == actor.pk and (role != membership.role or not is_active):
        raise ValidationError(_("You cannot change your own role or access."))
    if membership.role == Role.OWNER and (role != Role.OWNER or not is_active):
        _ensure_another_owner(membership)


def staff_member_removable(*, membership: Membership, actor) -> bool:
    """False for oneself and for a merchant's last active owner."""
    if membership.user_id == actor.pk:
        return False
    if membership.role == Role.OWNER:
        try:
            _ensure_another_owner(membership)
        except ValidationError:
            return False
    return True


@transaction.atomic
def staff_member_remove(*, membership: Membership, actor) -> None:
    """Take a user off the merchant; the account itself stays (it may work elsewhere)."""
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    if membership.user_id == actor.pk:
        raise ValidationError(_("You cannot remove yourself."))
    if membership.role == Role.OWNER:
        _ensure_another_owner(membership)
    membership.delete()


def _ensure_another_owner(membership: Membership) -> None:
    others = Membership.objects.filter(
        merchant_id=membership.merchant_id, role=Role.OWNER, user__is_active=True
    ).exclude(pk=membership.pk)
    if not others.exists():
        raise ValidationError(_("A merchant must keep at least one active owner."))


@transaction.atomic
def merchant_update_settings(
    *,
    merchant: Merchant,
    name: str,
    appsecret: str = "",
    event_token: str = "",
    encoding_aes_key: str = "",
    event_mode: str | None = None,
    time_zone: str = "",
) -> Merchant:
    """Rename a merchant, set its time zone and replace any secret given; an empty
    secret (or time zone) keeps the old one.

    Safe mode (SPEC §10) needs an EncodingAESKey: without one no push could be read.
    """
    mode = event_mode or merchant.event_mode
    stored_key = (
        Merchant.objects.get(pk=merchant.pk).encoding_aes_key if merchant.pk else ""
    )  # the instance may carry a form's blank ("keep it")
    if mode == Merchant.EventMode.SAFE and not (encoding_aes_key or stored_key):
        raise ValidationError(
            {
                "encoding_aes_key": _(
                    "Safe mode needs the EncodingAESKey from WeChat's back office."
                )
            }
        )
    merchant.name = name
    merchant.event_mode = mode
    fields = ["name", "event_mode"]
    if time_zone:
        merchant.time_zone = time_zone
        fields.append("time_zone")
    for field, value in (
        ("appsecret", appsecret),
        ("event_token", event_token),
        ("encoding_aes_key", encoding_aes_key),
    ):
        if value:
            setattr(merchant, field, value)
            fields.append(field)
    merchant.save(update_fields=fields)
    return merchant


def provider_staff_add(*, provider: Provider, user) -> ProviderStaff:
    staff, _created = ProviderStaff.objects.get_or_create(provider=provider, user=user)
    return staff


@dataclass(frozen=True)
class ConnectionCheck:
    """What *Test connection* found: each step, and WeChat's errcode if one failed
    (the page says it in words, SPEC §11)."""

    token: bool
    ticket: bool
    errcode: int | None = None

    @property
    def ok(self) -> bool:
        return self.token and self.ticket


def merchant_test_connection(*, merchant: Merchant) -> ConnectionCheck:
    """Fetch the access token and the jsapi ticket through the merchant's WeChat
    client (its shared cache and lock: no second token call if one is fresh).

    Read-only: nothing here changes. Returns where it stopped and WeChat's errcode."""
    client = wechat.for_merchant(merchant)
    try:
        client.access_token()
    except wx.WeChatError as exc:
        return ConnectionCheck(token=False, ticket=False, errcode=exc.errcode)
    except CredentialUnavailable:
        return ConnectionCheck(token=False, ticket=False)
    try:
        client.ticket.jsapi()
    except wx.WeChatError as exc:
        return ConnectionCheck(token=True, ticket=False, errcode=exc.errcode)
    except CredentialUnavailable:
        return ConnectionCheck(token=True, ticket=False)
    return ConnectionCheck(token=True, ticket=True)
