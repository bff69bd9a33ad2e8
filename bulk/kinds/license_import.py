"""Licences and certifications import: add, edit or delete learners' licences, row by row.

Columns Username, License code, Number, Issuing authority, Issue date, Expiration date and Action
(Add, Edit or Delete). Add fails when the user already holds that licence type with that number; Edit
and Delete fail when they do not. Unknown users and licence codes, dates that do not parse and an
expiration before the issue date are row errors. Deletes keep the licence as history.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from django.db.models import Count
from django.db.models.fields.json import KT

from access.permissions import IMPORT_LICENSES
from base.cells import parse_date
from base.keys import match_among, match_keys
from base.sql import json_item
from base.sql import table as db_table
from credentials.licences import (
    LicenseDetails,
    add_licenses,
    current_details,
    current_keys,
    delete_licenses,
    edit_licenses,
    licence_ids,
    undelete_licenses,
)
from credentials.models import LicenseType
from people.models import User

from ..intake import Column, Row
from ..kind import Change, JobKind, Leftover, Plan, StagedRow, UploadPage, Validation
from ..models import JobRow
from ..staging import count_keys, mark_repeats, mark_seqs, mark_succeeded, set_data

if TYPE_CHECKING:
    from ..models import Job

USERNAME = "Username"
LICENSE_CODE = "License code"
NUMBER = "Number"
AUTHORITY = "Issuing authority"
ISSUE_DATE = "Issue date"
EXPIRATION_DATE = "Expiration date"
ACTION = "Action"
NOT_KEPT = (
    "Not restored: this edit ran before certdesk kept the values an edit overwrites; change the licence "
    "by hand if it must be put back."
)
REPEATS = "The same licence is in row {first}: one change per licence per file."
ACTIONS = {"add": "add", "edit": "edit", "delete": "delete", "update": "edit", "remove": "delete"}


def _stored(details: LicenseDetails) -> list[str | None]:
    """A licence's authority and dates as a row's data keeps them (JSON)."""
    return [
        details.issuing_authority,
        details.issue_date.isoformat() if details.issue_date else None,
        details.expiration_date.isoformat() if details.expiration_date else None,
    ]


def _details(stored: list[str | None]) -> LicenseDetails:
    authority, issue, expiration = stored
    return LicenseDetails(
        authority or "",
        dt.date.fromisoformat(issue) if issue else None,
        dt.date.fromisoformat(expiration) if expiration else None,
    )


def _undoing(data: list[Any]) -> Change:
    """What restoring one row of a licence import changes back."""
    action, number, authority, issue, expiration = data[:5]
    written = {
        NUMBER: number,
        AUTHORITY: authority or "",
        ISSUE_DATE: issue or "",
        EXPIRATION_DATE: expiration or "",
    }
    if action == "add":
        return Change("Would delete the added licence", written, {})
    if action == "delete":
        return Change("Would give back the deleted licence", {}, {NUMBER: number})
    previous = (
        dict(zip((AUTHORITY, ISSUE_DATE, EXPIRATION_DATE), data[5], strict=True)) if len(data) > 5 else {}
    )
    return Change(
        "Would put back the values before the edit",
        written,
        {NUMBER: number, **{k: v or "" for k, v in previous.items()}},
    )


def parse_action(text: str) -> str:
    found = ACTIONS.get(text.strip().casefold())
    if found is None:
        raise ValueError(f"Action must be Add, Edit or Delete, not '{text}'.")
    return found


class LicenseImport(JobKind):
    slug = "license-import"
    label = "Licence import"
    tool_name = "Licenses & Certifications Import"
    permission = IMPORT_LICENSES
    permission_name = "Import licences"
    trail = (("Licences & Certifications", "web:licences"), ("Jobs", "web:jobs"))
    upload = UploadPage(heading="Import Data", url_name="web:licence-import")
    columns = [
        Column(USERNAME, max_length=150, help="The learner's username."),
        Column(LICENSE_CODE, max_length=50, help="A code from Export Available Licenses."),
        Column(
            NUMBER,
            blank_ok=True,
            max_length=100,
            help="The licence number; with the code it names the licence.",
        ),
        Column(
            AUTHORITY,
            required=False,
            blank_ok=True,
            help="The state board or body; the type's own when empty.",
        ),
        Column(
            ISSUE_DATE,
            required=False,
            blank_ok=True,
            parse=parse_date,
            help="YYYY-MM-DD. Edit writes the row's dates: an empty one clears the licence's.",
        ),
        Column(
            EXPIRATION_DATE,
            required=False,
            blank_ok=True,
            parse=parse_date,
            help="YYYY-MM-DD. Edit writes the row's dates: an empty one clears the licence's.",
        ),
        Column(ACTION, max_length=20, parse=parse_action, help="Add, Edit or Delete."),
    ]
    # XML spends some 250 bytes a row on its tags: 20 MB holds 50,000 rows in every format.
    # Upload size and rows: CERTDESK_LICENSE_IMPORT_MAX_BYTES and CERTDESK_LICENSE_IMPORT_MAX_ROWS.
    extensions = (".txt", ".xml", ".csv", ".xlsx")
    strict = False
    key_column = USERNAME
    result_labels = {
        "pending": "Not processed",
        "succeeded": "Imported",
        "skipped": "Skipped",
        "error": "Error",
    }
    preview_labels = {"pending": "Would import", "skipped": "Skipped", "error": "Error"}
    outcome_messages = {"succeeded": "Done."}
    restorable = True
    restore_labels = {
        "pending": "Not processed",
        "succeeded": "Restored",
        "skipped": "Skipped",
        "error": "Error",
    }
    restore_messages = {"succeeded": "The licence is as it was before job {restore_of}."}

    target_label = "Licence type"
    change_fields = (NUMBER, AUTHORITY, ISSUE_DATE, EXPIRATION_DATE)

    def target_names(self, ids: Sequence[int]) -> dict[int, str]:
        return {pk: str(t) for pk, t in LicenseType.objects.in_bulk(list(ids)).items()}

    def changes(self, job: Job, rows: Sequence[StagedRow]) -> dict[int, Change]:
        if job.params.get("restore_of"):
            return {row.seq: _undoing(row.data) for row in rows if row.data}
        keyed = [(row, (row.user_id or 0, row.target_id or 0, row.data[1])) for row in rows if row.data]
        current = current_details([key for row, key in keyed if row.data[0] != "add"])
        changes = {}
        for row, key in keyed:
            action, number, authority, issue, expiration = row.data
            after = {
                NUMBER: number,
                AUTHORITY: authority or "",
                ISSUE_DATE: issue or "",
                EXPIRATION_DATE: expiration or "",
            }
            held = current.get(key)
            before = (
                {
                    NUMBER: number,
                    AUTHORITY: held.issuing_authority,
                    ISSUE_DATE: held.issue_date.isoformat() if held.issue_date else "",
                    EXPIRATION_DATE: held.expiration_date.isoformat() if held.expiration_date else "",
                }
                if held
                else {}
            )
            if action == "add":
                changes[row.seq] = Change("Would add", {}, after)
            elif action == "edit":
                changes[row.seq] = Change("Would edit", before, after)
            else:
                changes[row.seq] = Change("Would delete", before, {})
        return changes

    def validation(self, actor: User) -> LicenseImportValidation:
        return LicenseImportValidation(actor)

    def apply_chunk(self, job: Job, lo: int, hi: int, now: dt.datetime) -> list[Leftover]:
        pending = self.pending_rows(job, lo, hi)
        by_action: dict[str, list[tuple[int, int, int, str, LicenseDetails]]] = {
            "add": [],
            "edit": [],
            "delete": [],
        }
        for seq, user_id, type_id, (action, number, authority, issue, expiration) in pending:
            details = LicenseDetails(
                authority or "",
                dt.date.fromisoformat(issue) if issue else None,
                dt.date.fromisoformat(expiration) if expiration else None,
            )
            by_action[action].append((seq, user_id, type_id, number, details))
        actor_id = job.created_by_id
        done = set(
            add_licenses(
                [(u, t, n, d) for _, u, t, n, d in by_action["add"]],
                actor_id=actor_id,
                job_id=job.pk,
                now=now,
            )
        )
        # What an edit overwrites is kept on its row, so that a restore can put it back.
        before = current_details([(u, t, n) for _, u, t, n, _ in by_action["edit"]])
        edited = set(
            edit_licenses(
                [(u, t, n, d) for _, u, t, n, d in by_action["edit"]],
                actor_id=actor_id,
                job_id=job.pk,
                now=now,
            )
        )
        done |= edited
        data_of = {seq: data for seq, _, _, data in pending}
        set_data(
            job,
            [
                (seq, [*data_of[seq], _stored(before[(u, t, n)])])
                for seq, u, t, n, _ in by_action["edit"]
                if (u, t, n) in edited and (u, t, n) in before
            ],
        )
        done |= set(
            delete_licenses(
                [(u, t, n) for _, u, t, n, _ in by_action["delete"]],
                actor_id=actor_id,
                job_id=job.pk,
                now=now,
            )
        )
        succeeded = [seq for rows in by_action.values() for seq, u, t, n, _ in rows if (u, t, n) in done]
        mark_succeeded(job, lo, hi, succeeded, len(pending))
        return [
            Leftover(
                JobRow.Outcome.ERROR,
                "The licence changed after the file was checked (added, edited or deleted meanwhile); nothing done.",
            )
        ]

    restore_object_type = "credentials.license"

    def restore_objects(self, job: Job, rows: Sequence[tuple[int, int, int, Any]]) -> dict[int, list[int]]:
        found = licence_ids([(user, kind, data[1]) for _, user, kind, data in rows])
        return {seq: found.get((user, kind, data[1]), []) for seq, user, kind, data in rows}

    def changed_since_job(self, job: Job, rows: Sequence[tuple[int, int, int, Any]]) -> list[Leftover]:
        # An edit made before the values it overwrote were kept on its row cannot be put back.
        unknown = [seq for seq, _, _, data in rows if data and data[0] == "edit" and len(data) < 6]
        kept = [row for row in rows if row[0] not in set(unknown)]
        found = super().changed_since_job(job, kept)
        if unknown:
            found.append(Leftover(JobRow.Outcome.SKIPPED, NOT_KEPT, unknown))
        return found

    def apply_restore_chunk(self, job: Job, lo: int, hi: int, now: dt.datetime) -> list[Leftover]:
        """Undo the job's rows: delete what it added, give back what it deleted, put back what it edited;
        a licence someone changed since is left as it is."""
        original = job.params["restore_of"]
        pending = self.pending_rows(job, lo, hi)
        changed = self.changed_since_job(job, pending)
        left_alone = {seq for leftover in changed for seq in leftover.seqs or ()}
        rows = [(seq, (u, t, data[1]), data) for seq, u, t, data in pending if seq not in left_alone]
        actor_id = job.created_by_id
        done = set(
            delete_licenses(
                [key for _, key, data in rows if data[0] == "add"],
                actor_id=actor_id,
                job_id=job.pk,
                now=now,
                last_changed_by_job=original,
            )
        )
        done |= set(
            undelete_licenses(
                [key for _, key, data in rows if data[0] == "delete"],
                deleted_by_job=original,
                actor_id=actor_id,
                job_id=job.pk,
                now=now,
            )
        )
        done |= set(
            edit_licenses(
                [(*key, _details(data[5])) for _, key, data in rows if data[0] == "edit" and len(data) > 5],
                actor_id=actor_id,
                job_id=job.pk,
                now=now,
                last_changed_by_job=original,
            )
        )
        mark_seqs(job, [seq for seq, key, _ in rows if key in done], JobRow.Outcome.SUCCEEDED)
        return [
            *changed,
            Leftover(
                JobRow.Outcome.SKIPPED,
                f"Not restored: the licence has changed since job {original}, or the learner holds it again.",
            ),
        ]

    def example_rows(self) -> list[list[str]]:
        return [
            ["amelia.smith1", "RN", "RN-448812", "State Board of Nursing", "2025-06-01", "2027-05-31", "Add"],
            ["oliver.jones2", "BLS", "", "", "2026-01-10", "2028-01-10", "Edit"],
            ["isla.taylor3", "RN", "RN-110023", "", "", "", "Delete"],
        ]


class LicenseImportValidation(Validation):
    """Each row's user, licence type and action, a batch at a time. One file changes a licence (user,
    type, number) once: a row repeating an earlier one, in any batch, is found once the rows are
    staged."""

    def __init__(self, actor: User) -> None:
        super().__init__(actor)
        self.types: dict[str, LicenseType] | None = None
        self.counts = {"would_import": 0, "errors": 0, "add": 0, "edit": 0, "delete": 0}

    def check(self, rows: list[Row]) -> list[StagedRow]:
        users = match_keys(
            {r.values[USERNAME] for r in rows if r.values[USERNAME]},
            f"SELECT {{column}}, id FROM {db_table(User)}",
            "username",
        )
        if self.types is None:
            self.types = {t.code: t for t in LicenseType.objects.all()}
        types = match_among({r.values[LICENSE_CODE] for r in rows if r.values[LICENSE_CODE]}, self.types)
        # Keys typed in another case get a note on each of their rows; there are seldom any.
        taken = bool(users.taken_as or types.taken_as)
        keyed: list[tuple[StagedRow, tuple[int, int, str], str]] = []
        counts = self.counts
        staged_rows: list[StagedRow] = []
        for row in rows:
            values = row.values
            username, code, action = values[USERNAME], values[LICENSE_CODE], values[ACTION]
            number = (values[NUMBER] or "").strip()
            staged = StagedRow(seq=row.seq, row_number=row.row_number, cells=row.cells, key=username or "")
            staged_rows.append(staged)
            errors = [p.message for p in row.problems]
            user = users.found.get(username or "")
            license_type = types.found.get(code or "")
            if username and user is None:
                errors.append(
                    f"Username not recognised: '{username}' could be any of {users.candidates(username)}, "
                    "which differ only in case; write it exactly."
                    if username in users.ambiguous
                    else f"Username not recognised: no user account has the username '{username}'."
                )
            if code and license_type is None:
                errors.append(
                    f"License code not recognised: '{code}' could be any of {types.candidates(code)}, which "
                    "differ only in case; write it exactly."
                    if code in types.ambiguous
                    else f"License code not recognised: '{code}' is not in the list of available licenses."
                )
            if (
                license_type is not None
                and license_type.number_required
                and not number
                and action != "delete"
            ):
                errors.append(f"{NUMBER} is empty: a {license_type.code} licence needs its number.")
            details = LicenseDetails(values[AUTHORITY] or "", values[ISSUE_DATE], values[EXPIRATION_DATE])
            errors += [p.message for p in details.problems()]
            if errors:
                staged.outcome, staged.message = JobRow.Outcome.ERROR, " ".join(dict.fromkeys(errors))
                counts["errors"] += 1
                continue
            assert user is not None and license_type is not None
            key = (user[0], license_type.pk, number)
            staged.user_id, staged.target_id = user[0], license_type.pk
            staged.data = [
                action,
                number,
                details.issuing_authority or license_type.issuing_authority,
                details.issue_date.isoformat() if details.issue_date else None,
                details.expiration_date.isoformat() if details.expiration_date else None,
            ]
            if taken:
                notes = (users.note(username, "username"), types.note(code, "licence code"))
                staged.message = " ".join(n for n in notes if n)
            keyed.append((staged, key, action))

        existing = current_keys([key for _, key, _ in keyed])
        for staged, key, action in keyed:
            number = key[2]
            exists = key in existing
            if action == "add" and exists:
                staged.outcome = JobRow.Outcome.ERROR
                staged.message = (
                    f"'{staged.key}' already holds this licence (number '{number}'); use Edit to change it."
                )
            elif action != "add" and not exists:
                staged.outcome = JobRow.Outcome.ERROR
                staged.message = f"'{staged.key}' holds no such licence (number '{number}') to {action}."
            else:
                counts["would_import"] += 1
                counts[action] += 1
                continue
            # The data stays: its number is the licence's, which a later row may repeat (``staged``).
            counts["errors"] += 1
        return staged_rows

    def staged(self, job: Job) -> bool:
        licence = ["user_id", "target_id", json_item("data", 1)]
        if not count_keys(job, licence).repeats:
            return False
        mark_repeats(job, licence, JobRow.Outcome.ERROR, REPEATS)
        self.counts = dict.fromkeys(self.counts, 0)
        for outcome, action, n in (
            job.rows.values_list("outcome", KT("data__0")).annotate(n=Count("id")).order_by()
        ):
            if outcome == JobRow.Outcome.PENDING:
                self.counts["would_import"] += n
                self.counts[action] += n
            elif outcome == JobRow.Outcome.ERROR:
                self.counts["errors"] += n
        return True

    def finish(self) -> Plan:
        self.summary = dict(self.counts)
        return super().finish()
