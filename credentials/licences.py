"""Every change to learners' licences goes through these functions, by hand or from an import.

Bulk changes are set-based: one statement per action per chunk, each returning what it changed.
Deleting keeps the licence as history (``deleted_at``), so it still shows in the audit trail.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from access.permissions import IMPORT_LICENSES, MANAGE_LICENSES
from access.policy import Scope, has_permission, people_in, scope_of, within
from audit.services import record, record_bulk
from base.cells import neutralise
from base.problems import InputProblems, Problem
from base.sql import as_date, fetch, table, tuple_set
from people.models import User

from .models import License, LicenseType


class LicenseInputError(InputProblems):
    """A licence that cannot be saved as given."""


@dataclass(frozen=True)
class LicenseDetails:
    """What a licence says besides whose it is, its type and its number."""

    issuing_authority: str = ""
    issue_date: dt.date | None = None
    expiration_date: dt.date | None = None

    def problems(self) -> list[Problem]:
        if self.issue_date and self.expiration_date and self.expiration_date < self.issue_date:
            return [
                Problem(
                    "expiration_before_issue",
                    f"The expiration date {self.expiration_date.isoformat()} is before the issue date "
                    f"{self.issue_date.isoformat()}.",
                    column="Expiration date",
                    value=self.expiration_date.isoformat(),
                )
            ]
        return []


# (user, licence type, number, details) — the key of a licence and what it should say.
Change = tuple[int, int, str, LicenseDetails]


def _rows(changes: Sequence[Change]) -> list[tuple[Any, ...]]:
    return [
        (
            user_id,
            type_id,
            number,
            details.issuing_authority,
            details.issue_date.isoformat() if details.issue_date else None,
            details.expiration_date.isoformat() if details.expiration_date else None,
        )
        for user_id, type_id, number, details in changes
    ]


TYPES = ("bigint", "bigint", "text", "text", "date", "date")
KEY_TYPES = ("bigint", "bigint", "text")


def add_licenses(
    changes: Sequence[Change],
    *,
    actor_id: int | None,
    job_id: int | None = None,
    now: dt.datetime | None = None,
) -> list[tuple[int, int, str]]:
    """Add licences; one that exists already (same user, type and number) is left alone. Returns the
    (user, type, number) keys added."""
    if not changes:
        return []
    now = now or timezone.now()
    wanted, param = tuple_set(_rows(changes), TYPES)
    licences = table(License)
    at = connection.ops.adapt_datetimefield_value(now)
    added = fetch(
        f"INSERT INTO {licences} (user_id, license_type_id, number, issuing_authority, issue_date, expiration_date, "
        "created_at, updated_at, changed_by_id, changed_by_job_id) "
        f"SELECT w.c0, w.c1, w.c2, w.c3, w.c4, w.c5, %s, %s, %s, %s FROM ({wanted}) w "
        f"WHERE NOT EXISTS (SELECT 1 FROM {licences} l WHERE l.user_id = w.c0 AND l.license_type_id = w.c1 "
        "AND l.number = w.c2 AND l.deleted_at IS NULL) "
        "ON CONFLICT DO NOTHING RETURNING id, user_id, license_type_id, number",
        [at, at, actor_id, job_id, param],
    )
    _audit("license.added", [r[0] for r in added], actor_id, job_id, None, {"deleted": False}, now)
    return [(u, t, n) for _, u, t, n in added]


def edit_licenses(
    changes: Sequence[Change],
    *,
    actor_id: int | None,
    job_id: int | None = None,
    now: dt.datetime | None = None,
    last_changed_by_job: int | None = None,
) -> list[tuple[int, int, str]]:
    """Change the authority and dates of existing licences (found by user, type and number); with
    ``last_changed_by_job``, only those that job changed last (undoing it)."""
    if not changes:
        return []
    now = now or timezone.now()
    edited = _update_keyed(
        _rows(changes),
        TYPES,
        "issuing_authority = w.c3, issue_date = w.c4, expiration_date = w.c5, updated_at = %s",
        "l.deleted_at IS NULL",
        now,
        actor_id,
        job_id,
        last_changed_by_job,
    )
    _audit("license.edited", [r[0] for r in edited], actor_id, job_id, None, None, now)
    return [(u, t, n) for _, u, t, n in edited]


def delete_licenses(
    keys: Sequence[tuple[int, int, str]],
    *,
    actor_id: int | None,
    job_id: int | None = None,
    now: dt.datetime | None = None,
    last_changed_by_job: int | None = None,
) -> list[tuple[int, int, str]]:
    """Delete licences, keeping each as history (deleted, with when, who and which job); with
    ``last_changed_by_job``, only those that job changed last (undoing its adds)."""
    if not keys:
        return []
    now = now or timezone.now()
    deleted = _update_keyed(
        keys,
        KEY_TYPES,
        "deleted_at = %s, updated_at = %s",
        "l.deleted_at IS NULL",
        now,
        actor_id,
        job_id,
        last_changed_by_job,
        times=2,
    )
    _audit(
        "license.deleted",
        [r[0] for r in deleted],
        actor_id,
        job_id,
        {"deleted": False},
        {"deleted": True},
        now,
    )
    return [(u, t, n) for _, u, t, n in deleted]


def undelete_licenses(
    keys: Sequence[tuple[int, int, str]],
    *,
    deleted_by_job: int,
    actor_id: int | None,
    job_id: int | None = None,
    now: dt.datetime | None = None,
) -> list[tuple[int, int, str]]:
    """Give back the licences a job deleted (undoing it), unless the learner holds that licence again."""
    if not keys:
        return []
    now = now or timezone.now()
    # Unless the learner holds that licence again: at most one current licence per key.
    restored = _update_keyed(
        keys,
        KEY_TYPES,
        "deleted_at = NULL, updated_at = %s",
        f"l.deleted_at IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {table(License)} c WHERE c.user_id = w.c0 "
        "AND c.license_type_id = w.c1 AND c.number = w.c2 AND c.deleted_at IS NULL)",
        now,
        actor_id,
        job_id,
        deleted_by_job,
    )
    _audit(
        "license.restored",
        [r[0] for r in restored],
        actor_id,
        job_id,
        {"deleted": True},
        {"deleted": False},
        now,
    )
    return [(u, t, n) for _, u, t, n in restored]


def licence_ids(keys: Sequence[tuple[int, int, str]]) -> dict[tuple[int, int, str], list[int]]:
    """(user, type, number) -> the ids of every licence with that key, current or deleted: one query."""
    if not keys:
        return {}
    wanted, param = tuple_set(sorted(set(keys)), ("bigint", "bigint", "text"))
    found: dict[tuple[int, int, str], list[int]] = {}
    for pk, u, t, n in fetch(
        f"SELECT l.id, l.user_id, l.license_type_id, l.number FROM ({wanted}) w JOIN {table(License)} l "
        "ON l.user_id = w.c0 AND l.license_type_id = w.c1 AND l.number = w.c2",
        [param],
    ):
        found.setdefault((u, t, n), []).append(pk)
    return found


def _update_keyed(
    rows: Sequence[Sequence[Any]],
    types: Sequence[str],
    assignments: str,
    condition: str,
    now: dt.datetime,
    actor_id: int | None,
    job_id: int | None,
    last_changed_by_job: int | None,
    *,
    times: int = 1,
) -> list[tuple[Any, ...]]:
    """One UPDATE of the licences named by ``rows`` (user, type, number, then any values, as ``w.c3`` …):
    ``assignments`` (taking ``times`` timestamps) where ``condition`` holds of ``l``, and, with
    ``last_changed_by_job``, only licences that job changed last. Returns (id, user, type, number) of
    each licence changed, the changer recorded on it."""
    if not rows:
        return []
    wanted, param = tuple_set(rows, types)
    licences = table(License)
    at = connection.ops.adapt_datetimefield_value(now)
    guard = " AND l.changed_by_job_id = %s" if last_changed_by_job is not None else ""
    return fetch(
        f"UPDATE {licences} AS l SET {assignments}, changed_by_id = %s, changed_by_job_id = %s FROM ({wanted}) w "
        f"WHERE l.user_id = w.c0 AND l.license_type_id = w.c1 AND l.number = w.c2 AND {condition}{guard} "
        # Unqualified: SQLite names no alias in RETURNING; w's columns are c0 … so nothing is ambiguous.
        "RETURNING id, user_id, license_type_id, number",
        [
            *[at] * times,
            actor_id,
            job_id,
            param,
            *([last_changed_by_job] if last_changed_by_job is not None else []),
        ],
    )


def _audit(
    action: str,
    ids: list[int],
    actor_id: int | None,
    job_id: int | None,
    before: Any,
    after: Any,
    now: dt.datetime,
) -> None:
    if ids:
        record_bulk(
            action, License, ids, actor_id=actor_id, job_id=job_id, before=before, after=after, now=now
        )


def current_keys(keys: Sequence[tuple[int, int, str]]) -> set[tuple[int, int, str]]:
    """Which (user, type, number) keys name a current licence: one query, reading only the index."""
    if not keys:
        return set()
    wanted, param = tuple_set(sorted(set(keys)), ("bigint", "bigint", "text"))
    return {
        (u, t, n)
        for u, t, n in fetch(
            f"SELECT l.user_id, l.license_type_id, l.number FROM ({wanted}) w JOIN {table(License)} l "
            "ON l.user_id = w.c0 AND l.license_type_id = w.c1 AND l.number = w.c2 AND l.deleted_at IS NULL",
            [param],
        )
    }


def current_details(keys: Sequence[tuple[int, int, str]]) -> dict[tuple[int, int, str], LicenseDetails]:
    """(user, type, number) -> the current licence's details, for the keys that name one: one query."""
    if not keys:
        return {}
    wanted, param = tuple_set(sorted(set(keys)), ("bigint", "bigint", "text"))
    return {
        (u, t, n): LicenseDetails(authority, as_date(issue), as_date(expiration))
        for u, t, n, authority, issue, expiration in fetch(
            f"SELECT l.user_id, l.license_type_id, l.number, l.issuing_authority, l.issue_date, "
            f"l.expiration_date FROM ({wanted}) w JOIN {table(License)} l "
            "ON l.user_id = w.c0 AND l.license_type_id = w.c1 AND l.number = w.c2 AND l.deleted_at IS NULL",
            [param],
        )
    }


