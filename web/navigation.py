"""The navigation an administrator sees: only what their permissions open."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest
from django.urls import reverse

from access.permissions import (
    MANAGE_CERTIFICATION_REMOVAL,
    MANAGE_ROLES,
    MANAGE_WEBHOOKS,
)
from access.policy import has_permission
from access.reach import may_see_people
from access.rules import may_see_certifications, may_see_licences, may_view_catalogue
from audit.trail import may_view_audit_log
from bulk.registry import all_kinds, get_kind
from bulk.visibility import allowed_kinds


@dataclass(frozen=True)
class NavItem:
    label: str
    url: str
    trail: str  # where it lives, in the words administrators know


def nav_items(user: Any) -> list[NavItem]:
    items = []
    if has_permission(user, MANAGE_CERTIFICATION_REMOVAL):
        items.append(
            NavItem(
                "Certification Removal Tool",
                reverse("web:removal-tool"),
                "Admin › Tools › Learning › Training Tools",
            )
        )
    if may_see_certifications(user):
        items.append(NavItem("Certifications", reverse("web:certifications"), "Learning"))
    if may_view_catalogue(user):
        items.append(NavItem("Catalogue", reverse("web:catalogue"), "Learning"))
    if may_see_people(user):
        items.append(NavItem("People", reverse("web:people"), "Users"))
    if may_see_licences(user):
        items.append(NavItem("Licences & Certifications", reverse("web:licences"), "Users"))
    # A kind uploaded on the generic page has no other way in: its upload page is an item of its own.
    for kind in all_kinds():
        if not kind.upload.url_name and has_permission(user, kind.permission):
            trail = " › ".join(label for label, _ in kind.trail)
            items.append(
                NavItem(
                    kind.upload.heading or kind.tool_name, reverse("web:job-new", args=[kind.slug]), trail
                )
            )
    if allowed_kinds(user):
        items.append(NavItem("Jobs", reverse("web:jobs"), "Every bulk job you may see"))
    if may_view_audit_log(user):
        items.append(NavItem("Audit log", reverse("web:audit"), "Every change recorded"))
    if has_permission(user, MANAGE_ROLES):
        items.append(NavItem("Roles", reverse("web:roles"), "Admin"))
    if has_permission(user, MANAGE_WEBHOOKS):
        items.append(NavItem("Webhooks", reverse("web:webhooks"), "Admin"))
    return items


def tool_for(kind: str) -> list[tuple[str, str]]:
    """The breadcrumbs, (label, url), down to the page that lists a kind's jobs, as the kind declares them."""
    return [(label, reverse(url_name)) for label, url_name in get_kind(kind).trail]


def navigation(request: HttpRequest) -> dict[str, Any]:
    """Template context processor."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": []}
    path = request.path
    # The item whose page this is, or whose page this one lies under (the longest match wins).
    items = nav_items(user)
    current = max((i.url for i in items if path.startswith(i.url)), key=len, default="")
    return {"nav_items": items, "nav_current": current}
