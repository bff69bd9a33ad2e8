"""Celery tasks: run a job, run a scheduled task. Imported by Celery workers only (CELERY_IMPORTS).

A task is only a wake-up: the job row says what to do. The task claims the job with the same
conditional UPDATE as every other worker, so a duplicate or late message finds the job taken or
finished and exits; a worker that dies hands the job on through its expired lease.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import signals

from bulk.heartbeat import Heartbeat, running
from bulk.janitor import recover
from bulk.models import Job
from bulk.runner import RUN_JOB_TASK
from bulk.schedule import run_scheduled
from bulk.worker import claim_job, guard_worker_connections, release, run_job, worker_id
from webhooks.delivery import Sender

from .celery import SCHEDULED_TASK, app
from .schedule import by_name

log = logging.getLogger(__name__)

_heartbeat: Heartbeat | None = None


def owner() -> str:
    """This process's worker name (the owner on its leases); a heartbeat is started on first need."""
    if _heartbeat is None:
        _start_heartbeat()
    assert _heartbeat is not None
    return _heartbeat.name


@app.task(name=RUN_JOB_TASK, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def run_job_task(job_id: int) -> str:
    me = owner()
    job = claim_job(me, job_id)
    if job is None:
        state = Job.objects.filter(pk=job_id).values_list("status", "lease_owner").first()
        log.info("Job %s not claimed (%s): another worker has it, or it has ended", job_id, state)
        return "not claimed"
    running(me, job)
    try:
        job = run_job(job, me)
    except Exception:
        # Its message is acknowledged even so: give the job back, for the janitor to send it again.
        log.exception("Job %s: stopped by an error outside its chunks; released to be retried", job_id)
        release(job, me)
        return "released"
    finally:
        running(me, None)
    return job.status


@app.task(name=SCHEDULED_TASK, ignore_result=True)
def scheduled_task(name: str) -> str:
    schedule = by_name().get(name)
    if schedule is None:
        log.warning("No scheduled task is called %r", name)
        return "unknown"
    run = run_scheduled(schedule, owner())
    return run.outcome if run is not None else "not due, or run by another scheduler"


def _start_heartbeat() -> None:
    global _heartbeat
    queues = ",".join(sorted(app.amqp.queues.consume_from or ()))
    _heartbeat = Heartbeat(worker_id("celery"), "celery", queues=queues, on_beat=recover)
    _heartbeat.start(register_now=False)
    # Each worker process sends webhook deliveries from a thread of its own, beside its jobs.
    Sender(_heartbeat.name).start()


@signals.worker_process_init.connect
def _pool_process_started(**kwargs: Any) -> None:
    """Each prefork pool process runs one job at a time, and is one worker on the Jobs page."""
    guard_worker_connections()
    _start_heartbeat()


@signals.worker_ready.connect
def _worker_ready(sender: Any, **kwargs: Any) -> None:
    """With the solo pool, tasks run in the worker's own process. The threads, gevent and eventlet
    pools would run several jobs under one worker name: certdesk refuses them (docs/deploy.md)."""
    pool = getattr(getattr(sender, "controller", None), "pool_cls", None)
    module = getattr(pool, "__module__", "celery.concurrency.prefork")
    if not module.endswith((".prefork", ".solo")):
        log.error("certdesk workers need the prefork or solo pool, not %s: stopping", module)
        raise SystemExit(2)
    if module.endswith(".solo") and _heartbeat is None:
        guard_worker_connections()
        _start_heartbeat()


@signals.worker_process_shutdown.connect
@signals.worker_shutdown.connect
def _stopping(**kwargs: Any) -> None:
    if _heartbeat is not None:
        _heartbeat.stop()
