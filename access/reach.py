"""Whom an administrator may look up on the People pages and the learner API: the learners within
the reach of any permission they hold over people, and, per section of a learner's page, whether
the permission that shows that section reaches this learner."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet

from people.models import User

from .permissions import (
    AWARD_CERTIFICATIONS,
    COMPLETE_ENROLMENTS,
    IMPORT_LICENSES,
    IMPORT_UNENROLMENTS,
    MANAGE_LICENSES,
    VIEW_CATALOGUE,
    VIEW_CERTIFICATIONS,
)
from .policy import combined_scope, has_permission, people_in, within

CERTIFICATION_PERMISSIONS = (VIEW_CERTIFICATIONS, AWARD_CERTIFICATIONS)
LICENCE_PERMISSIONS = (MANAGE_LICENSES, IMPORT_LICENSES)
ENROLMENT_PERMISSIONS = (VIEW_CATALOGUE, IMPORT_UNENROLMENTS, COMPLETE_ENROLMENTS)
PEOPLE_PERMISSIONS = (*CERTIFICATION_PERMISSIONS, *LICENCE_PERMISSIONS, *ENROLMENT_PERMISSIONS)


def may_see_people(user: Any) -> bool:
    """The People list: granted by any permission over learners' certifications, licences or enrolments."""
    return any(has_permission(user, permission) for permission in PEOPLE_PERMISSIONS)


def _reach(user: Any, permissions: tuple[str, ...]) -> QuerySet[User]:
    held = [p for p in permissions if has_permission(user, p)]
    if not held:
        return User.objects.none()
    people = people_in(combined_scope(user, held))
    return User.objects.all() if people is None else User.objects.filter(people)


def enrolments_within_reach(user: Any, person: str = "user") -> Q:
    """A condition on enrolments (on the user-valued field ``person``): their learner is within the
    reach of the catalogue's permissions the user holds. Nothing is filtered when that reach is
    everyone: a list of every user in the condition would only mislead the planner."""
    held = [p for p in ENROLMENT_PERMISSIONS if has_permission(user, p)]
    if not held:
        return Q(pk__in=[])
    condition = within(combined_scope(user, held), person)
    return Q() if condition is None else condition


def people_in_reach(user: Any) -> QuerySet[User]:
    """The learners this user may look up: within the reach of any people permission they hold."""
    return _reach(user, PEOPLE_PERMISSIONS)


@dataclass(frozen=True)
class Sections:
    """Which parts of a learner's record the viewer may see."""

    certifications: bool
    licences: bool
    enrolments: bool


def sections_for(user: Any, learner: User) -> Sections:
    """Each section shows when a permission that shows it reaches this learner (three queries)."""

    def reaches(permissions: tuple[str, ...]) -> bool:
        return _reach(user, permissions).filter(pk=learner.pk).exists()

    return Sections(
        certifications=reaches(CERTIFICATION_PERMISSIONS),
        licences=reaches(LICENCE_PERMISSIONS),
        enrolments=reaches(ENROLMENT_PERMISSIONS),
    )
