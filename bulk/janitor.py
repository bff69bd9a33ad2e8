"""The janitor: puts right what crashes, lost messages and time leave behind.

- A job whose lease expired while its worker is gone goes back to the queue (resumed at its first
  unfinished chunk), or is failed with the reason once it has used up its attempts.
- A queued job that no worker took although workers are idle is sent again: a broker that restarted
  without its messages must not leave jobs queued for ever.
- Draft and Verified jobs older than the retention are deleted, with their stored files.
- Heartbeats of workers long gone and old schedule records are forgotten.

Every change is a conditional UPDATE or DELETE, so two janitors at once do each thing once.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from functools import partial

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from audit.services import record

from .files import delete_files_of
from .heartbeat import alive_since, alive_workers, owner_still_running
from .models import Job, ScheduleRun, Worker
from .runner import enqueue, queue_for
from .worker import fail_claimed, worker_id

log = logging.getLogger(__name__)

BATCH = 500


@dataclass
class JanitorReport:
    dry_run: bool = False
    lines: list[str] = field(default_factory=list)
    requeued: int = 0
    failed: int = 0
    resent: int = 0
    deleted: int = 0

    def say(self, line: str) -> None:
        self.lines.append(line)
        log.info("Janitor%s: %s", " (dry run, not done)" if self.dry_run else "", line)

    def summary(self) -> str:
        verb = "would be" if self.dry_run else "were"
        return (
            f"{self.requeued} stalled job(s) {verb} requeued, {self.failed} {verb} failed, "
            f"{self.resent} queued job(s) {verb} sent again, {self.deleted} old draft or verified job(s) "
            f"{verb} deleted."
        )


def run_janitor(dry_run: bool = False, now: dt.datetime | None = None) -> JanitorReport:
    report = JanitorReport(dry_run=dry_run)
    now = now or timezone.now()
    requeue_stalled(report, now)
    resend_queued(report, now)
    delete_old_drafts(report, now)
    if not dry_run:
        forget_old_records(now)
    return report


def scheduled_janitor() -> str:
    """The janitor as a scheduled task."""
    return run_janitor().summary()


def requeue_stalled(report: JanitorReport, now: dt.datetime) -> None:
    """Jobs in progress whose lease expired, unless their worker still beats and says it runs them
    (slow, not dead: its next chunk renews the lease). A worker that beats but runs something else
    has let the job go (an error after its last chunk, say): the job is requeued too."""
    stalled = (
        Job.objects.filter(status=Job.Status.IN_PROGRESS, lease_expires_at__lt=now)
        .exclude(owner_still_running())
        .order_by("pk")
    )
    for job in stalled[:BATCH]:
        done = f"{job.chunks_done} of {job.chunk_count} chunk(s) done"
        if job.attempts >= settings.CERTDESK_MAX_ATTEMPTS:
            report.failed += 1
            report.say(f"Job {job.pk} “{job.title}”: failed after {job.attempts} attempts ({done}).")
            if not report.dry_run:
                _fail_exhausted(job, now)
            continue
        report.requeued += 1
        report.say(
            f"Job {job.pk} “{job.title}”: its worker {job.lease_owner or '?'} stopped; requeued ({done})."
        )
        if report.dry_run:
            continue
        with transaction.atomic():
            taken = Job.objects.filter(
                pk=job.pk,
                status=Job.Status.IN_PROGRESS,
                lease_owner=job.lease_owner,
                lease_expires_at__lt=now,
            ).update(status=Job.Status.QUEUED, lease_owner="", lease_expires_at=None, enqueued_at=now)
            if taken:
                record(
                    "job.requeued",
                    job=job,
                    obj=job,
                    before={"status": Job.Status.IN_PROGRESS, "worker": job.lease_owner},
                    after={"status": Job.Status.QUEUED, "chunks_done": job.chunks_done},
                )
                transaction.on_commit(partial(enqueue, job.pk))
            else:
                report.requeued -= 1  # another janitor, or a worker, took it first


def _fail_exhausted(job: Job, now: dt.datetime) -> None:
    """Take the job with a lease of the janitor's own, then fail it as a worker would."""
    owner = worker_id("janitor")
    lease = now + dt.timedelta(seconds=settings.CERTDESK_LEASE_SECONDS)
    if Job.objects.filter(
        pk=job.pk, status=Job.Status.IN_PROGRESS, lease_owner=job.lease_owner, lease_expires_at__lt=now
    ).update(lease_owner=owner, lease_expires_at=lease):
        fail_claimed(
            job,
            owner,
            f"The job was started {job.attempts} times and never finished; it was stopped. "
            "Rows already processed keep their changes; the results file lists them.",
        )


