"""Scheduled tasks that are safe however many schedulers run: each period of a task is claimed by
inserting its row, so a second scheduler (a mistake, or the embedded worker beside Celery beat) finds
the period taken and does nothing.

What is scheduled is listed by the project (certdesk/schedule.py); this module only knows how to run
a task once per period, in a Celery task or in the embedded worker's loop alike.
"""

from __future__ import annotations

import datetime as dt
import logging
import time

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from base.schedules import Schedule

from .models import ScheduleRun

log = logging.getLogger(__name__)


def claim(schedule: Schedule, slot: str, owner: str) -> ScheduleRun | None:
    """Take the period for this owner; None when another scheduler took it first.

    A claim left unfinished for longer than ``CERTDESK_SCHEDULE_STALE_SECONDS`` (its worker died mid-run)
    is taken over, with a conditional UPDATE, so that the period is not lost.
    """
    now = timezone.now()
    taken = ScheduleRun.objects.filter(name=schedule.name, slot=slot)
    # Another scheduler's ask is counted, not tried as an INSERT that the unique constraint refuses.
    if taken.update(duplicates=F("duplicates") + 1):
        stale = now - dt.timedelta(seconds=settings.CERTDESK_SCHEDULE_STALE_SECONDS)
        if taken.filter(finished_at__isnull=True, started_at__lt=stale).update(
            claimed_by=owner[:100], started_at=now, duplicates=F("duplicates") - 1
        ):
            log.warning(
                "%s for %s: the run started before was never finished; running it again", schedule.label, slot
            )
            return taken.get()
        return None
    try:
        with transaction.atomic():
            return ScheduleRun.objects.create(
                name=schedule.name, slot=slot, claimed_by=owner[:100], started_at=now
            )
    except IntegrityError:  # two schedulers inserting at the same instant
        taken.update(duplicates=F("duplicates") + 1)
        return None


def run_scheduled(schedule: Schedule, owner: str, now: dt.datetime | None = None) -> ScheduleRun | None:
    """Run the task for the current period unless it is not due or already claimed.

    A task that fails gives its period back, so the next check tries again (a mail server that was
    down at six o'clock still gets the day's reminders when it is back).
    """
    slot = schedule.slot(now or timezone.now())
    if slot is None:
        return None
    run = claim(schedule, slot, owner)
    if run is None:
        log.info("%s for %s: already run by another scheduler", schedule.label, slot)
        return None
    try:
        outcome = schedule.run()
    except Exception as exc:
        log.exception("%s for %s failed; it will be tried again", schedule.label, slot)
        ScheduleRun.objects.filter(pk=run.pk).delete()
        run.outcome = f"failed: {type(exc).__name__}: {exc}"
        return run
    run.outcome = outcome[:2000]
    run.finished_at = timezone.now()
    ScheduleRun.objects.filter(pk=run.pk).update(outcome=run.outcome, finished_at=run.finished_at)
    log.info("%s for %s: %s", schedule.label, slot, outcome)
    return run


RETRY_SECONDS = 60


class Timetable:
    """The embedded worker's scheduler: asks the database once per period and task, not on every wake;
    a task that failed is tried again a minute later."""

    def __init__(self, schedules: list[Schedule], owner: str) -> None:
        self.schedules = schedules
        self.owner = owner
        self._asked: dict[str, str] = {}
        self._retry_at: dict[str, float] = {}

    def run_due(self, now: dt.datetime | None = None) -> list[ScheduleRun]:
        now = now or timezone.now()
        ran = []
        for schedule in self.schedules:
            slot = schedule.slot(now)
            if slot is None or self._asked.get(schedule.name) == slot:
                continue
            if time.monotonic() < self._retry_at.get(schedule.name, 0.0):
                continue
            run = run_scheduled(schedule, self.owner, now)
            if run is not None and run.outcome.startswith("failed:"):
                self._retry_at[schedule.name] = time.monotonic() + RETRY_SECONDS
            else:
                self._asked[schedule.name] = slot
            if run is not None:
                ran.append(run)
        return ran
