"""Certification removal throughput: the engine against its floor and a per-row Django ORM loop, same
data, same run.

Seeds 200,000 users and 100,000 active awards of one certification, builds a ~1 MB file naming
50,000 distinct holders, and measures the whole job (intake, validation, processing, row outcomes,
results file) on SQLite and, when it answers, PostgreSQL. Each measurement runs in a fresh process
so that its peak memory is the job's own, not the seeding's. The floor is the same change with
nothing around it: parse the file and one set-based UPDATE (on PostgreSQL, COPY and a joined UPDATE).

    .venv/bin/python benchmarks/removal.py [--users 200000] [--awards 100000] [--rows 50000]

The last lines, one per database, are the figures to compare between runs:
    removal sqlite: 1.02 s end-to-end, 49085 rows/s, 5.0x the floor (0.20 s), 38.2x faster than the
    per-row loop, peak 156 MB (…)
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from harness import (
    PG_ADMIN_URL,
    django_setup,
    postgres_reachable,
    report,
    run_child,
)

BENCH_DIR = Path(tempfile.gettempdir()) / "certdesk-bench"
PG_BENCH_DB = "certdesk_bench"
CERT_CODE = "CERT-0042"


# --- child side: runs with Django set up ---------------------------------------------------------


def seed(users: int, awards: int) -> dict:
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    import datetime as dt

    from django.db import connection, transaction

    from credentials.models import Award, Certification
    from people.models import User

    started = time.perf_counter()
    with transaction.atomic():
        User.objects.bulk_create(
            (
                User(
                    user_id=f"U{n:07d}",
                    username=f"learner{n}",
                    first_name="Pat",
                    last_name=f"Learner{n}",
                    email=f"learner{n}@bench.test",
                    password="!",
                )
                for n in range(users)
            ),
            batch_size=5000,
        )
        cert = Certification.objects.create(
            code=CERT_CODE, title="Benchmark certification", validity_days=365
        )
        first_pk = User.objects.order_by("pk").values_list("pk", flat=True)[0]
        issued = dt.date(2026, 1, 1)
        Award.objects.bulk_create(
            (
                Award(
                    user_id=first_pk + 2 * n,  # every other user holds it
                    certification=cert,
                    issue_date=issued,
                    expiration_date=issued + dt.timedelta(days=365),
                )
                for n in range(awards)
            ),
            batch_size=5000,
        )
        from people.models import User as U

        U.objects.create_user(
            username="bench-admin", user_id="ADM-BENCH", email="admin@bench.test", is_superuser=True
        )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    return {"seconds": time.perf_counter() - started}


def build_file(rows: int, path: str) -> dict:
    from credentials.models import Award

    holders = list(
        Award.objects.filter(certification__code=CERT_CODE, status="active")
        .order_by("?")
        .values_list("user__user_id", flat=True)[:rows]
    )
    text = "Certification ID,User ID\n" + "".join(f"{CERT_CODE},{u}\n" for u in holders)
    Path(path).write_text(text, encoding="utf-8")
    return {"rows": len(holders), "bytes": len(text.encode())}


def reset() -> dict:
    from django.db import transaction

    from audit.models import Event
    from bulk.models import Job
    from credentials.models import Award

    with transaction.atomic():
        Award.objects.filter(certification__code=CERT_CODE).update(
            status="active", removed_at=None, removed_by=None, removed_by_job=None
        )
        Event.objects.all().delete()
        Job.objects.all().delete()
    return {}


def run_engine(path: str) -> dict:
    """The whole job as certdesk runs it: submit (intake + validation + staging), then process."""
    import resource

    from django.conf import settings
    from django.urls import reverse

    from bulk import services, worker
    from credentials.models import Award
    from people.models import User

    actor = User.objects.get(username="bench-admin")
    data = Path(path).read_bytes()
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    # The email to the job's creator links to the job's page. The first reverse() in a process loads
    # the URLconf, i.e. imports every view: a running worker has done that long before.
    reverse("web:job", args=[1])
    t0 = time.perf_counter()
    with open(path, "rb") as stream:
        submission = services.submit(
            "certification-removal", stream, "bench.csv", actor=actor, title="Benchmark", start=True
        )
    t1 = time.perf_counter()
    job = worker.run_next("bench-worker")
    t2 = time.perf_counter()
    assert job is not None and job.pk == submission.job.pk, "the benchmark job was not the one claimed"
    assert job.status == "processed", job.failure_reason
    removed = Award.objects.filter(certification__code=CERT_CODE, status="removed").count()
    return {
        "validate_s": t1 - t0,
        "process_s": t2 - t1,
        "total_s": t2 - t0,
        "rows": job.total,
        "removed": removed,
        "succeeded": job.succeeded,
        "bytes": len(data),
        "results_bytes": job.results_size,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def run_floor(path: str) -> dict:
    """The floor of the same change: parse the file, then one set-based UPDATE of the awards that looks
    the users up itself (PostgreSQL: COPY of the User IDs, then a joined UPDATE), in one transaction.
    Nothing a job adds (rows kept, checks, audit, results file) is in it."""
    import csv
    import json

    from django.db import connection, transaction
    from django.utils import timezone

    from base.sql import table
    from credentials.models import Award, Certification
    from people.models import User

    t0 = time.perf_counter()
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        next(reader)
        rows = list(reader)
    certification = Certification.objects.get(code=rows[0][0]).pk
    user_ids = [row[1] for row in rows]
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    awards, users = table(Award), table(User)
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("CREATE TEMP TABLE floor_users (user_id text) ON COMMIT DROP")
            with cursor.copy("COPY floor_users (user_id) FROM STDIN") as copy:
                for user_id in user_ids:
                    copy.write_row((user_id,))
            cursor.execute(
                f"UPDATE {awards} a SET status = 'removed', removed_at = %s FROM {users} u, floor_users f "
                "WHERE u.user_id = f.user_id AND a.user_id = u.id AND a.certification_id = %s "
                "AND a.status = 'active'",
                [now, certification],
            )
        else:
            cursor.execute(
                f"UPDATE {awards} SET status = 'removed', removed_at = %s WHERE certification_id = %s "
                f"AND status = 'active' AND user_id IN (SELECT id FROM {users} WHERE user_id IN "
                "(SELECT value FROM json_each(%s)))",
                [now, certification, json.dumps(user_ids)],
            )
        removed = cursor.rowcount
    return {"total_s": time.perf_counter() - t0, "rows": len(rows), "removed": removed}


def run_per_row_loop(path: str) -> dict:
    """The obvious implementation: look up each user and award, save it, one row at a time."""
    import csv

    from django.db import transaction
    from django.utils import timezone

    from credentials.models import Award, Certification
    from people.models import User

    t0 = time.perf_counter()
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    cert = Certification.objects.get(code=rows[0]["Certification ID"])
    removed = 0
    with transaction.atomic():
        for row in rows:
            user = User.objects.get(user_id=row["User ID"])
            award = Award.objects.get(user=user, certification=cert, status="active")
            award.status = "removed"
            award.removed_at = timezone.now()
            award.save(update_fields=["status", "removed_at"])
            removed += 1
    return {"total_s": time.perf_counter() - t0, "rows": len(rows), "removed": removed}


def child(step: str, args: argparse.Namespace) -> None:
    django_setup()
    result = {
        "seed": lambda: seed(args.users, args.awards),
        "file": lambda: build_file(args.rows, args.file),
        "reset": reset,
        "engine": lambda: run_engine(args.file),
        "loop": lambda: run_per_row_loop(args.file),
        "floor": lambda: run_floor(args.file),
    }[step]()
    report(result)


# --- parent side ----------------------------------------------------------------------------------


def run_step(step: str, env: dict[str, str], args: argparse.Namespace) -> dict:
    options = [
        "--file",
        args.file,
        "--users",
        str(args.users),
        "--awards",
        str(args.awards),
        "--rows",
        str(args.rows),
    ]
    return run_child(__file__, step, options, env)


def bench(name: str, database_url: str, args: argparse.Namespace) -> str:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "CERTDESK_VAR_DIR": str(BENCH_DIR),
        "MEDIA_ROOT": str(BENCH_DIR / f"media-{name}"),
        "CERTDESK_RUNNER": "none",
        "LOG_LEVEL": "WARNING",
    }
    print(f"[{name}] seeding {args.users:,} users and {args.awards:,} awards …", flush=True)
    seeded = run_step("seed", env, args)
    made = run_step("file", env, args)
    print(
        f"[{name}] seeded in {seeded['seconds']:.1f} s; file of {made['rows']:,} rows, {made['bytes']:,} bytes"
    )
    runs = []
    for attempt in range(args.repeat):
        run_step("reset", env, args)
        runs.append(run_step("engine", env, args))
        r = runs[-1]
        print(
            f"[{name}] engine run {attempt + 1}: validate {r['validate_s']:.3f} s, process {r['process_s']:.3f} s, "
            f"total {r['total_s']:.3f} s, removed {r['removed']:,}, peak {r['peak_mb']:.0f} MB",
            flush=True,
        )
        assert r["removed"] == made["rows"] == r["succeeded"], "the engine did not remove every named award"
    best = min(runs, key=lambda r: r["total_s"])
    floors = []
    for _ in range(args.repeat):
        run_step("reset", env, args)
        floors.append(run_step("floor", env, args))
        assert floors[-1]["removed"] == made["rows"], "the floor did not remove every named award"
    floor = min(f["total_s"] for f in floors)
    print(f"[{name}] floor (parse + one UPDATE): {floor:.3f} s", flush=True)
    to_floor = f"{best['total_s'] / floor:.1f}x the floor ({floor:.2f} s)"
    if args.no_baseline:
        return (
            f"removal {name}: {best['total_s']:.2f} s end-to-end, {best['rows'] / best['total_s']:.0f} rows/s, "
            f"{to_floor}, peak {best['peak_mb']:.0f} MB (validate {best['validate_s']:.2f} s, process {best['process_s']:.2f} s; "
            "no per-row baseline)"
        )
    run_step("reset", env, args)
    loop = run_step("loop", env, args)
    assert loop["removed"] == made["rows"]
    print(
        f"[{name}] per-row ORM loop: {loop['total_s']:.2f} s, {loop['rows'] / loop['total_s']:,.0f} rows/s",
        flush=True,
    )
    rate = best["rows"] / best["total_s"]
    ratio = loop["total_s"] / best["total_s"]
    return (
        f"removal {name}: {best['total_s']:.2f} s end-to-end, {rate:.0f} rows/s, {to_floor}, "
        f"{ratio:.1f}x faster than the per-row loop, "
        f"peak {best['peak_mb']:.0f} MB  (validate {best['validate_s']:.2f} s, process {best['process_s']:.2f} s, "
        f"{best['rows']:,} rows, {best['bytes'] / 1024 / 1024:.2f} MB file)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=200_000)
    parser.add_argument("--awards", type=int, default=100_000)
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3, help="engine runs per database; the best counts")
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    parser.add_argument(
        "--no-baseline", action="store_true", help="skip the per-row ORM loop (quick iterations)"
    )
    parser.add_argument("--step", help=argparse.SUPPRESS)
    parser.add_argument("--file", default=str(BENCH_DIR / "removal-bench.csv"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        child(args.step, args)
        return
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    lines = []
    if args.only in (None, "sqlite"):
        db = BENCH_DIR / "bench.sqlite3"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        lines.append(bench("sqlite", f"sqlite:///{db}", args))
    if args.only in (None, "postgresql") and postgres_reachable(PG_BENCH_DB):
        base = PG_ADMIN_URL.rsplit("/", 1)[0]
        lines.append(bench("postgresql", f"{base}/{PG_BENCH_DB}", args))
    print()
    for line in lines:
        print(line)


if __name__ == "__main__":
    main()