# --- One at a time, from the Licences & Certifications page ---------------------------------------


def save_license(
    license: License | None,
    *,
    user_id: int,
    license_type: LicenseType,
    number: str,
    details: LicenseDetails,
    actor: Any,
) -> License:
    """Add (``license`` None) or edit one licence, with the same rules as an import."""
    number = number.strip()
    problems = details.problems()
    if license_type.number_required and not number:
        problems.append(
            Problem("number_required", f"A {license_type.code} licence needs a number.", column="Number")
        )
    if problems:
        raise LicenseInputError(problems)
    fields = {
        "number": number,
        "issuing_authority": details.issuing_authority or license_type.issuing_authority,
        "issue_date": details.issue_date,
        "expiration_date": details.expiration_date,
        "updated_at": timezone.now(),
        "changed_by": actor,
    }
    try:
        with transaction.atomic():
            if license is None:
                license = License.objects.create(user_id=user_id, license_type=license_type, **fields)
                record("license.added", actor=actor, obj=license, after={"number": number})
            else:
                for name, value in fields.items():
                    setattr(license, name, value)
                license.save()
                record("license.edited", actor=actor, obj=license, after={"number": number})
    except IntegrityError:
        raise LicenseInputError(
            [
                Problem(
                    "license_exists",
                    f"This user already holds a {license_type.code} licence numbered '{number}'.",
                    column="Number",
                    value=number,
                )
            ]
        ) from None
    return license


