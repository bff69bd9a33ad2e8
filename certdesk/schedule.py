"""What runs by itself, and when: read by Celery beat (``certdesk scheduler``) and by the embedded
worker alike. Each task claims its period (bulk/schedule.py), so two schedulers run it once."""

from __future__ import annotations

from django.conf import settings

from base.schedules import Schedule


def schedules() -> list[Schedule]:
    return [
        Schedule(
            name="renewal-notices",
            label="Renewal reminders",
            task="credentials.renewals.scheduled_renewal_notices",
            daily_hour=settings.CERTDESK_RENEWAL_NOTICES_HOUR,
            check_every_seconds=settings.CERTDESK_SCHEDULE_CHECK_SECONDS,
        ),
        Schedule(
            name="notice-sweep",
            label="Unsent emails",
            task="bulk.notify.sweep_unsent",
            every_seconds=settings.CERTDESK_NOTICE_SWEEP_SECONDS,
        ),
        Schedule(
            name="janitor",
            label="Janitor",
            task="bulk.janitor.scheduled_janitor",
            every_seconds=settings.CERTDESK_JANITOR_SECONDS,
        ),
    ]


def by_name() -> dict[str, Schedule]:
    return {schedule.name: schedule for schedule in schedules()}
