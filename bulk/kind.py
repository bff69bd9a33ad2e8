"""What a job kind is: its columns, limits, validation and set-based apply step."""

from __future__ import annotations

import datetime as dt
import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from django.conf import settings
from django.utils import timezone

from audit.trail import changed_since
from base.problems import Problem, ProblemLog
from base.sql import fetch, table

from .intake import Column, Row
from .models import Job, JobRow

if TYPE_CHECKING:
    from people.models import User


@dataclass(slots=True)
class StagedRow:
    """A row as validation leaves it: what it names, what it resolved to, and its outcome so far."""

    seq: int
    row_number: int
    cells: list[str]
    key: str = ""
    user_id: int | None = None
    target_id: int | None = None
    data: Any = None
    outcome: str = "pending"
    message: str = ""


@dataclass(frozen=True, slots=True)
class Leftover:
    """What the rows of a chunk that an apply step did not succeed on get: the rows ``seqs`` (still
    pending), or with None every row of the chunk still pending, the outcome and message given."""

    outcome: str
    message: str
    seqs: Sequence[int] | None = None


@dataclass(frozen=True, slots=True)
class Change:
    """What one row that would succeed changes: the values of the kind's ``change_fields`` before and
    after, as an administrator reads them ("" where there is nothing: no award before an award)."""

    action: str
    before: dict[str, str]
    after: dict[str, str]


@dataclass
class Plan:
    """The result of validating a file: its problems, or the rows and parameters of a job."""

    problems: list[Problem] = field(default_factory=list)
    rows: list[StagedRow] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    # How many problems there were; ``problems`` keeps only the first CERTDESK_MAX_LISTED_PROBLEMS.
    problem_total: int = 0


class Validation(ABC):
    """The validation of one file, batch by batch, so that no file costs memory by its length.

    ``check`` gets the rows of one batch and returns them staged, set-based (a few queries a batch);
    it remembers nothing that grows with the file. What spans batches (a row repeating an earlier one)
    is found by ``staged`` once every batch is in the database. ``finish`` gives the job's parameters
    and summary.
    """

    def __init__(self, actor: User) -> None:
        self.actor = actor
        # Checking a job's rows again (a preview, an approval) rather than a new file: a row the world
        # has overtaken is staged with the outcome the run would give it, not reported as a problem.
        self.revalidating = False
        self.problems = ProblemLog(settings.CERTDESK_MAX_LISTED_PROBLEMS)
        self.params: dict[str, Any] = {}
        self.summary: dict[str, Any] = {}

    @abstractmethod
    def check(self, rows: list[Row]) -> list[StagedRow]:
        """Stage one batch of rows, giving each the outcome it has so far."""

    def staged(self, job: Job) -> bool:
        """Once every batch is staged (a file about to be refused is not): what only the whole file can
        say, worked out in the database rather than remembered batch after batch, such as the rows that
        repeat an earlier one. True when it changed the outcome of some row."""
        return False

    def finish(self) -> Plan:
        return Plan(
            problems=self.problems.items,
            params=self.params,
            summary=self.summary,
            problem_total=self.problems.total,
        )


@dataclass(frozen=True)
class UploadPage:
    """How a kind's upload page reads. Data only: the web layer renders it, so URL and template names are
    strings here and the engine imports nothing of the pages."""

    # Empty: the kind's tool_name.
    heading: str = ""
    # A paragraph above the form, and the hint after its list of columns (empty: how rows are checked).
    intro: str = ""
    help: str = ""
    # What the generic page, /jobs/new/<kind>/, renders.
    template: str = "web/job_upload.html"
    # A page of the kind's own, which the generic page sends people to; empty: the generic page.
    url_name: str = ""
    validate_only_default: bool = True
    validated_message: str = (
        "The file was validated: nothing was changed. The rows below say what would happen."
    )
    queued_message: str = "The job is queued. You will receive an email with the results file."