def delete_license(license: License, *, actor: Any) -> bool:
    changed = License.objects.filter(pk=license.pk, deleted_at__isnull=True).update(
        deleted_at=timezone.now(), updated_at=timezone.now(), changed_by=actor
    )
    if changed:
        record(
            "license.deleted", actor=actor, obj=license, before={"deleted": False}, after={"deleted": True}
        )
    return bool(changed)


def available_licences_csv() -> bytes:
    """Export Available Licenses: the licence types as CSV (UTF-8 with BOM, formulas neutralised), with
    the codes an import file uses."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["License code", "Name", "Issuing authority", "Number required"])
    for t in LicenseType.objects.order_by("code"):
        writer.writerow(
            [
                neutralise(t.code),
                neutralise(t.name),
                neutralise(t.issuing_authority),
                "Yes" if t.number_required else "No",
            ]
        )
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def licence_scope(user: Any) -> Scope:
    """Where this user's licence permission reaches: that of "Manage licences" (or, holding only
    "Import licences", of that)."""
    permission = MANAGE_LICENSES if has_permission(user, MANAGE_LICENSES) else IMPORT_LICENSES
    return scope_of(user, permission)


def licences_in_reach(user: Any) -> QuerySet[License]:
    """The current licences this user may see and manage: those of the learners within
    ``licence_scope``."""
    holders = within(licence_scope(user), "user")
    licences: QuerySet[License] = License.objects.current().select_related("user", "license_type")
    return licences if holders is None else licences.filter(holders)


def learners_in_reach(user: Any) -> QuerySet[User]:
    """The learners this user may give a licence by hand: those within reach of "Manage licences"."""
    people = people_in(scope_of(user, MANAGE_LICENSES))
    return User.objects.all() if people is None else User.objects.filter(people)
