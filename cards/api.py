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

from . import rules, services
from .schemas import ImageOut, PreviewIn, PreviewOut

router = PortalRouter(tags=["cards"], capability=Capability.CARDS)


@router.post("/preview", response=PreviewOut, url_name="cards_preview")
def preview(request, payload: PreviewIn, quantity: Query[int | None] = None):
    """Title, summary, usage note and price WeChat will derive, and the errors of each
    field, for the WeChat create JSON ``{"card": {...}}`` (SPEC §3.2–3.5).

    Computed by cards/rules.py with this merchant's uploaded images and stores.
    """
    merchant = request.auth.merchant
    result = rules.preview(
        {"card": payload.card},
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
