"""The card editor form, grouped like WeChat's own editor.

Every input is plain text as the user typed it: the meaning is decided by
cards/editor.py (form → WeChat JSON) and cards/rules.py (limits, title, price), the
same code the live preview runs, so the saved card is exactly what was previewed.
"""

from __future__ import annotations

from django import forms
from django.forms.utils import ErrorDict
from django.http import QueryDict
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from wechat import errors as wx

from . import editor, rules
from .models import CardStatus, FriendCard

NON_FIELD_ERRORS = forms.forms.NON_FIELD_ERRORS


class ImageUploadWidget(forms.TextInput):
    """A hidden URL input, a file picker that uploads to WeChat, and a thumbnail."""

    template_name = "cards/widgets/image_upload.html"

    def __init__(self, attrs=None):
        super().__init__(attrs={"data-image-url": "1", **(attrs or {})})


# The palette of SPEC §3.5 in words (the codes are WeChat's names for the colours).
COLOR_NAMES = {
    "Color010": _("Green"),
    "Color020": _("Dark green"),
    "Color030": _("Sky blue"),
    "Color040": _("Blue"),
    "Color050": _("Purple"),
    "Color060": _("Brown"),
    "Color070": _("Yellow"),
    "Color080": _("Orange"),
    "Color081": _("Deep orange"),
    "Color082": _("Lime green"),
    "Color090": _("Coral red"),
    "Color100": _("Red"),
    "Color101": _("Crimson"),
    "Color102": _("Grey"),
}


class ColorSwatchSelect(forms.RadioSelect):
    """The palette as swatches: each colour, its name and WeChat's code. The colour
    is an SVG fill (no style attribute: CSP)."""

    template_name = "cards/widgets/color_swatches.html"
    option_template_name = "cards/widgets/color_swatch_option.html"

    def create_option(self, name, value, label, selected, index, **kwargs):
        option = super().create_option(name, value, label, selected, index, **kwargs)
        option["hex"] = rules.PALETTE.get(str(value), "#8f959e")
        option["code"] = value
        return option


def _text(label, help_text="", widget=None, max_length=6000):
    return forms.CharField(
        label=label,
        help_text=help_text,
        required=False,
        max_length=max_length,
        widget=widget,
    )


WEEKDAYS = [
    ("MONDAY", _("Monday")),
    ("TUESDAY", _("Tuesday")),
    ("WEDNESDAY", _("Wednesday")),
    ("THURSDAY", _("Thursday")),
    ("FRIDAY", _("Friday")),
    ("SATURDAY", _("Saturday")),
    ("SUNDAY", _("Sunday")),
    ("HOLIDAY", _("Holidays")),
]
SERVICES = [
    ("BIZ_SERVICE_DELIVER", _("Delivery")),
    ("BIZ_SERVICE_FREE_PARK", _("Free parking")),
    ("BIZ_SERVICE_WITH_PET", _("Pets welcome")),
    ("BIZ_SERVICE_FREE_WIFI", _("Free Wi-Fi")),
]
CODE_TYPES = [
    ("CODE_TYPE_QRCODE", _("QR code with digits (scan or type)")),
    ("CODE_TYPE_TEXT", _("Digits only (type at the till)")),
    ("CODE_TYPE_BARCODE", _("Barcode with digits")),
    ("CODE_TYPE_ONLY_QRCODE", _("QR code without digits (scan only)")),
    ("CODE_TYPE_ONLY_BARCODE", _("Barcode without digits (scan only)")),
    ("CODE_TYPE_NONE", _("No code (online use only)")),
]


