"""The API's permission classes, built on the same rules as the pages (``access.rules``, and the
engine's ``bulk.visibility``): a page and its endpoint cannot disagree.

Anonymous callers get 401 (DRF's answer when no credentials came), the others 403 with the message.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rest_framework.permissions import BasePermission

from access.permissions import (
    AWARD_CERTIFICATIONS,
    COMPLETE_ENROLMENTS,
    MANAGE_LICENSES,
    RECORD_EXTERNAL_TRAINING,
)
from access.rules import Rule, as_rule, may_see_certifications, may_see_licences, may_view_catalogue
from bulk.visibility import may_manage_jobs, may_pick_people


def allowed(rule: Rule | str, message: str, methods: Iterable[str] | None = None) -> type[BasePermission]:
    """A permission class: signed in and passing ``rule`` (a rule or a permission name), else 403
    with ``message``; asked of every request, or only of the ``methods`` given that the view has a
    handler for (a method it has none for stays its 405)."""
    check = as_rule(rule)
    asked = frozenset(methods) if methods is not None else None
    denial = message

    class Allowed(BasePermission):
        message = denial

        def has_permission(self, request: Any, view: Any) -> bool:
            user = request.user
            if not (user and user.is_authenticated):
                return False
            if asked is not None and (
                request.method not in asked or not hasattr(view, request.method.lower())
            ):
                return True
            return check(user)

    return Allowed


# A rule asked of some methods only leaves the others to the view, or to another rule (reading awards
# and awarding are different permissions).
READS = ("GET", "HEAD")
WRITES = ("POST", "PUT", "PATCH", "DELETE")

MayManageJobs = allowed(
    may_manage_jobs, "You do not have permission to manage any kind of bulk job.", methods=(*READS, "POST")
)
MaySeeWorkers = allowed(
    may_manage_jobs, "You do not have permission to see the workers: a bulk job permission is needed."
)
MayPickPeople = allowed(
    may_pick_people,
    "You do not have permission to look up people: a bulk job or certification permission is needed.",
)
MayViewCatalogue = allowed(may_view_catalogue, "You do not have permission to view the catalogue.")
MayCompleteEnrolments = allowed(
    COMPLETE_ENROLMENTS, "You do not have permission to record completions.", methods=WRITES
)
MayRecordExternalTraining = allowed(
    RECORD_EXTERNAL_TRAINING, "You do not have permission to record external training.", methods=WRITES
)
MaySeeLicences = allowed(
    may_see_licences,
    "You do not have permission to see licences: 'Manage licences' or 'Import licences' is needed.",
)
MayChangeLicences = allowed(
    MANAGE_LICENSES, "You need the permission 'Manage licences' to change licences.", methods=WRITES
)
MaySeeCertifications = allowed(
    may_see_certifications, "You do not have permission to view certifications.", methods=READS
)
MayAwardCertifications = allowed(
    AWARD_CERTIFICATIONS, "You do not have permission to award and edit certifications.", methods=WRITES
)
