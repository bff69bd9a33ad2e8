"""A job's lifecycle: submit a file (or rows certdesk built), start, restore.

Running a job is the worker's (``bulk.worker``); a started job is handed to the runner
(``bulk.runner``) once its transaction commits.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import PurePath
from typing import IO, Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from access.permissions import APPROVE_JOBS
from access.policy import NotAllowed, require
from audit.services import record
from base.problems import CONTROL_CHARACTERS, INVALID_CERTIFICATION, FileRejected, InputProblems, Problem
from base.sql import gc_paused

from .approval import approval_reason, ask_approvers, overtaken_note
from .files import delete_files_of, job_folder
from .intake import (
    BUILT,
    Reading,
    Upload,
    built_upload,
    open_upload,
    read_capped,
    records_upload,
    too_large,
)
from .kind import JobKind, Validation
from .models import Job, JobRow
from .notify import notify_job_finished, tell_endpoints
from .preview import record_overtaken
from .registry import get_kind
from .results import write_results
from .runner import enqueue
from .staging import copy_succeeded_rows, insert_rows

log = logging.getLogger(__name__)

TITLE_MAX = 100


class JobInputError(InputProblems):
    """Bad input that is not about the file's contents (title, state)."""


@dataclass
class Submission:
    job: Job
    summary: dict[str, Any] = field(default_factory=dict)


def check_title(title: str | None) -> str:
    title = (title or "").strip()
    if not title:
        raise JobInputError([Problem("title_required", "Job Title is required.", column="Job Title")])
    if len(title) > TITLE_MAX:
        raise JobInputError(
            [
                Problem(
                    "title_too_long",
                    f"Job Title can be up to {TITLE_MAX} characters; this one has {len(title)}.",
                    column="Job Title",
                    value=title[:TITLE_MAX] + "…",
                )
            ]
        )
    check_text(title, "Job Title")
    return title


def check_text(text: str, field_name: str) -> str:
    """Refuse text with a control character in it: PostgreSQL cannot store NUL, and nobody means one."""
    found = CONTROL_CHARACTERS.search(text or "")
    if found:
        raise JobInputError(
            [
                Problem(
                    "invalid_characters",
                    f"{field_name} contains a control character (U+{ord(found.group()):04X}), which is not accepted.",
                    column=field_name,
                )
            ]
        )
    return text


def submit(
    kind_slug: str,
    upload: IO[bytes] | bytes,
    filename: str,
    *,
    actor: Any,
    title: str | None,
    comment: str = "",
    validate_only: bool = False,
    start: bool = False,
    started_from: Mapping[str, str] | None = None,
) -> Submission:
    """Validate a file and make it a job: verified (validate-only), draft, or queued (``start``).

    ``started_from`` is what the page the upload was started from said the file is about, as the
    job's parameters name it (``{"certification_code": "CERT-001"}``): a file about something else
    is refused, not run against what it names.

    The file streams through validation a batch of rows at a time, each batch staged as it is checked,
    all inside one transaction: a file refused at its last row leaves nothing behind.

    Raises NotAllowed, JobInputError or FileRejected; a rejected file changes nothing but the
    audit trail.
    """
    kind = get_kind(kind_slug)
    require(actor, kind.permission, doing=f"submit {kind.label.lower()} jobs")
    title = check_title(title)
    comment = check_text(comment or "", "Comment")
    name = PurePath(filename or "").name
    with _recording_rejection(kind, actor, title, filename):
        data = upload if isinstance(upload, bytes) else read_capped(upload, kind.max_bytes)
        with transaction.atomic(), gc_paused():
            opened = open_upload(
                data,
                kind.columns,
                limit=kind.max_bytes,
                filename=name,
                extensions=kind.extensions,
                max_rows=kind.max_rows,
            )
            submission = _stage(
                kind,
                opened,
                actor,
                title,
                comment,
                original=(name, data),
                validate_only=validate_only,
                start=start,
            )
            # Inside the transaction: a refusal here leaves nothing behind, as any other does.
            check_started_from(submission.job, started_from or {})
            return submission
    raise AssertionError("unreachable: a rejection is re-raised")  # pragma: no cover


