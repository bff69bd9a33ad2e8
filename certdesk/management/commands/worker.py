"""``certdesk worker``: a standalone job worker. Run as many as you like, on as many machines; claims
are atomic. With ``CERTDESK_RUNNER=celery`` it is a Celery worker; otherwise it polls the database."""

from __future__ import annotations

import os
import signal
import socket
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from bulk.runner import WorkerLoop, queue_names
from bulk.worker import guard_worker_connections
from certdesk.celery import app
from certdesk.schedule import schedules


class Command(BaseCommand):
    help = (
        "Claim and run queued jobs (and jobs whose worker vanished) until stopped. With "
        "CERTDESK_RUNNER=celery this starts a Celery worker on the certdesk queues."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="Run the jobs waiting now, then exit.")
        parser.add_argument(
            "--queues",
            help="Celery only: the queues to take jobs from, comma-separated (default: all of "
            + ", ".join(queue_names().values())
            + ").",
        )
        parser.add_argument(
            "--concurrency",
            type=int,
            default=settings.CERTDESK_WORKER_CONCURRENCY,
            help="Celery only: jobs run at once (default CERTDESK_WORKER_CONCURRENCY, %(default)s).",
        )
        parser.add_argument("--name", help="Celery only: the node name (default certdesk-PID@HOST).")

    def handle(self, *args: Any, once: bool, **options: Any) -> None:
        if settings.CERTDESK_RUNNER == "celery" and not once:
            self._celery(options)
            return
        loop = WorkerLoop("worker", schedules())
        if once:
            guard_worker_connections()
            ran = loop.run_waiting()
            self.stdout.write(f"Ran {ran} job(s).")
            return
        signal.signal(signal.SIGTERM, lambda *_: loop.stop())
        signal.signal(signal.SIGINT, lambda *_: loop.stop())
        self.stdout.write(f"Worker {loop.owner} waiting for jobs (Ctrl-C to stop).")
        loop.run_forever()

    def _celery(self, options: dict[str, Any]) -> None:
        queues = options["queues"] or ",".join(queue_names().values())
        name = options["name"] or f"certdesk-{os.getpid()}@{socket.gethostname()}"
        self.stdout.write(f"Celery worker {name} on {queues} ({settings.CELERY_BROKER_URL.split('@')[-1]}).")
        app.worker_main(
            [
                "worker",
                "--loglevel",
                settings.LOG_LEVEL,
                "--queues",
                queues,
                "--concurrency",
                str(options["concurrency"]),
                "--hostname",
                name,
                "--without-gossip",
                "--without-mingle",
            ]
        )
