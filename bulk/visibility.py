"""Which jobs a user sees and may submit: per kind they hold the permission for, within its constraints.

A job outside ``jobs_visible_to`` is answered with 404 everywhere, never 403, so it does not leak.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from access.permissions import VIEW_CERTIFICATIONS
from access.policy import Scope, combined_scope, has_permission, scope_of, within
from access.rules import may_see_certifications

from .models import Job
from .registry import all_kinds, get_kind


def allowed_kinds(user: Any) -> list[str]:
    """The job kinds this user may see and submit."""
    return [kind.slug for kind in all_kinds() if has_permission(user, kind.permission)]


def may_manage_jobs(user: Any) -> bool:
    """The job pages and the jobs API: granted by the permission of any job kind."""
    return bool(allowed_kinds(user))


def may_pick_people(user: Any) -> bool:
    """The people, groups and org units listed for pickers: granted by the permission of any job kind
    or by "view certifications". The engine's rule, not ``access``'s, because it knows the kinds."""
    return may_manage_jobs(user) or may_see_certifications(user)


def picker_scope(user: Any, kind: str | None = None) -> Scope:
    """Whom the pickers list for this user. For a job kind (the permission being exercised, as the
    Award Users picker does): that kind's reach. Otherwise the reach of every permission that lets
    them pick people (each job kind's they hold, and "view certifications"), together."""
    if kind is not None:
        return scope_of(user, get_kind(kind).permission)
    permissions = [get_kind(slug).permission for slug in allowed_kinds(user)]
    if may_see_certifications(user):
        permissions.append(VIEW_CERTIFICATIONS)
    return combined_scope(user, permissions)


def jobs_visible_to(user: Any) -> QuerySet[Job]:
    """The jobs this user may see: their own and those of creators within the kind's constraints.

    Kinds whose permissions reach the same people share one condition, so that the usual case (one
    role, one constraint, every kind) asks about each job's creator once."""
    kinds_by_scope: dict[Scope, list[str]] = {}
    for kind in all_kinds():
        if has_permission(user, kind.permission):
            kinds_by_scope.setdefault(scope_of(user, kind.permission), []).append(kind.slug)
    visible = Q(pk__in=[])
    for scope, kinds in kinds_by_scope.items():
        of_kinds = Q(kind=kinds[0]) if len(kinds) == 1 else Q(kind__in=kinds)
        creators = within(scope, "created_by")
        visible |= of_kinds if creators is None else of_kinds & (Q(created_by=user) | creators)
    return Job.objects.filter(visible)
