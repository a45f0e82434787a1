"""The provider's open platform settings form: write-only secrets (SPEC §8)."""

from __future__ import annotations

import re

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from ..admin import SecretInput, validate_encoding_aes_key

_APPID = re.compile(r"^wx[0-9a-zA-Z]{16}$")
_TOKEN = re.compile(r"^[0-9a-zA-Z]{3,32}$")


def validate_component_appid(value: str) -> None:
    if value and not _APPID.match(value):
        raise ValidationError(
            _("A component AppID is wx followed by 16 letters and digits.")
        )


def validate_message_token(value: str) -> None:
    if value and not _TOKEN.match(value):
        raise ValidationError(_("The message token is 3 to 32 letters and digits."))


SECRET_NAMES = ("component_appsecret", "component_token", "component_encoding_aes_key")


class ProviderSettingsForm(forms.Form):
    component_appid = forms.CharField(
        label=_("Component AppID"),
        max_length=32,
        validators=[validate_component_appid],
    )
    component_appsecret = forms.CharField(
        label=_("Component AppSecret"),
        required=False,
        widget=SecretInput(),
        max_length=64,
    )
    component_token = forms.CharField(
        label=_("Message token"),
        required=False,
        widget=SecretInput(),
        max_length=32,
        validators=[validate_message_token],
    )
    component_encoding_aes_key = forms.CharField(
        label=_("Message EncodingAESKey"),
        required=False,
        widget=SecretInput(),
        validators=[validate_encoding_aes_key],
    )

    def __init__(self, *args, provider=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.provider = provider
        if provider is not None:
            self.fields["component_appid"].initial = provider.component_appid
        for name in SECRET_NAMES:
            is_set = bool(provider is not None and getattr(provider, name))
            self.fields[name].help_text = (
                gettext("Set. Leave blank to keep it; type a new value to replace it.")
                if is_set
                else gettext("Not set.")
            )
