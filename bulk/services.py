"""The job engine: submit, start, claim, run and finish jobs of every kind.

The job row is the source of truth. A worker claims a job with one conditional UPDATE and holds
it by a lease; every chunk is fenced by that lease, so a worker that lost its job cannot commit,
and a job whose worker died is resumed at its first unfinished chunk by whoever claims it next.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import socket
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import IO, Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import InterfaceError, OperationalError, transaction
from django.db.models import Count, F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from access.policy import require
from audit.services import record

from .formats import MAX_ROWS
from .intake import open_upload, read_capped
from .kinds import get_kind
from .lookups import gc_paused
from .models import Job, JobRow
from .problems import CONTROL_CHARACTERS, FileRejected, InputProblems, Problem
from .results import write_results
from .staging import copy_succeeded_rows, insert_rows

log = logging.getLogger(__name__)

TITLE_MAX = 100


class JobInputError(InputProblems):
    """Bad input that is not about the file's contents (title, state)."""


class LeaseLost(RuntimeError):
    """Another worker owns the job now; this one must stop without committing."""


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
    generated: bool = False,
) -> Submission:
    """Validate a file and make it a job: verified (validate-only), draft, or queued (``start``).

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
    try:
        data = upload if isinstance(upload, bytes) else read_capped(upload, kind.max_bytes)
        with transaction.atomic(), gc_paused():
            return _validate_and_stage(
                kind,
                data,
                name,
                actor,
                title,
                comment,
                validate_only=validate_only,
                start=start,
                generated=generated,
            )
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


def _validate_and_stage(
    kind: Any,
    data: bytes,
    name: str,
    actor: Any,
    title: str,
    comment: str,
    *,
    validate_only: bool,
    start: bool,
    generated: bool,
) -> Submission:
    # A file certdesk wrote itself (Award Users above 100) is not held to the upload limits.
    upload = open_upload(
        data,
        kind.columns,
        limit=len(data) if generated else kind.max_bytes,
        filename=name,
        extensions=kind.extensions,
        max_rows=MAX_ROWS if generated else kind.max_rows,
    )
    now = timezone.now()
    job = Job.objects.create(
        kind=kind.slug,
        title=title,
        comment=comment,
        status=Job.Status.DRAFT,
        validate_only=validate_only,
        created_by=actor,
        created_at=now,
        chunk_size=settings.CERTDESK_CHUNK_SIZE,
        original_filename=(name or "upload.csv")[:255],
        original_size=len(data),
        original_sha256=hashlib.sha256(data).hexdigest(),
    )
    validation = kind.validation(actor)
    total = 0
    outcomes: Counter[str] = Counter()
    for batch in upload.batches():
        staged = validation.check(batch)
        total += len(staged)
        outcomes.update(row.outcome for row in staged)
        # A strict kind's file with a problem will be refused: its rows need not be written.
        if not (kind.strict and validation.problems):
            insert_rows(job.pk, staged)
    plan = validation.finish()
    if kind.strict and validation.problems:
        raise validation.problems.rejected()
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
    job.original_file.name = default_storage.save(
        f"jobs/{job.pk}/original-{_safe_name(job.original_filename)}", ContentFile(data)
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
        start_job(job, actor)
    return Submission(job=job, summary=plan.summary)


def _notify_verified(job_id: int) -> None:
    from .notify import notify_job_finished

    job = Job.objects.select_related("created_by").filter(pk=job_id, status=Job.Status.VERIFIED).first()
    if job is not None:  # started meanwhile: the real run's email says it all
        notify_job_finished(job)


def _safe_name(name: str) -> str:
    keep = "".join(c if c.isalnum() or c in "._-" else "_" for c in name)
    return keep[-100:] or "upload.csv"


def start_job(job: Job, actor: Any) -> Job:
    """Queue a draft or verified job; a worker picks it up once the transaction commits."""
    require(actor, get_kind(job.kind).permission, doing="start this job")
    now = timezone.now()
    with transaction.atomic():
        # A verified job's results file says what would happen; it is rewritten when the job ends.
        changed = Job.objects.filter(pk=job.pk, status__in=Job.STARTABLE).update(
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
            job.refresh_from_db()
            raise JobInputError(
                [
                    Problem(
                        "not_startable", f"Job {job.pk} is {job.get_status_display()} and cannot be started."
                    )
                ]
            )
        record("job.queued", actor=actor, job=job, obj=job, after={"status": Job.Status.QUEUED})
        from .runner import enqueue

        transaction.on_commit(lambda: enqueue(job.pk))
    job.refresh_from_db()
    return job


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


def worker_id(role: str = "worker") -> str:
    return f"{role}:{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def claim_job(owner: str, job_id: int | None = None) -> Job | None:
    """Claim the oldest claimable job (or ``job_id``) with one conditional UPDATE; None if none."""
    now = timezone.now()
    claimable = Q(status=Job.Status.QUEUED) | Q(status=Job.Status.IN_PROGRESS, lease_expires_at__lt=now)
    candidates = Job.objects.filter(claimable)
    if job_id is not None:
        candidates = candidates.filter(pk=job_id)
    for pk in candidates.order_by("created_at", "pk").values_list("pk", flat=True)[:5]:
        claimed = Job.objects.filter(claimable, pk=pk).update(
            status=Job.Status.IN_PROGRESS,
            lease_owner=owner,
            lease_expires_at=now + dt.timedelta(seconds=settings.CERTDESK_LEASE_SECONDS),
            started_at=Coalesce(F("started_at"), now),
            attempts=F("attempts") + 1,
        )
        if claimed != 1:
            continue
        job = Job.objects.get(pk=pk)
        if job.attempts > settings.CERTDESK_MAX_ATTEMPTS:
            # A job that kills its worker every time must not take the next one down with it.
            _finish(
                job,
                owner,
                Job.Status.FAILED,
                reason=f"The job was started {job.attempts - 1} times and never finished; it was stopped. "
                "Rows already processed keep their changes; the results file lists them.",
            )
            continue
        return job
    return None


def renew_lease(job: Job, owner: str) -> None:
    """Extend the lease, or raise LeaseLost when another worker has taken the job."""
    until = timezone.now() + dt.timedelta(seconds=settings.CERTDESK_LEASE_SECONDS)
    if not Job.objects.filter(pk=job.pk, lease_owner=owner, status=Job.Status.IN_PROGRESS).update(
        lease_expires_at=until
    ):
        raise LeaseLost(f"job {job.pk} is no longer held by {owner}")


ProgressCallback = Callable[[Job], None]


def run_job(job: Job, owner: str, on_progress: ProgressCallback | None = None) -> Job:
    """Run a claimed job from its first unfinished chunk to the end, then finish it."""
    kind = get_kind(job.kind)
    try:
        while job.chunks_done < job.chunk_count:
            _run_chunk(job, owner, kind)
            _report_progress(job, on_progress)
            if settings.CERTDESK_CHUNK_PAUSE_SECONDS:
                time.sleep(settings.CERTDESK_CHUNK_PAUSE_SECONDS)
    except LeaseLost:
        log.warning("Job %s: lease lost by %s; leaving it to its new owner", job.pk, owner)
        job.refresh_from_db()
        return job
    except (OperationalError, InterfaceError):
        # A lock wait that timed out or a dropped connection says nothing about the job: release it
        # so that it is claimed again (and resumed at its first unfinished chunk), up to the cap.
        log.exception("Job %s: database error; releasing it to be retried", job.pk)
        _release(job, owner)
        job.refresh_from_db()
        return job
    except Exception as exc:
        log.exception("Job %s failed", job.pk)
        return _finish(job, owner, Job.Status.FAILED, reason=f"{type(exc).__name__}: {exc}")
    return _finish(job, owner, Job.Status.PROCESSED)


def _report_progress(job: Job, on_progress: ProgressCallback | None) -> None:
    if on_progress is None:
        return
    try:
        on_progress(job)
    except Exception:  # a broken progress display must not fail the job
        log.exception("Job %s: progress callback failed", job.pk)


def _release(job: Job, owner: str) -> None:
    try:
        with transaction.atomic():
            Job.objects.filter(pk=job.pk, lease_owner=owner, status=Job.Status.IN_PROGRESS).update(
                lease_expires_at=timezone.now()
            )
    except (OperationalError, InterfaceError):
        log.exception("Job %s: could not release it; its lease will expire", job.pk)


def _run_chunk(job: Job, owner: str, kind: Any) -> None:
    """Apply one chunk; its changes, row outcomes and the job's counters commit together."""
    index = job.chunks_done
    lo, hi = index * job.chunk_size, (index + 1) * job.chunk_size
    now = timezone.now()
    with transaction.atomic():
        # Fence first: this also locks the job row, so a worker that lost the job waits, then fails.
        fenced = Job.objects.filter(
            pk=job.pk, lease_owner=owner, status=Job.Status.IN_PROGRESS, chunks_done=index
        ).update(lease_expires_at=now + dt.timedelta(seconds=settings.CERTDESK_LEASE_SECONDS))
        if not fenced:
            raise LeaseLost(f"job {job.pk} chunk {index} is no longer this worker's")
        apply = kind.apply_restore_chunk if job.params.get("restore_of") else kind.apply_chunk
        apply(job, lo, hi, now)
        counts = dict(
            JobRow.objects.filter(job_id=job.pk, seq__gte=lo, seq__lt=hi)
            .values_list("outcome")
            .annotate(n=Count("id"))
            .order_by()
        )
        done = sum(counts.values())
        Job.objects.filter(pk=job.pk).update(
            chunks_done=index + 1,
            rows_done=F("rows_done") + done,
            succeeded=F("succeeded") + counts.get(JobRow.Outcome.SUCCEEDED, 0),
            skipped=F("skipped") + counts.get(JobRow.Outcome.SKIPPED, 0),
            failed=F("failed") + counts.get(JobRow.Outcome.ERROR, 0),
        )
    job.chunks_done = index + 1
    job.rows_done += done
    job.succeeded += counts.get(JobRow.Outcome.SUCCEEDED, 0)
    job.skipped += counts.get(JobRow.Outcome.SKIPPED, 0)
    job.failed += counts.get(JobRow.Outcome.ERROR, 0)


