"""The worker: claim, run and finish jobs of every kind.

The job row is the source of truth. A worker claims a job with one conditional UPDATE and holds
it by a lease; every chunk is fenced by that lease, so a worker that lost its job cannot commit,
and a job whose worker died is resumed at its first unfinished chunk by whoever claims it next.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.backends.signals import connection_created
from django.db.models import Count, F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from audit.services import record
from base.sql import gc_paused, limit_session

from .heartbeat import owner_still_running
from .models import Job, JobRow
from .notify import notify_job_finished, tell_endpoints
from .registry import get_kind
from .results import write_results
from .staging import mark_chunk, mark_seqs

log = logging.getLogger(__name__)


_worker_thread = threading.local()


def guard_worker_connections() -> None:
    """Make this thread a job worker's: its database connections (on PostgreSQL) lose a transaction
    left idle for ``CERTDESK_WORKER_IDLE_TRANSACTION_SECONDS`` and a statement running longer than
    ``CERTDESK_WORKER_STATEMENT_SECONDS``. A worker frozen or cut off inside a chunk then releases its
    locks, and another worker resumes the job once the lease has expired, instead of waiting for ever."""
    _worker_thread.guarded = True
    connection_created.connect(_limit_new_connection, dispatch_uid="bulk.worker.limits")
    if connection.connection is not None:
        _limit(connection)


def _limit_new_connection(sender: Any, connection: Any, **kwargs: Any) -> None:
    if getattr(_worker_thread, "guarded", False):
        _limit(connection)


def _limit(db: Any) -> None:
    limit_session(
        db,
        idle_in_transaction_seconds=settings.CERTDESK_WORKER_IDLE_TRANSACTION_SECONDS,
        statement_seconds=settings.CERTDESK_WORKER_STATEMENT_SECONDS,
    )


class LeaseLost(RuntimeError):
    """Another worker owns the job now; this one must stop without committing."""


def worker_id(role: str = "worker") -> str:
    return f"{role}:{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def claim_job(owner: str, job_id: int | None = None) -> Job | None:
    """Claim the oldest claimable job (or ``job_id``) with one conditional UPDATE; None if none."""
    now = timezone.now()
    # An expired lease is taken over unless its worker still beats and says it runs the job: a chunk
    # longer than the lease is slow, not dead (a late message must not steal it and burn attempts).
    claimable = Q(status=Job.Status.QUEUED) | (
        Q(status=Job.Status.IN_PROGRESS, lease_expires_at__lt=now) & ~Q(owner_still_running())
    )
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
        release(job, owner)
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


def release(job: Job, owner: str) -> None:
    """Give a claimed job back: no owner and an expired lease, so that any worker may claim it."""
    try:
        with transaction.atomic():
            # No owner and an expired lease: any worker may claim it, and the janitor sends it again
            # under Celery, where no worker polls for it (this worker is alive, so it would wait).
            Job.objects.filter(pk=job.pk, lease_owner=owner, status=Job.Status.IN_PROGRESS).update(
                lease_owner="", lease_expires_at=timezone.now()
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
        # Tens of thousands of rows as tuples and not one cycle: the collector would only walk the heap.
        with gc_paused():
            leftovers = apply(job, lo, hi, now)
        # The kind marks what succeeded; what it did not succeed on is marked here, before the count.
        for leftover in leftovers:
            if leftover.seqs is None:
                mark_chunk(job, lo, hi, leftover.outcome, leftover.message)
            else:
                mark_seqs(job, leftover.seqs, leftover.outcome, leftover.message)
        if settings.CERTDESK_CHUNK_HOLD_SECONDS:
            # Crash tests only: a worker killed now dies inside the chunk's transaction.
            log.info("Job %s: chunk %s of %s applied, not yet committed", job.pk, index + 1, job.chunk_count)
            time.sleep(settings.CERTDESK_CHUNK_HOLD_SECONDS)
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
        tell_endpoints(job, f"job.{status}")
    notify_job_finished(job)
    try:
        get_kind(job.kind).send_notices(job)
    except Exception:  # the job has ended; what was not sent is swept up by an idle worker later
        log.exception("Job %s: sending its notices failed", job.pk)
    return job


def fail_claimed(job: Job, owner: str, reason: str) -> Job:
    """Fail a job this owner holds, with the reason, as a worker does (results file, email, audit)."""
    return _finish(job, owner, Job.Status.FAILED, reason=reason)


def run_next(owner: str) -> Job | None:
    """Claim and run one job; None when nothing is waiting."""
    job = claim_job(owner)
    if job is None:
        return None
    return run_job(job, owner)
