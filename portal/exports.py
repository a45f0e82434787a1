"""CSV for Excel, written one way for every export (the coin ledger, the
redemption history): UTF-8 with a BOM (Excel on Chinese Windows reads it right),
translated headings with the first column naming the time zone, times in the
merchant's local time, streamed in chunks, and no text cell that Excel would run
as a formula (OWASP: CSV injection).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from decimal import Decimal

from django.http import StreamingHttpResponse
from django.utils import timezone

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
CHUNK_ROWS = 500


def csv_text(value) -> str:
    """A text cell Excel will not run as a formula: a cell starting with = + - @,
    a tab or a carriage return gets a leading apostrophe."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def local_time(moment) -> str:
    """A moment in the current (the merchant's) time zone, or "" for none."""
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def _cell(value):
    """Numbers stay numbers (a refund's -1.00 is not a formula); everything else
    is text, and escaped."""
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        return value
    return csv_text(value)


def _chunks(header: list[str], rows: Iterable[Iterable]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow([csv_text(h) for h in header])
    for count, row in enumerate(rows, 1):
        writer.writerow([_cell(value) for value in row])
        if count % CHUNK_ROWS == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate(0)
    yield buffer.getvalue()


def csv_response(
    *, filename: str, columns: Iterable, rows: Iterable[Iterable]
) -> StreamingHttpResponse:
    """The rows as a streamed CSV download. ``columns`` are the (lazy) headings;
    the first one is a time, and says in which zone."""
    header = [str(c) for c in columns]
    header[0] = f"{header[0]} ({timezone.get_current_timezone_name()})"
    response = StreamingHttpResponse(
        _chunks(header, rows), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
