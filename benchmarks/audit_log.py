"""The audit log with 1,000,000 events: p95 of 50 requests per view on SQLite, and the export.

Seeds set-based (INSERT … SELECT over a recursive counter): 200 administrators (the actors), 1,000
jobs, and 1,000,000 events spread over them and over a year, of six actions on three object types.
Then, as a superuser and as an auditor constrained to a fifth of the administrators, asks for the
first page and for a later one, for each filter (actor, action family, object type, job, a month),
and for the API's first page, 50 requests each, and prints each p95; then streams the export of every
event and prints its time and how much the process grew.

    .venv/bin/python benchmarks/audit_log.py [--events 1000000] [--requests 50]
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import time

from harness import fresh_sqlite, percentiles, seed_learners

ACTIONS = [
    ("award.removed", "credentials.award"),
    ("award.edited", "credentials.award"),
    ("enrollment.unenrolled", "learning.enrollment"),
    ("license.added", "credentials.license"),
    ("license.edited", "credentials.license"),
    ("award.restored", "credentials.award"),
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=50)
    args = parser.parse_args()
    fresh_sqlite("bench-audit-")

    import datetime as dt

    from django.contrib.auth.models import Permission
    from django.db import connection, transaction
    from django.test import Client
    from django.test.utils import setup_test_environment

    from access.models import Grant, Role
    from audit.models import Event
    from base.sql import execute, table
    from bulk.models import Job
    from people.models import OrgUnit, User

    started = time.perf_counter()
    with transaction.atomic():
        seed_learners(200)
        unit = OrgUnit.objects.create(code="DIV-A", name="Division A")
        admins = list(User.objects.order_by("pk").values_list("pk", flat=True))
        unit.members.add(*admins[:40])
        start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        Job.objects.bulk_create(
            [
                Job(
                    kind="certification-removal",
                    title=f"Job {n}",
                    created_by_id=admins[n % 200],
                    created_at=start,
                    chunk_size=500,
                )
                for n in range(1000)
            ]
        )
        jobs = list(Job.objects.order_by("pk").values_list("pk", flat=True))
        step = 365 * 24 * 3600 / args.events
        action_case = " ".join(f"WHEN {n} THEN '{a}'" for n, (a, _) in enumerate(ACTIONS))
        type_case = " ".join(f"WHEN {n} THEN '{t}'" for n, (_, t) in enumerate(ACTIONS))
        # Over a year, later ids later as real events are; created_at in Django's SQLite text format.
        execute(
            "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < %s) "
            f"INSERT INTO {table(Event)} (actor_id, job_id, action, object_type, object_id, before, after, created_at) "
            f"SELECT %s + i % 200, %s + (i / 1000) % 1000, CASE i % 6 {action_case} END, CASE i % 6 {type_case} END, "
            'CAST(1 + i % 50000 AS TEXT), \'{"status": "active"}\', \'{"status": "removed"}\', '
            "strftime('%%Y-%%m-%%d %%H:%%M:%%f', %s + i * %s, 'unixepoch') FROM n",
            [args.events - 1, admins[0], jobs[0], start.timestamp(), step],
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(
        f"seeded {Event.objects.count():,} events in {time.perf_counter() - started:.1f} s", file=sys.stderr
    )

    setup_test_environment()
    root = User.objects.create_superuser("bench-admin", "bench@bench.test", "x", user_id="BENCH-ADMIN")
    auditor = User.objects.create_user("auditor", "auditor@bench.test", "x", user_id="BENCH-AUDITOR")
    role = Role.objects.create(name="Division A auditor")
    view = Permission.objects.get(content_type__app_label="audit", codename="view_audit_log")
    Grant.objects.create(role=role, permission=view, scope=Grant.Scope.ORG_UNITS).org_units.set([unit])
    role.members.add(auditor)
    last = Event.objects.order_by("-id").values_list("pk", flat=True).first() or 0
    rng = random.Random(16)
    views = {
        "first page": lambda: "/audit/",
        "a later page": lambda: f"/audit/?before={rng.randrange(last // 2, last)}",
        "actor": lambda: f"/audit/?actor=U{rng.randrange(200)}",
        "action family": lambda: f"/audit/?action={rng.choice(['award', 'license', 'enrollment'])}",
        "object type": lambda: "/audit/?object_type=credentials.license",
        "job": lambda: f"/audit/?job={rng.choice(jobs)}",
        "a month": lambda: (
            f"/audit/?created_after=2026-{rng.randrange(1, 12):02d}-01&created_before=2026-{rng.randrange(1, 12):02d}-28"
        ),
        "API first page": lambda: "/api/v1/audit-events/",
    }
    for who, user in (("superuser", root), ("constrained auditor", auditor)):
        client = Client()
        client.force_login(user)
        client.get("/audit/")  # warm the templates and the connection
        for name, url in views.items():
            timings = []
            for _ in range(args.requests):
                t0 = time.perf_counter()
                response = client.get(url())
                timings.append((time.perf_counter() - t0) * 1000)
                assert response.status_code == 200, (url, response.status_code)
            print(f"audit log, SQLite, {args.events:,} events, {who}, {name}: {percentiles(timings)}")
    client = Client()
    client.force_login(root)
    grown_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    response = client.get("/audit/export.csv")
    lines = sum(chunk.count(b"\n") for chunk in response.streaming_content)
    took = time.perf_counter() - t0
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - grown_before) / 1024
    print(
        f"audit export, SQLite: {lines - 1:,} events in {took:.1f} s ({(lines - 1) / took:,.0f} events/s), process grew {grown:.0f} MB"
    )


if __name__ == "__main__":
    main()
