"""Who may do what, and which jobs they see.

Every page, endpoint, download and CLI command asks here. Today a permission is held or not;
org-unit and group constraints narrow ``jobs_visible_to`` without changing its callers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db.models import QuerySet

if TYPE_CHECKING:
    from bulk.models import Job


class NotAllowed(PermissionError):
    """The user lacks a permission. Pages and the API answer 403; the CLI exits with an error."""


def has_permission(user: Any, permission: str) -> bool:
    return bool(user is not None and user.is_active and user.has_perm(permission))


def require(user: Any, permission: str, *, doing: str) -> None:
    if not has_permission(user, permission):
        raise NotAllowed(
            f"{getattr(user, 'username', 'Anonymous')} may not {doing}: the permission "
            f"'{permission_label(permission)}' is needed."
        )


def permission_label(permission: str) -> str:
    from django.contrib.auth.models import Permission

    app_label, codename = permission.split(".", 1)
    found = Permission.objects.filter(content_type__app_label=app_label, codename=codename).first()
    return found.name if found else permission


def allowed_kinds(user: Any) -> list[str]:
    """The job kinds this user may see and submit."""
    from bulk.kinds import KINDS

    return [slug for slug, kind in KINDS.items() if has_permission(user, kind.permission)]


def jobs_visible_to(user: Any) -> QuerySet[Job]:
    """The jobs this user may see: those of the kinds they hold the permission for.

    A job outside this queryset is answered with 404 everywhere, never 403, so it does not leak.
    """
    from bulk.models import Job

    return Job.objects.filter(kind__in=allowed_kinds(user))
