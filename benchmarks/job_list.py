"""Server time of the Certification Removal Tool's job list with a long history.

Seeds 100,000 removal jobs over three years (SQLite under the system temp folder by default, or
DATABASE_URL), then times the list page — rendered by Django, as a browser would get it — with a
title search and a date range, for an unconstrained administrator and for one whose grant is
restricted to their own division. Prints the median and 95th percentile of 50 requests each.

    .venv/bin/python benchmarks/job_list.py [--jobs 100000] [--requests 50]

Target: median under 100 ms on SQLite on a 2-core machine.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = Path(tempfile.gettempdir()) / "certdesk-bench-joblist"
WORDS = [
    "Audit",
    "Leavers",
    "March",
    "Compliance",
    "Nursing",
    "Night shift",
    "Estates",
    "Restore",
    "Fix",
    "Q3",
]


def setup(jobs: int) -> None:
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{BENCH_DIR / 'joblist.sqlite3'}")
    os.environ.setdefault("CERTDESK_VAR_DIR", str(BENCH_DIR))
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["CERTDESK_RUNNER"] = "none"
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "certdesk.settings")
    import django

    django.setup()
    from django.contrib.auth.models import Permission
    from django.core.management import call_command
    from django.db import transaction

    from access.models import Grant, Role
    from bulk.models import Job
    from people.models import OrgUnit, User

    call_command("migrate", verbosity=0)
    if Job.objects.count() >= jobs:
        return
    rng = random.Random(7)
    with transaction.atomic():
        Job.objects.all().delete()
        divisions = [
            OrgUnit.objects.get_or_create(code=f"B-DIV-{n}", defaults={"name": f"Division {n}"})[0]
            for n in range(3)
        ]
        admins = []
        for n in range(30):
            admin, _ = User.objects.get_or_create(
                username=f"bench-admin-{n}", defaults={"user_id": f"BA-{n}"}
            )
            admin.org_units.add(divisions[n % 3])
            admins.append(admin)
        role, created = Role.objects.get_or_create(name="Bench division administrator")
        if created:
            permission = Permission.objects.get(codename="manage_certification_removal")
            Grant.objects.create(role=role, permission=permission, scope=Grant.Scope.OWN_UNITS)
        role.members.add(admins[0])
        start = dt.datetime(2023, 11, 1, tzinfo=dt.UTC)
        statuses = ["processed"] * 8 + ["failed", "draft"]
        Job.objects.bulk_create(
            (
                Job(
                    kind="certification-removal",
                    title=f"{rng.choice(WORDS)} {rng.choice(WORDS)} {n}",
                    status=rng.choice(statuses),
                    created_by=rng.choice(admins),
                    created_at=start + dt.timedelta(minutes=15 * n + rng.randint(0, 14)),
                    processed_at=start + dt.timedelta(minutes=15 * n + 20),
                    total=100,
                    rows_done=100,
                    succeeded=100,
                    chunk_size=50_000,
                )
                for n in range(jobs)
            ),
            batch_size=5000,
        )


def time_requests(client, path: str, params: dict[str, str], n: int) -> list[float]:
    client.get(path, params)  # warm: template compilation, connection
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        response = client.get(path, params)
        times.append((time.perf_counter() - t0) * 1000)
        assert response.status_code == 200, response.status_code
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=50)
    args = parser.parse_args()
    setup(args.jobs)

    from django.db import connection
    from django.test import Client

    from bulk.filters import JobFilter
    from bulk.visibility import jobs_visible_to
    from people.models import User

    params = {"q": "audit", "start": "2025-01-01", "end": "2025-06-30"}
    vendor = connection.vendor
    for label, username, superuser in (
        ("unconstrained", "bench-super", True),
        ("own division", "bench-admin-0", False),
    ):
        user, _ = User.objects.get_or_create(username=username, defaults={"user_id": username.upper()})
        if superuser and not user.is_superuser:
            user.is_superuser = True
            user.save()
        client = Client()
        client.force_login(user)
        times = time_requests(client, "/tools/certification-removal/", params, args.requests)
        shown = (
            JobFilter(
                {
                    "kind": "certification-removal",
                    "search": params["q"],
                    "created_after": params["start"],
                    "created_before": params["end"],
                },
                jobs_visible_to(user),
            )
            .narrowed()
            .count()
        )
        p95 = statistics.quantiles(times, n=20)[-1]
        print(
            f"job list {vendor} ({label}): median {statistics.median(times):.1f} ms, p95 {p95:.1f} ms "
            f"({args.jobs:,} jobs; title search + date range, {shown:,} matching)"
        )


if __name__ == "__main__":
    main()
