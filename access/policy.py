"""Who may do what, and over whom.

Every page, endpoint, download and CLI command asks here. A permission is held directly (Django's
user permissions: unconstrained) or through a role's grant, which may be constrained to the holder's
own org units, to chosen org units, or to groups. This module knows nothing of jobs: which jobs a
user sees is the engine's question (``bulk.visibility``), answered with ``within``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Permission
from django.db import connection
from django.db.models import Exists, F, OuterRef, Q, QuerySet

from people.models import Group, OrgUnit, User
from people.search import people_matching

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
    """The given org units and all their sub-units, in one query however deep the tree is."""
    roots = sorted(set(root_ids))
    if not roots:
        return set()
    units = connection.ops.quote_name(OrgUnit._meta.db_table)
    marks = ", ".join(["%s"] * len(roots))
    # UNION (not UNION ALL) stops at a unit already reached, so a cycle made in the admin ends too.
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH RECURSIVE tree(id) AS (SELECT id FROM {units} WHERE id IN ({marks}) "
            f"UNION SELECT child.id FROM {units} child JOIN tree ON child.parent_id = tree.id) "
            "SELECT id FROM tree",
            roots,
        )
        return {row[0] for row in cursor.fetchall()}


@dataclass(frozen=True)
class Scope:
    """Where a user's grants of one permission reach: everywhere, or these units (with their
    sub-units) and groups."""

    everywhere: bool
    units: frozenset[int] = frozenset()
    groups: frozenset[int] = frozenset()


@dataclass(frozen=True)
class _HeldGrant:
    permission: str
    scope: str
    units: frozenset[int]
    groups: frozenset[int]


# Kept on the user object, as Django keeps its permission cache there: a request's user is loaded
# per request, so a page that asks for scopes many times pays for them once.
_GRANTS = "_certdesk_grants"
_SCOPES = "_certdesk_scopes"


def _held_grants(user: Any) -> list[_HeldGrant]:
    """Every grant of every role the user is in, with its units and groups (three queries)."""
    if hasattr(user, _GRANTS):
        return getattr(user, _GRANTS)
    grants = list(
        Grant.objects.filter(role__members=user).values_list(
            "pk", "permission__content_type__app_label", "permission__codename", "scope"
        )
    )
    ids = [pk for pk, *_ in grants]
    units: dict[int, set[int]] = {}
    groups: dict[int, set[int]] = {}
    if any(scope == Grant.Scope.ORG_UNITS for *_, scope in grants):
        for grant_id, unit_id in Grant.org_units.through.objects.filter(grant_id__in=ids).values_list(
            "grant_id", "orgunit_id"
        ):
            units.setdefault(grant_id, set()).add(unit_id)
    if any(scope == Grant.Scope.GROUPS for *_, scope in grants):
        for grant_id, group_id in Grant.groups.through.objects.filter(grant_id__in=ids).values_list(
            "grant_id", "group_id"
        ):
            groups.setdefault(grant_id, set()).add(group_id)
    held = [
        _HeldGrant(f"{app}.{codename}", scope, frozenset(units.get(pk, ())), frozenset(groups.get(pk, ())))
        for pk, app, codename, scope in grants
    ]
    setattr(user, _GRANTS, held)
    return held


def scope_of(user: Any, permission: str) -> Scope:
    """The reach of ``permission`` for ``user``: unconstrained when held directly, as a superuser, or
    through any grant without a constraint; else the union of the constrained grants' units and groups.

    A handful of queries the first time in a request, whatever the depth of the org tree; none after."""
    cache: dict[str, Scope] = getattr(user, _SCOPES, None) or {}
    if permission in cache:
        return cache[permission]
    scope = _scope(user, permission)
    if user.pk is not None:
        cache[permission] = scope
        setattr(user, _SCOPES, cache)
    return scope


def _scope(user: Any, permission: str) -> Scope:
    if user.is_superuser or ModelBackend().has_perm(user, permission):
        return Scope(everywhere=True)
    grants = [g for g in _held_grants(user) if g.permission == permission]
    if any(g.scope == Grant.Scope.ALL for g in grants):
        return Scope(everywhere=True)
    roots: set[int] = set()
    groups: set[int] = set()
    for grant in grants:
        if grant.scope == Grant.Scope.OWN_UNITS:
            roots |= _own_units(user)
        elif grant.scope == Grant.Scope.ORG_UNITS:
            roots |= grant.units
        elif grant.scope == Grant.Scope.GROUPS:
            groups |= grant.groups
    return Scope(everywhere=False, units=frozenset(_subtree(user, roots)), groups=frozenset(groups))


def _own_units(user: Any) -> set[int]:
    cached: set[int] | None = getattr(user, "_certdesk_own_units", None)
    if cached is None:
        cached = set(user.org_units.values_list("pk", flat=True))
        user._certdesk_own_units = cached
    return cached


def _subtree(user: Any, roots: set[int]) -> set[int]:
    if not roots:
        return set()
    cache: dict[frozenset[int], set[int]] = getattr(user, "_certdesk_subtrees", None) or {}
    key = frozenset(roots)
    if key not in cache:
        cache[key] = subtree_ids(roots)
        user._certdesk_subtrees = cache
    return cache[key]


def forget_scopes(user: Any) -> None:
    """Drop what ``scope_of`` remembers on this user object (after their roles or units change)."""
    for name in (
        _GRANTS,
        _SCOPES,
        "_certdesk_own_units",
        "_certdesk_subtrees",
        "_role_perm_cache",
        "_perm_cache",
    ):
        if hasattr(user, name):
            delattr(user, name)


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


def within(scope: Scope, person: str) -> Q | None:
    """A condition on the user-valued field ``person`` of a model (``"pk"`` on users themselves): its
    user is inside the scope's units or groups; None when the scope reaches everyone.

    Written as EXISTS over the memberships, so that a page of rows asks about its own people only,
    never a list of every person in the scope."""
    if scope.everywhere:
        return None
    condition = Q(pk__in=[])
    if scope.units:
        condition |= Q(Exists(_memberships(User.org_units.through, person, "orgunit_id", scope.units)))
    if scope.groups:
        condition |= Q(Exists(_memberships(Group.members.through, person, "group_id", scope.groups)))
    return condition


def _memberships(through: Any, person: str, column: str, ids: frozenset[int]) -> QuerySet[Any]:
    # A person is in a few units or groups: look theirs up by person and test each against the set.
    # Compared as written (column = ANY of the set), the planners probe the (person, unit) index once
    # per unit of the scope for every row of the page — a hundred times a job for one division.
    return (
        through.objects.annotate(of_scope=F(column) + 0)
        .filter(user_id=OuterRef(person), of_scope__in=sorted(ids))
        .values("pk")
    )


def people_in(scope: Scope) -> Q | None:
    """A condition on users: those inside the scope's units or groups; None when it reaches everyone."""
    return within(scope, "pk")


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
        users = users.filter(people_matching(search))
        groups = groups.filter(name__icontains=search)
        units = units.filter(Q(name__icontains=search) | Q(code__icontains=search))
    return Pickable(users=users, groups=groups, org_units=units)
