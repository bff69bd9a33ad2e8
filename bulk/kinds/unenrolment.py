"""Batch unenrolment: unenrol users from courses and sessions named by their external reference.

The published process (Import unenrolments): columns Username, Activity external reference and
Send unenrolment email (Yes/No). Validation is per row — only file-level errors reject the file —
and each row gets its own outcome: Unenrolled, Skipped (not enrolled, or already unenrolled) or
Error (Username not recognised, Activity external reference not recognised, email flag not Yes/No).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from django.db.models import Count, Q

from access.permissions import IMPORT_UNENROLMENTS
from base.cells import yes_no, yes_no_missing
from base.keys import Matches, match_keys
from base.sql import fetch, tuple_set
from base.sql import table as db_table
from learning.models import Activity, Enrollment
from learning.notices import send_unenrolment_emails
from learning.services import enrolment_states, restore_enrolments, unenrol
from people.models import User

from ..intake import Column, Row
from ..kind import Change, JobKind, Leftover, Plan, StagedRow, UploadPage, Validation
from ..models import JobRow
from ..staging import count_keys, mark_chunk, mark_repeats, mark_seqs

if TYPE_CHECKING:
    from ..models import Job

USERNAME = "Username"
REFERENCE = "Activity external reference"
SEND_EMAIL = "Send unenrolment email"
# Learner emails sent when a job ends, and by each sweep of an idle worker; the rest wait their turn.
EMAILS_PER_TURN = 1000
PENDING, ERROR, SKIPPED, SUCCEEDED = (
    JobRow.Outcome.PENDING.value,
    JobRow.Outcome.ERROR.value,
    JobRow.Outcome.SKIPPED.value,
    JobRow.Outcome.SUCCEEDED.value,
)
COMPLETED, UNENROLLED = Enrollment.Status.COMPLETED.value, Enrollment.Status.UNENROLLED.value
NO_ADDRESS = "The user has no email address, so no unenrolment email can be sent."
COMPLETION_KEPT = "The completion is kept: the activity still shows as completed in reports."
REPEATS = "Same user and activity as row {first}; only row {first} is used."
# The staged data of a row whose learner gets an email: one object, only ever read (and serialised).
EMAIL: dict[str, Any] = {"email": True}


class Unenrolment(JobKind):
    slug = "unenrolment"
    label = "Unenrolment"
    tool_name = "Import unenrolments"
    permission = IMPORT_UNENROLMENTS
    permission_name = "Import unenrolments"
    trail = (("Catalogue", "web:catalogue"), ("Unenrolment imports", "web:unenrolment-imports"))
    upload = UploadPage(heading="Import unenrolments", url_name="web:import-unenrolments")
    columns = [
        Column(
            USERNAME, max_length=150, help="The user's unique username. The user account must already exist."
        ),
        Column(
            REFERENCE,
            max_length=100,
            help="The external reference of the course or session, as set on its properties page in the Catalogue.",
        ),
        Column(
            SEND_EMAIL,
            blank_ok=True,
            max_length=100,
            parse=yes_no(SEND_EMAIL),
            help="Yes or No: whether to send this user an unenrolment email.",
        ),
    ]
    # Upload size and rows: CERTDESK_UNENROLMENT_MAX_BYTES and CERTDESK_UNENROLMENT_MAX_ROWS.
    extensions = (".csv", ".txt", ".xml", ".xlsx")
    strict = False
    key_column = USERNAME
    result_labels = {
        "pending": "Not processed",
        "succeeded": "Unenrolled",
        "skipped": "Skipped",
        "error": "Error",
    }
    preview_labels = {"pending": "Would unenrol", "skipped": "Skipped", "error": "Error"}
    outcome_messages = {"succeeded": "Unenrolled."}
    restorable = True
    restore_labels = {
        "pending": "Not processed",
        "succeeded": "Re-enrolled",
        "skipped": "Skipped",
        "error": "Error",
    }
    restore_messages = {"succeeded": "Enrolment restored as it was before job {restore_of}."}

    target_label = "Activity"
    change_fields = ("Status", "Unenrolment email")

    def target_names(self, ids: Sequence[int]) -> dict[int, str]:
        return {pk: str(a) for pk, a in Activity.objects.in_bulk(list(ids)).items()}

    def changes(self, job: Job, rows: Sequence[StagedRow]) -> dict[int, Change]:
        if job.params.get("restore_of"):
            return {
                row.seq: Change("Would re-enrol", {"Status": "Unenrolled"}, {"Status": "As before the job"})
                for row in rows
            }
        pairs = {row.seq: (row.user_id or 0, row.target_id or 0) for row in rows}
        states = enrolment_states(sorted(set(pairs.values())))
        return {
            row.seq: Change(
                "Would unenrol",
                {"Status": str(Enrollment.Status(states.get(pairs[row.seq], "enrolled")).label)},
                {"Status": "Unenrolled", "Unenrolment email": "Yes" if row.data else "No"},
            )
            for row in rows
        }

    def validation(self, actor: User) -> UnenrolmentValidation:
        return UnenrolmentValidation(actor)

    def _pending(self, job: Job, lo: int, hi: int) -> list[tuple[Any, ...]]:
        """(seq, user, activity, whether the row has data: an email to send) of the chunk's rows still
        to apply."""
        return fetch(
            f"SELECT seq, user_id, target_id, data IS NOT NULL FROM {db_table(JobRow)} WHERE job_id = %s "
            "AND seq >= %s AND seq < %s AND outcome = 'pending' AND user_id IS NOT NULL",
            [job.pk, lo, hi],
        )

    def apply_chunk(self, job: Job, lo: int, hi: int, now: dt.datetime) -> list[Leftover]:
        pending = self._pending(job, lo, hi)
        done = unenrol(
            [(user_id, activity_id, bool(email)) for _, user_id, activity_id, email in pending],
            actor_id=job.created_by_id,
            job_id=job.pk,
            now=now,
        )
        self._mark_changed(job, lo, hi, pending, done)
        # Still pending: valid when the file was checked, but the user has been unenrolled since.
        return [Leftover(SKIPPED, "The user was no longer enrolled when the job ran; nothing to unenrol.")]

    restore_object_type = "learning.enrollment"

    def restore_objects(self, job: Job, rows: Sequence[tuple[int, int, int, Any]]) -> dict[int, list[int]]:
        # Every enrolment of the pairs: a new one made since (enrolled again) counts as a change.
        pairs, param = tuple_set(
            sorted({(user, activity) for _, user, activity, _ in rows}), ("bigint", "bigint")
        )
        enrolments: dict[tuple[int, int], list[int]] = {}
        for pk, user, activity in fetch(
            f"SELECT e.id, e.user_id, e.activity_id FROM ({pairs}) p JOIN {db_table(Enrollment)} e "
            "ON e.user_id = p.c0 AND e.activity_id = p.c1",
            [param],
        ):
            enrolments.setdefault((user, activity), []).append(pk)
        return {seq: enrolments.get((user, activity), []) for seq, user, activity, _ in rows}

    def apply_restore_chunk(self, job: Job, lo: int, hi: int, now: dt.datetime) -> list[Leftover]:
        pending = self._pending(job, lo, hi)
        # Marked first: the rows restored are then marked by their range, which must not take these.
        left_alone: set[int] = set()
        for leftover in self.changed_since_job(job, pending):
            mark_seqs(job, leftover.seqs or (), leftover.outcome, leftover.message)
            left_alone.update(leftover.seqs or ())
        pending = [row for row in pending if row[0] not in left_alone]
        done = restore_enrolments(
            [(user_id, activity_id) for _, user_id, activity_id, _ in pending],
            unenrolled_by_job_id=job.params["restore_of"],
            actor_id=job.created_by_id,
            job_id=job.pk,
            now=now,
        )
        self._mark_changed(job, lo, hi, pending, done)
        return [
            Leftover(
                SKIPPED,
                "Not re-enrolled: the user is enrolled in this activity again, or the enrolment has changed "
                f"since job {job.params['restore_of']} ended it.",
            ),
        ]

    def _mark_changed(
        self, job: Job, lo: int, hi: int, pending: list[tuple[Any, ...]], done: list[tuple[int, int]]
    ) -> None:
        """Rows whose (user, activity) changed succeeded: one UPDATE, naming whichever is fewer."""
        # The pending rows name distinct pairs (validation skips repeats), each changed at most once:
        # as many changes as rows means that every row changed, as it usually does.
        if len(done) == len(pending):
            if pending:
                mark_chunk(job, lo, hi, SUCCEEDED, named_only=True)
            return
        changed = set(done)
        unchanged = [seq for seq, user_id, activity_id, _ in pending if (user_id, activity_id) not in changed]
        if 2 * len(unchanged) >= len(pending):
            # Most rows did not change: name the ones that did.
            mark_seqs(
                job,
                [seq for seq, user_id, activity_id, _ in pending if (user_id, activity_id) in changed],
                SUCCEEDED,
            )
        else:
            # Most rows changed: mark them by their range, all but the few that did not.
            mark_chunk(job, lo, hi, SUCCEEDED, named_only=True, except_seqs=unchanged)

    def send_notices(self, job: Job | None) -> int:
        """The learners' unenrolment emails, once the job's changes have committed.

        A bounded number at a time, so that a worker is not held from the next job for long; the idle
        workers' sweep sends the rest.
        """
        if job is not None and (job.params.get("restore_of") or not job.is_finished):
            return 0
        return send_unenrolment_emails(job.pk if job is not None else None, limit=EMAILS_PER_TURN)

    def example_rows(self) -> list[list[str]]:
        return [
            ["amelia.smith1", "FS-COURSE", "Yes"],
            ["oliver.jones2", "FS-COURSE", "No"],
            ["isla.taylor3", "MH-COURSE", "Yes"],
        ]


class UnenrolmentValidation(Validation):
    """Each row's user and activity, looked up a batch at a time. A row repeating an earlier (user,
    activity) pair, in any batch, is found once the rows are staged."""

    def __init__(self, actor: User) -> None:
        super().__init__(actor)
        self.counts = {"would_unenrol": 0, "skipped": 0, "errors": 0, "emails": 0}
        self.users = self.activities = 0

    def check(self, rows: list[Row]) -> list[StagedRow]:
        users = self._users(rows)
        activities = self._activities(rows)
        values_of = [row.values for row in rows]
        usernames = [values[USERNAME] for values in values_of]
        sends = [values[SEND_EMAIL] for values in values_of]
        # Each row's user (pk, has an email address) and activity (pk, title), None when not found.
        user_rows = list(map(users.found.get, usernames))
        activity_rows = list(map(activities.found.get, [values[REFERENCE] for values in values_of]))
        states = enrolment_states(
            sorted({(u[0], a[0]) for u, a in zip(user_rows, activity_rows, strict=True) if u and a})
        )
        state_of = states.get
        # Keys typed in another case get a note on each of their rows; there are seldom any.
        taken = bool(users.taken_as or activities.taken_as)

        staged_rows: list[StagedRow] = []
        add = staged_rows.append
        would_unenrol = skipped = errors = emails = 0
        for row, username, send, user, activity in zip(
            rows, usernames, sends, user_rows, activity_rows, strict=True
        ):
            if user is None or activity is None or send is None or row.problems:
                problems = self._errors(row, user, activity, users, activities)
                if problems:
                    message = " ".join(dict.fromkeys(problems))
                    add(
                        StagedRow(
                            seq=row.seq,
                            row_number=row.row_number,
                            cells=row.cells,
                            key=username or "",
                            outcome=ERROR,
                            message=message,
                        )
                    )
                    errors += 1
                    continue
                assert user is not None and activity is not None
            user_id, activity_id = pair = (user[0], activity[0])
            row_number = row.row_number
            state = state_of(pair)
            if state is None or state == UNENROLLED:
                message = (
                    f"'{username}' is already unenrolled from '{activity[1]}'."
                    if state
                    else f"'{username}' is not enrolled in '{activity[1]}'."
                )
                add(
                    StagedRow(
                        row.seq, row_number, row.cells, username, user_id, activity_id, None, SKIPPED, message
                    )
                )
                skipped += 1
                continue
            would_unenrol += 1
            data = None
            message = ""
            if send and not user[1]:
                message = NO_ADDRESS
            elif send:
                data = EMAIL
                emails += 1
            if taken or state == COMPLETED:
                notes = [message]
                if taken:
                    for key, matches, what in (
                        (username, users, "username"),
                        (row.values[REFERENCE], activities, "reference"),
                    ):
                        notes.append(matches.note(key, what))
                if state == COMPLETED:
                    notes.append(COMPLETION_KEPT)
                message = " ".join(n for n in notes if n)
            add(
                StagedRow(
                    row.seq, row_number, row.cells, username, user_id, activity_id, data, PENDING, message
                )
            )

        counts = self.counts
        counts["would_unenrol"] += would_unenrol
        counts["skipped"] += skipped
        counts["errors"] += errors
        counts["emails"] += emails
        return staged_rows

    def staged(self, job: Job) -> bool:
        pair = ["user_id", "target_id"]
        keys = count_keys(job, pair, distinct=[0, 1])
        self.users, self.activities = keys.distinct
        if not keys.repeats:
            return False
        mark_repeats(job, pair, SKIPPED, REPEATS)
        counted = (
            job.rows.values_list("outcome")
            .annotate(n=Count("id"), emails=Count("id", filter=Q(data__isnull=False)))
            .order_by()
        )
        by_outcome = {outcome: (n, emails) for outcome, n, emails in counted}
        self.counts = {
            "would_unenrol": by_outcome.get(PENDING, (0, 0))[0],
            "skipped": by_outcome.get(SKIPPED, (0, 0))[0],
            "errors": by_outcome.get(ERROR, (0, 0))[0],
            "emails": by_outcome.get(PENDING, (0, 0))[1],
        }
        return True

    def finish(self) -> Plan:
        self.summary = {**self.counts, "activities": self.activities, "users": self.users}
        return super().finish()

    @staticmethod
    def _errors(
        row: Row,
        user: tuple[Any, ...] | None,
        activity: tuple[Any, ...] | None,
        users: Matches[tuple[Any, ...]],
        activities: Matches[tuple[Any, ...]],
    ) -> list[str]:
        """What makes a row an error: its own problems, an unknown username or reference, no Yes/No."""
        username, reference, send = row.values[USERNAME], row.values[REFERENCE], row.values[SEND_EMAIL]
        errors = [p.message for p in row.problems]
        if username and user is None:
            errors.append(
                f"Username not recognised: '{username}' could be any of {users.candidates(username)}, "
                "which differ only in case; write it exactly."
                if username in users.ambiguous
                else f"Username not recognised: no user account has the username '{username}'."
            )
        if reference and activity is None:
            errors.append(
                f"Activity external reference not recognised: '{reference}' could be any of "
                f"{activities.candidates(reference)}, which differ only in case; write it exactly."
                if reference in activities.ambiguous
                else "Activity external reference not recognised: no course or session in the catalogue has "
                f"the external reference '{reference}'."
            )
        if send is None and not any(p.column == SEND_EMAIL for p in row.problems):
            errors.append(yes_no_missing(SEND_EMAIL))
        return errors

    def _users(self, rows: list[Row]) -> Matches[tuple[Any, ...]]:
        """Username -> (user pk, has an email address) for the usernames of the batch that exist."""
        names = {row.values[USERNAME] for row in rows if row.values[USERNAME]}
        return match_keys(names, f"SELECT {{column}}, id, email <> '' FROM {db_table(User)}", "username")

    def _activities(self, rows: list[Row]) -> Matches[tuple[Any, ...]]:
        """External reference -> (activity pk, title) for the references of the batch that exist."""
        references = {row.values[REFERENCE] for row in rows if row.values[REFERENCE]}
        return match_keys(
            references, f"SELECT {{column}}, id, title FROM {db_table(Activity)}", "external_reference"
        )
