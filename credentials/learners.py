"""One learner's record: certifications, licences and enrolments, and the history of every change
to them.

Audit events name the object they changed (``object_type``, ``object_id``), not its learner. A
learner's history is therefore found from their objects: their awards, enrolments and licences
(a handful, by the user indexes those tables have), then their events through the existing
``event_object`` index. No extra column or index on the events: a bulk job writes one event per row,
and every index there would be paid 50,000 times a job.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from access.reach import Sections
from audit.models import Event
from learning.models import Enrollment
from people.models import User

from .models import Award, License

AWARD = Award._meta.label_lower
ENROLMENT = Enrollment._meta.label_lower
LICENCE = License._meta.label_lower


@dataclass(frozen=True)
class HeldAward:
    award: Award
    state: str  # "active", "renewal due", "expired"
    days_to_renew: int | None


def current_awards(learner: User, today: dt.date | None = None) -> list[HeldAward]:
    """The learner's active awards with their state on ``today`` and the days until renewal opens."""
    today = today or timezone.localdate()
    held = []
    for award in (
        Award.objects.active()
        .filter(user=learner)
        .select_related("certification")
        .order_by("certification__code")
    ):
        opens = award.certification.renewal_opens(award.expiration_date)
        if award.expiration_date is not None and award.expiration_date < today:
            state = "expired"
        elif opens is not None and opens <= today:
            state = "renewal due"
        else:
            state = "active"
        held.append(HeldAward(award, state, (opens - today).days if opens is not None else None))
    return held


def current_licences(learner: User) -> QuerySet[License]:
    return (
        License.objects.current()
        .filter(user=learner)
        .select_related("license_type")
        .order_by("license_type__code")
    )


def enrolments(learner: User) -> QuerySet[Enrollment]:
    """Every enrolment of the learner, current ones first."""
    return (
        Enrollment.objects.filter(user=learner)
        .select_related("activity")
        .order_by("status", "activity__title")
    )


def _ids(queryset: QuerySet[Any]) -> list[str]:
    return [str(pk) for pk in queryset.values_list("pk", flat=True)]


@dataclass(frozen=True)
class Subjects:
    """What each of the learner's objects is, by (object type, id): for the history's "what" column."""

    names: dict[tuple[str, str], str]

    def of(self, event: Event) -> str:
        return self.names.get((event.object_type, event.object_id), "")


def history(learner: User, sections: Sections) -> tuple[QuerySet[Event], Subjects]:
    """The audit events of the learner's awards, enrolments and licences the viewer may see, newest
    first, with who, the job and what each object is."""
    names: dict[tuple[str, str], str] = {}
    condition = Q(pk__in=[])
    if sections.certifications:
        awards = Award.objects.filter(user=learner).select_related("certification")
        names |= {(AWARD, str(a.pk)): f"{a.certification.code} {a.certification.title}" for a in awards}
        condition |= Q(object_type=AWARD, object_id__in=_ids(awards))
    if sections.enrolments:
        enrolled = Enrollment.objects.filter(user=learner).select_related("activity")
        names |= {(ENROLMENT, str(e.pk)): e.activity.title for e in enrolled}
        condition |= Q(object_type=ENROLMENT, object_id__in=_ids(enrolled))
    if sections.licences:
        licences = License.objects.filter(user=learner).select_related("license_type")
        names |= {(LICENCE, str(lic.pk)): f"{lic.license_type.code} {lic.number}".strip() for lic in licences}
        condition |= Q(object_type=LICENCE, object_id__in=_ids(licences))
    events = Event.objects.filter(condition).select_related("actor", "job").order_by("-id")
    return events, Subjects(names)
