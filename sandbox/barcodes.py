"""Codes as WeChat's wallet draws them (``code_type``): a QR code (drawn by the
``qrcode`` package, as SVG or PNG) or a Code 128 barcode (drawn here as SVG, code
set C: two digits per symbol, for the sandbox's 12-digit codes)."""

from __future__ import annotations

import io

import qrcode
import qrcode.image.svg

# Code 128 symbol patterns: widths of bar, space, bar, space, bar, space in modules
# (each sums to 11), values 0–105; STOP has a final bar of 2 (13 modules).
_PATTERN_TEXT = (
    "212222 222122 222221 121223 121322 131222 122213 122312 132212 221213 "
    "221312 231212 112232 122132 122231 113222 123122 123221 223211 221132 "
    "221231 213212 223112 312131 311222 321122 321221 312212 322112 322211 "
    "212123 212321 232121 111323 131123 131321 112313 132113 132311 211313 "
    "231113 231311 112133 112331 132131 113123 113321 133121 313121 211331 "
    "231131 213113 213311 213131 311123 311321 331121 312113 312311 332111 "
    "314111 221411 431111 111224 111422 121124 121421 141122 141221 112214 "
    "112412 122114 122411 142112 142211 241211 221114 413111 241112 134111 "
    "111242 121142 121241 114212 124112 124211 411212 421112 421211 212141 "
    "214121 412121 111143 111341 131141 114113 114311 411113 411311 113141 "
    "114131 311141 411131 211412 211214 211232"
)
_PATTERNS = tuple(_PATTERN_TEXT.split())
_START_C = 105
_STOP = "2331112"
_QUIET = 10  # modules of white on each side


def code128_values(digits: str) -> list[int]:
    """The symbol values of an even-length digit string in code set C: start C,
    one symbol per two digits, the checksum (mod 103). No stop."""
    if not digits.isdigit() or len(digits) % 2:
        raise ValueError("code set C takes an even number of digits")
    values = [_START_C] + [int(digits[i : i + 2]) for i in range(0, len(digits), 2)]
    checksum = (values[0] + sum(i * v for i, v in enumerate(values[1:], 1))) % 103
    return [*values, checksum]


def code128_widths(digits: str) -> str:
    """The module widths (bar, space, …) of the whole barcode, stop included."""
    return "".join(_PATTERNS[v] for v in code128_values(digits)) + _STOP


def code128_svg(digits: str, *, module: int = 2, height: int = 64) -> str:
    """A Code 128 barcode of ``digits`` as an inline SVG element."""
    widths = [int(w) for w in code128_widths(digits)]
    x, bars = _QUIET * module, []
    for index, width in enumerate(widths):
        if index % 2 == 0:  # bars at even positions, spaces between
            bars.append(
                f'<rect x="{x}" y="0" width="{width * module}" height="{height}"/>'
            )
        x += width * module
    total = x + _QUIET * module
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="barcode" role="img" '
        f'viewBox="0 0 {total} {height}" width="{total}" height="{height}" '
        f'data-code128="{digits}"><title>{digits}</title>'
        f'<rect width="{total}" height="{height}" fill="#fff"/>'
        f'<g fill="#000">{"".join(bars)}</g></svg>'
    )


def qr_svg(text: str) -> str:
    """A QR code of ``text`` as an inline SVG element (no XML declaration)."""
    image = qrcode.make(
        text, image_factory=qrcode.image.svg.SvgPathImage, border=2, box_size=8
    )
    svg = image.to_string(encoding="unicode")
    return svg[svg.index("<svg") :]


def qr_png(text: str) -> bytes:
    buffer = io.BytesIO()
    qrcode.make(text, border=2, box_size=8).save(buffer, format="PNG")
    return buffer.getvalue()
