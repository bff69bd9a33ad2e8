"""Heartbeats: each worker records that it lives and what it runs, so that people can see the workers
and the janitor can tell a job whose worker died from one whose worker is only slow."""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
from collections.abc import Callable

from django.conf import settings
from django.db import DatabaseError, close_old_connections
from django.db.models import F, QuerySet
from django.utils import timezone

from .models import Job, Worker

log = logging.getLogger(__name__)


def alive_since() -> dt.datetime:
    """Workers seen after this moment are alive."""
    return timezone.now() - dt.timedelta(seconds=settings.CERTDESK_WORKER_ALIVE_SECONDS)


def alive_workers() -> QuerySet[Worker]:
    return Worker.objects.filter(stopped_at__isnull=True, last_seen_at__gte=alive_since())


def is_alive(name: str) -> bool:
    return alive_workers().filter(name=name).exists()


class Heartbeat:
    """A thread that records a worker's heartbeat every ``CERTDESK_HEARTBEAT_SECONDS``.

    ``on_beat`` runs after each beat (a Celery worker sends jobs whose worker died back to the queue).
    """

    def __init__(
        self, name: str, runner: str, queues: str = "", on_beat: Callable[[], object] | None = None
    ) -> None:
        self.name = name
        self.runner = runner
        self.queues = queues
        self.on_beat = on_beat
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat {name}", daemon=True)

    def start(self) -> None:
        now = timezone.now()
        Worker.objects.update_or_create(
            name=self.name,
            defaults={
                "runner": self.runner,
                "hostname": socket.gethostname()[:255],
                "pid": os.getpid(),
                "queues": self.queues[:255],
                "started_at": now,
                "last_seen_at": now,
                "stopped_at": None,
                "job": None,
            },
        )
        self._thread.start()

    def stop(self) -> None:
        """Say goodbye, so that the worker stops counting as alive at once."""
        self._stop.set()
        try:
            Worker.objects.filter(name=self.name).update(stopped_at=timezone.now(), job=None)
        except DatabaseError:
            log.exception("Worker %s: could not record that it stopped", self.name)

    def join(self, timeout: float | None = None) -> None:
        """Wait for the heartbeat thread to end, once stopped."""
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.wait(settings.CERTDESK_HEARTBEAT_SECONDS):
            try:
                beat(self.name)
                if self.on_beat is not None:
                    self.on_beat()
            except Exception:  # a database outage must not end the heartbeat for good
                log.exception("Worker %s: heartbeat failed", self.name)
            finally:
                close_old_connections()


def beat(name: str) -> None:
    Worker.objects.filter(name=name, stopped_at__isnull=True).update(last_seen_at=timezone.now())


def running(name: str, job: Job | None) -> None:
    """Record which job the worker runs now (None: it is idle again, one more job done)."""
    now = timezone.now()
    if job is not None:
        Worker.objects.filter(name=name).update(job=job, last_seen_at=now)
    else:
        Worker.objects.filter(name=name).update(job=None, last_seen_at=now, jobs_run=F("jobs_run") + 1)
