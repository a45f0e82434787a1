"""WeChat's open platform (第三方平台) in the sandbox: components and the official
accounts that authorized them (SPEC §8). Imported by sandbox.models.
"""

from __future__ import annotations

from django.db import models


class Component(models.Model):
    """A third-party platform as the open platform knows it: its appid and secret,
    the message token and EncodingAESKey it encrypts with, its 授权事件接收URL
    (``callback_url``) and 消息与事件接收URL (``events_url``, with ``$APPID$``)."""

    component_appid = models.CharField(max_length=32, unique=True)
    secret = models.CharField(max_length=64)
    token = models.CharField(max_length=32)
    encoding_aes_key = models.CharField(max_length=43)
    callback_url = models.URLField(max_length=300, blank=True)
    events_url = models.CharField(max_length=300, blank=True)
    name = models.CharField(max_length=100, blank=True)
    # SPEC §8: a component_verify_ticket every 10 minutes (0: only on demand).
    ticket_interval_seconds = models.PositiveIntegerField(default=600)
    next_ticket_at = models.DateTimeField(null=True, blank=True)  # sandbox time
    # api_authorizer_token hands out a new refresh token each time (WeChat may).
    rotate_refresh_tokens = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["component_appid"]

    def __str__(self) -> str:
        return self.component_appid


class ComponentTicket(models.Model):
    """A component_verify_ticket pushed to the component: valid 12 hours."""

    component = models.ForeignKey(
        Component, on_delete=models.CASCADE, related_name="tickets"
    )
    ticket = models.CharField(max_length=128, unique=True)
    created_at = models.DateTimeField()  # sandbox time

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"ticket of {self.component_id} at {self.created_at:%H:%M:%S}"


class ComponentAccessToken(models.Model):
    """A component_access_token (api_component_token), 7200 s."""

    component = models.ForeignKey(
        Component, on_delete=models.CASCADE, related_name="access_tokens"
    )
    token = models.CharField(max_length=128, unique=True)
    issued_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"component token of {self.component_id}"


class PreAuthCode(models.Model):
    """api_create_preauthcode: opens the authorization page once, for 600 s."""

    component = models.ForeignKey(
        Component, on_delete=models.CASCADE, related_name="pre_auth_codes"
    )
    code = models.CharField(max_length=128, unique=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"pre-auth code of {self.component_id}"


class Authorization(models.Model):
    """An official account's authorization of a component: the scopes it granted,
    the refresh token, and the auth code of its latest grant (600 s)."""

    class Status(models.TextChoices):
        AUTHORIZED = "authorized"
        REVOKED = "revoked"

    component = models.ForeignKey(
        Component, on_delete=models.CASCADE, related_name="authorizations"
    )
    account = models.ForeignKey(
        "sandbox.Account", on_delete=models.CASCADE, related_name="authorizations"
    )
    func_ids = models.JSONField(default=list)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.AUTHORIZED
    )
    refresh_token = models.CharField(max_length=128, unique=True)
    # Replaced by a rotation: still accepted until its successor is first used.
    previous_refresh_token = models.CharField(max_length=128, blank=True)
    auth_code = models.CharField(max_length=128, unique=True)
    auth_code_expires_at = models.DateTimeField()
    pre_auth_code = models.CharField(max_length=128, blank=True)
    authorized_at = models.DateTimeField()  # sandbox time of the latest grant
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["component", "account"]
        constraints = [
            models.UniqueConstraint(
                fields=["component", "account"], name="sandbox_authorization_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.account_id} → {self.component_id} ({self.status})"


class ComponentPush(models.Model):
    """A push to the component's 授权事件接收URL (ticket, authorized, …)."""

    class Status(models.TextChoices):
        PENDING = "pending"
        DELIVERED = "delivered"
        FAILED = "failed"

    component = models.ForeignKey(
        Component, on_delete=models.CASCADE, related_name="pushes"
    )
    info_type = models.CharField(max_length=64)
    xml = models.TextField()
    status = models.CharField(max_length=16, choices=Status.choices, default="pending")
    attempts = models.PositiveSmallIntegerField(default=0)
    response = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.info_type} → {self.component_id} ({self.status})"