# What each parameter a page may start an upload from is, in an administrator's words.
STARTED_FROM_LABELS = {"certification_code": ("certification", "Certification ID")}


def check_started_from(job: Job, started_from: Mapping[str, str]) -> None:
    problems = []
    for name, expected in started_from.items():
        found = job.params.get(name)
        if found is not None and found != expected:
            what, column = STARTED_FROM_LABELS.get(name, (name, name))
            problems.append(
                Problem(
                    INVALID_CERTIFICATION if name == "certification_code" else "started_from",
                    f"The file is for {what} {found}, but this job was started from {what} {expected}: "
                    f"upload a file for {expected}, or start from {found}'s page.",
                    column=column,
                    value=str(found),
                )
            )
    if problems:
        raise FileRejected(problems)


def submit_rows(
    kind_slug: str,
    rows: Iterable[Sequence[str]],
    *,
    actor: Any,
    title: str | None,
    comment: str = "",
    validate_only: bool = False,
    start: bool = False,
    checked: Validation | None = None,
) -> Submission:
    """Make a job of rows certdesk built itself (Award Users above the immediate limit), in the kind's
    column order: no file is written or read back, and the rows meet the same validation, row cap and
    size limit as an upload of them would.

    ``checked``: the kind's validation for rows built from what has been checked already (users
    resolved inside the actor's scope, terms checked), which knows what each row names. Their cells
    are then not typed again, and it stages the rows without looking their keys up a second time.
    """
    kind = get_kind(kind_slug)
    require(actor, kind.permission, doing=f"submit {kind.label.lower()} jobs")
    title = check_title(title)
    comment = check_text(comment or "", "Comment")
    header = [column.name for column in kind.columns]
    records = [(1, header), *enumerate(map(list, rows), start=2)]
    size = sum(len(",".join(cells).encode()) + 2 for _, cells in records)
    with _recording_rejection(kind, actor, title, "rows"):
        if size > kind.max_bytes:
            raise too_large(kind.max_bytes)
        with transaction.atomic(), gc_paused():
            if checked is None:
                built = records_upload(
                    iter(records), kind.columns, reading=Reading(BUILT), max_rows=kind.max_rows
                )
            else:
                built = built_upload(records[1:], header, max_rows=kind.max_rows)
            return _stage(
                kind,
                built,
                actor,
                title,
                comment,
                original=None,
                validate_only=validate_only,
                start=start,
                validation=checked,
            )
    raise AssertionError("unreachable: a rejection is re-raised")  # pragma: no cover


@contextmanager
def _recording_rejection(kind: JobKind, actor: Any, title: str, filename: str) -> Iterator[None]:
    """A refused file changes nothing but the audit trail, which says what was refused and why."""
    try:
        yield
    except FileRejected as rejected:
        record(
            "job.rejected",
            actor=actor,
            object_type="bulk.upload",
            object_id=filename[:64],
            after={
                "kind": kind.slug,
                "title": title,
                "headlines": rejected.headlines,
                "problems": [p.as_dict() for p in rejected.problems[: settings.CERTDESK_MAX_LISTED_PROBLEMS]],
                "problem_count": rejected.total,
            },
        )
        raise


