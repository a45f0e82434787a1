"""/api/cards/: the live preview and image uploads (thin: rules and services do the work).

Every operation needs the card capability (the router's); ``request.auth`` is the
tenant (portal.api).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import File, Query, Status
from ninja.files import UploadedFile

from portal.api import PortalRouter
from portal.roles import Capability

from . import editor, rules, services
from .models import FriendCard
from .schemas import EditorPreviewOut, ImageOut, PreviewIn, PreviewOut

router = PortalRouter(tags=["cards"], capability=Capability.CARDS)


@router.post("/preview", response=PreviewOut, url_name="cards_preview")
def preview(request, payload: PreviewIn, quantity: Query[int | None] = None):
    """Title, summary, usage note and price WeChat will derive, and the errors of each
    field, for the WeChat create JSON ``{"card": {...}}`` (SPEC §3.2–3.5).

    Computed by cards/rules.py with this merchant's uploaded images and stores.
    """
    return _preview(request.auth.merchant, payload.card, quantity)


@router.post("/preview/form", response=EditorPreviewOut, url_name="cards_preview_form")
def preview_form(
    request, quantity: Query[int | None] = None, card: Query[int | None] = None
):
    """The same preview for the editor's raw form fields (form-encoded, as the
    browser posts them): the server builds the card JSON with cards/editor.py — the
    only form → JSON step — in the merchant's time zone. ``card`` is the card being
    edited: once at WeChat, its type, value, brand and thresholds are its own.
    Errors come keyed by JSON path and by editor field."""
    merchant = request.auth.merchant
    stored = None
    if card is not None:
        found = (
            FriendCard.objects.filter(merchant=merchant, pk=card)
            .only("definition", "card_id")
            .first()
        )
        stored = found.definition if found is not None and found.is_submitted else None
    definition = editor.build_card(
        request.POST, time_zone=timezone.get_current_timezone_name(), stored=stored
    )
    answer = _preview(merchant, definition, quantity)
    answer["field_errors"], answer["general_errors"] = editor.errors_for_fields(
        answer["errors"]
    )
    return answer


def _preview(merchant, card, quantity) -> dict:
    result = rules.preview(
        {"card": card},
        now=timezone.now(),
        quantity=quantity,
        is_uploaded=services.uploaded_checker(merchant),
        known_location_ids=services.store_ids(merchant),
    )
    return {
        "title": result.title,
        "summary": result.summary,
        "usage_note": result.usage_note,
        "unit_price": str(result.unit_price),
        "price": None if result.price is None else str(result.price),
        "quantity": quantity if result.price is not None else None,
        "color_hex": result.color_hex,
        "errors": result.errors,
        "codes": result.codes,
        "errcode": int(result.errcode),
    }


@router.post("/images", response={201: ImageOut}, url_name="cards_images")
def upload_image(request, file: File[UploadedFile]):
    """Upload a card image (JPG or PNG, ≤ 1 MB) to WeChat; answers its URL."""
    if file.size > services.MAX_IMAGE_BYTES:
        raise ValidationError(
            {
                "file": ValidationError(
                    _("The image is too large: at most 1 MB."), code="image_too_large"
                )
            }
        )
    try:
        image = services.card_image_upload(
            merchant=request.auth.merchant,
            content=file.read(),
            filename=file.name or "image",
            actor=request.user,
        )
    except ValidationError as exc:
        raise ValidationError({"file": exc}) from None
    return Status(201, {"id": image.pk, "url": image.wechat_url, "size": image.size})
