"""Roles and access (permission "Manage roles"): roles with their members and their certdesk
permissions by readable name, grouped by tool; grants with their constraints; and a preview of
what a member would see and do. Every change is an audit event."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from access.models import Grant, Role
from access.permissions import MANAGE_ROLES
from access.roles import (
    GrantSpec,
    RoleInputError,
    add_grant,
    add_member,
    certdesk_permissions,
    delete_role,
    permission_name,
    preview,
    remove_grant,
    remove_member,
    save_role,
)
from people.models import Group, OrgUnit

from .permissions import allowed

roles_required = allowed(MANAGE_ROLES, "You need the permission Manage roles.")


@roles_required
@require_GET
def role_list(request: HttpRequest) -> HttpResponse:
    roles = Role.objects.annotate(member_count=Count("members", distinct=True)).prefetch_related(
        "grants__permission"
    )
    return render(request, "web/roles.html", {"roles": roles})


@roles_required
@require_http_methods(["GET", "POST"])
def role_new(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        try:
            role = save_role(
                None, request.POST.get("name", ""), request.POST.get("description", ""), actor=request.user
            )
        except RoleInputError as exc:
            return render(
                request, "web/role_new.html", {"errors": exc.problems, "values": request.POST}, status=400
            )
        messages.success(request, f"Role “{role.name}” is created: now give it permissions and members.")
        return redirect("web:role", pk=role.pk)
    return render(request, "web/role_new.html", {"values": {}})


ACTIONS = ("save", "delete", "add_member", "remove_member", "add_grant", "remove_grant")


@roles_required
@require_http_methods(["GET", "POST"])
def role_detail(request: HttpRequest, pk: int) -> HttpResponse:
    role = get_object_or_404(Role, pk=pk)
    errors = []
    if request.method == "POST" and request.POST.get("action") in ACTIONS:
        try:
            done = _act(request, role, request.POST["action"])
        except RoleInputError as exc:
            errors = exc.problems
        else:
            messages.success(request, done)
            if request.POST["action"] == "delete":
                return redirect("web:roles")
            return redirect("web:role", pk=role.pk)
    previewed = None
    who = request.GET.get("preview", "")
    if who:
        previewed = role.members.filter(username=who).first()
    return render(
        request,
        "web/role.html",
        {
            "role": role,
            "grants": role.grants.select_related("permission__content_type").prefetch_related(
                "org_units", "groups"
            ),
            "members": role.members.order_by("username"),
            "tools": {
                tool: [(permission_name(p), p.name) for p in permissions]
                for tool, permissions in certdesk_permissions().items()
            },
            "scopes": Grant.Scope.choices,
            "units": OrgUnit.objects.order_by("name"),
            "groups": Group.objects.order_by("name"),
            "errors": errors,
            "previewed": previewed,
            "preview": preview(previewed) if previewed else [],
        },
        status=400 if errors else 200,
    )


def _act(request: HttpRequest, role: Role, action: str) -> str:
    data: Any = request.POST
    actor = request.user
    if action == "save":
        save_role(role, data.get("name", ""), data.get("description", ""), actor=actor)
        return "The role is saved."
    if action == "delete":
        name = role.name
        delete_role(role, actor=actor)
        return f"Role “{name}” is deleted."
    if action == "add_member":
        user = add_member(role, data.get("member", ""), actor=actor)
        return f"{user.username} is a member of “{role.name}”."
    if action == "remove_member":
        user = get_object_or_404(role.members, pk=_id(data.get("user")))
        remove_member(role, user, actor=actor)
        return f"{user.username} is no longer a member of “{role.name}”."
    if action == "add_grant":
        spec = GrantSpec(
            permission=data.get("permission", ""),
            scope=data.get("scope", ""),
            org_units=tuple(OrgUnit.objects.filter(pk__in=[_id(v) for v in data.getlist("org_units")])),
            groups=tuple(Group.objects.filter(pk__in=[_id(v) for v in data.getlist("groups")])),
        )
        grant = add_grant(role, spec, actor=actor)
        return f"“{role.name}” may now {grant.permission.name.lower()} ({grant.get_scope_display()})."
    grant = get_object_or_404(role.grants, pk=_id(data.get("grant")))
    remove_grant(grant, actor=actor)
    return f"“{role.name}” may no longer {grant.permission.name.lower()}."


def _id(text: Any) -> int:
    text = str(text or "")
    return int(text) if text.isascii() and text.isdigit() and len(text) < 19 else 0