def _stage(
    kind: JobKind,
    upload: Upload,
    actor: Any,
    title: str,
    comment: str,
    *,
    original: tuple[str, bytes] | None,
    validate_only: bool,
    start: bool,
    validation: Validation | None = None,
) -> Submission:
    """Validate the upload batch by batch (by the kind's validation unless one is given), staging each
    batch, and make the job."""
    now = timezone.now()
    name, data = original or ("", b"")
    job = Job.objects.create(
        kind=kind.slug,
        title=title,
        comment=comment,
        status=Job.Status.DRAFT,
        validate_only=validate_only,
        created_by=actor,
        created_at=now,
        chunk_size=settings.CERTDESK_CHUNK_SIZE,
        original_filename=(name or "upload.csv")[:255] if original else "",
        original_size=len(data),
        original_sha256=hashlib.sha256(data).hexdigest() if original else "",
    )
    validation = validation or kind.validation(actor)
    total = 0
    outcomes: Counter[str] = Counter()
    for batch in upload.batches():
        staged = validation.check(batch)
        total += len(staged)
        outcomes.update(row.outcome for row in staged)
        # A strict kind's file with a problem will be refused: its rows need not be written.
        if not (kind.strict and validation.problems):
            insert_rows(job.pk, staged)
    if kind.strict and validation.problems:
        raise validation.problems.rejected()
    if validation.staged(job):
        outcomes = Counter(job.outcome_counts())
    plan = validation.finish()
    job.params = {
        **plan.params,
        "header": upload.header,
        "summary": plan.summary,
        "reading": upload.reading.as_dict(),
    }
    job.warnings = upload.warnings
    job.total = total
    # Until it runs, a job counts what validation found: the rows that are errors and those skipped.
    job.failed = outcomes[JobRow.Outcome.ERROR]
    job.skipped = outcomes[JobRow.Outcome.SKIPPED]
    if original:
        job.original_file.name = default_storage.save(
            f"{job_folder(job)}original-{_safe_name(job.original_filename)}", ContentFile(data)
        )
    if validate_only:
        job.status = Job.Status.VERIFIED
        write_results(job)
        if not start:
            # The creator gets the results file by email, as after a real run.
            transaction.on_commit(lambda: _notify_verified(job.pk))
    job.save()
    record("job.created", actor=actor, job=job, obj=job, after={"status": job.status, "rows": job.total})
    if start:
        start_job(job, actor, checked_now=True)
    return Submission(job=job, summary=plan.summary)


def _notify_verified(job_id: int) -> None:
    job = Job.objects.select_related("created_by").filter(pk=job_id, status=Job.Status.VERIFIED).first()
    if job is not None:  # started meanwhile: the real run's email says it all
        notify_job_finished(job)


def _safe_name(name: str) -> str:
    keep = "".join(c if c.isalnum() or c in "._-" else "_" for c in name)
    return keep[-100:] or "upload.csv"


def start_job(job: Job, actor: Any, *, checked_now: bool = False) -> Job:
    """Queue a draft or verified job; a worker picks it up once the transaction commits. A job over
    the approval policy waits for a second administrator instead (Awaiting approval).

    Its rows are checked again first, as its preview checks them (the data may have changed since the
    file was): those overtaken get the outcome the check gives them, so the run does what a preview
    now says. ``checked_now``: the rows were staged by this very request (submit with start).
    """
    require(actor, get_kind(job.kind).permission, doing="start this job")
    reason = approval_reason(job, checked_now=checked_now)
    if reason:
        return _await_approval(job, actor, reason)
    with transaction.atomic():
        if not checked_now:
            if not Job.objects.select_for_update().filter(pk=job.pk, status__in=Job.STARTABLE).exists():
                raise _not_startable(job)
            record_overtaken(job)
        return _queue(job, actor, Job.STARTABLE)


def _await_approval(job: Job, actor: Any, reason: str) -> Job:
    with transaction.atomic():
        found = Job.objects.select_for_update().filter(pk=job.pk, status__in=Job.STARTABLE).first()
        if found is None:
            raise _not_startable(job)
        found.params = {
            **found.params,
            "approval": {"reason": reason, "requested_by": actor.username, "from": found.status},
        }
        found.status = Job.Status.AWAITING_APPROVAL
        found.save(update_fields=["params", "status"])
        record("job.awaiting_approval", actor=actor, job=found, obj=found, after={"reason": reason})
        tell_endpoints(found, "job.awaiting_approval")
        transaction.on_commit(lambda: ask_approvers(found.pk))
    return found


