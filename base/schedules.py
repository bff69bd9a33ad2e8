"""What a scheduled task is and when it is due: plain data, read before Django's apps are ready (the
Celery app builds its beat schedule from it while the settings load)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone
from django.utils.module_loading import import_string


@dataclass(frozen=True)
class Schedule:
    """A task and how often it runs: every ``every_seconds``, or daily from ``daily_hour`` (local time).

    ``task`` is the dotted path of a function that does the work and returns what it did, in a line.
    """

    name: str
    label: str
    task: str
    every_seconds: int | None = None
    daily_hour: int | None = None
    check_every_seconds: int = 300  # how often a scheduler asks whether a daily task is due

    def slot(self, now: dt.datetime) -> str | None:
        """The period ``now`` falls in, or None when the task is not due (a daily task before its hour).

        A daily task missed at its hour (the scheduler was down) still runs once later that day.
        """
        if self.daily_hour is not None:
            local = timezone.localtime(now)
            return local.date().isoformat() if local.hour >= self.daily_hour else None
        if not self.every_seconds:
            raise ValueError(f"schedule {self.name} has neither a period nor an hour")
        return str(int(now.timestamp()) // self.every_seconds)

    @property
    def check_seconds(self) -> int:
        """How often a scheduler asks whether the task is due."""
        return self.every_seconds or self.check_every_seconds

    def run(self) -> str:
        return str(import_string(self.task)())
