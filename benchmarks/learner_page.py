"""The learner page with 1,000,000 audit events: p95 of 50 requests on SQLite.

Seeds set-based (INSERT … SELECT over a recursive counter): 20,000 learners, an award and an
enrolment each, and 1,000,000 events spread over those awards and enrolments (50 per learner, as
bulk jobs would leave them). Then asks for 50 learners' pages, each in full (identity, sections and
the first page of history), as a superuser, and prints the p95.

    .venv/bin/python benchmarks/learner_page.py [--events 1000000] [--learners 20000]
"""

from __future__ import annotations

import argparse
import random
import sys
import time

from harness import fresh_sqlite, percentiles, seed_learners


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--learners", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=50)
    args = parser.parse_args()
    fresh_sqlite("bench-learner-")

    from django.db import connection, transaction
    from django.test import Client
    from django.test.utils import setup_test_environment

    from audit.models import Event
    from base.sql import execute, table
    from credentials.models import Award, Certification
    from learning.models import Activity, Enrollment
    from people.models import User

    started = time.perf_counter()
    with transaction.atomic():
        seed_learners(args.learners)
        certification = Certification.objects.create(code="CERT-001", title="Basic Life Support")
        activity = Activity.objects.create(title="BLS course", external_reference="BLS")
        at = connection.ops.adapt_datetimefield_value(Event._meta.get_field("created_at").default())
        execute(
            f"INSERT INTO {table(Award)} (user_id, certification_id, issue_date, expiration_date, always_valid, "
            "association_type, external_activity, status, created_at, updated_at) "
            f"SELECT id, %s, '2026-01-01', '2027-01-01', %s, 'manual', '', 'active', %s, %s FROM {table(User)}",
            [certification.pk, False, at, at],
        )
        execute(
            f"INSERT INTO {table(Enrollment)} (user_id, activity_id, status, enrolled_at, unenrolment_email, "
            f"unenrolment_email_error) SELECT id, %s, 'enrolled', %s, '', '' FROM {table(User)}",
            [activity.pk, at],
        )
        awards = Award.objects.count()
        # Half the events on awards, half on enrolments, spread evenly over the objects.
        execute(
            "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < %s) "
            f"INSERT INTO {table(Event)} (action, object_type, object_id, before, after, created_at) "
            "SELECT CASE WHEN i % 2 = 0 THEN 'award.removed' ELSE 'enrollment.unenrolled' END, "
            "CASE WHEN i % 2 = 0 THEN 'credentials.award' ELSE 'learning.enrollment' END, "
            'CAST(1 + (i / 2) % %s AS TEXT), \'{"status": "active"}\', \'{"status": "removed"}\', %s FROM n',
            [args.events - 1, awards, at],
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    seeded = time.perf_counter() - started
    print(
        f"seeded {Event.objects.count():,} events, {args.learners:,} learners in {seeded:.1f} s",
        file=sys.stderr,
    )

    setup_test_environment()
    root = User.objects.create_superuser("bench-admin", "bench@bench.test", "x", user_id="BENCH-ADMIN")
    client = Client()
    client.force_login(root)
    rng = random.Random(14)
    picks = [f"U{rng.randrange(args.learners)}" for _ in range(args.requests)]
    client.get(f"/people/{picks[0]}/")  # warm the templates and the connection
    timings = []
    for user_id in picks:
        t0 = time.perf_counter()
        response = client.get(f"/people/{user_id}/")
        timings.append((time.perf_counter() - t0) * 1000)
        assert response.status_code == 200 and b"award.removed" in response.content
    print(
        f"learner page, SQLite, {args.events:,} audit events: {percentiles(timings)} over {len(timings)} requests"
    )


if __name__ == "__main__":
    main()
