"""``{{ user|learner_link }}``: a user shown in a table, as a link to their page under People
(``{{ user|learner_link:"username" }}`` shows that field instead of the User ID)."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

register = template.Library()


@register.filter
def learner_link(user: Any, field: str = "user_id") -> SafeString | str:
    if user is None:
        return "—"
    return format_html(
        '<a href="{}">{}</a>', reverse("web:learner", args=[user.user_id]), getattr(user, field)
    )
