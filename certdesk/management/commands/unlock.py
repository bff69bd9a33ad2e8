"""``certdesk unlock USERNAME [--ip ADDRESS]``: lift a sign-in lockout (and forget the failures)."""

from __future__ import annotations

from typing import Any

from axes.models import AccessAttempt
from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = "Unlock a username locked out by failed sign-ins, from every address or from one."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--ip", help="only the lockout from this address")

    def handle(self, *args: Any, **options: Any) -> None:
        attempts = AccessAttempt.objects.filter(username=options["username"])
        if options["ip"]:
            attempts = attempts.filter(ip_address=options["ip"])
        found = list(attempts)
        if not found:
            raise CommandError(
                f"No failed sign-ins are recorded for {options['username']!r}: nothing to unlock."
            )
        for attempt in found:
            attempt.delete()  # one by one, so each unlock is an audit event
        addresses = ", ".join(sorted({a.ip_address or "?" for a in found}))
        self.stdout.write(f"Unlocked {options['username']} (failed sign-ins from {addresses} forgotten).")
