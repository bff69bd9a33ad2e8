"""Awarding certifications: the terms of an award and the set-based inserts that every path uses —
by hand (``credentials.edits``, ``credentials.picks``), from a file (the certification-award kind)
or on a completion (``credentials.completions``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.utils import timezone

from audit.services import record_bulk
from base.problems import InputProblems, Problem
from base.sql import fetch, in_values, table, tuple_set, value_set

from .models import Award, Certification

ASSOCIATION_NAMES = {
    # What a file or a form may say, folded, -> the association type.
    "manual": Award.AssociationType.MANUAL,
    "manually awarded": Award.AssociationType.MANUAL,
    "activity completion": Award.AssociationType.ACTIVITY_COMPLETION,
    "activity_completion": Award.AssociationType.ACTIVITY_COMPLETION,
    "course completion": Award.AssociationType.ACTIVITY_COMPLETION,
    "learning plan completion": Award.AssociationType.ACTIVITY_COMPLETION,
    "course/learning plan completion": Award.AssociationType.ACTIVITY_COMPLETION,
    "external training": Award.AssociationType.EXTERNAL_TRAINING,
    "external_training": Award.AssociationType.EXTERNAL_TRAINING,
    "external training activity": Award.AssociationType.EXTERNAL_TRAINING,
}


# Looked up once: the choices list is rebuilt on every access to ``.values``.
ASSOCIATION_TYPES = frozenset(Award.AssociationType.values)


class AwardInputError(InputProblems):
    """Terms of an award that cannot stand."""


@dataclass(frozen=True)
class AwardTerms:
    """What an award says besides who and which certification."""

    issue_date: dt.date
    expiration_date: dt.date | None
    always_valid: bool = False
    association_type: str = Award.AssociationType.MANUAL
    external_activity: str = ""

    def problems(self) -> list[Problem]:
        """Everything wrong with these terms, each naming its field."""
        found = []
        if self.always_valid and self.expiration_date is not None:
            found.append(
                Problem(
                    "expiration_with_always_valid",
                    "An award that is always valid has no expiration date: clear one or the other.",
                    column="Expiration date",
                    value=self.expiration_date.isoformat(),
                )
            )
        if self.expiration_date is not None and self.expiration_date < self.issue_date:
            found.append(
                Problem(
                    "expiration_before_issue",
                    f"The expiration date {self.expiration_date.isoformat()} is before the issue date "
                    f"{self.issue_date.isoformat()}.",
                    column="Expiration date",
                    value=self.expiration_date.isoformat(),
                )
            )
        if not self.always_valid and self.expiration_date is None:
            found.append(
                Problem(
                    "expiration_required",
                    "Give an expiration date, or flag the award as always valid.",
                    column="Expiration date",
                )
            )
        if self.association_type not in ASSOCIATION_TYPES:
            found.append(
                Problem(
                    "unknown_association_type",
                    f"'{self.association_type}' is not an association type.",
                    column="Association type",
                    value=self.association_type,
                )
            )
        if (
            self.association_type == Award.AssociationType.EXTERNAL_TRAINING
            and not self.external_activity.strip()
        ):
            found.append(
                Problem(
                    "external_activity_required",
                    "Name the external training activity that was completed.",
                    column="External activity",
                )
            )
        if len(self.external_activity) > 200:
            found.append(
                Problem(
                    "external_activity_too_long",
                    "The external activity's name can be up to 200 characters.",
                    column="External activity",
                    value=self.external_activity[:50] + "…",
                )
            )
        return found

    def checked(self) -> AwardTerms:
        """These terms, tidied (no activity name unless external), or AwardInputError."""
        problems = self.problems()
        if problems:
            raise AwardInputError(problems)
        external = (
            self.external_activity.strip()
            if self.association_type == Award.AssociationType.EXTERNAL_TRAINING
            else ""
        )
        return AwardTerms(
            self.issue_date, self.expiration_date, self.always_valid, self.association_type, external
        )


def default_terms(
    certification: Certification,
    issue_date: dt.date,
    association_type: str = Award.AssociationType.MANUAL,
    external_activity: str = "",
) -> AwardTerms:
    """Terms from the certification's validity: expires after it, or always valid."""
    expiration = certification.default_expiration(issue_date)
    return AwardTerms(issue_date, expiration, expiration is None, association_type, external_activity)


