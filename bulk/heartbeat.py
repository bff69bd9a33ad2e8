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
from django.db.models import Exists, F, OuterRef, QuerySet
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


def owner_still_running() -> Exists:
    """For a job: its lease owner is alive and says it is running this very job (slow, not dead).

    A job whose lease expired is taken over only when this is false, by a claim or by the janitor.
    """
    return Exists(alive_workers().filter(name=OuterRef("lease_owner"), job=OuterRef("pk")))


class Heartbeat:
    """A thread that records a worker's heartbeat every ``CERTDESK_HEARTBEAT_SECONDS``.

    Every write happens on the thread, so a database that is away when the worker starts delays the
    heartbeat, not the worker; the worker's row is created by the first beat that reaches it.
    ``on_beat`` runs on a thread of its own at the same pace (a Celery worker sends jobs whose worker
    died back to the queue), so that slow recovery work never makes a live worker look dead.
    """

    def __init__(
        self, name: str, runner: str, queues: str = "", on_beat: Callable[[], object] | None = None
    ) -> None:
        self.name = name
        self.runner = runner
        self.queues = queues
        self.on_beat = on_beat
        self.started_at = timezone.now()
        self._registered = False
        self._stop = threading.Event()
        # Held by a beat and by the goodbye: a beat in flight when the worker stops would otherwise
        # find its row stopped and write it back as a live worker.
        self._writing = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat {name}", daemon=True)
        self._recovery = threading.Thread(target=self._recover, name=f"recovery {name}", daemon=True)

    def start(self, register_now: bool = True) -> None:
        """Start beating. With ``register_now`` the first beat is written before this returns (when
        the database answers); without it, on the thread, for a process that must not wait (a Celery
        pool process must be up within seconds)."""
        self._registered = False
        if register_now:
            try:
                self.beat()
                self._registered = True
            except DatabaseError:
                log.exception("Worker %s: could not record its heartbeat yet", self.name)
        self._thread.start()
        if self.on_beat is not None:
            self._recovery.start()

    def stop(self) -> None:
        """Say goodbye, so that the worker stops counting as alive at once."""
        with self._writing:
            self._stop.set()
            try:
                Worker.objects.filter(name=self.name).update(stopped_at=timezone.now(), job=None)
            except DatabaseError:
                log.exception("Worker %s: could not record that it stopped", self.name)

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def beat(self) -> None:
        """Record that the worker lives; create its row when there is none yet. Once the worker has
        said goodbye, a beat writes nothing."""
        with self._writing:
            if not self._stop.is_set():
                self._beat()

    def _beat(self) -> None:
        if not Worker.objects.filter(name=self.name, stopped_at__isnull=True).update(
            last_seen_at=timezone.now()
        ):
            now = timezone.now()
            Worker.objects.update_or_create(
                name=self.name,
                defaults={
                    "runner": self.runner,
                    "hostname": socket.gethostname()[:255],
                    "pid": os.getpid(),
                    "queues": self.queues[:255],
                    "started_at": self.started_at,
                    "last_seen_at": now,
                    "idle_since": now,
                    "stopped_at": None,
                },
            )

    def _run(self) -> None:
        wait = settings.CERTDESK_HEARTBEAT_SECONDS if self._registered else 0.0
        while not self._stop.wait(wait):
            wait = settings.CERTDESK_HEARTBEAT_SECONDS
            try:
                self.beat()
            except Exception:  # a database outage must not end the heartbeat for good
                log.exception("Worker %s: heartbeat failed", self.name)
            finally:
                close_old_connections()

    def _recover(self) -> None:
        assert self.on_beat is not None
        while not self._stop.wait(settings.CERTDESK_HEARTBEAT_SECONDS):
            try:
                self.on_beat()
            except Exception:
                log.exception("Worker %s: recovery failed", self.name)
            finally:
                close_old_connections()


def running(name: str, job: Job | None) -> None:
    """Record which job the worker runs now (None: it is idle again, one more job done)."""
    now = timezone.now()
    if job is not None:
        Worker.objects.filter(name=name).update(job=job, last_seen_at=now, idle_since=None)
    else:
        Worker.objects.filter(name=name).update(
            job=None, last_seen_at=now, idle_since=now, jobs_run=F("jobs_run") + 1
        )
