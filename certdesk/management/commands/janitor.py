"""``certdesk janitor [--dry-run]``: requeue jobs whose worker died, fail those out of attempts, send
again jobs whose message was lost, delete old Draft and Verified jobs with their files."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from bulk.janitor import run_janitor


class Command(BaseCommand):
    help = (
        "Requeue jobs whose worker stopped, fail jobs that used up their attempts, resend queued jobs "
        "no worker took, and delete Draft and Verified jobs older than "
        f"CERTDESK_DRAFT_RETENTION_DAYS ({settings.CERTDESK_DRAFT_RETENTION_DAYS} days) with their files. "
        "It also runs by itself on the schedule."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="Say what would be done; change nothing.")

    def handle(self, *args: Any, dry_run: bool, **options: Any) -> None:
        report = run_janitor(dry_run=dry_run)
        for line in report.lines:
            self.stdout.write(("Would: " if dry_run else "") + line)
        self.stdout.write(report.summary())
