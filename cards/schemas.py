"""API schemas of the cards app."""

from __future__ import annotations

from typing import Any

from ninja import Schema


class PreviewIn(Schema):
    card: Any = None  # WeChat's create JSON "card" object; anything else is an error


class PreviewOut(Schema):
    title: str
    summary: str
    usage_note: str
    unit_price: str
    price: str | None
    quantity: int | None
    color_hex: str | None
    errors: dict[str, list[str]]  # field path → messages, in the reader's language
    codes: dict[
        str, list[str]
    ]  # the same errors as stable codes (required, too_long, …)
    errcode: int  # what WeChat would answer for this card now (SPEC §11); 0: none


class EditorPreviewOut(PreviewOut):
    """The preview of the editor's raw form: errors also by editor field."""

    field_errors: dict[str, str]  # editor field → its first message
    general_errors: list[str]  # messages that belong to no field


class ImageOut(Schema):
    id: int
    url: str
    size: int
