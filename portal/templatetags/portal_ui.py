"""Template filters of the design system: words for stored codes, durations."""

from __future__ import annotations

from datetime import timedelta

from django import template

from portal import labels

register = template.Library()


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