def resend_queued(report: JanitorReport, now: dt.datetime) -> None:
    """Queued jobs sent to the queue long ago, while a worker sits idle: their message was lost."""
    if settings.CERTDESK_RUNNER != "celery":
        return  # the thread runner and the polling worker read the queue from the database itself
    before = now - dt.timedelta(seconds=settings.CERTDESK_RESEND_AFTER_SECONDS)
    # Workers idle all that while: a job waiting as long, in a queue they take, was lost by the broker.
    # (A worker between two jobs of a backlog is not idle; its next message is on its way.)
    idle = list(
        alive_workers().filter(job__isnull=True, idle_since__lt=before).values_list("queues", flat=True)
    )
    if not idle:
        return  # every worker is busy, or just became free: waiting jobs are just waiting
    # Queues some idle worker takes ("" when a worker did not say: it may take any).
    taken = {name for queues in idle for name in queues.split(",") if name}
    any_queue = any(not queues for queues in idle)
    waiting = Job.objects.filter(status=Job.Status.QUEUED).filter(
        Q(enqueued_at__lt=before) | Q(enqueued_at__isnull=True, queued_at__lt=before)
    )
    for job in waiting.order_by("queued_at", "pk")[:BATCH]:
        if not any_queue and queue_for(job.total) not in taken:
            continue  # its queue has no idle worker: sending it again would only pile up copies
        report.resent += 1
        report.say(
            f"Job {job.pk} “{job.title}”: queued since {job.queued_at:%Y-%m-%d %H:%M:%S %Z}; sent again."
        )
        if report.dry_run:
            continue
        if Job.objects.filter(pk=job.pk, status=Job.Status.QUEUED, enqueued_at=job.enqueued_at).update(
            enqueued_at=now
        ):
            enqueue(job.pk)
        else:
            report.resent -= 1


def delete_old_drafts(report: JanitorReport, now: dt.datetime) -> None:
    """Draft and Verified jobs nobody started within the retention, with their files."""
    if not settings.CERTDESK_DRAFT_RETENTION_DAYS:
        return  # 0: kept for ever
    cutoff = now - dt.timedelta(days=settings.CERTDESK_DRAFT_RETENTION_DAYS)
    old = Job.objects.filter(status__in=Job.STARTABLE, created_at__lt=cutoff).order_by("pk")
    while True:
        batch = list(old[:BATCH])
        if not batch:
            return
        for job in batch:
            report.deleted += 1
            report.say(
                f"Job {job.pk} “{job.title}” ({job.get_status_display()}, created "
                f"{job.created_at:%Y-%m-%d}): deleted with its files."
            )
        if report.dry_run:
            return
        with transaction.atomic():
            gone = list(
                Job.objects.filter(pk__in=[j.pk for j in batch], status__in=Job.STARTABLE)
                .select_for_update()
                .values_list("pk", flat=True)
            )
            for job in batch:
                if job.pk in gone:
                    record(
                        "job.deleted",
                        job=None,
                        obj=job,
                        before={"status": job.status, "title": job.title},
                        after={"reason": f"not started within {settings.CERTDESK_DRAFT_RETENTION_DAYS} days"},
                    )
            Job.objects.filter(pk__in=gone).delete()
            # Files cannot come back if the deletion rolls back: they go once it has committed.
            transaction.on_commit(partial(delete_files_of, [job for job in batch if job.pk in gone]))


def forget_old_records(now: dt.datetime) -> None:
    cutoff = now - dt.timedelta(days=settings.CERTDESK_RECORD_RETENTION_DAYS)
    Worker.objects.filter(last_seen_at__lt=min(cutoff, alive_since())).delete()
    ScheduleRun.objects.filter(started_at__lt=cutoff).delete()


def recover() -> None:
    """The janitor's quick part, run on each heartbeat of a Celery worker: stalled and lost jobs."""
    report = JanitorReport()
    now = timezone.now()
    requeue_stalled(report, now)
    resend_queued(report, now)
