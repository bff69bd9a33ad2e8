"""Licence import throughput: 50,000 mixed Add/Edit/Delete rows in each upload format, against a per-row ORM loop.

Seeds 100,000 users, six licence types (two of them, BLS and CPR, without numbers) and 160,000
licences: every user holds one (type user % 6), every other user a second (type (user + 3) % 6),
and every tenth user has a deleted one in its history (type (user + 1) % 6). Then it builds one
logical file of 50,000 rows in random order: 20,000 Add (18,000 licences of a type the user does
not hold, 2,000 adding again a number that was deleted), 20,000 Edit (new authority and dates) and
10,000 Delete of current licences, every row naming a different licence; a type without numbers is
named with an empty Number. The same rows are written in every format the kind takes:

    csv        comma-separated, UTF-8                    (bulk.samples' own CSV writer)
    txt        tab-delimited, UTF-8
    txt-utf16  tab-delimited, UTF-16 with BOM            (Excel's "Unicode Text")
    xml        <rows><row><username>…</username>…</row></rows>   (bulk.samples._plain_xml)
    xml-2003   Excel XML Spreadsheet 2003               (bulk.samples._spreadsheet_2003)
    xlsx       Excel workbook                            (bulk.samples._xlsx)

and measures, per format, the whole job as certdesk runs it, on SQLite and, when it answers,
PostgreSQL: ``bulk.services.submit("license-import", upload, "bench.<ext>", start=True)`` (read,
parse, validate, stage the rows, store the upload), then ``bulk.worker.run_next`` to the end (apply,
row outcomes, results file, the creator's email to Django's dummy backend). Each measurement runs in
a fresh process, so that its peak memory (ru_maxrss) is the job's own, not the seeding's; the formats
take turns, run after run. After every run it checks that all 50,000 rows succeeded and that the
adds, edits and deletes are in the licences table and the audit trail.

The phases in the result lines: parse is ``parse_upload`` (decode and read the format, typed rows);
validate is the rest of ``submit`` (the kind's ``validate``, staging, storing the upload, queueing);
apply is ``run_next`` less the results file; results is ``write_results``.

The two XML forms of 50,000 rows are larger than the kind's 10 MB upload limit (12.1 MB and 17.5 MB,
in MB of 1,024 KB as the limit is: the tags alone take ~190 bytes a row). The benchmark shows that such an upload is refused,
then raises the limit in its own process to measure the rest of the path, and says so in the line.

Seeding is set-based: users and licences are INSERT … SELECT over a recursive CTE, and on PostgreSQL
the deferred foreign-key checks are skipped (session_replication_role; the rows are consistent by
construction). A copy of the seeded licences' changeable columns is kept in ``bench_licence_seed``;
between runs the licences the run added are deleted, the ones it edited or deleted are put back from
that copy, and every job and audit event is deleted; on PostgreSQL the tables are then vacuumed and
analysed.

The per-row loop is the obvious implementation: per row, look up the user and the licence type,
then create (after an exists() check), update or soft-delete the licence and write an audit Event,
one row at a time in one transaction, then a results file. It runs on the first 5,000 rows of the
CSV (the same mix) after a reset, and its rate is extrapolated to the 50,000 rows
(``--baseline-rows 0`` runs them all).

    .venv/bin/python benchmarks/license_import.py [--repeat 3] [--only sqlite|postgresql] [--no-baseline]
        [--formats csv,txt,…]

The last lines, per database and format (with the baseline below), are the figures to compare between
runs, each against the floor of the same change measured in the same run (``run_floor``: parse the
CSV, one statement per action); the targets are the CSV within 1 s on SQLite and 2 s on PostgreSQL,
and every other format within 1.5 times the CSV. For example:
    license-import sqlite csv: 2.31 s end-to-end (parse 0.20 s, validate 0.78 s, apply 1.17 s,
    results 0.17 s), 21678 rows/s, 3.4x the csv floor (0.68 s), peak 236 MB (best of 2)
    [target ≤ 1.0 s: MISSED]
Seeding takes about 1 s on SQLite and 2 s on PostgreSQL (after migrations), building the six files
about 4.5 s (most of it writing the .xlsx).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from harness import (
    django_setup,
    load_average,
    report,
    run_child,
    run_on_databases,
    seed_learners,
    select_list,
    skip_deferred_fk_checks,
    time_intake,
    timed,
)

BENCH_DIR = Path(tempfile.gettempdir()) / "certdesk-bench-licences"
PG_BENCH_DB = "certdesk_bench_licences"
KIND = "license-import"
SNAPSHOT = "bench_licence_seed"
HEADER = [
    "Username",
    "License code",
    "Number",
    "Issuing authority",
    "Issue date",
    "Expiration date",
    "Action",
]
# (code, name, issuing authority, number required); a type's index is its place here.
LICENCE_TYPES = [
    ("RN", "Registered Nurse", "State Board of Nursing", True),
    ("LPN", "Licensed Practical Nurse", "State Board of Nursing", True),
    ("BLS", "Basic Life Support", "American Heart Association", False),
    ("ACLS", "Advanced Cardiac Life Support", "American Heart Association", True),
    ("CPR", "CPR and First Aid", "Red Cross", False),
    ("PALS", "Pediatric Advanced Life Support", "American Heart Association", True),
]
# Licence numbers start with 1 for the held one, 2 for the second, 3 for the deleted one, 4 for an added one (seven digits).
HELD, SECOND, DELETED, ADDED = 1_000_000, 2_000_000, 3_000_000, 4_000_000
ADD_AUTHORITY = "Bench Licensing Board"
EDIT_AUTHORITY = "Renewed by the bench"
# name: (file name, what it is)
FORMATS = {
    "csv": ("bench.csv", "comma-separated UTF-8"),
    "txt": ("bench.txt", "tab-delimited UTF-8"),
    "txt-utf16": ("bench-unicode.txt", "tab-delimited UTF-16"),
    "xml": ("bench.xml", "plain XML"),
    "xml-2003": ("bench-2003.xml", "XML Spreadsheet 2003"),
    "xlsx": ("bench.xlsx", "Excel workbook"),
}
# The targets for the 50,000-row file: the CSV within 1 s on SQLite and 2 s on PostgreSQL, any other
# format within 1.5 times the CSV's time.
CSV_TARGETS_S = {"sqlite": 1.0, "postgresql": 2.0}


# --- child side: runs with Django set up ---------------------------------------------------------


def _days_after(date: str, days_sql: str) -> str:
    """SQL for the date ``days_sql`` days after the ISO ``date``, as the column stores it."""
    from django.db import connection

    if connection.vendor == "postgresql":
        return f"(DATE '{date}' + CAST({days_sql} AS integer))"
    return f"date('{date}', '+' || ({days_sql}) || ' days')"


def seed(users: int) -> dict:
    """Users, licence types and licences, set-based (see the module's docstring)."""
    import datetime as dt

    from django.core.management import call_command

    t_migrate = time.perf_counter()
    call_command("migrate", verbosity=0)
    migrate_s = time.perf_counter() - t_migrate

    from django.db import connection, transaction

    from base.sql import execute, table
    from credentials.models import License, LicenseType
    from people.models import User

    at = connection.ops.adapt_datetimefield_value
    started = time.perf_counter()
    marks: dict[str, float] = {}
    with transaction.atomic():
        skip_deferred_fk_checks()
        seed_learners(users, user_id_offset=1000000)
        marks["users"] = time.perf_counter() - started

        t = time.perf_counter()
        type_pks = [
            LicenseType.objects.create(
                code=code, name=name, issuing_authority=authority, number_required=required
            ).pk
            for code, name, authority, required in LICENCE_TYPES
        ]
        first_user = User.objects.order_by("pk").values_list("pk", flat=True)[0]
        seeded_at = at(dt.datetime(2025, 1, 6, 9, 0, tzinfo=dt.UTC))

        def licences(type_of: str, base: int, where: str, deleted: bool) -> None:
            """One licence per user number i matching ``where``, of type index ``type_of`` (SQL over i),
            numbered base + i (empty for the types without numbers)."""
            kind = f"(({type_of}) %% 6)"
            pick_type = " ".join(f"WHEN {n} THEN {pk}" for n, pk in enumerate(type_pks))
            number = " ".join(
                f"WHEN {n} THEN " + (f"'{code}-' || ({base} + i)" if required else "''")
                for n, (code, _, _, required) in enumerate(LICENCE_TYPES)
            )
            authority = " ".join(f"WHEN {n} THEN '{a}'" for n, (_, _, a, _) in enumerate(LICENCE_TYPES))
            columns, values, params = select_list(
                License,
                {
                    "user": ("uid", []),
                    "license_type": (f"CASE {kind} {pick_type} END", []),
                    "number": (f"CASE {kind} {number} END", []),
                    "issuing_authority": (f"CASE {kind} {authority} END", []),
                    "issue_date": (_days_after("2023-01-01", "i %% 700"), []),
                    "expiration_date": (_days_after("2025-01-01", "i %% 700"), []),
                    "created_at": ("%s", [seeded_at]),
                    "updated_at": ("%s", [seeded_at]),
                    "deleted_at": ("%s", [at(dt.datetime(2025, 3, 1, tzinfo=dt.UTC)) if deleted else None]),
                },
            )
            execute(
                f"INSERT INTO {table(License)} ({columns}) SELECT {values} FROM (SELECT u.id AS uid, "
                f"u.id - %s AS i FROM {table(User)} u WHERE u.id >= %s AND u.id < %s) n WHERE {where} "
                "ORDER BY uid",
                [*params, first_user, first_user, first_user + users],
            )

        licences("i", HELD, "1 = 1", deleted=False)
        licences("i + 3", SECOND, "i %% 2 = 0", deleted=False)
        licences("i + 1", DELETED, "i %% 10 = 0", deleted=True)
        marks["licences"] = time.perf_counter() - t

        # What reset puts back: the seeded licences' changeable columns.
        t = time.perf_counter()
        execute(
            f"CREATE TABLE {SNAPSHOT} AS SELECT id, issuing_authority, issue_date, expiration_date, "
            f"updated_at, changed_by_id, changed_by_job_id, deleted_at FROM {table(License)}",
            [],
        )
        execute(f"CREATE UNIQUE INDEX {SNAPSHOT}_id ON {SNAPSHOT} (id)", [])
        marks["snapshot"] = time.perf_counter() - t
        User.objects.create_user(
            username="bench-admin",
            user_id="ADM-BENCH",
            email="admin@bench.test",
            first_name="Ada",
            is_superuser=True,
        )
    marks["commit"] = time.perf_counter() - started - sum(marks.values())
    t = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
    marks["analyze"] = time.perf_counter() - t
    return {
        "seconds": time.perf_counter() - started,
        "migrate_s": migrate_s,
        "marks": marks,
        "users": User.objects.count() - 1,
        "licences": License.objects.count(),
        "current": License.objects.current().count(),
    }


def build_files(rows: int, users: int) -> dict:
    """The one logical file (see the module's docstring), written in every format."""
    import csv
    import datetime as dt
    import io
    import random

    from base.sql import fetch, table
    from bulk import samples
    from bulk.registry import get_kind
    from credentials.models import License, LicenseType
    from people.models import User

    rng = random.Random(20260301)
    adds, edits = rows * 2 // 5, rows * 2 // 5
    deletes = rows - adds - edits
    readds = adds // 10
    current = fetch(
        f"SELECT u.username, t.code, l.number FROM {table(License)} l JOIN {table(User)} u ON u.id = l.user_id "
        f"JOIN {table(LicenseType)} t ON t.id = l.license_type_id WHERE l.deleted_at IS NULL "
        "AND u.username LIKE 'learner%%' ORDER BY l.id",
        [],
    )
    if len(current) < edits + deletes or users < 10 * readds or users < adds:
        raise SystemExit(f"{users:,} users and {len(current):,} licences are too few for {rows:,} rows")
    named = rng.sample(current, edits + deletes)

    def number(n: int, base: int, i: int) -> str:
        code, _, _, required = LICENCE_TYPES[n % 6]
        return f"{code}-{base + i}" if required else ""

    def day(start: dt.date, k: int, spread: int) -> tuple[str, str]:
        issued = start + dt.timedelta(days=k % spread)
        return issued.isoformat(), (issued + dt.timedelta(days=730)).isoformat()

    table_rows: list[list[str]] = []
    for k, (username, code, num) in enumerate(named[:edits]):
        table_rows.append([username, code, num, EDIT_AUTHORITY, *day(dt.date(2026, 2, 1), k, 60), "Edit"])
    for username, code, num in named[edits:]:
        table_rows.append([username, code, num, "", "", "", "Delete"])
    # New licences: type (i + 2) % 6, which user i does not hold; and numbers deleted once, added again.
    new_users = rng.sample(range(users), adds - readds)
    again = rng.sample(range(0, users, 10), readds)
    for k, (i, n, base) in enumerate(
        [(i, i + 2, ADDED) for i in new_users] + [(i, i + 1, DELETED) for i in again]
    ):
        table_rows.append(
            [
                f"learner{i}",
                LICENCE_TYPES[n % 6][0],
                number(n, base, i),
                ADD_AUTHORITY if k % 2 else "",  # empty: the type's own authority
                *day(dt.date(2026, 1, 1), k, 90),
                "Add",
            ]
        )
    rng.shuffle(table_rows)

    def delimited(delimiter: str) -> str:
        buffer = io.StringIO()
        csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows([HEADER, *table_rows])
        return buffer.getvalue()

    contents = {
        "csv": samples._csv([HEADER, *table_rows]),
        "txt": delimited("\t").encode("utf-8"),
        "txt-utf16": delimited("\t").encode("utf-16"),
        "xml": samples._plain_xml(HEADER, table_rows),
        "xml-2003": samples._spreadsheet_2003([HEADER, *table_rows]),
        "xlsx": samples._xlsx([HEADER, *table_rows]),
    }
    sizes = {}
    for fmt, content in contents.items():
        (BENCH_DIR / FORMATS[fmt][0]).write_bytes(content)
        sizes[fmt] = len(content)
    return {
        "rows": len(table_rows),
        "adds": adds,
        "readds": readds,
        "edits": edits,
        "deletes": deletes,
        "numberless": sum(1 for r in table_rows if not r[2]),
        "sizes": sizes,
        "max_bytes": get_kind(KIND).max_bytes,
    }


def _seed_max() -> int:
    from base.sql import fetch

    return int(fetch(f"SELECT MAX(id) FROM {SNAPSHOT}", [])[0][0])


def reset() -> dict:
    """Delete the licences the runs added, put back the ones they edited or deleted (every change sets
    changed_by; the seeded licences have none), and delete every job and audit event."""
    from django.db import connection, transaction

    from audit.models import Event
    from base.sql import execute, table
    from bulk.models import Job
    from credentials.models import License

    licences = table(License)
    columns = (
        "issuing_authority",
        "issue_date",
        "expiration_date",
        "updated_at",
        "changed_by_id",
        "changed_by_job_id",
        "deleted_at",
    )
    with transaction.atomic():
        added = execute(f"DELETE FROM {licences} WHERE id > %s", [_seed_max()])
        restored = execute(
            f"UPDATE {licences} SET {', '.join(f'{c} = s.{c}' for c in columns)} FROM {SNAPSHOT} s "
            f"WHERE {licences}.id = s.id AND {licences}.changed_by_id IS NOT NULL",
            [],
        )
        Event.objects.all().delete()
        Job.objects.all().delete()
    if connection.vendor == "postgresql":
        # Every run leaves tens of thousands of dead licence versions; clean them so that repeats compare alike.
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    return {"deleted_added": added, "restored": restored}


def _effects(job: Any, seed_max: int) -> dict:
    """What a run did to the licences and the audit trail."""
    import datetime as dt

    from django.db.models import Count

    from audit.models import Event
    from credentials.models import License

    mine = License.objects.filter(changed_by_job=job) if job is not None else License.objects.all()
    events = dict(
        Event.objects.filter(action__startswith="license.")
        .values_list("action")
        .annotate(n=Count("id"))
        .order_by()
    )
    return {
        "added": mine.filter(pk__gt=seed_max, deleted_at__isnull=True).count(),
        "edited": mine.filter(
            pk__lte=seed_max,
            deleted_at__isnull=True,
            issuing_authority=EDIT_AUTHORITY,
            issue_date__gte=dt.date(2026, 2, 1),
        ).count(),
        "deleted": mine.filter(pk__lte=seed_max, deleted_at__isnull=False, changed_by__isnull=False).count(),
        "events_added": events.get("license.added", 0),
        "events_edited": events.get("license.edited", 0),
        "events_deleted": events.get("license.deleted", 0),
    }


def run_engine(fmt: str) -> dict:
    """The whole job as certdesk runs it: submit (read, parse, validate, stage), then run_next.

    The phases are timed by wrapping the engine's own functions (parse_upload, the kind's validate,
    insert_rows, write_results). A file over the kind's upload limit is first shown to be refused,
    then the limit is raised in this process only.
    """
    import resource

    from django.conf import settings
    from django.urls import reverse

    from base.problems import FILE_TOO_LARGE, FileRejected
    from bulk import services, worker
    from bulk.registry import get_kind
    from people.models import User

    settings.EMAIL_BACKEND = "django.core.mail.backends.dummy.EmailBackend"
    kind = get_kind(KIND)
    filename = FORMATS[fmt][0]
    path = BENCH_DIR / filename
    size = path.stat().st_size
    actor = User.objects.get(username="bench-admin")
    refused = None
    if size > kind.max_bytes:
        try:
            with open(path, "rb") as stream:
                services.submit(KIND, stream, filename, actor=actor, title="Too large", start=True)
            refused = False
        except FileRejected as rejected:
            refused = any(p.code == FILE_TOO_LARGE for p in rejected.problems)
        kind.max_bytes = size  # type: ignore[misc]  # this process only

    marks: dict[str, float] = {}
    time_intake(marks, services, kind)  # parse, check and stage, summed over the file's batches
    services.write_results = timed(marks, "results", services.write_results)
    worker.write_results = timed(marks, "results", worker.write_results)  # a finished job's, by the worker

    # The email to the job's creator links to the job's page. The first reverse() in a process loads
    # the URLconf, i.e. imports every view (~0.3 s): a running worker has done that long before.
    reverse("web:job", args=[1])
    seed_max = _seed_max()
    start_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    with open(path, "rb") as stream:
        submission = services.submit(KIND, stream, filename, actor=actor, title="Benchmark", start=True)
    t1 = time.perf_counter()
    peak_submit_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    job = worker.run_next("bench-worker")
    t2 = time.perf_counter()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    assert job is not None and job.pk == submission.job.pk, "the benchmark job was not the one claimed"
    assert job.status == "processed", job.failure_reason
    first_error = job.rows.filter(outcome="error").values_list("row_number", "message").first()
    return {
        "format": fmt,
        "total_s": t2 - t0,
        "submit_s": t1 - t0,
        "parse_s": marks.get("parse", 0.0),
        "validate_s": (t1 - t0) - marks.get("parse", 0.0),
        "check_s": marks.get("check", 0.0),
        "stage_s": marks.get("stage", 0.0),
        "apply_s": (t2 - t1) - marks.get("results", 0.0),
        "results_s": marks.get("results", 0.0),
        "rows": job.total,
        "succeeded": job.succeeded,
        "skipped": job.skipped,
        "failed": job.failed,
        "first_error": first_error,
        "summary": submission.summary,
        **_effects(job, seed_max),
        "bytes": job.original_size,
        "over_limit": refused is not None,
        "refused": refused,
        "results_bytes": job.results_size,
        "peak_mb": peak_mb,
        "peak_submit_mb": peak_submit_mb,
        "start_mb": start_mb,
    }


def run_floor() -> dict:
    """The floor of the same change from the CSV: parse it, load its rows into a temporary table
    (executemany on SQLite, COPY on PostgreSQL), then one INSERT … SELECT of the adds and one joined
    UPDATE each for the edits and the deletes, in one transaction. Nothing a job adds (checks, rows
    kept, what an edit overwrites, audit, results file)."""
    import csv

    from django.db import connection, transaction
    from django.utils import timezone

    from base.sql import table
    from credentials.models import License, LicenseType
    from people.models import User

    t0 = time.perf_counter()
    with open(BENCH_DIR / FORMATS["csv"][0], encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        next(reader)
        rows = [(*row[:6], row[6].strip().lower()) for row in reader]
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    # Changed by someone, as the job's changes are: the reset puts back only licences changed by someone.
    actor = User.objects.get(username="bench-admin").pk
    licences, users, types = table(License), table(User), table(LicenseType)
    date = "::date" if connection.vendor == "postgresql" else ""
    named = f"FROM floor_rows f JOIN {users} u ON u.username = f.username JOIN {types} t ON t.code = f.code"
    done = {}
    with transaction.atomic(), connection.cursor() as cursor:
        columns = (
            "username text, code text, number text, authority text, issue text, expiration text, action text"
        )
        if connection.vendor == "postgresql":
            cursor.execute(f"CREATE TEMP TABLE floor_rows ({columns}) ON COMMIT DROP")
            with cursor.copy("COPY floor_rows FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            cursor.execute("DROP TABLE IF EXISTS temp.floor_rows")
            cursor.execute(f"CREATE TEMP TABLE floor_rows ({columns})")
            cursor.executemany("INSERT INTO floor_rows VALUES (%s, %s, %s, %s, %s, %s, %s)", rows)
        cursor.execute(
            f"INSERT INTO {licences} (user_id, license_type_id, number, issuing_authority, issue_date, "
            "expiration_date, created_at, updated_at, changed_by_id) SELECT u.id, t.id, f.number, "
            f"COALESCE(NULLIF(f.authority, ''), t.issuing_authority), NULLIF(f.issue, ''){date}, "
            f"NULLIF(f.expiration, ''){date}, %s, %s, %s {named} WHERE f.action = 'add'",
            [now, now, actor],
        )
        done["add"] = cursor.rowcount
        cursor.execute(
            f"UPDATE {licences} SET issuing_authority = COALESCE(NULLIF(f.authority, ''), {licences}.issuing_authority), "
            f"issue_date = NULLIF(f.issue, ''){date}, expiration_date = NULLIF(f.expiration, ''){date}, "
            f"updated_at = %s, changed_by_id = %s {named} WHERE f.action = 'edit' AND {licences}.user_id = u.id "
            f"AND {licences}.license_type_id = t.id AND {licences}.number = f.number AND {licences}.deleted_at IS NULL",
            [now, actor],
        )
        done["edit"] = cursor.rowcount
        cursor.execute(
            f"UPDATE {licences} SET deleted_at = %s, updated_at = %s, changed_by_id = %s {named} "
            "WHERE f.action = 'delete' "
            f"AND {licences}.user_id = u.id AND {licences}.license_type_id = t.id AND {licences}.number = f.number "
            f"AND {licences}.deleted_at IS NULL",
            [now, now, actor],
        )
        done["delete"] = cursor.rowcount
    return {"total_s": time.perf_counter() - t0, "rows": len(rows), "done": done}


def run_per_row_loop(limit: int) -> dict:
    """The obvious implementation: per row, look up the user and the licence type, then create (if no
    current licence has that number), update or soft-delete the licence and write an audit event;
    one transaction, then a results file."""
    import csv
    import datetime as dt
    import io
    import resource

    from django.db import transaction
    from django.utils import timezone

    from audit.models import Event
    from credentials.models import License, LicenseType
    from people.models import User

    actor = User.objects.get(username="bench-admin")
    seed_max = _seed_max()
    t0 = time.perf_counter()
    with open(BENCH_DIR / FORMATS["csv"][0], encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    if limit:
        rows = rows[:limit]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([*HEADER, "Result", "Message"])
    done = {"add": 0, "edit": 0, "delete": 0}
    errors = 0

    def day(text: str) -> dt.date | None:
        return dt.date.fromisoformat(text) if text else None

    with transaction.atomic():
        for row in rows:
            cells = [row[h].strip() for h in HEADER]
            username, code, number, authority, issued, expires, action = cells
            action = action.lower()
            try:
                user = User.objects.get(username=username)
                licence_type = LicenseType.objects.get(code=code)
                if action == "add":
                    if License.objects.filter(
                        user=user, license_type=licence_type, number=number, deleted_at__isnull=True
                    ).exists():
                        raise License.DoesNotExist("holds it already")
                    licence = License.objects.create(
                        user=user,
                        license_type=licence_type,
                        number=number,
                        issuing_authority=authority or licence_type.issuing_authority,
                        issue_date=day(issued),
                        expiration_date=day(expires),
                        changed_by=actor,
                    )
                    before, after = None, {"deleted": False}
                else:
                    licence = License.objects.get(
                        user=user, license_type=licence_type, number=number, deleted_at__isnull=True
                    )
                    licence.updated_at = timezone.now()
                    licence.changed_by = actor
                    if action == "edit":
                        licence.issuing_authority = authority or licence_type.issuing_authority
                        licence.issue_date, licence.expiration_date = day(issued), day(expires)
                        before, after = None, None
                    else:
                        licence.deleted_at = timezone.now()
                        before, after = {"deleted": False}, {"deleted": True}
                    licence.save()
            except (User.DoesNotExist, LicenseType.DoesNotExist, License.DoesNotExist) as exc:
                writer.writerow([*cells, "Error", str(exc)])
                errors += 1
                continue
            Event.objects.create(
                actor=actor,
                action={"add": "license.added", "edit": "license.edited"}.get(action, "license.deleted"),
                object_type="credentials.license",
                object_id=str(licence.pk),
                before=before,
                after=after,
            )
            writer.writerow([*cells, "Imported", ""])
            done[action] += 1
    (BENCH_DIR / "loop-results.csv").write_text(out.getvalue(), encoding="utf-8")
    total_s = time.perf_counter() - t0
    return {
        "total_s": total_s,
        "rows": len(rows),
        "done": done,
        "errors": errors,
        **_effects(None, seed_max),
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def child(step: str, args: argparse.Namespace) -> None:
    django_setup()
    result = {
        "seed": lambda: seed(args.users),
        "files": lambda: build_files(args.rows, args.users),
        "reset": reset,
        "engine": lambda: run_engine(args.format),
        "floor": run_floor,
        "loop": lambda: run_per_row_loop(args.baseline_rows),
    }[step]()
    report(result)


# --- parent side ----------------------------------------------------------------------------------


def run_step(step: str, env: dict[str, str], args: argparse.Namespace, fmt: str = "csv") -> dict:
    options = [
        "--format",
        fmt,
        "--users",
        str(args.users),
        "--rows",
        str(args.rows),
        "--baseline-rows",
        str(args.baseline_rows),
    ]
    return run_child(__file__, step, options, env)


def _mb(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MB"


def bench(name: str, database_url: str, args: argparse.Namespace) -> list[str]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "CERTDESK_VAR_DIR": str(BENCH_DIR),
        "MEDIA_ROOT": str(BENCH_DIR / f"media-{name}"),
        "CERTDESK_RUNNER": "none",
        "LOG_LEVEL": "WARNING",
    }
    env.pop("EMAIL_URL", None)  # never reach a real mail server from a benchmark
    print(
        f"[{name}] seeding {args.users:,} users, {len(LICENCE_TYPES)} licence types and licences … ({load_average()})"
    )
    seeded = run_step("seed", env, args)
    marks = ", ".join(f"{k} {v:.1f} s" for k, v in seeded["marks"].items())
    print(
        f"[{name}] seeded {seeded['users']:,} users and {seeded['licences']:,} licences "
        f"({seeded['current']:,} current) in {seeded['seconds']:.1f} s ({marks}; migrations "
        f"{seeded['migrate_s']:.1f} s before)",
        flush=True,
    )
    t = time.perf_counter()
    made = run_step("files", env, args)
    sizes = ", ".join(f"{fmt} {_mb(size)}" for fmt, size in made["sizes"].items())
    print(
        f"[{name}] files of {made['rows']:,} rows ({made['adds']:,} Add, {made['readds']:,} of them a deleted "
        f"number again; {made['edits']:,} Edit; {made['deletes']:,} Delete; {made['numberless']:,} without a "
        f"number) built in {time.perf_counter() - t:.1f} s: {sizes}",
        flush=True,
    )
    runs: dict[str, list[dict]] = {fmt: [] for fmt in args.formats}
    loads: list[float] = []
    for attempt in range(args.repeat):
        for fmt in args.formats:  # the formats take turns, so that a busy spell does not hit only one
            run_step("reset", env, args)
            loads.append(os.getloadavg()[0])
            r = run_step("engine", env, args, fmt)
            runs[fmt].append(r)
            print(
                f"[{name}] {fmt} run {attempt + 1}: total {r['total_s']:.3f} s = parse {r['parse_s']:.3f} s "
                f"+ validate {r['validate_s']:.3f} s (check {r['check_s']:.3f}, stage {r['stage_s']:.3f}) "
                f"+ apply {r['apply_s']:.3f} s + results {r['results_s']:.3f} s; added {r['added']:,}, "
                f"edited {r['edited']:,}, deleted {r['deleted']:,}; peak {r['peak_mb']:.0f} MB "
                f"({r['start_mb']:.0f} MB before, {r['peak_submit_mb']:.0f} MB after submit); {load_average()}",
                flush=True,
            )
            assert r["rows"] == r["succeeded"] == made["rows"] and r["failed"] == 0, r
            assert r["added"] == r["events_added"] == made["adds"], r
            assert r["edited"] == r["events_edited"] == made["edits"], r
            assert r["deleted"] == r["events_deleted"] == made["deletes"], r
            assert r["refused"] in (None, True), ("an upload over the limit was accepted", r)
    floors = []
    for _ in range(args.repeat):
        run_step("reset", env, args)
        floors.append(run_step("floor", env, args))
        assert floors[-1]["done"] == {
            "add": made["adds"],
            "edit": made["edits"],
            "delete": made["deletes"],
        }, ("the floor did not make every change", floors[-1])
    floor = min(f["total_s"] for f in floors)
    print(f"[{name}] floor (parse + one statement per action): {floor:.3f} s", flush=True)
    lines = []
    best_of = {fmt: min(runs[fmt], key=lambda r: r["total_s"]) for fmt in args.formats}
    for fmt in args.formats:
        best = best_of[fmt]
        rate = best["rows"] / best["total_s"]
        # The issue's targets: the CSV within a second on SQLite and two on PostgreSQL; another
        # format within 1.5 times the CSV's time.
        if made["rows"] != 50_000:
            verdict = ""
        elif fmt == "csv":
            target = CSV_TARGETS_S[name]
            verdict = f"  [target ≤ {target:.1f} s: {'MET' if best['total_s'] <= target else 'MISSED'}]"
        elif "csv" in best_of:
            ratio = best["total_s"] / best_of["csv"]["total_s"]
            verdict = f"  [{ratio:.2f}x the csv; target ≤ 1.5x: {'MET' if ratio <= 1.5 else 'MISSED'}]"
        else:
            verdict = ""
        lines.append(
            f"license-import {name} {fmt}: {best['total_s']:.2f} s end-to-end (parse {best['parse_s']:.2f} s, "
            f"validate {best['validate_s']:.2f} s, apply {best['apply_s']:.2f} s, results "
            f"{best['results_s']:.2f} s), {rate:.0f} rows/s, {best['total_s'] / floor:.1f}x the csv floor "
            f"({floor:.2f} s), peak {best['peak_mb']:.0f} MB (best of {args.repeat}){verdict}"
        )
        if best["over_limit"]:
            lines.append(
                f"    {fmt}: {_mb(best['bytes'])} for {best['rows']:,} rows, over the kind's "
                f"{_mb(made['max_bytes'])} upload limit: uploaded as is it is refused (checked); "
                "measured with the limit raised in the benchmark process"
            )
    totals = {fmt: ", ".join(f"{r['total_s']:.2f}" for r in runs[fmt]) for fmt in args.formats}
    facts = (
        "    runs (s): "
        + "; ".join(f"{fmt} {totals[fmt]}" for fmt in args.formats)
        + f"; 1-min load before the runs {min(loads):.2f} to {max(loads):.2f} on {os.cpu_count()} CPUs; "
        f"seeding {seeded['seconds']:.1f} s"
    )
    if args.no_baseline:
        return [*lines, facts + "; no per-row baseline"]
    run_step("reset", env, args)
    loop = run_step("loop", env, args)
    assert loop["errors"] == 0 and sum(loop["done"].values()) == loop["rows"], loop
    assert (loop["added"], loop["edited"], loop["deleted"]) == (
        loop["done"]["add"],
        loop["done"]["edit"],
        loop["done"]["delete"],
    ), loop
    run_step("reset", env, args)
    loop_rate = loop["rows"] / loop["total_s"]
    print(
        f"[{name}] per-row ORM loop: {loop['rows']:,} csv rows ({loop['done']['add']:,} Add, "
        f"{loop['done']['edit']:,} Edit, {loop['done']['delete']:,} Delete) in {loop['total_s']:.2f} s, "
        f"{loop_rate:,.0f} rows/s, peak {loop['peak_mb']:.0f} MB",
        flush=True,
    )
    best_csv = min(runs["csv"], key=lambda r: r["total_s"]) if "csv" in runs else None
    ratio = (
        f", the engine's csv run {best_csv['rows'] / best_csv['total_s'] / loop_rate:.1f}x faster"
        if best_csv
        else ""
    )
    scope = (
        f"{loop['rows']:,} of {made['rows']:,} rows measured in {loop['total_s']:.2f} s, "
        f"extrapolated to {made['rows'] / loop_rate:.1f} s for all"
        if loop["rows"] < made["rows"]
        else f"all {loop['rows']:,} rows, {loop['total_s']:.2f} s"
    )
    return [
        *lines,
        f"    per-row ORM loop {name} csv: {loop_rate:.0f} rows/s ({scope}){ratio}, peak {loop['peak_mb']:.0f} MB",
        facts,
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument(
        "--baseline-rows",
        type=int,
        default=5_000,
        help="csv rows the per-row loop runs, its rate extrapolated to the whole file (0: all of them)",
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="engine runs per format and database; the best counts"
    )
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    parser.add_argument(
        "--formats",
        type=lambda text: [f.strip() for f in text.split(",") if f.strip()],
        default=list(FORMATS),
        help=f"comma-separated, of {', '.join(FORMATS)} (default: all)",
    )
    parser.add_argument(
        "--no-baseline", action="store_true", help="skip the per-row ORM loop (quick iterations)"
    )
    parser.add_argument("--step", help=argparse.SUPPRESS)
    parser.add_argument("--format", default="csv", choices=list(FORMATS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        child(args.step, args)
        return
    unknown = set(args.formats) - set(FORMATS)
    if unknown:
        parser.error(f"unknown format(s) {', '.join(sorted(unknown))}")
    run_on_databases(BENCH_DIR, PG_BENCH_DB, args.only, lambda name, url: bench(name, url, args))


if __name__ == "__main__":
    main()
