"""The ``certdesk`` command: a thin wrapper around the Django management commands.

Exit codes of ``certdesk job …``: 0 accepted or processed, 1 the file was rejected, 2 usage error
(including an unknown job or user), 3 not allowed, 4 the job failed.
"""

from __future__ import annotations

import os
import sys

EXIT_OK = 0
EXIT_REJECTED = 1
EXIT_USAGE = 2
EXIT_NOT_ALLOWED = 3
EXIT_JOB_FAILED = 4


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "certdesk.settings")
    from django.core.management import execute_from_command_line

    args = list(sys.argv[1:] if argv is None else argv)
    if args and not args[0].startswith("-"):
        args[0] = args[0].replace("-", "_")  # certdesk expiry-notices runs the expiry_notices command
    execute_from_command_line(["certdesk", *args])


if __name__ == "__main__":
    main()
