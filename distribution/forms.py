"""Distribution's admin forms: they parse what the merchant typed; the services and
rules decide (their refusals come back as errors on these fields)."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from cards import services as card_services
from cards.models import CardStatus, FriendCard
from wechat import errors as wx

from . import rules
from .models import Campaign, Channel


def add_errors(form: forms.Form, error: ValidationError) -> None:
    """A service's ValidationError onto the form: on its fields, else the form's."""
    if hasattr(error, "error_dict"):
        for field, errors in error.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error.messages)


class CardChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: FriendCard) -> str:
        if obj.status == CardStatus.APPROVED:
            return f"{obj} · {_('stock')} {obj.quantity}"
        return f"{obj} · {obj.get_status_display()}"


class QRCodeForm(forms.Form):
    PERMANENT, EXPIRING = "permanent", "expiring"

    card = CardChoice(label=_("Coupon"), queryset=FriendCard.objects.none())
    channel = forms.ModelChoiceField(
        label=_("Channel"),
        queryset=Channel.objects.none(),
        help_text=_("Where the QR code will be: its receives are counted for it."),
    )
    validity = forms.ChoiceField(
        label=_("Valid"),
        choices=[
            (PERMANENT, _("Permanent (a poster, a table tent)")),
            (EXPIRING, _("For a while (shown on a screen)")),
        ],
        initial=PERMANENT,
        widget=forms.RadioSelect,
    )
    expire_seconds = forms.CharField(
        label=_("Valid for (seconds)"),
        required=False,
        max_length=6,
        help_text=_("60 to 1800 seconds (30 minutes)."),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    is_unique_code = forms.BooleanField(
        label=_("One code per scan"),
        required=False,
        help_text=_(
            "The QR code gives one coupon, to the first customer who scans it "
            "(needs an approved coupon with stock)."
        ),
    )

    def __init__(self, *args, merchant=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["card"].queryset = (
            FriendCard.objects.filter(merchant=merchant, card_id__isnull=False)
            .exclude(status=CardStatus.DELETED)
            .order_by("-created_at")
        )
        self.fields["channel"].queryset = Channel.objects.filter(merchant=merchant)

    def expire_value(self):
        """What the service gets: None (permanent) or the seconds as typed."""
        if self.cleaned_data.get("validity") != self.EXPIRING:
            return None
        typed = self.cleaned_data.get("expire_seconds") or ""
        if not typed.strip():
            self.add_error(
                "expire_seconds",
                _("Say for how many seconds, or choose a permanent QR code."),
            )
            return None
        return typed


class ChannelForm(forms.ModelForm):
    class Meta:
        model = Channel
        fields = ["name"]
        help_texts = {
            "name": _(
                "Where customers find the coupon: “Window poster”, “Table 12”. "
                "Each channel gets a number WeChat sends back with every receive."
            )
        }

    def clean_name(self):
        name = (self.cleaned_data.get("name") or "").strip()
        errors = rules.channel_name_errors(name)
        if errors:
            raise ValidationError(errors["name"])
        taken = Channel.objects.filter(merchant=self.merchant, name=name)
        if self.instance.pk:
            taken = taken.exclude(pk=self.instance.pk)
        if taken.exists():
            raise ValidationError(
                _("This merchant already has a channel with this name.")
            )
        return name


class CampaignForm(forms.ModelForm):
    banner_file = forms.FileField(
        label=_("Banner image"),
        required=False,
        help_text=_("JPG or PNG, at most 1 MB; wide pictures suit a phone best."),
        widget=forms.FileInput(attrs={"accept": "image/jpeg,image/png"}),
    )
    remove_banner = forms.BooleanField(label=_("No banner"), required=False)

    class Meta:
        model = Campaign
        fields = ["title", "channel", "cards", "active"]
        widgets = {"cards": forms.CheckboxSelectMultiple}
        help_texts = {
            "channel": _("Every coupon received on this page counts for this channel."),
            "cards": _("Approved coupons only; a coupon that ends leaves the page."),
            "active": _("A closed page answers “not found”."),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        merchant = self.merchant
        self.fields["channel"].queryset = Channel.objects.filter(merchant=merchant)
        self.fields["cards"].queryset = FriendCard.objects.filter(
            merchant=merchant, status=CardStatus.APPROVED
        ).order_by("-created_at")

    def clean(self):
        data = super().clean()
        upload = data.get("banner_file")
        data["banner"] = None if data.get("remove_banner") else self.instance.banner
        # Uploaded to WeChat (its image hosts serve the page) only once the rest
        # of the form is right, so a wrong form uploads nothing.
        if upload and not self.errors:
            try:
                data["banner"] = card_services.card_image_upload(
                    merchant=self.merchant,
                    content=upload.read(),
                    filename=upload.name or "banner",
                    actor=self.actor,
                )
            except ValidationError as exc:
                self.add_error("banner_file", exc.messages)
            except wx.WeChatError as exc:
                self.add_error("banner_file", exc.message)
        return data


class WhitelistForm(forms.Form):
    openids = forms.CharField(
        label=_("openids"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false"}),
        help_text=_("One a line: the test users' openids for this account."),
    )
    usernames = forms.CharField(
        label=_("WeChat IDs"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false"}),
        help_text=_("One a line: the test users' WeChat IDs (微信号)."),
    )