def _finish(job: Job, owner: str, status: str, reason: str = "") -> Job:
    """Write the results file and close the job, if this worker still holds it; then notify."""
    job.refresh_from_db()
    if job.lease_owner != owner or job.status != Job.Status.IN_PROGRESS:
        return job
    job.status = status
    write_results(job)
    now = timezone.now()
    with transaction.atomic():
        closed = Job.objects.filter(pk=job.pk, lease_owner=owner, status=Job.Status.IN_PROGRESS).update(
            status=status,
            processed_at=now,
            failure_reason=reason,
            results_file=job.results_file.name,
            results_size=job.results_size,
            results_sha256=job.results_sha256,
            lease_owner="",
            lease_expires_at=None,
        )
        if not closed:
            job.refresh_from_db()
            return job
        record(f"job.{status}", job=job, obj=job, after={"status": status, "reason": reason})
    job.refresh_from_db()
    from .notify import notify_job_finished

    notify_job_finished(job)
    try:
        get_kind(job.kind).send_notices(job)
    except Exception:  # the job has ended; what was not sent is swept up by an idle worker later
        log.exception("Job %s: sending its notices failed", job.pk)
    return job


def run_next(owner: str) -> Job | None:
    """Claim and run one job; None when nothing is waiting."""
    job = claim_job(owner)
    if job is None:
        return None
    return run_job(job, owner)


def open_results(job: Job) -> IO[bytes]:
    return default_storage.open(str(job.results_file.name), "rb")