def _not_startable(job: Job) -> JobInputError:
    found = Job.objects.filter(pk=job.pk).first()
    if found is None:
        return JobInputError(
            [
                Problem(
                    "not_startable", f"Job {job.pk} no longer exists: it was deleted before it was started."
                )
            ]
        )
    return JobInputError(
        [Problem("not_startable", f"Job {job.pk} is {found.get_status_display()} and cannot be started.")]
    )


def _decision(job: Job, actor: Any, doing: str) -> None:
    """Who may decide: "Approve bulk jobs", never on their own job; the job must be waiting."""
    require(actor, APPROVE_JOBS, doing=doing)
    if job.created_by_id == actor.pk:
        raise NotAllowed("You created this job: another administrator must approve or reject it.")
    if job.status != Job.Status.AWAITING_APPROVAL:
        raise JobInputError(
            [
                Problem(
                    "not_awaiting_approval",
                    f"Job {job.pk} is {job.get_status_display()}, not awaiting approval.",
                )
            ]
        )


def approve_job(job: Job, actor: Any) -> Job:
    """A second administrator approves a job awaiting approval: its rows are checked again (the world
    may have changed since the request), those overtaken get the outcome the check gives them, and
    it is queued."""
    _decision(job, actor, "approve bulk jobs")
    # One transaction: no worker sees the job queued before its approval and its check are recorded.
    with transaction.atomic():
        # The decision is taken under the job's lock: a second approver waits, then finds it decided.
        if (
            not Job.objects.select_for_update()
            .filter(pk=job.pk, status=Job.Status.AWAITING_APPROVAL)
            .exists()
        ):
            raise JobInputError(
                [
                    Problem(
                        "not_awaiting_approval",
                        f"Job {job.pk} is no longer awaiting approval: another decision came first.",
                    )
                ]
            )
        overtaken = record_overtaken(job)
        changed = overtaken_note(overtaken)
        approved = _queue(job, actor, (Job.Status.AWAITING_APPROVAL,))
        approval = {**approved.params.get("approval", {}), "approved_by": actor.username, "changed": changed}
        approved.params = {**approved.params, "approval": approval}
        Job.objects.filter(pk=job.pk).update(params=approved.params)
        record(
            "job.approved",
            actor=actor,
            job=approved,
            obj=approved,
            after={"status": approved.status, "changed": changed, "overtaken": overtaken},
        )
    return approved


def reject_job(job: Job, actor: Any, reason: str) -> Job:
    """A second administrator rejects a job awaiting approval: it goes back to Draft or Verified, with
    the reason shown on its page."""
    _decision(job, actor, "reject bulk jobs")
    reason = " ".join((reason or "").split())
    if not reason:
        raise JobInputError([Problem("reason_required", "Say why the job is rejected.", column="reason")])
    check_text(reason, "Reason")
    with transaction.atomic():
        found = Job.objects.select_for_update().filter(pk=job.pk).first()
        if found is None or found.status != Job.Status.AWAITING_APPROVAL:
            state = "no longer exists" if found is None else f"is {found.get_status_display()}"
            raise JobInputError(
                [Problem("not_awaiting_approval", f"Job {job.pk} {state}: another decision came first.")]
            )
        approval = found.params.get("approval", {})
        found.status = approval.get("from", Job.Status.DRAFT)
        found.params = {
            **found.params,
            "approval": {},
            "rejection": {"by": actor.username, "reason": reason[:1000], "at": timezone.now().isoformat()},
        }
        found.save(update_fields=["status", "params"])
        record(
            "job.rejected",
            actor=actor,
            job=found,
            obj=found,
            after={"status": found.status, "reason": reason},
        )
    return found


