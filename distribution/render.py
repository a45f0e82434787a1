"""QR codes drawn with ``qrcode`` (SPEC §6: the portal renders WeChat's ``url``)."""

from __future__ import annotations

import functools
import io

import qrcode
import qrcode.constants
import qrcode.image.svg

# M (15 %) survives a crease or a smudge on a printed poster and stays small.
_LEVEL = qrcode.constants.ERROR_CORRECT_M


def _qr(data: str, box_size: int = 10) -> qrcode.QRCode:
    code = qrcode.QRCode(error_correction=_LEVEL, box_size=box_size, border=4)
    code.add_data(data)
    code.make(fit=True)
    return code


@functools.lru_cache(maxsize=256)  # a QR code's link never changes
def qr_svg(data: str) -> str:
    """The QR code as an ``<svg>`` element (one path; sized by the page's CSS)."""
    image = _qr(data).make_image(image_factory=qrcode.image.svg.SvgPathImage)
    return image.to_string(encoding="unicode")


def qr_svg_file(data: str) -> bytes:
    """The QR code as a standalone SVG file (with its XML declaration)."""
    image = _qr(data).make_image(image_factory=qrcode.image.svg.SvgPathImage)
    return image.to_string(xml_declaration=True)


def qr_png(data: str, box_size: int = 12) -> bytes:
    """The QR code as a PNG (12 px a module: about 7 cm at 300 dpi for a poster)."""
    buffer = io.BytesIO()
    _qr(data, box_size).make_image().save(buffer, format="PNG")
    return buffer.getvalue()
