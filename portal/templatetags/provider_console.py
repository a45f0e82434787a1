"""The provider console's table rows and recent changes, written in Python (SPEC §8,
issue 12).

A page of 50 sub-merchants is some 1,200 template variables; the template engine
spent more on them than the database did on the page's figures. The same HTML,
escaped the same way, is written here once per row: ``{% console_rows rows %}``.
"""

from __future__ import annotations

from django import template
from django.utils import formats, timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from .portal_ui import escape

register = template.Library()


def _balance_format():
    """A function writing a balance as ``formats.localize`` would in the current
    language (its decimal separator looked up once per page, not per row)."""
    from django.conf import settings

    if settings.USE_THOUSAND_SEPARATOR:
        return formats.localize
    separator = formats.get_format("DECIMAL_SEPARATOR")
    return lambda value: str(value).replace(".", separator)


@register.simple_tag
def console_rows(rows, alert_labels: dict, links: str) -> SafeString:
    """``rows``: the page's ``selectors.Row``s; ``links``: the merchant page's path
    without the id; ``alert_labels``: each alert's words."""
    from portal.models import Merchant

    balance = _balance_format()
    not_open = escape(_("not open"))
    open_label = escape(_("Open"))
    states = {value: escape(label) for value, label in Merchant.Authorization.choices}
    badges = {
        key: f'<span class="badge alert-{escape(key)}">{escape(label)}</span> '
        for key, label in alert_labels.items()
    }
    parts: list[str] = []
    add = parts.append
    for row in rows:
        m = row.merchant
        appid = escape(m.appid)
        state = escape(m.authorization)
        add(f'<tr data-merchant="{appid}" data-state="{state}">')
        add(
            f'<td><a href="{escape(links)}{m.pk}/">{escape(m.name)}</a><br>'
            f'<code class="appid">{appid}</code></td>'
        )
        add(
            f'<td><span class="state state-{state}">'
            f"{states.get(m.authorization, state)}</span>"
        )
        if row.state_words:
            add(f'<br><small class="state-words">{escape(row.state_words)}</small>')
        add("</td>")
        if row.coins_open:
            add(f'<td class="num" data-balance>{balance(row.balance)}</td>')
        else:
            add(
                f'<td class="num" data-balance><span class="muted">{not_open}</span></td>'
            )
        add(f'<td class="num">{row.in_review} / {row.approved}</td>')
        add(f'<td class="num" data-stock>{row.stock}</td>')
        add(f'<td class="num">{row.redemptions_today} / {row.redemptions_week}</td>')
        if row.last_event_at:
            at = timezone.localtime(row.last_event_at).strftime("%Y-%m-%d %H:%M")
            add(
                f"<td><code>{escape(row.last_event)}</code><br><small>{at}</small></td>"
            )
        else:
            add('<td><span class="muted">—</span></td>')
        add("<td>")
        add("".join(badges[key] for key in row.alerts if key in badges))
        add(
            f'</td><td><button type="submit" name="merchant" value="{m.pk}" '
            f'data-enter="{appid}">{open_label}</button></td></tr>'
        )
    return mark_safe("".join(parts))  # noqa: S308  (every value above is escaped)


@register.simple_tag
def console_history(events) -> SafeString:
    """The recent changes' lines (``selectors.provider_history``): when (local
    time), what, and for which merchant."""
    from portal.models import ProviderEvent

    kinds = dict(ProviderEvent.Kind.choices)
    parts: list[str] = []
    for at, kind, merchant_name in events:
        at = timezone.localtime(at).replace(microsecond=0)
        line = f'<li><time datetime="{at.isoformat()}">{at:%Y-%m-%d %H:%M}</time> '
        line += escape(kinds.get(kind, kind))
        if merchant_name is not None:
            line += f" — {escape(merchant_name)}"
        parts.append(line + "</li>")
    return mark_safe("".join(parts))  # noqa: S308  (every value above is escaped)