class JobKind(ABC):
    """One kind of bulk job. Subclasses live one per module under ``bulk/kinds/``.

    A kind declares all that the rest of certdesk needs of it: the permission that opens it, its names,
    the pages leading to its jobs and its upload page. Adding a kind is its module and a line in
    ``CERTDESK_JOB_KINDS``; its permission, if new, is created after ``migrate`` (see ``bulk.apps``).
    """

    slug: ClassVar[str]
    label: ClassVar[str]
    tool_name: ClassVar[str]
    # "app_label.codename", and its name as administrators read it where permissions are granted.
    permission: ClassVar[str]
    permission_name: ClassVar[str] = ""
    # The pages leading to where the kind's jobs are listed, as (label, URL name): a job's breadcrumbs.
    trail: ClassVar[tuple[tuple[str, str], ...]] = (("Jobs", "web:jobs"),)
    upload: ClassVar[UploadPage] = UploadPage()
    columns: ClassVar[list[Column]]
    extensions: ClassVar[tuple[str, ...]] = (".csv",)
    # The column whose value names a row on the job's page (e.g. its User ID).
    key_column: ClassVar[str] = ""
    # Strict kinds reject the whole file when any row is invalid; the others give each row its outcome.
    strict: ClassVar[bool] = True
    # How the results file names each outcome, after a real run and in a verify-only run.
    result_labels: ClassVar[dict[str, str]] = {
        "pending": "Not processed",
        "succeeded": "Succeeded",
        "skipped": "Skipped",
        "error": "Error",
    }
    # The Message of rows that have none of their own, formatted with the job's params.
    outcome_messages: ClassVar[dict[str, str]] = {}
    preview_labels: ClassVar[dict[str, str]] = {
        "pending": "Would succeed",
        "skipped": "Skipped",
        "error": "Error",
    }

    @property
    def max_bytes(self) -> int:
        """The largest upload this kind takes (CERTDESK_*_MAX_BYTES)."""
        return int(settings.CERTDESK_MAX_BYTES.get(self.slug, 1024 * 1024))

    @property
    def max_rows(self) -> int:
        """The most data rows a file of this kind may have (CERTDESK_*_MAX_ROWS)."""
        return int(settings.CERTDESK_MAX_ROWS.get(self.slug, 100_000))

    @property
    def max_rows_display(self) -> str:
        """The row cap as the upload pages write it: '300,000'."""
        return f"{self.max_rows:,}"

    @abstractmethod
    def validation(self, actor: User) -> Validation:
        """A new validation of one file, which the engine feeds batch by batch."""

    @abstractmethod
    def apply_chunk(self, job: Job, lo: int, hi: int, now: dt.datetime) -> Sequence[Leftover]:
        """Apply the pending rows with ``lo <= seq < hi``, mark those that succeeded, and say what the
        others get: the engine marks them, in the order given, in the same transaction.

        Runs inside the chunk's transaction; must cost a constant number of queries.
        """

    # What a job's rows act on, as its preview counts them: "Certification", "Activity" …
    target_label: ClassVar[str] = "Target"
    # The fields whose values a preview shows before and after, in this order.
    change_fields: ClassVar[tuple[str, ...]] = ()

    def target_names(self, ids: Sequence[int]) -> dict[int, str]:
        """Target id -> how an administrator names it ("CERT-001 Fire Safety"): one query."""
        return {}

    def changes(self, job: Job, rows: Sequence[StagedRow]) -> dict[int, Change]:
        """Seq -> what each of ``rows`` (staged, would succeed) changes, read as things are now: a few
        queries, whatever the number of rows."""
        return {}

    def share_of_holders(self, job: Job, changing: int, *, checked_now: bool = False) -> float | None:
        """For a kind that takes something away from its holders (a removal): the share of the
        current holders that ``changing`` rows would take it from, for the approval policy.
        ``checked_now``: each of the ``changing`` rows was found to hold it by this very request."""
        return None

    # A restore job undoes a processed job of the same kind, row by row; kinds that can say so.
    restorable: ClassVar[bool] = False
    restore_labels: ClassVar[dict[str, str]] = {
        "pending": "Not processed",
        "succeeded": "Restored",
        "skipped": "Skipped",
        "error": "Error",
    }
    restore_messages: ClassVar[dict[str, str]] = {}

    # What a restore of this kind puts back, as the audit trail names it ("credentials.award").
    restore_object_type: ClassVar[str] = ""

    def restore_objects(self, job: Job, rows: Sequence[tuple[int, int, int, Any]]) -> dict[int, list[int]]:
        """Seq -> the ids of the objects (``restore_object_type``) that restoring each of a restore job's
        (seq, user, target, data) rows would touch, whatever has become of them since: one query."""
        return {}

    def changed_since_job(self, job: Job, rows: Sequence[tuple[int, int, int, Any]]) -> list[Leftover]:
        """The rows of a restore job whose object someone changed after the job it undoes, by hand or by
        another job, as the audit trail records it: Skipped, saying who and when, never overwritten."""
        if not self.restore_object_type or not rows:
            return []
        original = Job.objects.filter(pk=job.params["restore_of"]).values("started_at", "created_at").first()
        if original is None:
            return []
        objects = self.restore_objects(job, rows)
        changed = changed_since(
            self.restore_object_type,
            sorted({pk for ids in objects.values() for pk in ids}),
            original["started_at"] or original["created_at"],
            except_jobs=[pk for pk in (job.params["restore_of"], job.pk) if pk],
        )
        if not changed:
            return []
        skipped: dict[str, list[int]] = {}
        for seq, ids in objects.items():
            found = [changed[pk] for pk in ids if pk in changed]
            if found:
                name, when = max(found, key=lambda change: change[1])
                message = (
                    f"Changed since this job by {name} on {timezone.localdate(when).isoformat()}; "
                    "left as it is."
                )
                skipped.setdefault(message, []).append(seq)
        return [Leftover(JobRow.Outcome.SKIPPED, message, seqs) for message, seqs in skipped.items()]

    def apply_restore_chunk(self, job: Job, lo: int, hi: int, now: dt.datetime) -> Sequence[Leftover]:
        """Undo, for the pending rows of a chunk, what the job ``job.params["restore_of"]`` did; marks
        and returns as ``apply_chunk`` does."""
        raise TypeError(f"{self.label} jobs cannot be restored")

    def send_notices(self, job: Job | None) -> int:
        """Send what the kind tells people once changes have committed (e.g. learners' emails), for
        one finished job or, with None, whatever a crash or a mail outage left unsent."""
        return 0

    def messages_for(self, job: Job) -> dict[str, str]:
        """Outcome -> the message a row of this job gets when it has none of its own."""
        if job.status == "verified":
            return {}
        texts = self.restore_messages if job.params.get("restore_of") else self.outcome_messages
        return {outcome: text.format(**job.params) for outcome, text in texts.items()}

    def labels_for(self, job: Job) -> dict[str, str]:
        """Outcome -> its name in this job's results: what would happen, what happened, or what was undone."""
        if job.status == "verified":
            return self.preview_labels
        return self.restore_labels if job.params.get("restore_of") else self.result_labels

    def pending_rows(self, job: Job, lo: int, hi: int) -> list[tuple[int, int, int, Any]]:
        """(seq, user, target, data) of the chunk's rows still to apply, their data decoded: one query."""
        rows = fetch(
            f"SELECT seq, user_id, target_id, data FROM {table(JobRow)} WHERE job_id = %s "
            "AND seq >= %s AND seq < %s AND outcome = 'pending' AND user_id IS NOT NULL",
            [job.pk, lo, hi],
        )
        if rows and any(isinstance(r[3], str) for r in rows):
            # SQLite returns JSON as text: decode the chunk in one call, not one per row.
            decoded = json.loads("[" + ",".join(r[3] if r[3] is not None else "null" for r in rows) + "]")
            return [
                (seq, user, target, data) for (seq, user, target, _), data in zip(rows, decoded, strict=True)
            ]
        return [(seq, user, target, data) for seq, user, target, data in rows]

    def example_rows(self) -> list[list[str]]:
        """Data rows of the example file, in column order."""
        return []

    def describe(self) -> dict[str, Any]:
        return {
            "kind": self.slug,
            "label": self.label,
            "tool_name": self.tool_name,
            "permission": self.permission,
            "max_bytes": self.max_bytes,
            "max_rows": self.max_rows,
            "extensions": list(self.extensions),
            "validation": "strict" if self.strict else "per_row",
            "columns": [
                {"name": c.name, "required": c.required, "blank_ok": c.blank_ok, "help": c.help}
                for c in self.columns
            ],
        }