def _queue(job: Job, actor: Any, states: tuple[str, ...]) -> Job:
    now = timezone.now()
    with transaction.atomic():
        # A verified job's results file says what would happen; it is rewritten when the job ends.
        changed = Job.objects.filter(pk=job.pk, status__in=states).update(
            status=Job.Status.QUEUED,
            queued_at=now,
            validate_only=False,
            results_file="",
            results_size=0,
            results_sha256="",
            notified_at=None,
            # The counts of a verified or draft job say what would happen; a run counts what did.
            succeeded=0,
            failed=0,
            skipped=0,
        )
        if not changed:
            raise _not_startable(job)
        record("job.queued", actor=actor, job=job, obj=job, after={"status": Job.Status.QUEUED})
        transaction.on_commit(lambda: enqueue(job.pk))
    job.refresh_from_db()
    return job


def discard_job(job: Job, actor: Any) -> None:
    """Delete a draft or verified job, which has changed nothing, with its files (once the deletion
    has committed); the audit log keeps who discarded it and what it was."""
    require(actor, get_kind(job.kind).permission, doing="discard this job")
    with transaction.atomic():
        found = Job.objects.select_for_update().filter(pk=job.pk).first()
        if found is None or found.status not in Job.STARTABLE:
            state = "no longer exists" if found is None else f"is {found.get_status_display()}"
            raise JobInputError(
                [
                    Problem(
                        "not_discardable",
                        f"Job {job.pk} {state} and cannot be discarded: only a Draft or Verified job can.",
                    )
                ]
            )
        record(
            "job.discarded",
            actor=actor,
            obj=found,
            before={"status": found.status, "title": found.title, "kind": found.kind, "rows": found.total},
        )
        found.delete()
        transaction.on_commit(partial(delete_files_of, [found]))


def restore_job(job: Job, actor: Any) -> Job:
    """Queue a new job of the same kind that undoes exactly what a processed job changed.

    Its rows are the rows the original job succeeded on, in their original order; rows whose
    object has changed since (e.g. the user holds the certification again) are skipped with a reason.
    """
    kind = get_kind(job.kind)
    require(actor, kind.permission, doing=f"restore {kind.label.lower()} jobs")

    def refuse(code: str, message: str) -> JobInputError:
        return JobInputError([Problem(code, message)])

    if not kind.restorable:
        raise refuse("not_restorable", f"{kind.label} jobs cannot be restored.")
    if job.params.get("restore_of"):
        raise refuse("not_restorable", f"Job {job.pk} is itself a restore; it cannot be restored.")
    if job.status not in Job.FINISHED:
        raise refuse(
            "not_restorable",
            f"Job {job.pk} is {job.get_status_display()}; only a processed or failed job can be restored.",
        )
    now = timezone.now()
    with transaction.atomic():
        # Lock the original so that two admins restoring it at once make one restore job, not two.
        Job.objects.select_for_update().filter(pk=job.pk).first()
        earlier = (
            Job.objects.filter(kind=job.kind, params__restore_of=job.pk)
            .exclude(status=Job.Status.FAILED)
            .values_list("pk", flat=True)
            .first()
        )
        if earlier:
            raise refuse("already_restored", f"Job {job.pk} has already been restored by job {earlier}.")
        done = job.rows.filter(outcome=JobRow.Outcome.SUCCEEDED).count()
        restore = Job.objects.create(
            kind=job.kind,
            title=f"Restore: {job.title}"[:TITLE_MAX],
            comment=f"Undoes job {job.pk} ({job.title}).",
            status=Job.Status.DRAFT,
            created_by=actor,
            created_at=now,
            params={**job.params, "restore_of": job.pk},
            total=done,
            chunk_size=settings.CERTDESK_CHUNK_SIZE,
            original_filename=job.original_filename,
        )
        copy_succeeded_rows(job.pk, restore.pk)
        record("job.restore_created", actor=actor, job=restore, obj=job, after={"restore_job": restore.pk})
        return start_job(restore, actor)
