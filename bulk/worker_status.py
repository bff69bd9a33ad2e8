"""The workers as a viewer may see them, and why a queued job still waits: for the Jobs page, the job
page and the API alike.

A worker's job is shown only to a viewer who may see that job (``jobs_visible_to``); to anyone else
it is "a job you cannot see", so a title never crosses a constraint.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import Count, Q
from django.utils import timezone

from .heartbeat import alive_since, alive_workers
from .models import Job, Worker
from .visibility import jobs_visible_to


@dataclass(frozen=True)
class WorkerStatus:
    """One worker: alive or not, and the job it runs now as this viewer may see it."""

    worker: Worker
    alive: bool
    job: Job | None
    """The job it runs, when the viewer may see it."""
    hidden: bool
    """It runs a job the viewer may not see."""

    @property
    def busy(self) -> bool:
        return self.job is not None or self.hidden


@dataclass(frozen=True)
class WorkersOverview:
    workers: list[WorkerStatus]
    """The workers alive now, then those seen within ``CERTDESK_WORKERS_LISTED_SECONDS``; latest first."""

    @property
    def alive(self) -> list[WorkerStatus]:
        return [w for w in self.workers if w.alive]

    @property
    def busy(self) -> int:
        return sum(1 for w in self.alive if w.busy)

    @property
    def idle(self) -> int:
        return len(self.alive) - self.busy

    @property
    def last_seen_at(self) -> dt.datetime | None:
        """When an alive worker last gave a sign of life."""
        return max((w.worker.last_seen_at for w in self.alive), default=None)


def listed_since() -> dt.datetime:
    """Workers seen after this moment are listed, alive or not."""
    return timezone.now() - dt.timedelta(seconds=settings.CERTDESK_WORKERS_LISTED_SECONDS)


def workers_seen_by(user: Any) -> WorkersOverview:
    """The workers alive now and those seen recently, each job shown only if ``user`` may see it."""
    threshold = alive_since()
    workers = list(
        Worker.objects.filter(last_seen_at__gte=min(listed_since(), threshold))
        .select_related("job")
        .order_by("-last_seen_at", "name")
    )
    running = {w.job_id for w in workers if w.job_id is not None}
    visible = (
        set(jobs_visible_to(user).filter(pk__in=running).values_list("pk", flat=True)) if running else set()
    )
    statuses = [
        WorkerStatus(
            worker=w,
            alive=w.stopped_at is None and w.last_seen_at >= threshold,
            job=w.job if w.job_id in visible else None,
            hidden=w.job_id is not None and w.job_id not in visible,
        )
        for w in workers
    ]
    # Alive first, then the others; each group latest first (the order of the query).
    return WorkersOverview(sorted(statuses, key=lambda s: not s.alive))


@dataclass(frozen=True)
class QueueState:
    """Why a queued job has not started: no worker alive, every worker busy, or a worker about to take it."""

    workers_alive: int
    workers_busy: int
    jobs_ahead: int | None = None
    """Queued jobs created before it (workers take the oldest first); counted only when all are busy."""

    @property
    def no_worker(self) -> bool:
        return self.workers_alive == 0

    @property
    def all_busy(self) -> bool:
        return self.workers_alive > 0 and self.workers_busy >= self.workers_alive

    def sentence(self) -> str:
        if self.no_worker:
            return "Queued — waiting for a worker: no worker is running."
        if self.all_busy:
            ahead = (
                f" {self.jobs_ahead} job(s) you can see are queued ahead of it." if self.jobs_ahead else ""
            )
            return f"Queued — waiting for a free worker: every worker is running a job.{ahead}"
        return "Queued — waiting for a worker to take it."


def workers_alive_count() -> int:
    return alive_workers().count()


def queue_state(job: Job, viewer: Any) -> QueueState | None:
    """For a queued job, what it waits for (one query, two when every worker is busy); else None.

    The jobs ahead are counted among those the viewer may see: other divisions' work is not told."""
    if job.status != Job.Status.QUEUED:
        return None
    counts = alive_workers().aggregate(workers=Count("pk"), busy=Count("job"))
    workers, busy = counts["workers"], counts["busy"]
    if busy < workers or not workers:
        return QueueState(workers, busy)
    # The order workers claim in (bulk.worker.claim_job): oldest first.
    ahead = (
        jobs_visible_to(viewer)
        .filter(
            Q(created_at__lt=job.created_at) | Q(created_at=job.created_at, pk__lt=job.pk),
            status=Job.Status.QUEUED,
        )
        .count()
    )
    return QueueState(workers, busy, ahead)
