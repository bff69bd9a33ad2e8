"""Creating and editing certifications: their ID, title, validity (or always valid), renewal window,
and the activities and external training activities that award them automatically. Every change is
an audit event with the values before and after."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from access.permissions import MANAGE_CERTIFICATIONS
from access.policy import require
from audit.services import record
from base.problems import CONTROL_CHARACTERS, Problem
from learning.models import Activity, ExternalActivity

from .models import Certification

LONGEST_VALIDITY_DAYS = 36500  # a hundred years: longer is a typo, or "always valid"


class CertificationInputError(ValueError):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(p.message for p in problems))
        self.problems = problems


@dataclass
class Definition:
    """What an administrator sets on a certification."""

    code: str
    title: str
    description: str = ""
    validity_days: int | None = None  # None: always valid
    renewal_window_days: int = 30
    activities: list[Activity] = field(default_factory=list)
    external_activities: list[ExternalActivity] = field(default_factory=list)


def _values(certification: Certification) -> dict[str, Any]:
    return {
        "code": certification.code,
        "title": certification.title,
        "validity_days": certification.validity_days,
        "renewal_window_days": certification.renewal_window_days,
        "activities": sorted(str(a) for a in certification.activities.values_list("title", flat=True)),
        "external_activities": sorted(certification.external_activities.values_list("title", flat=True)),
    }


def problems_with(definition: Definition, certification: Certification | None) -> list[Problem]:
    problems = []
    code = definition.code.strip()
    others = Certification.objects.all()
    if certification is not None:
        others = others.exclude(pk=certification.pk)
    if not code:
        problems.append(Problem("code_required", "Certification ID is required.", column="Certification ID"))
    elif others.filter(code__iexact=code).exists():
        problems.append(
            Problem(
                "code_taken",
                f"Certification ID '{code}' is already used by another certification.",
                column="Certification ID",
                value=code,
            )
        )
    if not definition.title.strip():
        problems.append(Problem("title_required", "Title is required.", column="Title"))
    for name, text in (
        ("Certification ID", code),
        ("Title", definition.title),
        ("Description", definition.description),
    ):
        if CONTROL_CHARACTERS.search(text):
            problems.append(
                Problem("invalid_characters", f"{name} contains a control character.", column=name)
            )
    days = definition.validity_days
    if days is not None and not 0 < days <= LONGEST_VALIDITY_DAYS:
        problems.append(
            Problem(
                "validity_out_of_range",
                f"Validity is a number of days from 1 to {LONGEST_VALIDITY_DAYS:,}; tick Always valid for none.",
                column="Validity (days)",
                value=str(days),
            )
        )
    window = definition.renewal_window_days
    if window < 0 or (days is not None and window >= days):
        problems.append(
            Problem(
                "renewal_window_too_long",
                f"The renewal window ({window} days) must be shorter than the validity ({days} days)."
                if days is not None and window >= 0
                else "The renewal window is a number of days from 0.",
                column="Renewal window (days)",
                value=str(window),
            )
        )
    return problems


def save_certification(
    certification: Certification | None, definition: Definition, *, actor: Any
) -> Certification:
    """Create (``certification`` None) or edit a certification. Awards already made keep their dates:
    a new validity applies to the awards made from now on."""
    require(actor, MANAGE_CERTIFICATIONS, doing="create or edit certifications")
    problems = problems_with(definition, certification)
    if problems:
        raise CertificationInputError(problems)
    with transaction.atomic():
        before = _values(certification) if certification is not None else None
        target = certification or Certification()
        target.code = definition.code.strip()
        target.title = definition.title.strip()
        target.description = definition.description.strip()
        target.validity_days = definition.validity_days
        target.renewal_window_days = definition.renewal_window_days
        target.save()
        target.activities.set(definition.activities)
        target.external_activities.set(definition.external_activities)
        after = _values(target)
        if before != after:
            changed = {k: v for k, v in after.items() if before is None or before.get(k) != v}
            record(
                "certification.created" if before is None else "certification.edited",
                actor=actor,
                obj=target,
                before={k: before[k] for k in changed} if before else None,
                after=changed,
            )
    return target
