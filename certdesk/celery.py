"""The Celery app of certdesk (``CERTDESK_RUNNER=celery``): ``certdesk worker`` or ``celery -A certdesk
worker`` runs jobs, ``certdesk scheduler`` or ``celery -A certdesk beat`` runs the schedule.

Its settings are Django's ``CELERY_*`` settings (certdesk/settings.py); its tasks are in certdesk/tasks.py.
"""

from __future__ import annotations

import os
from typing import Any

from celery import Celery
from django.conf import settings

from .schedule import schedules

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "certdesk.settings")

app = Celery("certdesk")
app.config_from_object("django.conf:settings", namespace="CELERY")
# The app every thread of every process sends with (bulk.runner uses celery.current_app): web request
# threads and heartbeat threads have no current app of their own.
app.set_default()

SCHEDULED_TASK = "certdesk.scheduled"


def beat_schedule() -> dict[str, dict[str, Any]]:
    """One beat entry per scheduled task; a message not taken before the next check is dropped."""
    queue = f"{settings.CERTDESK_QUEUE_PREFIX}.schedule"  # bulk.runner.queue_names(), read before models load
    return {
        schedule.name: {
            "task": SCHEDULED_TASK,
            "schedule": float(schedule.check_seconds),
            "args": [schedule.name],
            "options": {"queue": queue, "expires": float(schedule.check_seconds)},
        }
        for schedule in schedules()
    }


@app.on_after_configure.connect
def _configure_beat(sender: Celery, **kwargs: Any) -> None:
    sender.conf.beat_schedule = beat_schedule()
