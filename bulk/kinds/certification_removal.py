"""Certification removal: remove the users of a file from one certification.

The published rules: columns Certification ID and User ID, 1MB at most, exactly one certification
per file, and strict validation — any invalid row rejects the file and every offending row is listed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from access.permissions import MANAGE_CERTIFICATION_REMOVAL
from base.keys import Matches, exact_keys, match_keys, taken_note
from base.problems import INVALID_CERTIFICATION, INVALID_USERS, Problem
from base.sql import fetch, in_values
from base.sql import table as db_table
from credentials.models import Award, Certification
from credentials.services import active_awards, remove_awards, restore_awards
from people.models import User

from ..intake import Column, Row
from ..kind import Change, JobKind, Leftover, Plan, StagedRow, UploadPage, Validation
from ..models import JobRow
from ..staging import count_keys, mark_chunk, mark_repeats, mark_rows

if TYPE_CHECKING:
    from ..models import Job

CERTIFICATION_ID = "Certification ID"
USER_ID = "User ID"
NO_LONGER_HOLDS = "The user no longer holds certification {code}; nothing to remove."
REPEATS = "User ID '{key}' repeats row {first}; the user is removed once."
STATUS, ISSUED, EXPIRES = "Status", "Issue date", "Expiration date"


def _day(value: dt.date | None, always_valid: bool = False) -> str:
    return "Always valid" if always_valid else value.isoformat() if value else ""


class CertificationRemoval(JobKind):
    slug = "certification-removal"
    label = "Certification removal"
    tool_name = "Certification Removal Tool"
    permission = MANAGE_CERTIFICATION_REMOVAL
    permission_name = "Manage certification removal jobs"
    trail = (("Certification Removal Tool", "web:removal-tool"),)
    upload = UploadPage(heading="Create a Certification Removal Job", url_name="web:removal-new")
    columns = [
        Column(
            CERTIFICATION_ID, max_length=100, help="The certification to remove users from (one per file)."
        ),
        Column(USER_ID, max_length=100, help="The User ID of a user who holds the certification."),
    ]
    # Upload size and rows: CERTDESK_REMOVAL_MAX_BYTES (1MB, published) and CERTDESK_REMOVAL_MAX_ROWS.
    extensions = (".csv",)
    strict = True
    key_column = USER_ID
    result_labels = {
        "pending": "Not processed",
        "succeeded": "Removed",
        "skipped": "Skipped",
        "error": "Error",
    }
    preview_labels = {"pending": "Would remove", "skipped": "Skipped", "error": "Error"}
    outcome_messages = {"succeeded": "Removed from certification {certification_code}."}
    restorable = True
    restore_messages = {"succeeded": "Restored to certification {certification_code}."}

    def validation(self, actor: User) -> RemovalValidation:
        return RemovalValidation(actor)

    def apply_chunk(self, job: Job, lo: int, hi: int, now: dt.datetime) -> list[Leftover]:
        certification_id = job.params["certification_id"]
        code = job.params["certification_code"]
        users = list(
            JobRow.objects.filter(
                job_id=job.pk, seq__gte=lo, seq__lt=hi, outcome=JobRow.Outcome.PENDING, user_id__isnull=False
            ).values_list("user_id", flat=True)
        )
        removed = remove_awards(certification_id, users, actor_id=job.created_by_id, job_id=job.pk, now=now)
        # The message of a removed row is the kind's default; storing it 50,000 times costs writes. The
        # pending rows name distinct users: as many removed as named means every one of them was.
        if len(removed) == len(users):
            mark_chunk(job, lo, hi, JobRow.Outcome.SUCCEEDED, named_only=True)
        else:
            mark_rows(job, lo, hi, removed, JobRow.Outcome.SUCCEEDED)
        # What is still pending was valid when the file was checked, but the world moved on.
        return [Leftover(JobRow.Outcome.SKIPPED, NO_LONGER_HOLDS.format(code=code))]

    restore_object_type = "credentials.award"

    def restore_objects(self, job: Job, rows: Sequence[tuple[int, int, int, Any]]) -> dict[int, list[int]]:
        # Every award of the certification the users have had: a new one made since counts as a change.
        users, param = in_values("user_id", [user for _, user, _, _ in rows])
        awards: dict[int, list[int]] = {}
        for pk, user in fetch(
            f"SELECT id, user_id FROM {db_table(Award)} WHERE certification_id = %s AND {users}",
            [job.params["certification_id"], param],
        ):
            awards.setdefault(user, []).append(pk)
        return {seq: awards.get(user, []) for seq, user, _, _ in rows}

    def apply_restore_chunk(self, job: Job, lo: int, hi: int, now: dt.datetime) -> list[Leftover]:
        certification_id = job.params["certification_id"]
        pending = self.pending_rows(job, lo, hi)
        changed = self.changed_since_job(job, pending)
        left_alone = {seq for leftover in changed for seq in leftover.seqs or ()}
        restored = restore_awards(
            certification_id,
            [user for seq, user, _, _ in pending if seq not in left_alone],
            removed_by_job_id=job.params["restore_of"],
            actor_id=job.created_by_id,
            job_id=job.pk,
            now=now,
        )
        mark_rows(job, lo, hi, restored, JobRow.Outcome.SUCCEEDED)
        return [
            *changed,
            Leftover(
                JobRow.Outcome.SKIPPED,
                f"Not restored: the user holds certification {job.params['certification_code']} again, or the "
                f"award has changed since job {job.params['restore_of']} removed it.",
            ),
        ]

    def example_rows(self) -> list[list[str]]:
        return [["CERT-001", "U000123"], ["CERT-001", "U000456"], ["CERT-001", "U000789"]]

    target_label = "Certification"
    change_fields = (STATUS, ISSUED, EXPIRES)

    def target_names(self, ids: Sequence[int]) -> dict[int, str]:
        return {pk: str(c) for pk, c in Certification.objects.in_bulk(list(ids)).items()}

    def changes(self, job: Job, rows: Sequence[StagedRow]) -> dict[int, Change]:
        if job.params.get("restore_of"):
            return {row.seq: Change("Would restore", {STATUS: "Removed"}, {STATUS: "Active"}) for row in rows}
        held = active_awards(job.params["certification_id"], [row.user_id for row in rows if row.user_id])
        changes = {}
        for row in rows:
            issue, expiration, always = held.get(row.user_id or 0, (None, None, False))
            dates = {ISSUED: _day(issue), EXPIRES: _day(expiration, always)}
            changes[row.seq] = Change(
                "Would remove", {STATUS: "Active", **dates}, {STATUS: "Removed", **dates}
            )
        return changes

    def share_of_holders(self, job: Job, changing: int, *, checked_now: bool = False) -> float | None:
        if job.params.get("restore_of") or "certification_id" not in job.params:
            return None  # a restore gives back; it takes nothing away
        holds = Award.objects.filter(
            certification_id=job.params["certification_id"], status=Award.Status.ACTIVE
        )
        holders = holds.count()
        # Of the rows, those whose user holds it now: a row overtaken since validation takes nothing.
        taking = (
            changing
            if checked_now
            else job.rows.filter(outcome=JobRow.Outcome.PENDING, user_id__in=holds.values("user_id")).count()
        )
        return taking / holders if holders else None


class RemovalValidation(Validation):
    """Every row must name the file's one certification and a user who holds it; a repeated User ID is
    removed once. Across batches it keeps the certification and the first few User IDs (the summary's
    sample); repeats are found once the rows are staged."""

    def __init__(self, actor: User) -> None:
        super().__init__(actor)
        self.certification: Certification | None = None
        self.first: tuple[int, str] | None = None  # the row and code of the first Certification ID
        self.same: set[str] = set()  # the spellings that name the file's certification
        self.candidates = ""  # the certifications the first Certification ID could mean, if several
        self.sample: list[str] = []
        self.users = 0
        self.rows_seen = 0

    def check(self, rows: list[Row]) -> list[StagedRow]:
        for row in rows:
            self.problems.extend(row.problems)
        self.rows_seen += len(rows)
        self._certification(rows)
        certification = self.certification
        holders = self._holders(rows)
        found_of, taken_as = holders.found.get, holders.taken_as
        sample = self.sample
        staged_rows: list[StagedRow] = []
        for row in rows:
            user_key = row.values[USER_ID]
            staged = StagedRow(seq=row.seq, row_number=row.row_number, cells=row.cells, key=user_key or "")
            staged_rows.append(staged)
            if user_key is None:
                continue  # already reported as a data format problem
            if len(sample) < 10:
                # A User ID typed in another case is the same user as the one it was taken as.
                user = taken_as.get(user_key, user_key)
                if user not in sample:
                    sample.append(user)
            if certification is None:
                continue
            found = found_of(user_key)
            if self.revalidating and (found is None or not found[1]):
                # As the run treats a row the world has overtaken: Skipped, not a problem with the file.
                staged.outcome = JobRow.Outcome.SKIPPED
                if found:
                    staged.message = NO_LONGER_HOLDS.format(code=certification.code)
                elif user_key in holders.ambiguous:
                    staged.message = (
                        f"User ID '{user_key}' could now be any of {holders.candidates(user_key)}, which "
                        "differ only in case; nothing is removed."
                    )
                else:
                    staged.message = f"No user has the User ID '{user_key}' any more; nothing to remove."
            elif found is None:
                self.problems.add(
                    Problem(
                        INVALID_USERS,
                        f"User ID '{user_key}' could be any of {holders.candidates(user_key)}, which differ only "
                        "in case; write it exactly."
                        if user_key in holders.ambiguous
                        else f"No user has the User ID '{user_key}'.",
                        row.row_number,
                        USER_ID,
                        user_key,
                    )
                )
            elif not found[1]:
                self.problems.add(
                    Problem(
                        INVALID_USERS,
                        f"'{user_key}' is not enrolled in certification {certification.code}.",
                        row.row_number,
                        USER_ID,
                        user_key,
                    )
                )
            else:
                staged.user_id = found[0]
                staged.target_id = certification.pk
                code = row.values[CERTIFICATION_ID]
                # Keys typed in another case get a note on each of their rows; there are seldom any.
                code_taken = code != certification.code and code in self.same
                if code_taken or user_key in taken_as:
                    notes = (
                        holders.note(user_key, "User ID"),
                        taken_note(code, "Certification ID", certification.code) if code_taken else "",
                    )
                    staged.message = " ".join(n for n in notes if n)
        return staged_rows

    def staged(self, job: Job) -> bool:
        keys = count_keys(job, ["user_id"])
        self.users = keys.keys
        return bool(keys.repeats and mark_repeats(job, ["user_id"], JobRow.Outcome.SKIPPED, REPEATS))

    def finish(self) -> Plan:
        certification = self.certification
        if certification is not None:
            self.params = {"certification_id": certification.pk, "certification_code": certification.code}
            self.summary = {
                "certification": {
                    "id": certification.pk,
                    "code": certification.code,
                    "title": certification.title,
                },
                "users": self.users,
                "repeated_rows": self.rows_seen - self.users,
                "sample": self.sample,
            }
        return super().finish()

    def _certification(self, rows: list[Row]) -> None:
        """The file's one certification, from its first Certification ID; every row naming another, or an
        unknown one, is a problem."""
        named = [(row, row.values[CERTIFICATION_ID]) for row in rows if row.values[CERTIFICATION_ID]]
        if not named:
            return
        select = f"SELECT {{column}}, id FROM {db_table(Certification)}"
        if self.first is None:
            first_row, code = named[0]
            self.first = (first_row.row_number, code)
            self.same = {code}
            matches = match_keys({code}, select, "code")
            found = matches.found.get(code)
            self.certification = Certification.objects.filter(pk=found[0]).first() if found else None
            self.candidates = matches.candidates(code)
        first_number, code = self.first
        certification = self.certification
        spellings = {other for _, other in named}
        if certification is not None and spellings <= self.same:
            return  # the usual file: one ID, written one way
        folded = code.lower()
        # A spelling that differs only in case names the same certification, unless another
        # certification has exactly that code.
        variants = {other for other in spellings - self.same if other.lower() == folded}
        if variants:
            taken = set(exact_keys(variants, select, "code"))
            if certification is not None:
                taken.discard(certification.code)
            self.same |= variants - taken
        for row, other in named:
            if other in self.same:
                if certification is None:
                    self.problems.add(
                        Problem(
                            INVALID_CERTIFICATION,
                            f"Certification ID '{other}' could be any of {self.candidates}, which differ only "
                            "in case; write it exactly."
                            if self.candidates
                            else f"No certification has the Certification ID '{other}'.",
                            row.row_number,
                            CERTIFICATION_ID,
                            other,
                        )
                    )
            else:
                self.problems.add(
                    Problem(
                        INVALID_CERTIFICATION,
                        f"Only one Certification ID can be included in a file: row {first_number} "
                        f"names '{code}' and this row names '{other}'. Create a separate file for each "
                        "certification.",
                        row.row_number,
                        CERTIFICATION_ID,
                        other,
                    )
                )

    def _holders(self, rows: list[Row]) -> Matches[tuple[Any, ...]]:
        """User ID -> (user pk, holds an active award) for the User IDs of the batch, matched as base.keys
        says."""
        if self.certification is None:
            return Matches()
        keys = {row.values[USER_ID] for row in rows if row.values[USER_ID]}
        return match_keys(
            keys,
            f"SELECT {{column}}, u.id, EXISTS (SELECT 1 FROM {db_table(Award)} a WHERE a.user_id = u.id "
            f"AND a.certification_id = %s AND a.status = 'active') FROM {db_table(User)} u",
            "u.user_id",
            [self.certification.pk],
        )
