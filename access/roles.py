"""Managing roles in the product: a role's name and members, and its grants (a permission, with the
constraint that says where it reaches). Every change needs "Manage roles" and is sent as
``access_changed`` for the audit trail; ``preview`` says what a member would see and do."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import Permission
from django.db import transaction

from base.problems import CONTROL_CHARACTERS, Problem
from people.models import Group, OrgUnit, User

from .models import Grant, Role
from .permissions import MANAGE_ROLES, TOOLS
from .policy import has_permission, people_in, require, scope_of
from .signals import access_changed


class RoleInputError(ValueError):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(p.message for p in problems))
        self.problems = problems


def certdesk_permissions() -> dict[str, list[Permission]]:
    """The permissions a grant may give, by tool, with their readable names (Django's own ~100 are
    not offered: certdesk checks none of them)."""
    wanted = {name: tool for tool, names in TOOLS.items() for name in names}
    found = {
        f"{p.content_type.app_label}.{p.codename}": p
        for p in Permission.objects.select_related("content_type").filter(
            codename__in=[name.split(".", 1)[1] for name in wanted]
        )
    }
    return {tool: [found[name] for name in names if name in found] for tool, names in TOOLS.items()}


def permission_name(permission: Permission) -> str:
    return f"{permission.content_type.app_label}.{permission.codename}"


def _grant_values(grant: Grant) -> dict[str, Any]:
    return {
        "role": grant.role.name,
        "permission": grant.permission.name,
        "constraint": grant.get_scope_display(),
        "org_units": sorted(grant.org_units.values_list("code", flat=True)),
        "groups": sorted(grant.groups.values_list("name", flat=True)),
    }


def _told(action: str, actor: Any, obj: Any, before: Any = None, after: Any = None) -> None:
    access_changed.send(sender=Role, action=action, actor=actor, obj=obj, before=before, after=after)


def save_role(role: Role | None, name: str, description: str, *, actor: Any) -> Role:
    require(actor, MANAGE_ROLES, doing="manage roles")
    name, description = name.strip(), description.strip()
    problems = []
    if not name:
        problems.append(Problem("name_required", "Name the role.", column="Name"))
    elif Role.objects.filter(name__iexact=name).exclude(pk=getattr(role, "pk", 0) or 0).exists():
        problems.append(
            Problem("name_taken", f"A role is already called '{name}'.", column="Name", value=name)
        )
    if CONTROL_CHARACTERS.search(name + description):
        problems.append(
            Problem("invalid_characters", "The name or description contains a control character.")
        )
    if problems:
        raise RoleInputError(problems)
    before = {"name": role.name, "description": role.description} if role else None
    target = role or Role()
    target.name, target.description = name, description
    target.save()
    after = {"name": name, "description": description}
    if before != after:
        _told("role.created" if role is None else "role.edited", actor, target, before, after)
    return target


def delete_role(role: Role, *, actor: Any) -> None:
    require(actor, MANAGE_ROLES, doing="manage roles")
    before = {"name": role.name, "members": sorted(role.members.values_list("username", flat=True))}
    _told("role.deleted", actor, role, before, None)
    role.delete()


def add_member(role: Role, who: str, *, actor: Any) -> User:
    require(actor, MANAGE_ROLES, doing="manage roles")
    who = who.strip()
    user = User.objects.filter(username=who).first() or User.objects.filter(user_id=who).first()
    if user is None:
        raise RoleInputError(
            [
                Problem(
                    "unknown_user",
                    f"No user has the username or User ID '{who}'.",
                    column="Member",
                    value=who,
                )
            ]
        )
    if not role.members.filter(pk=user.pk).exists():
        role.members.add(user)
        _told("role.member_added", actor, role, None, {"member": user.username})
    return user


def remove_member(role: Role, user: User, *, actor: Any) -> None:
    require(actor, MANAGE_ROLES, doing="manage roles")
    if role.members.filter(pk=user.pk).exists():
        role.members.remove(user)
        _told("role.member_removed", actor, role, {"member": user.username}, None)


@dataclass(frozen=True)
class GrantSpec:
    permission: str  # "app_label.codename", one of TOOLS'
    scope: str
    org_units: tuple[OrgUnit, ...] = ()
    groups: tuple[Group, ...] = ()


def add_grant(role: Role, spec: GrantSpec, *, actor: Any) -> Grant:
    """Give the role a permission with a constraint; a grant of the same permission is replaced."""
    require(actor, MANAGE_ROLES, doing="manage roles")
    offered = {permission_name(p): p for perms in certdesk_permissions().values() for p in perms}
    problems = []
    if spec.permission not in offered:
        problems.append(
            Problem("unknown_permission", "Choose one of certdesk's permissions.", column="Permission")
        )
    if spec.scope not in Grant.Scope.values:
        problems.append(Problem("unknown_constraint", "Choose a constraint.", column="Constraint"))
    if spec.scope == Grant.Scope.ORG_UNITS and not spec.org_units:
        problems.append(
            Problem(
                "units_required",
                "Restrict to Organizational Units needs at least one unit.",
                column="Org units",
            )
        )
    if spec.scope == Grant.Scope.GROUPS and not spec.groups:
        problems.append(
            Problem("groups_required", "Restrict to Groups needs at least one group.", column="Groups")
        )
    if problems:
        raise RoleInputError(problems)
    with transaction.atomic():
        old = role.grants.filter(permission=offered[spec.permission]).first()
        before = _grant_values(old) if old else None
        if old:
            old.delete()
        grant = Grant.objects.create(role=role, permission=offered[spec.permission], scope=spec.scope)
        grant.org_units.set(spec.org_units if spec.scope == Grant.Scope.ORG_UNITS else ())
        grant.groups.set(spec.groups if spec.scope == Grant.Scope.GROUPS else ())
        _told("grant.changed" if old else "grant.added", actor, role, before, _grant_values(grant))
    return grant


def remove_grant(grant: Grant, *, actor: Any) -> None:
    require(actor, MANAGE_ROLES, doing="manage roles")
    _told("grant.removed", actor, grant.role, _grant_values(grant), None)
    grant.delete()


@dataclass(frozen=True)
class Reach:
    tool: str
    permission: str
    held: bool
    everywhere: bool
    people: int
    units: list[str]
    groups: list[str]


def preview(user: User) -> list[Reach]:
    """What ``user`` may do, permission by permission, and where: everyone, or how many people in
    which units and groups (the people a constrained grant reaches, and whose jobs it shows)."""
    rows = []
    for tool, permissions in certdesk_permissions().items():
        for permission in permissions:
            name = permission_name(permission)
            if not has_permission(user, name):
                rows.append(Reach(tool, permission.name, False, False, 0, [], []))
                continue
            scope = scope_of(user, name)
            people = people_in(scope)
            rows.append(
                Reach(
                    tool,
                    permission.name,
                    True,
                    scope.everywhere,
                    User.objects.count() if people is None else User.objects.filter(people).count(),
                    sorted(OrgUnit.objects.filter(pk__in=scope.units).values_list("name", flat=True)),
                    sorted(Group.objects.filter(pk__in=scope.groups).values_list("name", flat=True)),
                )
            )
    return rows
