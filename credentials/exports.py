"""Exports of certification data, in the shapes the bulk jobs read back unchanged."""

from __future__ import annotations

from collections.abc import Iterator

from base.cells import neutralise
from base.downloads import csv_stream

from .models import Certification
from .services import awarded_users

AWARDED_USERS_COLUMNS = [
    "Certification ID",
    "User ID",
    "Username",
    "First name",
    "Last name",
    "Issue date",
    "Expiration date",
]


def awarded_users_csv(certification: Certification) -> Iterator[str]:
    """The active holders of a certification as CSV lines, streamed.

    The first two columns are exactly what the certification removal job needs, so the file can be
    trimmed and uploaded as it is. The names are neutralised against spreadsheet formulas; the IDs
    are not, because the removal job must read them back unchanged.
    """
    awards = awarded_users(certification.pk).values_list(
        "user__user_id",
        "user__username",
        "user__first_name",
        "user__last_name",
        "issue_date",
        "expiration_date",
        "always_valid",
    )
    return csv_stream(
        AWARDED_USERS_COLUMNS,
        (
            [
                certification.code,
                user_id,
                neutralise(username),
                neutralise(first),
                neutralise(last),
                issued.isoformat(),
                "Always valid" if always or expires is None else expires.isoformat(),
            ]
            for user_id, username, first, last, issued, expires, always in awards.iterator(chunk_size=5000)
        ),
    )


def awarded_users_filename(certification: Certification) -> str:
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in certification.code)
    return f"{safe}-awarded-users.csv"
