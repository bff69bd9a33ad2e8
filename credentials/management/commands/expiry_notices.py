"""``certdesk expiry-notices``: email the holders whose renewal window has opened (schedule it daily)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from credentials.renewals import send_renewal_notices


class Command(BaseCommand):
    help = (
        "Email each holder whose certification's renewal window has opened, once per award and window, "
        "and list what was sent. Run it daily (cron, a systemd timer or Celery beat)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="List who would be reminded; send nothing."
        )
        parser.add_argument("--date", help="Act as if today were this date (YYYY-MM-DD).")

    def handle(self, *args: Any, **options: Any) -> None:
        today = timezone.localdate()
        if options["date"]:
            try:
                today = dt.date.fromisoformat(options["date"])
            except ValueError:
                raise CommandError(
                    f"--date '{options['date']}' is not a date: write it as YYYY-MM-DD."
                ) from None
        run = send_renewal_notices(today, dry_run=options["dry_run"])
        for notice in run.notices:
            state = "sent" if notice.sent else f"not sent ({notice.problem})"
            self.stdout.write(
                f"{notice.certification}\t{notice.expiration_date.isoformat()}\t{notice.username}\t"
                f"{notice.email or '-'}\t{state}"
            )
        verb = "would be reminded" if options["dry_run"] else "reminded"
        self.stdout.write(
            f"{run.sent if not options['dry_run'] else len(run.notices)} holder(s) {verb} on {today.isoformat()}."
        )
        if run.stopped:
            raise CommandError(run.stopped)
