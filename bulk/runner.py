"""Runners: how a queued job reaches a worker.

The database is the queue: a runner only wakes a worker, which claims the job atomically. The
embedded default is a thread inside the web server; ``certdesk worker`` runs the same loop alone.
A Celery runner plugs in here by implementing ``enqueue``.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Protocol

from django.conf import settings
from django.db import close_old_connections

from .notify import send_unsent_notices
from .registry import all_kinds
from .worker import run_next, worker_id

NOTICE_SWEEP_SECONDS = 60

log = logging.getLogger(__name__)


class Runner(Protocol):
    def enqueue(self, job_id: int) -> None:
        """Make sure a worker will look at the job soon."""


class NoRunner:
    """Jobs wait for a separate ``certdesk worker`` (or ``job submit --wait``) to claim them."""

    def enqueue(self, job_id: int) -> None:
        log.debug("Job %s queued; waiting for a worker", job_id)


class WorkerLoop:
    """Claims and runs jobs until stopped. Polls, and wakes early when told a job was queued."""

    def __init__(self, role: str = "worker") -> None:
        self.owner = worker_id(role)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._last_notice_sweep = 0.0

    def _send_unsent_notices(self) -> None:
        """Once a minute, when idle: emails that a crash or a mail outage kept from being sent."""
        if time.monotonic() - self._last_notice_sweep < NOTICE_SWEEP_SECONDS:
            return
        self._last_notice_sweep = time.monotonic()
        try:
            send_unsent_notices()
            for kind in all_kinds():
                kind.send_notices(None)
        except Exception:
            log.exception("Worker %s: sending unsent notices failed", self.owner)

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def run_forever(self) -> None:
        log.info("Worker %s started", self.owner)
        while not self._stop.is_set():
            try:
                close_old_connections()
                while not self._stop.is_set() and run_next(self.owner) is not None:
                    pass
            except Exception:
                log.exception("Worker %s: unexpected error; retrying", self.owner)
            finally:
                close_old_connections()
            self._send_unsent_notices()
            self._wake.wait(settings.CERTDESK_WORKER_POLL_SECONDS)
            self._wake.clear()
        log.info("Worker %s stopped", self.owner)


class ThreadRunner:
    """A worker thread inside this process: the embedded default of ``certdesk serve``."""

    def __init__(self) -> None:
        self.loop = WorkerLoop("thread")
        self.thread = threading.Thread(target=self.loop.run_forever, name="certdesk-worker", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def enqueue(self, job_id: int) -> None:
        self.loop.wake()


_runner: Runner = NoRunner()


def install(runner: Runner) -> None:
    global _runner
    _runner = runner


def enqueue(job_id: int) -> None:
    _runner.enqueue(job_id)
