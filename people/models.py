"""People: users (learners and administrators), org units and groups."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q


class OrgUnit(models.Model):
    """A node of the organisation tree: division, location, department ("branch" elsewhere)."""

    code = models.CharField(max_length=50, unique=True)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=50, blank=True, help_text="Division, Location, Department …")
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )

    class Meta:
        ordering = ["name"]
        verbose_name = "org unit"

    def __str__(self) -> str:
        return self.name


class Group(models.Model):
    """A named, static set of users (distinct from Django's permission groups)."""

    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    members = models.ManyToManyField("people.User", related_name="member_of", blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "group"

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    """A person: learner, administrator or both.

    ``user_id`` is the external "User ID" that files and exports use; ``username`` is the login.
    """

    user_id = models.CharField("User ID", max_length=100, unique=True)
    org_units = models.ManyToManyField(OrgUnit, related_name="members", blank=True)

    class Meta:
        ordering = ["username"]
        constraints = [
            models.CheckConstraint(condition=~Q(user_id=""), name="user_id_not_blank"),
        ]

    def __str__(self) -> str:
        name = self.get_full_name()
        return f"{name} ({self.user_id})" if name else self.username

    def save(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        # Accounts created without an external id (createsuperuser) take their username.
        if not self.user_id:
            self.user_id = self.username
        super().save(*args, **kwargs)

    @property
    def display_name(self) -> str:
        return self.get_full_name() or self.username
