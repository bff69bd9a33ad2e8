"""Every list and detail page, and its API endpoint, for an organisation of a million learners.

Seeds set-based (INSERT … SELECT over a counter, secondary indexes dropped for the load and built
after it, then ANALYZE (VACUUM ANALYZE on PostgreSQL) as an install does after its first big import):

- a 500-unit tree (an organisation, 5 divisions, 45 locations, 449 departments), 1,000,000 learners,
  one department each; Division A holds 200,000 of them;
- 50 certifications and 2,000,000 awards, one certification (CERT-BIG) with 500,000 holders;
- 1,000,000 licences over 10 licence types, 1,000,000 enrolments over 100 activities;
- 100,000 jobs by 30 administrators, one of them with 500,000 rows;
- 5,000,000 audit events.

Then asks each page ``--requests`` times with Django's test client (the whole view, templates
included, as a browser gets it) for the superuser and for an administrator whose grants are
constrained to their own division (Division A), and prints p95, median and the number of queries.

    .venv/bin/python benchmarks/org_scale.py [--database sqlite|postgresql|both] [--reseed]
        [--learners 1000000] [--requests 20] [--only SUBSTRING]

The seeded databases are kept (under the temp folder, and ``certdesk_bench_org`` on PostgreSQL) so
that a second run measures at once; ``--reseed`` builds them again. Target: p95 ≤ 150 ms per page.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from harness import (
    PG_ADMIN_URL,
    RESULT,
    ROOT,
    django_setup,
    on_kept_databases,
    percentiles,
    report,
    run_child,
    select_list,
)

BENCH_DIR = Path(tempfile.gettempdir()) / "certdesk-bench-org"
PG_DATABASE = "certdesk_bench_org"
DIVISIONS, LOCATIONS_PER_DIVISION = 5, 9
DEPARTMENTS = 449
CERTIFICATIONS = 50
LICENCE_TYPES = 10
ACTIVITIES = 100
ADMINS = 30
BIG_JOB_ROWS = 500_000


def counter(n: int) -> str:
    """A FROM clause giving i = 0 … n-1."""
    from django.db import connection

    if connection.vendor == "postgresql":
        return f"generate_series(0, {n - 1}) AS n(i)"
    return f"(WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i < {n - 1}) SELECT i FROM c) n"


def day(offset_sql: str) -> str:
    """The date ``offset_sql`` days after 2024-01-01."""
    from django.db import connection

    if connection.vendor == "postgresql":
        return f"(DATE '2024-01-01' + ({offset_sql})::int)"
    return f"date('2024-01-01', '+' || ({offset_sql}) || ' days')"


def insert(model: Any, n: int, given: dict[str, tuple[str, list[Any]]]) -> None:
    from base.sql import execute, table

    columns, values, params = select_list(model, given)
    execute(f"INSERT INTO {table(model)} ({columns}) SELECT {values} FROM {counter(n)}", params)


def secondary_indexes(tables: list[str]) -> list[tuple[str, str]]:
    """(name, CREATE statement) of the indexes a load can drop and build again afterwards: every
    index that is not the primary key or a column's UNIQUE."""
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.tablename = ANY(%s) AND NOT EXISTS "
                "(SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)",
                [tables],
            )
        else:
            # with the triggers that keep the search indexes: they index each row as it comes
            cursor.execute(
                "SELECT name, sql FROM sqlite_master WHERE type IN ('index', 'trigger') AND sql IS NOT NULL "
                f"AND tbl_name IN ({', '.join('%s' for _ in tables)})",
                tables,
            )
        return list(cursor.fetchall())