class CardEditorForm(forms.ModelForm):
    # type and value
    card_type = forms.ChoiceField(
        label=_("Type"),
        choices=[
            ("CASH", _("Cash coupon (代金券)")),
            ("GIFT", _("Gift coupon (兑换券)")),
        ],
        widget=forms.RadioSelect,
        initial="CASH",
    )
    brand_name = _text(_("Brand name"), _("At most 12 Chinese characters."))
    reduce_cost = _text(_("Amount off (yuan)"), _("For example 50 or 5.5."))
    gift_name = _text(
        _("Gift"), _("What the customer gets, at most 6 Chinese characters.")
    )
    gift_num = _text(_("Number"), _("1 to 999."))
    gift_unit = _text(_("Unit"), _("For example 个, 杯, 份 (at most 2 characters)."))
    # thresholds
    least_cost = _text(_("Minimum spend (yuan)"), _("Empty: no minimum spend."))
    accept_category = _text(_("Only for"), _("Goods it applies to, e.g. 蛋挞."))
    reject_category = _text(_("Not for"), _("Goods it does not apply to."))
    object_use_for = _text(
        _("When buying"), _("The customer must buy this, e.g. 蛋糕.")
    )
    no_other_discount = forms.BooleanField(
        label=_("Cannot be combined with other offers"), required=False
    )
    # validity
    begin_date = _text(_("Valid from"), widget=forms.DateInput(attrs={"type": "date"}))
    end_date = _text(
        _("Valid until"),
        _("At most 90 days after the start (WeChat's rule)."),
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    # stores
    location_ids = forms.MultipleChoiceField(
        label=_("Stores"), required=False, widget=forms.CheckboxSelectMultiple
    )
    # look
    logo_url = _text(_("Logo"), _("JPG or PNG, at most 1 MB."), ImageUploadWidget())
    color = forms.ChoiceField(
        label=_("Color"),
        choices=[(k, COLOR_NAMES.get(k, k)) for k in rules.PALETTE],
        initial="Color010",
        widget=ColorSwatchSelect,
    )
    notice = _text(
        _("Notice"), _("One line on the coupon, e.g. 请出示二维码核销 (16 characters).")
    )
    description = _text(
        _("Terms of use"), widget=forms.Textarea(attrs={"rows": 3}), max_length=4000
    )
    abstract = _text(
        _("Summary line"),
        _(
            "Shown on the cover, at most 20 Chinese characters. With a summary line, "
            "the cover picture below is required."
        ),
    )
    cover_url = _text(
        _("Cover picture"),
        _(
            "Required when the summary line is filled in (exactly one picture); "
            "850×350 recommended."
        ),
        ImageUploadWidget(),
    )
    text_image_1_url = _text(_("Picture 1"), widget=ImageUploadWidget())
    text_image_1_text = _text(_("Text 1"), widget=forms.Textarea(attrs={"rows": 2}))
    text_image_2_url = _text(_("Picture 2"), widget=ImageUploadWidget())
    text_image_2_text = _text(_("Text 2"), widget=forms.Textarea(attrs={"rows": 2}))
    text_image_3_url = _text(_("Picture 3"), widget=ImageUploadWidget())
    text_image_3_text = _text(_("Text 3"), widget=forms.Textarea(attrs={"rows": 2}))
    # usage
    code_type = forms.ChoiceField(
        label=_("Code shown to the cashier"),
        choices=CODE_TYPES,
        initial="CODE_TYPE_QRCODE",
    )
    service_phone = _text(_("Service phone"))
    get_limit = _text(_("Per-person limit"), _("How many one person may receive."))
    time_limit_days = forms.MultipleChoiceField(
        label=_("Usable on"),
        choices=WEEKDAYS,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Shown to customers only; not enforced at the till."),
    )
    time_begin = _text(
        _("From (HH:MM)"), widget=forms.TimeInput(attrs={"type": "time"})
    )
    time_end = _text(_("Until (HH:MM)"), widget=forms.TimeInput(attrs={"type": "time"}))
    business_service = forms.MultipleChoiceField(
        label=_("Services"),
        choices=SERVICES,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    center_title = _text(_("Main button"), _("E.g. 快速核销 (9 characters)."))
    center_sub_title = _text(_("Main button hint"))
    center_url = _text(_("Main button link"))
    custom_url_name = _text(_("Entry name"), _("E.g. 立即使用 (5 characters)."))
    custom_url = _text(_("Entry link"))
    custom_url_sub_title = _text(_("Entry hint"))
    promotion_url_name = _text(_("Promotion name"))
    promotion_url = _text(_("Promotion link"))
    promotion_url_sub_title = _text(_("Promotion hint"))
    # consume-share
    consume_share = forms.ChoiceField(
        label=_("After use"),
        choices=[
            ("none", _("Nothing")),
            ("self", _("Give the customer one more of this coupon to share")),
            ("other", _("Give the customer another friend coupon")),
        ],
        initial="self",
        widget=forms.RadioSelect,
    )
    consume_share_card = forms.ChoiceField(label=_("Which coupon"), required=False)
    # The card's version this editor was opened on: a card changed since is not
    # overwritten (cards.services.card_update).
    opened_version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    class Meta:
        model = FriendCard
        fields: list[str] = []

    # set by the admin
    merchant = None
    submitting = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        merchant = self.merchant
        stores = merchant.stores.order_by("name") if merchant else []
        self.fields["location_ids"].choices = [
            (s.poi_id, f"{s.name} ({s.poi_id})") for s in stores
        ]
        others = (
            FriendCard.objects.filter(merchant=merchant, card_id__isnull=False)
            .exclude(status=CardStatus.DELETED)
            .exclude(pk=self.instance.pk)
            .order_by("-created_at")
            if merchant
            else []
        )
        self.fields["consume_share_card"].choices = [("", "—")] + [
            (c.card_id, f"{c.title} ({c.get_status_display()})") for c in others
        ]
        tz = timezone.get_current_timezone_name()  # the merchant's (middleware)
        if self.instance.pk and self.instance.definition:
            self.initial.update(
                editor.initial_from_card(self.instance.definition, time_zone=tz)
            )
            self.initial["opened_version"] = self.instance.version
        elif not self.is_bound:
            today = timezone.localdate()
            self.initial.update(
                {
                    "begin_date": today.isoformat(),
                    "end_date": (today + timezone.timedelta(days=30)).isoformat(),
                    "location_ids": [s.poi_id for s in stores],
                    "brand_name": merchant.name[:12] if merchant else "",
                }
            )
        for name, field in self.fields.items():
            field.widget.attrs.setdefault("data-field", name)
        if self.instance.is_submitted:
            # SPEC §3.5: type, value, brand and every threshold are fixed at WeChat.
            for name in FROZEN_FIELDS:
                self.fields[name].disabled = True
        error = self.instance.last_error if self.instance.pk else None
        if error and not self.is_bound:
            # The last refusal (ours or WeChat's) is shown on its field, in the
            # viewer's language (never text stored in another one).
            self._errors = ErrorDict()
            for path, message in self._refusal_now(error):
                name = editor.field_for_error(path) if path else None
                key = name if name in self.fields else NON_FIELD_ERRORS
                if key not in self._errors:
                    self._errors[key] = self.error_class([message])

    def _refusal_now(self, error: dict) -> list[tuple[str, str]]:
        """The stored refusal ``{field, message, errcode}`` said again now: a draft's
        rule errors are computed again by cards/rules.py; WeChat's refusal is said
        from its errcode through our table (SPEC §11)."""
        if not self.instance.is_submitted and self.merchant is not None:
            from .services import validate_for_merchant

            errors = validate_for_merchant(
                self.instance.definition, merchant=self.merchant
            )
            if errors:
                return [(e.field, e.message) for e in errors]
        errcode = error.get("errcode")
        known = wx.MESSAGES.get(errcode) if errcode is not None else None
        message = str(known) if known is not None else str(error.get("message", ""))
        return [(error.get("field") or "", message)]

    def build_card(self) -> dict:
        """WeChat's card object from what was posted (frozen parts as stored)."""
        data = self.data if self.is_bound else QueryDict()
        stored = self.instance.definition if self.instance.is_submitted else None
        return editor.build_card(
            data, time_zone=timezone.get_current_timezone_name(), stored=stored
        )

    def clean(self):
        cleaned = super().clean()
        opened_on = cleaned.get("opened_version")
        if (
            self.instance.pk
            and opened_on is not None
            and opened_on != self.instance.version
        ):
            raise forms.ValidationError(
                _(
                    "Someone else changed this card after you opened it. Reload the page "
                    "to see their change, then make yours again."
                ),
                code="stale",
            )
        if self.errors:
            return cleaned
        card = self.build_card()
        cleaned["definition"] = card
        if self.submitting and not self.instance.is_submitted:
            from .services import validate_for_merchant

            for error in validate_for_merchant(card, merchant=self.merchant):
                self.add_field_error(error.field, error.message)
        return cleaned

    def add_field_error(self, path: str, message: str) -> None:
        """An error of the rules (at a JSON path) on the editor field showing it;
        the first error of a field is the one shown."""
        name = editor.field_for_error(path) if path else None
        if name not in self.fields:
            name = None
        if name is None or name not in self.errors:
            self.add_error(name, message)


FROZEN_FIELDS = (
    "card_type",
    "brand_name",
    "reduce_cost",
    "gift_name",
    "gift_num",
    "gift_unit",
    "least_cost",
    "accept_category",
    "reject_category",
    "object_use_for",
    "no_other_discount",
)