def terms_from_input(
    values: Mapping[str, Any], certification: Certification, current: Award | None = None
) -> AwardTerms:
    """The terms a form or a request gives for an award, the rest from the award being edited
    (``current``) or, for a new award, from today and the certification.

    ``values`` holds what the input says, by name (issue_date, expiration_date, always_valid,
    association_type, external_activity); a name left out says nothing, while ``expiration_date:
    None`` says "no expiration date". So that a page and the API default alike:

    - no issue date: the edited award's, or today for a new award;
    - a new award with neither an expiration date nor Always valid: the certification's validity
      from the issue date (always valid when it has none), as an import file's empty cells are;
    - Always valid wins over an expiration date: the award never expires;
    - editing with only Always valid off keeps the award's expiration date (none: refused, as
      ``AwardTerms.checked`` says);
    - no association type: the edited award's, or manual; no external activity: the edited award's.
    """
    named = values.get("association_type")
    if named is None:
        association = current.association_type if current is not None else Award.AssociationType.MANUAL
    else:
        found = association_type_named(str(named))
        if found is None:
            raise AwardInputError(
                [
                    Problem(
                        "unknown_association_type",
                        f"'{named}' is not an association type: use manual, activity_completion or "
                        "external_training.",
                        column="association_type",
                        value=str(named),
                    )
                ]
            )
        association = found
    external = values.get("external_activity", current.external_activity if current is not None else "")
    if current is not None:
        issue = values.get("issue_date") or current.issue_date
        always = values.get(
            "always_valid", current.always_valid if "expiration_date" not in values else False
        )
        expiration = values.get("expiration_date", None if always else current.expiration_date)
    else:
        issue = values.get("issue_date") or timezone.localdate()
        always = bool(values.get("always_valid", False))
        expiration = values.get("expiration_date")
        if expiration is None and not always:
            return default_terms(certification, issue, association, external)
    return AwardTerms(issue, None if always else expiration, bool(always), association, external)


def association_type_named(text: str) -> str | None:
    """The association type a file or form names, in any of its usual spellings."""
    return ASSOCIATION_NAMES.get(" ".join(text.replace("-", " ").split()).casefold())


# Up to this many distinct (certification, terms) in one chunk, one INSERT each; beyond, one for all rows.
GROUPED_STATEMENTS = 20


