"""Every change to enrolments goes through these functions, whether a page, the API or a job asks."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from audit.services import record, record_bulk
from base.problems import InputProblems, Problem
from base.sql import fetch, keyed_rows, table, tuple_set

from .models import Activity, Enrollment, ExternalActivity, ExternalTrainingRecord
from .notices import send_unenrolment_emails
from .signals import completion_recorded


def unenrol(
    enrolments: Sequence[tuple[int, int, bool]],
    *,
    actor_id: int | None,
    job_id: int | None = None,
    now: dt.datetime | None = None,
) -> list[tuple[int, int]]:
    """End the current enrolments named by (user, activity, send email); returns the pairs unenrolled.

    Set-based: one UPDATE … RETURNING (on SQLite, a SELECT and an UPDATE) and at most two audit INSERTs,
    whatever the number of rows.
    The enrolment ends but keeps its completion date, so reports still show a completed course or
    an attended session. Learners marked for an email get one later, once the change has committed.
    """
    if not enrolments:
        return []
    now = now or timezone.now()
    # In the order of the (user, activity) index, whose pages the lookups then walk in order.
    wanted, wanted_param = tuple_set(
        sorted([(u, a, int(e)) for u, a, e in enrolments]), ("bigint", "bigint", "bigint")
    )
    enrollments = table(Enrollment)
    at = connection.ops.adapt_datetimefield_value(now)
    ends = (
        "status = 'unenrolled', unenrolled_at = %s, unenrolled_by_id = %s, unenrolled_by_job_id = %s, "
        "unenrolment_email_sent_at = NULL"
    )
    returning = f"RETURNING {enrollments}.id, {enrollments}.user_id, {enrollments}.activity_id, {enrollments}.completed_on"
    if connection.vendor == "postgresql":
        changed = fetch(
            f"UPDATE {enrollments} SET {ends}, unenrolment_email = CASE WHEN w.c2 = 1 THEN 'pending' ELSE '' END "
            f"FROM ({wanted}) w WHERE {enrollments}.user_id = w.c0 AND {enrollments}.activity_id = w.c1 "
            f"AND NOT ({enrollments}.status = 'unenrolled') {returning}",
            [at, actor_id, job_id, wanted_param],
        )
    else:
        # In a transaction, SQLite keeps a copy of every page changed by a statement that could fail
        # halfway, to undo that statement alone: 100 MB of memory for 50,000 enrolments, and UPDATE …
        # FROM is always such a statement. So the enrolments are found first (through the partial
        # unique index: its condition is written as in the index, so that SQLite uses it), their ids
        # kept in SQLite as two JSON arrays (all, and those to email), and then changed by id with
        # UPDATE OR FAIL, which needs no copy: no constraint can fail there, and an error rolls the
        # whole transaction back anyway.
        ((named, emailed),) = fetch(
            "SELECT json_group_array(e.id), json_group_array(e.id) FILTER (WHERE w.c2 = 1) "
            f"FROM ({wanted}) w JOIN {enrollments} e "
            "ON e.user_id = w.c0 AND e.activity_id = w.c1 AND NOT (e.status = 'unenrolled')",
            [wanted_param],
        )
        changed = fetch(
            f"UPDATE OR FAIL {enrollments} SET {ends}, "
            "unenrolment_email = CASE WHEN id IN (SELECT value FROM json_each(%s)) THEN 'pending' ELSE '' END "
            f"WHERE id IN (SELECT value FROM json_each(%s)) AND NOT (status = 'unenrolled') {returning}",
            [at, actor_id, job_id, emailed, named],
        )
    for was, ids in (
        ("completed", [pk for pk, _, _, completed in changed if completed is not None]),
        ("enrolled", [pk for pk, _, _, completed in changed if completed is None]),
    ):
        if ids:
            record_bulk(
                "enrollment.unenrolled",
                Enrollment,
                ids,
                actor_id=actor_id,
                job_id=job_id,
                before={"status": was},
                after={"status": "unenrolled"},
                now=now,
            )
    return [(user_id, activity_id) for _, user_id, activity_id, _ in changed]


def unenrol_one(enrollment: Enrollment, *, send_email: bool, actor: Any) -> bool:
    """Unenrol one learner by hand, as an import row would (``unenrol``, with its audit record); the
    email, when asked for, goes once the change has committed. False when it had ended already."""
    with transaction.atomic():
        done = unenrol([(enrollment.user_id, enrollment.activity_id, send_email)], actor_id=actor.pk)
        if done and send_email:
            transaction.on_commit(lambda: send_unenrolment_emails(enrollment_ids=[enrollment.pk]))
    return bool(done)


def enrol(user_id: int, activity_id: int, *, actor: Any) -> Enrollment | None:
    """Enrol a learner in an activity (again), recorded in the audit trail; None when they are
    enrolled already (the partial unique index decides between two simultaneous requests)."""
    try:
        with transaction.atomic():
            enrollment = Enrollment.objects.create(
                user_id=user_id, activity_id=activity_id, enrolled_at=timezone.now()
            )
            record("enrollment.enrolled", actor=actor, obj=enrollment, after={"status": "enrolled"})
    except IntegrityError:
        return None
    return enrollment


def restore_enrolments(
    pairs: Sequence[tuple[int, int]],
    *,
    unenrolled_by_job_id: int,
    actor_id: int | None,
    job_id: int | None,
    now: dt.datetime | None = None,
) -> list[tuple[int, int]]:
    """Give back the enrolments that job ``unenrolled_by_job_id`` ended, as they were.

    An enrolment comes back as completed when it had been completed, else as enrolled; it is left
    alone when the user has been enrolled in the activity again since. An unenrolment email not yet
    sent is cancelled. Returns the (user, activity) pairs restored.
    """
    if not pairs:
        return []
    now = now or timezone.now()
    enrollments = table(Enrollment)
    # Keyed by (user, activity): joined to the job's enrolments, found by the job, row by row.
    with keyed_rows(list(dict.fromkeys(map(tuple, pairs))), ("bigint", "bigint"), key=2) as (wanted, params):
        restored = fetch(
            f"UPDATE {enrollments} SET "
            f"status = CASE WHEN {enrollments}.completed_on IS NULL THEN 'enrolled' ELSE 'completed' END, "
            f"unenrolled_at = NULL, unenrolled_by_id = NULL, unenrolled_by_job_id = NULL, "
            f"unenrolment_email = CASE WHEN {enrollments}.unenrolment_email = 'pending' THEN '' "
            f"ELSE {enrollments}.unenrolment_email END "
            f"FROM {wanted} w WHERE {enrollments}.user_id = w.c0 AND {enrollments}.activity_id = w.c1 "
            f"AND {enrollments}.status = 'unenrolled' AND {enrollments}.unenrolled_by_job_id = %s "
            f"AND NOT EXISTS (SELECT 1 FROM {enrollments} again WHERE again.user_id = {enrollments}.user_id "
            f"AND again.activity_id = {enrollments}.activity_id AND NOT (again.status = 'unenrolled')) "
            f"RETURNING {enrollments}.id, {enrollments}.user_id, {enrollments}.activity_id",
            [*params, unenrolled_by_job_id],
        )
    if restored:
        record_bulk(
            "enrollment.restored",
            Enrollment,
            [pk for pk, _, _ in restored],
            actor_id=actor_id,
            job_id=job_id,
            before={"status": "unenrolled", "unenrolled_by_job": unenrolled_by_job_id},
            after={"status": "enrolled or completed, as before"},
            now=now,
        )
    return [(user_id, activity_id) for _, user_id, activity_id in restored]


def enrolment_states(pairs: Sequence[tuple[int, int]]) -> dict[tuple[int, int], str]:
    """(user, activity) -> "enrolled", "completed", or "unenrolled" when every enrolment of the pair has
    ended; pairs with no enrolment at all are absent.

    Two queries whatever the number of pairs: the current enrolments first, through the partial unique
    index (its condition written as in the index, so that SQLite uses it), then the history of the
    pairs that have none.
    """
    if not pairs:
        return {}
    wanted, wanted_param = tuple_set(pairs, ("bigint", "bigint"))
    states: dict[tuple[int, int], str] = {
        (user_id, activity_id): status
        for user_id, activity_id, status in fetch(
            f"SELECT e.user_id, e.activity_id, e.status FROM ({wanted}) w JOIN {table(Enrollment)} e "
            "ON e.user_id = w.c0 AND e.activity_id = w.c1 AND NOT (e.status = 'unenrolled')",
            [wanted_param],
        )
    }
    others = [pair for pair in pairs if pair not in states]
    if others:
        rest, rest_param = tuple_set(others, ("bigint", "bigint"))
        for user_id, activity_id in fetch(
            f"SELECT DISTINCT e.user_id, e.activity_id FROM ({rest}) w JOIN {table(Enrollment)} e "
            "ON e.user_id = w.c0 AND e.activity_id = w.c1",
            [rest_param],
        ):
            states[(user_id, activity_id)] = Enrollment.Status.UNENROLLED
    return states


class ActivityInputError(InputProblems):
    """A change to an activity that cannot stand."""


def change_external_reference(activity: Activity, reference: str | None, *, actor: Any) -> Activity:
    """Give an activity its external reference (blank: none), recorded in the audit trail.

    Each activity needs its own: a reference another activity has is refused, also when two
    administrators give it at the same moment (the unique constraint decides, and the second is told).
    """
    reference = (reference or "").strip() or None
    if reference is not None:
        taken = Activity.objects.filter(external_reference=reference).exclude(pk=activity.pk).first()
        if taken is not None:
            raise ActivityInputError(
                [
                    Problem(
                        "external_reference_taken",
                        f"The external reference '{reference}' is already used by '{taken.title}'. "
                        "Each activity needs its own.",
                        column="external_reference",
                        value=reference,
                    )
                ]
            )
    before = activity.external_reference
    try:
        with transaction.atomic():
            activity.external_reference = reference
            activity.save(update_fields=["external_reference"])
            record(
                "activity.external_reference_changed",
                actor=actor,
                obj=activity,
                before={"external_reference": before},
                after={"external_reference": reference},
            )
    except IntegrityError:
        activity.external_reference = before
        raise ActivityInputError(
            [
                Problem(
                    "external_reference_taken",
                    f"The external reference '{reference}' was just taken by another activity.",
                    column="external_reference",
                    value=reference,
                )
            ]
        ) from None
    return activity


@dataclass
class Completion:
    """What recording a completion did: whether it was new, and the certifications it awarded."""

    recorded: bool
    awarded: list[Any] = field(default_factory=list)


def complete_enrollment(enrollment_id: int, completed_on: dt.date, *, actor: Any = None) -> Completion:
    """Mark an enrolment completed and award the certifications its activity is assigned to, once.

    A conditional UPDATE (enrolled -> completed) decides which of two simultaneous requests records the
    completion; the other changes nothing. The award itself is protected again by the partial unique
    index on active awards.
    """
    with transaction.atomic():
        recorded = Enrollment.objects.filter(pk=enrollment_id, status=Enrollment.Status.ENROLLED).update(
            status=Enrollment.Status.COMPLETED, completed_on=completed_on
        )
        if not recorded:
            return Completion(recorded=False)
        enrollment = Enrollment.objects.select_related("activity").get(pk=enrollment_id)
        record(
            "enrollment.completed",
            actor=actor,
            obj=enrollment,
            before={"status": "enrolled"},
            after={"status": "completed", "completed_on": completed_on.isoformat()},
        )
        awarded = _announce(
            user_id=enrollment.user_id, completed_on=completed_on, actor=actor, activity=enrollment.activity
        )
    return Completion(recorded=True, awarded=awarded)


def record_external_training(
    user_id: int, external_activity_id: int, completed_on: dt.date, *, actor: Any = None
) -> Completion:
    """Record an external training activity a learner completed, and award the certifications it is
    assigned to (association type "external training activity", with its name). Recording the same
    completion twice is one record and awards once."""
    activity = ExternalActivity.objects.get(pk=external_activity_id)
    with transaction.atomic():
        try:
            with transaction.atomic():
                entry = ExternalTrainingRecord.objects.create(
                    user_id=user_id, external_activity=activity, completed_on=completed_on, recorded_by=actor
                )
        except IntegrityError:
            return Completion(recorded=False)
        record(
            "external_training.recorded",
            actor=actor,
            obj=entry,
            after={"completed_on": completed_on.isoformat()},
        )
        awarded = _announce(
            user_id=user_id, completed_on=completed_on, actor=actor, external_activity=activity
        )
    return Completion(recorded=True, awarded=awarded)


def _announce(**completion: Any) -> list[Any]:
    """Tell the apps that act on completions (credentials awards what it earns), inside the
    completion's transaction, so that a failure there records nothing; what they awarded."""
    awarded: list[Any] = []
    for _receiver, response in completion_recorded.send(sender=Enrollment, **completion):
        awarded.extend(response or [])
    return awarded
