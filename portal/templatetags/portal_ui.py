"""Template filters of the design system: words for stored codes, durations."""

from __future__ import annotations

from datetime import timedelta
from html import escape as _escape

from django import template
from django.utils.safestring import SafeString, mark_safe

from portal import labels

register = template.Library()


def escape(value) -> str:
    """Django's ``escape`` (the same output) without its lazy-string wrapper."""
    return _escape(str(value))


@register.filter
def source_label(value) -> str:
    """``{{ event.source|source_label }}``: where a change came from, in words."""
    return labels.source_label(value)


@register.filter
def event_label(value) -> str:
    """``{{ event.event|event_label }}``: a WeChat event's name, in words."""
    return labels.event_label(value)


@register.filter
def minutes(value) -> int | None:
    """A timedelta as whole minutes (the lockout's cool-off), or None."""
    if not isinstance(value, timedelta):
        return None
    return max(1, round(value.total_seconds() / 60))


@register.simple_tag
def select_options(choices, selected="", empty=None) -> SafeString:
    """``{% select_options choices selected empty %}``: a select's ``<option>``s,
    ``choices`` as ``(value, label)`` pairs or a dict, the one equal to
    ``selected`` marked; ``empty``: the label of a first option of value "".
    (One tag instead of a loop of a dozen template nodes per option.)"""
    pairs = choices.items() if isinstance(choices, dict) else choices
    selected = "" if selected is None else str(selected)
    parts = [] if empty is None else [f'<option value="">{escape(empty)}</option>']
    for value, label in pairs:
        mark = " selected" if str(value) == selected else ""
        parts.append(f'<option value="{escape(value)}"{mark}>{escape(label)}</option>')
    return mark_safe("".join(parts))  # noqa: S308  (every value above is escaped)