def create_awards(
    awards: Sequence[tuple[int, int, AwardTerms]],
    *,
    actor_id: int | None,
    job_id: int | None = None,
    now: dt.datetime | None = None,
) -> list[tuple[int, int]]:
    """Award (user, certification, terms); returns the (user, certification) pairs awarded.

    Set-based: one INSERT … SELECT … RETURNING and one audit INSERT whatever the number. A user who
    already holds the certification is left alone — the partial unique index on active awards makes
    that true even for two requests at the same moment.
    """
    if not awards:
        return []
    now = now or timezone.now()
    # Grouped by the terms object first: rows that share one (a job's usually do) are not hashed
    # field by field, row after row; equal terms in distinct objects are then merged.
    shared: dict[tuple[int, int], tuple[AwardTerms, list[int]]] = {}
    for user_id, certification_id, terms in awards:
        group = shared.get((certification_id, id(terms)))
        if group is None:
            group = shared[(certification_id, id(terms))] = (terms, [])
        group[1].append(user_id)
    groups: dict[tuple[int, AwardTerms], list[int]] = {}
    for (certification_id, _), (terms, user_ids) in shared.items():
        groups.setdefault((certification_id, terms), []).extend(user_ids)
    awards_table = table(Award)
    at = connection.ops.adapt_datetimefield_value(now)
    insert = (
        f"INSERT INTO {awards_table} (user_id, certification_id, issue_date, expiration_date, always_valid, "
        "association_type, external_activity, status, awarded_by_id, awarded_by_job_id, created_at, updated_at) "
    )
    guard = (
        f"WHERE NOT EXISTS (SELECT 1 FROM {awards_table} held WHERE held.user_id = w.c0 "
        "AND held.certification_id = w.c1 AND held.status = 'active') "
        "ON CONFLICT DO NOTHING RETURNING id, user_id, certification_id"
    )
    created: list[tuple[Any, ...]] = []
    if len(groups) <= GROUPED_STATEMENTS:
        # The usual case (Award Users, a file of one date): the users travel as one list, the terms
        # as parameters — far less to unpack per row than every row's terms.
        for (certification_id, terms), user_ids in groups.items():
            users, users_param = value_set(user_ids)
            created += fetch(
                f"{insert} SELECT w.value, %s, %s, %s, %s, %s, %s, 'active', %s, %s, %s, %s "
                f"FROM ({users}) w " + guard.replace("w.c0", "w.value").replace("w.c1", "%s"),
                [
                    certification_id,
                    connection.ops.adapt_datefield_value(terms.issue_date),
                    connection.ops.adapt_datefield_value(terms.expiration_date),
                    terms.always_valid,
                    terms.association_type,
                    terms.external_activity,
                    actor_id,
                    job_id,
                    at,
                    at,
                    users_param,
                    certification_id,
                ],
            )
    else:
        rows = [
            (
                user_id,
                certification_id,
                terms.issue_date.isoformat(),
                terms.expiration_date.isoformat() if terms.expiration_date else None,
                terms.always_valid,
                terms.association_type,
                terms.external_activity,
            )
            for user_id, certification_id, terms in awards
        ]
        wanted, wanted_param = tuple_set(
            rows, ("bigint", "bigint", "date", "date", "boolean", "text", "text")
        )
        created = fetch(
            f"{insert} SELECT w.c0, w.c1, w.c2, w.c3, w.c4, w.c5, w.c6, 'active', %s, %s, %s, %s FROM ({wanted}) w "
            + guard,
            [actor_id, job_id, at, at, wanted_param],
        )
    if created:
        record_bulk(
            "award.awarded",
            Award,
            [pk for pk, _, _ in created],
            actor_id=actor_id,
            job_id=job_id,
            before=None,
            after={"status": "active"},
            now=now,
        )
    return [(user_id, certification_id) for _, user_id, certification_id in created]


def holders_among(pairs: Iterable[tuple[int, int]]) -> set[tuple[int, int]]:
    """The (user, certification) pairs that are held now (an active award), in one query."""
    pairs = sorted(set(pairs))
    if not pairs:
        return set()
    certifications = {certification_id for _, certification_id in pairs}
    if len(certifications) == 1:
        # One certification (Award Users, most files): its holders among a list of users, which
        # travels and is looked up more cheaply than a list of pairs.
        (certification_id,) = certifications
        named, users_param = in_values("user_id", [user_id for user_id, _ in pairs])
        return {
            (user_id, certification_id)
            for (user_id,) in fetch(
                f"SELECT user_id FROM {table(Award)} WHERE certification_id = %s AND status = 'active' "
                f"AND {named}",
                [certification_id, users_param],
            )
        }
    wanted, wanted_param = tuple_set(pairs, ("bigint", "bigint"))
    held = fetch(
        f"SELECT a.user_id, a.certification_id FROM ({wanted}) w JOIN {table(Award)} a "
        "ON a.user_id = w.c0 AND a.certification_id = w.c1 AND a.status = 'active'",
        [wanted_param],
    )
    return {(user_id, certification_id) for user_id, certification_id in held}
