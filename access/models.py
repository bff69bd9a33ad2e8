"""Roles: permissions granted to roles, roles to users, each grant with an optional constraint."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import Permission
from django.db import models


class Role(models.Model):
    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="roles", blank=True)

    class Meta:
        ordering = ["name"]
        permissions = [("manage_roles", "Manage roles")]

    def __str__(self) -> str:
        return self.name


class Grant(models.Model):
    """A permission a role holds, unconstrained or restricted to org units or groups.

    A constraint decides which jobs the holder sees: the jobs they created, plus the jobs created by
    administrators inside the constrained units (sub-units included) or groups. It does not limit the
    users named in a file.
    """

    class Scope(models.TextChoices):
        ALL = "all", "No constraint"
        OWN_UNITS = "own_units", "Restrict to User's Organization Units"
        ORG_UNITS = "org_units", "Restrict to Organizational Units"
        GROUPS = "groups", "Restrict to Groups"

    role = models.ForeignKey(Role, on_delete=models.CASCADE, related_name="grants")
    permission = models.ForeignKey(Permission, on_delete=models.CASCADE, related_name="+")
    scope = models.CharField("constraint", max_length=16, choices=Scope.choices, default=Scope.ALL)
    org_units = models.ManyToManyField(
        "people.OrgUnit", blank=True, related_name="+", help_text="For 'Restrict to Organizational Units'."
    )
    groups = models.ManyToManyField(
        "people.Group", blank=True, related_name="+", help_text="For 'Restrict to Groups'."
    )

    class Meta:
        ordering = ["role", "permission"]

    def __str__(self) -> str:
        return f"{self.role}: {self.permission.name} ({self.get_scope_display()})"
