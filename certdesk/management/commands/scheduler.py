"""``certdesk scheduler``: runs the schedule (renewal reminders, the sweep of unsent emails, the janitor).

With ``CERTDESK_RUNNER=celery`` it is Celery beat, sending each task to the workers; otherwise it runs
the tasks itself. Run one; a second by mistake does no harm, since each task claims its period.
"""

from __future__ import annotations

import signal
import threading
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from bulk.schedule import Timetable
from bulk.worker import worker_id
from certdesk.celery import app
from certdesk.schedule import schedules


class Command(BaseCommand):
    help = "Run the schedule: daily renewal reminders, the sweep of unsent emails and the janitor."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--state",
            default=str(settings.VAR_DIR / "celerybeat-schedule"),
            help="Celery only: the file where beat keeps when each task last ran (default %(default)s).",
        )

    def handle(self, *args: Any, state: str, **options: Any) -> None:
        for schedule in schedules():
            when = (
                f"daily from {schedule.daily_hour:02d}:00 ({settings.TIME_ZONE}), checked every "
                f"{schedule.check_seconds} s"
                if schedule.daily_hour is not None
                else f"every {schedule.check_seconds} s"
            )
            self.stdout.write(f"{schedule.label}: {when}")
        if settings.CERTDESK_RUNNER == "celery":
            app.start(["beat", "--loglevel", settings.LOG_LEVEL, "--schedule", state])
            return
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        timetable = Timetable(schedules(), worker_id("scheduler"))
        while not stop.is_set():
            timetable.run_due()
            stop.wait(1.0)
