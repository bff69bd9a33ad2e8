"""``certdesk worker``: a standalone job worker. Run as many as you like; claims are atomic."""

from __future__ import annotations

import signal
from typing import Any

from django.core.management.base import BaseCommand

from bulk.runner import WorkerLoop
from bulk.worker import run_next


class Command(BaseCommand):
    help = "Claim and run queued jobs (and jobs whose worker vanished) until stopped."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--once", action="store_true", help="Run the jobs waiting now, then exit.")

    def handle(self, *args: Any, once: bool, **options: Any) -> None:
        loop = WorkerLoop("worker")
        if once:
            ran = 0
            while run_next(loop.owner) is not None:
                ran += 1
            self.stdout.write(f"Ran {ran} job(s).")
            return
        signal.signal(signal.SIGTERM, lambda *_: loop.stop())
        signal.signal(signal.SIGINT, lambda *_: loop.stop())
        self.stdout.write(f"Worker {loop.owner} waiting for jobs (Ctrl-C to stop).")
        loop.run_forever()
