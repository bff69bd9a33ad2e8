"""Runners: how a queued job reaches a worker.

The database is the queue; a runner only wakes a worker, which claims the job atomically, so a lost,
late or repeated wake-up changes nothing. Three runners (``CERTDESK_RUNNER``):

- ``thread``, the embedded default: a worker thread inside ``certdesk serve``, which also runs the
  schedule (renewal reminders, the janitor);
- ``none``: jobs wait for a ``certdesk worker`` polling loop;
- ``celery``: starting a job sends its id to a Celery queue; any Celery worker on any machine takes
  it (certdesk/tasks.py). Jobs of more than ``CERTDESK_LARGE_JOB_ROWS`` rows go to a queue of their
  own, so workers kept for the small-jobs queue are never all taken by long jobs.
"""

from __future__ import annotations

import logging
import threading
from typing import Protocol

from celery import Celery, current_app
from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from base.schedules import Schedule
from webhooks.delivery import Sender

from .heartbeat import Heartbeat, running
from .models import Job
from .schedule import Timetable
from .worker import claim_job, guard_worker_connections, release, run_job, worker_id

log = logging.getLogger(__name__)

RUN_JOB_TASK = "certdesk.run_job"


class Runner(Protocol):
    def enqueue(self, job_id: int) -> None:
        """Make sure a worker will look at the job soon."""


class NoRunner:
    """Jobs wait for a separate ``certdesk worker`` (or ``job submit --wait``) to claim them."""

    def enqueue(self, job_id: int) -> None:
        log.debug("Job %s queued; waiting for a worker", job_id)


def queue_names() -> dict[str, str]:
    """The Celery queues, by what they carry."""
    prefix = settings.CERTDESK_QUEUE_PREFIX
    return {"jobs": f"{prefix}.jobs", "large": f"{prefix}.large", "schedule": f"{prefix}.schedule"}


def queue_for(total_rows: int) -> str:
    queues = queue_names()
    return queues["large"] if total_rows > settings.CERTDESK_LARGE_JOB_ROWS else queues["jobs"]


class CeleryRunner:
    """Sends the job's id to a Celery queue. A broker that cannot be reached does not fail the start:
    the job stays Queued in the database and the janitor sends it again."""

    def __init__(self, app: Celery | None = None) -> None:
        self.app = app

    def enqueue(self, job_id: int) -> None:
        total = Job.objects.filter(pk=job_id).values_list("total", flat=True).first()
        if total is None:
            return
        try:
            (self.app or current_app).send_task(
                RUN_JOB_TASK,
                args=[job_id],
                queue=queue_for(total),
                retry=True,
                retry_policy=settings.CELERY_TASK_PUBLISH_RETRY_POLICY,
            )
        except Exception:
            log.exception("Job %s: the broker could not be reached; the janitor will send it again", job_id)
            return
        Job.objects.filter(pk=job_id).update(enqueued_at=timezone.now())


class WorkerLoop:
    """Claims and runs jobs until stopped, and runs the schedule while idle. Polls the database, and
    wakes early when told a job was queued."""

    def __init__(self, role: str = "worker", schedules: list[Schedule] | None = None) -> None:
        self.owner = worker_id(role)
        self.role = role
        self.timetable = Timetable(schedules or [], self.owner)
        self.heartbeat = Heartbeat(self.owner, role)
        # Webhook deliveries go out from their own thread: a slow endpoint never holds up a job.
        self.sender = Sender(self.owner)
        self._wake = threading.Event()
        self._stop = threading.Event()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def run_waiting(self) -> int:
        """Run the jobs waiting now; how many were run."""
        ran = 0
        while not self._stop.is_set():
            job = claim_job(self.owner)
            if job is None:
                return ran
            running(self.owner, job)
            try:
                run_job(job, self.owner)
            except Exception:
                log.exception("Job %s: stopped by an error outside its chunks; released", job.pk)
                release(job, self.owner)
            finally:
                running(self.owner, None)
            ran += 1
        return ran

    def run_forever(self) -> None:
        log.info("Worker %s started", self.owner)
        guard_worker_connections()
        self.heartbeat.start()
        self.sender.start()
        try:
            while not self._stop.is_set():
                try:
                    close_old_connections()
                    self.run_waiting()
                    if not self._stop.is_set():
                        self.timetable.run_due()
                except Exception:
                    log.exception("Worker %s: unexpected error; retrying", self.owner)
                finally:
                    close_old_connections()
                self._wake.wait(settings.CERTDESK_WORKER_POLL_SECONDS)
                self._wake.clear()
        finally:
            self.sender.stop()
            self.heartbeat.stop()
            close_old_connections()
        log.info("Worker %s stopped", self.owner)


class ThreadRunner:
    """A worker thread inside this process: the embedded default of ``certdesk serve``."""

    def __init__(self, schedules: list[Schedule] | None = None) -> None:
        self.loop = WorkerLoop("thread", schedules)
        self.thread = threading.Thread(target=self.loop.run_forever, name="certdesk-worker", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def enqueue(self, job_id: int) -> None:
        self.loop.wake()


_runner: Runner | None = None


def install(runner: Runner) -> None:
    global _runner
    _runner = runner


def configured_runner() -> Runner:
    """The runner of ``CERTDESK_RUNNER`` for a process that only queues jobs (the web node, the CLI)."""
    return CeleryRunner() if settings.CERTDESK_RUNNER == "celery" else NoRunner()


def enqueue(job_id: int) -> None:
    global _runner
    if _runner is None:
        _runner = configured_runner()
    _runner.enqueue(job_id)
