"""Who may do what, and over whom.

Every page, endpoint, download and CLI command asks here. A permission is held directly (Django's
user permissions: unconstrained) or through a role's grant, which may be constrained to the holder's
own org units, to chosen org units, or to groups. This module knows nothing of jobs: which jobs a
user sees is the engine's question (``bulk.visibility``), answered with ``creators_in_scope``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Permission
from django.db.models import Q, QuerySet

from people.models import Group, OrgUnit, User, user_matches

from .models import Grant


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
    app_label, codename = permission.split(".", 1)
    found = Permission.objects.filter(content_type__app_label=app_label, codename=codename).first()
    return found.name if found else permission


def subtree_ids(root_ids: Iterable[int]) -> set[int]:
    """The given org units and all their sub-units (one query per level of the tree)."""
    ids = set(root_ids)
    frontier = set(ids)
    while frontier:
        frontier = set(OrgUnit.objects.filter(parent_id__in=frontier).values_list("pk", flat=True)) - ids
        ids |= frontier
    return ids


@dataclass(frozen=True)
class Scope:
    """Where a user's grants of one permission reach: everywhere, or these units (with their
    sub-units) and groups."""

    everywhere: bool
    units: frozenset[int] = frozenset()
    groups: frozenset[int] = frozenset()


def scope_of(user: Any, permission: str) -> Scope:
    """The reach of ``permission`` for ``user``: unconstrained when held directly, as a superuser, or
    through any grant without a constraint; else the union of the constrained grants' units and groups."""
    if user.is_superuser or ModelBackend().has_perm(user, permission):
        return Scope(everywhere=True)
    app_label, codename = permission.split(".", 1)
    grants = list(
        Grant.objects.filter(
            role__members=user, permission__content_type__app_label=app_label, permission__codename=codename
        ).prefetch_related("org_units", "groups")
    )
    if any(g.scope == Grant.Scope.ALL for g in grants):
        return Scope(everywhere=True)
    roots: set[int] = set()
    groups: set[int] = set()
    for grant in grants:
        if grant.scope == Grant.Scope.OWN_UNITS:
            roots |= set(user.org_units.values_list("pk", flat=True))
        elif grant.scope == Grant.Scope.ORG_UNITS:
            roots |= {unit.pk for unit in grant.org_units.all()}
        elif grant.scope == Grant.Scope.GROUPS:
            groups |= {group.pk for group in grant.groups.all()}
    return Scope(
        everywhere=False,
        units=frozenset(subtree_ids(roots)) if roots else frozenset(),
        groups=frozenset(groups),
    )


def combined_scope(user: Any, permissions: Iterable[str]) -> Scope:
    """Where any of ``permissions`` reaches for ``user``: everywhere if one does, else the union."""
    units: set[int] = set()
    groups: set[int] = set()
    for permission in permissions:
        scope = scope_of(user, permission)
        if scope.everywhere:
            return scope
        units |= scope.units
        groups |= scope.groups
    return Scope(everywhere=False, units=frozenset(units), groups=frozenset(groups))


def people_in(scope: Scope) -> Q | None:
    """A condition on users: those inside the scope's units or groups; None when it reaches everyone."""
    if scope.everywhere:
        return None
    condition = Q(pk__in=[])
    if scope.units:
        condition |= Q(pk__in=User.objects.filter(org_units__in=scope.units).values("pk"))
    if scope.groups:
        condition |= Q(pk__in=User.objects.filter(member_of__in=scope.groups).values("pk"))
    return condition


@dataclass(frozen=True)
class Pickable:
    """What a people picker lists: the users, groups and org units inside a scope."""

    users: QuerySet[User]
    groups: QuerySet[Group]
    org_units: QuerySet[OrgUnit]


def pickable(scope: Scope, search: str = "") -> Pickable:
    """The users, groups and org units a picker may offer within ``scope``, those matching ``search``
    when it is given. The web pickers and the API's lists both ask here, so they list the same."""
    users = User.objects.all()
    groups = Group.objects.all()
    units = OrgUnit.objects.all()
    reach = people_in(scope)
    if reach is not None:
        users = users.filter(reach)
        groups = groups.filter(pk__in=scope.groups)
        units = units.filter(pk__in=scope.units)
    if search:
        users = users.filter(user_matches(search))
        groups = groups.filter(name__icontains=search)
        units = units.filter(Q(name__icontains=search) | Q(code__icontains=search))
    return Pickable(users=users, groups=groups, org_units=units)


def creators_in_scope(user: Any, permission: str) -> Q | None:
    """Which creators' jobs the permission shows this user: None for all of them, else a condition
    on ``created_by`` (always including the user's own jobs)."""
    people = people_in(scope_of(user, permission))
    if people is None:
        return None
    return Q(created_by=user) | Q(created_by__in=User.objects.filter(people).values("pk"))