def seed(learners: int) -> dict:
    """Fill an empty, migrated database (see the module's docstring)."""
    import datetime as dt

    from django.contrib.auth.models import Permission
    from django.db import connection, transaction
    from harness import seed_learners, skip_deferred_fk_checks

    from access.models import Grant, Role
    from access.permissions import APPROVE_JOBS, MANAGE_CERTIFICATION_REMOVAL, VIEW_AUDIT_LOG
    from access.reach import PEOPLE_PERMISSIONS
    from audit.models import Event
    from base.sql import execute, table
    from bulk.models import Job, JobRow
    from credentials.models import LICENCE_NUMBER_SEARCH, Award, Certification, License, LicenseType
    from learning.models import Activity, Enrollment
    from people.models import OrgUnit, User
    from people.search import rebuild_search_index

    started = time.perf_counter()
    at = connection.ops.adapt_datetimefield_value(dt.datetime(2026, 6, 1, tzinfo=dt.UTC))
    membership = User.org_units.through
    loaded = [User, membership, Award, License, Enrollment, Job, JobRow, Event]
    indexes = secondary_indexes([m._meta.db_table for m in loaded])
    with transaction.atomic():
        skip_deferred_fk_checks()
        for name, create in indexes:
            what = "TRIGGER" if create.upper().startswith("CREATE TRIGGER") else "INDEX"
            execute(f"DROP {what} {connection.ops.quote_name(name)}", [])
        root = OrgUnit.objects.create(code="ORG", name="Organisation", kind="Organisation")
        divisions = [
            OrgUnit.objects.create(
                code=f"DIV-{chr(65 + d)}", name=f"Division {chr(65 + d)}", kind="Division", parent=root
            )
            for d in range(DIVISIONS)
        ]
        locations = [
            OrgUnit.objects.create(
                code=f"LOC-{n}",
                name=f"Location {n}",
                kind="Location",
                parent=divisions[n // LOCATIONS_PER_DIVISION],
            )
            for n in range(DIVISIONS * LOCATIONS_PER_DIVISION)
        ]
        departments = OrgUnit.objects.bulk_create(
            OrgUnit(
                code=f"DEP-{n}",
                name=f"Department {n}",
                kind="Department",
                parent=locations[n * len(locations) // DEPARTMENTS],
            )
            for n in range(DEPARTMENTS)
        )
        seed_learners(learners)
        first_user = User.objects.order_by("pk").values_list("pk", flat=True).first()
        first_dep = departments[0].pk
        # learner i belongs to department i mod 449 (ids are consecutive from bulk_create)
        execute(
            f"INSERT INTO {table(membership)} (user_id, orgunit_id) SELECT id, {first_dep} + ((id - {first_user}) %% {DEPARTMENTS}) "
            f"FROM {table(User)}",
            [],
        )
        admins = []
        division_a = divisions[0]
        for n in range(ADMINS):
            admin = User.objects.create(
                username=f"admin{n}", user_id=f"ADM-{n}", first_name="Ada", last_name=f"Admin{n}"
            )
            admin.org_units.add(division_a if n % 3 == 0 else divisions[1 + n % (DIVISIONS - 1)])
            admins.append(admin)
        User.objects.create_superuser("root", "root@bench.test", "x", user_id="ROOT")
        role = Role.objects.create(name="Division administrator")
        for name in (*PEOPLE_PERMISSIONS, MANAGE_CERTIFICATION_REMOVAL, VIEW_AUDIT_LOG, APPROVE_JOBS):
            app_label, codename = name.split(".")
            permission = Permission.objects.get(content_type__app_label=app_label, codename=codename)
            Grant.objects.create(role=role, permission=permission, scope=Grant.Scope.OWN_UNITS)
        role.members.add(admins[0])

        certifications = Certification.objects.bulk_create(
            Certification(
                code="CERT-BIG" if n == 0 else f"CERT-{n:03}", title=f"Certification {n}", validity_days=730
            )
            for n in range(CERTIFICATIONS)
        )
        big, c0 = certifications[0].pk, certifications[1].pk
        # 500,000 holders of CERT-BIG, then 1,500,000 awards over the other 49 (user i, certification i mod 49)
        holders = min(learners // 2, 500_000)
        award_fields = {
            "issue_date": (day("i %% 700"), []),
            "expiration_date": (day("(i %% 700) + 730"), []),
            "always_valid": ("%s", [False]),
            "association_type": ("'manual'", []),
            "status": ("CASE WHEN i %% 10 = 9 THEN 'removed' ELSE 'active' END", []),
            "created_at": ("%s", [at]),
            "updated_at": ("%s", [at]),
        }
        insert(
            Award,
            holders,
            {**award_fields, "user": (f"{first_user} + i * 2", []), "certification": ("%s", [big])},
        )
        others = 2_000_000 * learners // 1_000_000 - holders
        insert(
            Award,
            others,
            {
                **award_fields,
                "user": (f"{first_user} + i %% {learners}", []),
                "certification": (f"{c0} + i %% {CERTIFICATIONS - 1}", []),
            },
        )
        types = LicenseType.objects.bulk_create(
            LicenseType(code=f"LT-{n}", name=f"Licence type {n}") for n in range(LICENCE_TYPES)
        )
        insert(
            License,
            learners,
            {
                "user": (f"{first_user} + i", []),
                "license_type": (f"{types[0].pk} + i %% {LICENCE_TYPES}", []),
                "number": ("'N' || i", []),
                "issuing_authority": ("'Board'", []),
                "issue_date": (day("i %% 1000"), []),
                "expiration_date": (day("(i %% 1000) + 365"), []),
                "created_at": ("%s", [at]),
                "updated_at": ("%s", [at]),
                "deleted_at": ("CASE WHEN i %% 20 = 19 THEN %s ELSE NULL END", [at]),
            },
        )
        activities = Activity.objects.bulk_create(
            Activity(title=f"Course {n}", external_reference=f"ACT-{n}") for n in range(ACTIVITIES)
        )
        insert(
            Enrollment,
            learners,
            {
                "user": (f"{first_user} + i", []),
                "activity": (f"{activities[0].pk} + i %% {ACTIVITIES}", []),
                "status": ("CASE WHEN i %% 7 = 6 THEN 'unenrolled' ELSE 'enrolled' END", []),
                "enrolled_at": ("%s", [at]),
            },
        )
        kinds = ["certification-removal", "award-users", "unenrolment", "license-import"]
        start = dt.datetime(2023, 12, 1, tzinfo=dt.UTC)
        insert(
            Job,
            100_000,
            {
                "kind": (
                    "CASE i %% 4 " + " ".join(f"WHEN {k} THEN '{s}'" for k, s in enumerate(kinds)) + " END",
                    [],
                ),
                "title": ("'Bulk change ' || i", []),
                "status": ("CASE WHEN i %% 10 = 9 THEN 'failed' ELSE 'processed' END", []),
                "created_by": (f"{admins[0].pk} + i %% {ADMINS}", []),
                "created_at": ("%s", [connection.ops.adapt_datetimefield_value(start)]),
                "total": ("100", []),
                "rows_done": ("100", []),
                "succeeded": ("100", []),
                "chunk_size": ("5000", []),
            },
        )
        # spread the jobs over three years: one every 15 minutes
        if connection.vendor == "postgresql":
            execute(f"UPDATE {table(Job)} SET created_at = created_at + (id * interval '15 minutes')", [])
        else:
            execute(
                f"UPDATE {table(Job)} SET created_at = strftime('%%Y-%%m-%%d %%H:%%M:%%S', created_at, '+' || (id * 15) || ' minutes')",
                [],
            )
        big_job = Job.objects.create(
            kind="certification-removal",
            title="Leavers of the year",
            status=Job.Status.PROCESSED,
            created_by=admins[0],
            created_at=dt.datetime(2026, 11, 30, tzinfo=dt.UTC),
            total=BIG_JOB_ROWS,
            rows_done=BIG_JOB_ROWS,
            succeeded=BIG_JOB_ROWS * 9 // 10,
            skipped=BIG_JOB_ROWS // 20,
            failed=BIG_JOB_ROWS - BIG_JOB_ROWS * 9 // 10 - BIG_JOB_ROWS // 20,
            chunk_size=5000,
            chunks_done=BIG_JOB_ROWS // 5000,
            params={"certification_id": big, "certification_code": "CERT-BIG"},
        )
        cells = (
            "jsonb_build_array('U' || i, 'CERT-BIG')"
            if connection.vendor == "postgresql"
            else "json_array('U' || i, 'CERT-BIG')"
        )
        insert(
            JobRow,
            BIG_JOB_ROWS,
            {
                "job": ("%s", [big_job.pk]),
                "seq": ("i", []),
                "row_number": ("i + 2", []),
                "cells": (cells, []),
                "key": ("'U' || i", []),
                "user": (f"{first_user} + i %% {learners}", []),
                "target_id": ("%s", [big]),
                "outcome": (
                    "CASE WHEN i %% 20 < 18 THEN 'succeeded' WHEN i %% 20 = 18 THEN 'skipped' ELSE 'error' END",
                    [],
                ),
                "message": (
                    "CASE WHEN i %% 20 = 19 THEN 'Row ' || (i + 2) || ', column User ID: not found' ELSE '' END",
                    [],
                ),
            },
        )
        first_job = Job.objects.order_by("pk").values_list("pk", flat=True).first()
        insert(
            Event,
            5_000_000 * learners // 1_000_000,
            {
                "actor": (f"{admins[0].pk} + i %% {ADMINS}", []),
                "job": (f"{first_job} + (i / 50) %% 100000", []),
                "action": (
                    "CASE i %% 3 WHEN 0 THEN 'award.removed' WHEN 1 THEN 'license.updated' ELSE 'enrollment.unenrolled' END",
                    [],
                ),
                "object_type": (
                    "CASE i %% 3 WHEN 0 THEN 'credentials.award' WHEN 1 THEN 'credentials.license' ELSE 'learning.enrollment' END",
                    [],
                ),
                "object_id": (f"CAST(1 + (i / 3) %% {learners} AS TEXT)", []),
                "before": ('\'{"status": "active"}\'', []),
                "after": ('\'{"status": "removed"}\'', []),
                "created_at": ("%s", [at]),
            },
        )
        loaded_at = time.perf_counter()
        for _, create in indexes:
            execute(create.replace("%", "%%"), [])
        rebuild_search_index()
        LICENCE_NUMBER_SEARCH.rebuild()
    indexed_at = time.perf_counter()
    with connection.cursor() as cursor:
        # PostgreSQL's autovacuum would vacuum the loaded tables too, which sets the visibility map an
        # index-only scan needs; SQLite has no vacuum to do for that
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
    return {
        "load": loaded_at - started,
        "indexes": indexed_at - loaded_at,
        "analyze": time.perf_counter() - indexed_at,
        "big_job": big_job.pk,
    }


def pages(big_job: int, learners: int) -> list[tuple[str, str]]:
    from credentials.models import Certification
    from learning.models import Activity

    big = Certification.objects.get(code="CERT-BIG").pk
    activity = Activity.objects.order_by("pk").first().pk  # type: ignore[union-attr]
    learner = f"U{DEPARTMENTS * (learners // DEPARTMENTS // 2)}"  # a Division A learner (department 0)
    deep = 10_000
    return [
        ("Dashboard", "/"),
        ("Certifications", "/certifications/"),
        ("Certifications API", "/api/v1/certifications/"),
        ("Awarded Users, first page", f"/certifications/{big}/users/"),
        ("Awarded Users, deep page", f"/certifications/{big}/users/?page={deep // 25}"),
        ("Awarded Users, search", f"/certifications/{big}/users/?q=learner4242"),
        ("Awarded Users API", f"/api/v1/certifications/{big}/awards/"),
        ("Awarded Users API, deep page", f"/api/v1/certifications/{big}/awards/?page={deep // 50}"),
        ("Awarded Users API, search", f"/api/v1/certifications/{big}/awards/?search=learner4242"),
        ("People search", "/people/?q=learner4242"),
        ("People API search", "/api/v1/users/?search=learner4242"),
        ("Learner page", f"/people/{learner}/"),
        ("Learner API", f"/api/v1/users/{learner}/"),
        ("Learner API history", f"/api/v1/users/{learner}/history/"),
        ("Licences", "/licences/"),
        ("Licences, expiring", "/licences/?status=expiring"),
        ("Licences, expired", "/licences/?status=expired"),
        ("Licences, division", "/licences/?unit=DIV-A"),
        ("Licences, search", "/licences/?q=learner4242"),
        ("Licences API", "/api/v1/licenses/"),
        ("Licences API, expired", "/api/v1/licenses/?status=expired"),
        ("Jobs", "/jobs/"),
        ("Jobs API", "/api/v1/jobs/"),
        ("Job of 500,000 rows", f"/jobs/{big_job}/"),
        ("Job of 500,000 rows, errors", f"/jobs/{big_job}/?outcome=error"),
        ("Job rows API, errors", f"/api/v1/jobs/{big_job}/rows/?outcome=error"),
        ("Audit log", "/audit/"),
        ("Audit API", "/api/v1/audit-events/"),
        ("Catalogue", "/catalogue/"),
        ("Activity", f"/catalogue/activities/{activity}/"),
        ("Enrolments API", f"/api/v1/enrollments/?activity={activity}"),
    ]


def measure(requests: int, only: str | None, big_job: int, learners: int) -> list[dict]:
    from django.core import signals
    from django.db import close_old_connections, connection, reset_queries
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, setup_test_environment

    from people.models import OrgUnit, User

    setup_test_environment()
    # as in Django's tests: keep the connection between requests, so that its queries can be counted
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    division_a = OrgUnit.objects.get(code="DIV-A").pk
    out = []
    for who, username in (("superuser", "root"), ("Division A", "admin0")):
        client = Client()
        client.force_login(User.objects.get(username=username))
        for label, path in pages(big_job, learners):
            if only and only.lower() not in label.lower():
                continue
            path = path.replace("unit=DIV-A", f"unit={division_a}")
            response = client.get(path)  # warm the templates
            status = response.status_code
            with CaptureQueriesContext(connection) as queries:
                t0 = time.perf_counter()
                client.get(path)
                first = time.perf_counter() - t0
            count = len(queries)
            timings = [first * 1000]
            # a page slower than a second is not asked again: one figure says enough
            for _ in range(requests - 1 if first < 1 else 0):
                reset_queries()
                t0 = time.perf_counter()
                client.get(path)
                timings.append((time.perf_counter() - t0) * 1000)
            out.append(
                {
                    "who": who,
                    "page": label,
                    "path": path,
                    "status": status,
                    "queries": count,
                    "timings": timings,
                }
            )
            print(line_of(connection.vendor, out[-1]), file=sys.stderr, flush=True)
    return out


def child(args: argparse.Namespace) -> None:
    os.environ["CERTDESK_RUNNER"] = "none"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["CERTDESK_API_RATE_USER"] = "100000/minute"
    os.chdir(ROOT)
    django_setup()
    from django.core.management import call_command

    from bulk.models import Job

    if args.step == "seed":
        call_command("migrate", verbosity=0)
        report(seed(args.learners))
        return
    big_job = Job.objects.get(title="Leavers of the year").pk
    report({"pages": measure(args.requests, args.only, big_job, args.learners)})


def database_url(vendor: str, reseed: bool) -> tuple[str, bool]:
    """The benchmark database's URL, and whether it must be seeded."""
    if vendor == "sqlite":
        BENCH_DIR.mkdir(parents=True, exist_ok=True)
        db = BENCH_DIR / "org.sqlite3"
        if reseed:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{db}{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{db}", not db.exists()
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [PG_DATABASE]).fetchone()
        if reseed and exists:
            conn.execute(f"DROP DATABASE {PG_DATABASE}")
        if reseed or not exists:
            conn.execute(f"CREATE DATABASE {PG_DATABASE}")
    return f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{PG_DATABASE}", bool(reseed or not exists)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--step", choices=["seed", "measure"])
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--reseed", action="store_true")
    parser.add_argument("--learners", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--only")
    args = parser.parse_args()
    if args.step:
        child(args)
        return
    on_kept_databases(args.database, lambda vendor: seed_and_measure(vendor, args))


def seed_and_measure(vendor: str, args: argparse.Namespace) -> list[str]:
    url, must_seed = database_url(vendor, args.reseed)
    env = {**os.environ, "DATABASE_URL": url, "CERTDESK_VAR_DIR": str(BENCH_DIR)}
    options = ["--learners", str(args.learners), "--requests", str(args.requests)]
    if must_seed:
        seeded = run_child(__file__, "seed", options, env)
        print(
            f"{vendor}: seeded in {seeded['load']:.1f} s, indexes {seeded['indexes']:.1f} s, "
            f"ANALYZE {seeded['analyze']:.1f} s",
            flush=True,
        )
    if args.only:
        options += ["--only", args.only]
    # the child prints each page's line as it goes (stderr, passed through); its result repeats them
    measured = subprocess.run(
        [sys.executable, __file__, "--step", "measure", *options],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    if measured.returncode != 0:
        raise SystemExit(f"measuring {vendor} failed")
    result = json.loads(
        [ln for ln in measured.stdout.splitlines() if ln.startswith(RESULT)][-1][len(RESULT) :]
    )
    return [line_of(vendor, page) for page in result["pages"]]


def line_of(vendor: str, page: dict) -> str:
    timings = page["timings"]
    figures = percentiles(timings) if len(timings) > 1 else f"{timings[0]:.0f} ms (asked once)"
    status = "" if page["status"] == 200 else f" (HTTP {page['status']})"
    return f"{vendor:10} {page['who']:10} {page['page']:30} {figures}, {page['queries']} queries{status}"


if __name__ == "__main__":
    main()
