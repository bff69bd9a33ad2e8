"""``certdesk token create USERNAME``: print an API token for a user."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from rest_framework.authtoken.models import Token

from certdesk.cli import EXIT_USAGE
from people.models import User


class Command(BaseCommand):
    help = "Manage API tokens."

    def add_arguments(self, parser: Any) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="Print the user's API token, creating it if needed.")
        create.add_argument("username")
        create.add_argument("--reset", action="store_true", help="Replace an existing token.")

    def handle(self, *args: Any, action: str, username: str, reset: bool = False, **options: Any) -> None:
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user has the username '{username}'.", returncode=EXIT_USAGE)
        if reset:
            Token.objects.filter(user=user).delete()
        token, _ = Token.objects.get_or_create(user=user)
        self.stdout.write(token.key)
