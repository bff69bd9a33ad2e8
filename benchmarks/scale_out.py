"""Scale-out throughput: 40 removal jobs of 5,000 rows each on PostgreSQL, run by 1 and then 2 Celery
workers (``certdesk worker`` processes on a Redis broker), in the same run on the same data.

Seeds 200,000 learners holding one certification, splits them into 40 files of 5,000 distinct
holders, validates the 40 jobs, then starts them all at once and times the first start to the last
job processed. Between the two runs every award is made active again and the jobs are deleted.

    .venv/bin/python benchmarks/scale_out.py [--jobs 40] [--rows 5000] [--workers 1,2]

The last line is the figure to compare between runs:
    scale-out postgresql: 1 worker 52.1 jobs/min, 2 workers 88.0 jobs/min: 1.69x
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from harness import PG_ADMIN_URL, ROOT, django_setup, drop_postgres, load_average, postgres_reachable

PG_DB = "certdesk_scale"
CERT_CODE = "CERT-SCALE"
BROKER = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/12")
CERTDESK = Path(sys.executable).parent / "certdesk"


def seed(users: int) -> None:
    import datetime as dt

    from django.core.management import call_command
    from django.db import connection
    from harness import seed_learners, select_list

    from base.sql import execute, table
    from credentials.models import Award, Certification
    from people.models import User

    call_command("migrate", verbosity=0)
    seed_learners(users)
    cert = Certification.objects.create(code=CERT_CODE, title="Scale-out benchmark", validity_days=365)
    issued = dt.date(2026, 1, 1)
    columns, values, params = select_list(
        Award,
        {
            "user": ("u.id", []),
            "certification": ("%s", [cert.pk]),
            "issue_date": ("%s", [issued]),
            "expiration_date": ("%s", [issued + dt.timedelta(days=365)]),
        },
    )
    execute(f"INSERT INTO {table(Award)} ({columns}) SELECT {values} FROM {table(User)} u", params)
    User.objects.create_user(
        username="bench-admin", user_id="ADM-BENCH", email="admin@bench.test", is_superuser=True
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def files(jobs: int, rows: int, folder: Path) -> list[Path]:
    from people.models import User

    ids = list(
        User.objects.filter(username__startswith="learner").order_by("pk").values_list("user_id", flat=True)
    )
    assert len(ids) >= jobs * rows, "not enough learners for the files"
    paths = []
    for n in range(jobs):
        path = folder / f"removal-{n:02d}.csv"
        chunk = ids[n * rows : (n + 1) * rows]
        path.write_text("Certification ID,User ID\n" + "".join(f"{CERT_CODE},{u}\n" for u in chunk))
        paths.append(path)
    return paths


def reset() -> None:
    from django.db import transaction

    from audit.models import Event
    from bulk.models import Job, Worker
    from credentials.models import Award

    with transaction.atomic():
        Award.objects.update(status="active", removed_at=None, removed_by=None, removed_by_job=None)
        Event.objects.all().delete()
        Worker.objects.all().delete()
        Job.objects.all().delete()


def start_workers(count: int, env: dict[str, str], logs: Path) -> list[subprocess.Popen[bytes]]:
    workers = []
    for n in range(count):
        with (logs / f"worker-{count}-{n}.log").open("wb") as out:
            workers.append(
                subprocess.Popen(
                    [str(CERTDESK), "worker", "--name", f"bench{n}-{uuid.uuid4().hex[:6]}@%h"],
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
    return workers


def stop_workers(workers: list[subprocess.Popen[bytes]]) -> None:
    for process in workers:
        os.killpg(process.pid, signal.SIGTERM)
    for process in workers:
        process.wait(timeout=60)


def run(workers: int, paths: list[Path], env: dict[str, str], logs: Path) -> dict[str, float]:
    from celery import Celery
    from django.conf import settings

    from bulk import runner, services
    from bulk.heartbeat import alive_workers
    from bulk.models import Job
    from people.models import User

    reset()
    actor = User.objects.get(username="bench-admin")
    jobs = []
    for path in paths:
        with path.open("rb") as stream:
            jobs.append(
                services.submit("certification-removal", stream, path.name, actor=actor, title=path.stem).job
            )
    assert all(j.status == Job.Status.DRAFT for j in jobs), [j.status for j in jobs]
    processes = start_workers(workers, env, logs)
    try:
        deadline = time.monotonic() + 60
        while alive_workers().count() < workers:
            if time.monotonic() > deadline:
                raise SystemExit(f"{workers} worker(s) did not start; see {logs}")
            time.sleep(0.1)
        runner.install(runner.CeleryRunner(Celery("bench", broker=BROKER)))
        settings.CERTDESK_RUNNER = "celery"
        settings.CERTDESK_QUEUE_PREFIX = env["CERTDESK_QUEUE_PREFIX"]
        t0 = time.perf_counter()
        for job in jobs:
            services.start_job(job, actor)
        ids = [j.pk for j in jobs]
        while Job.objects.filter(pk__in=ids).exclude(status__in=Job.FINISHED).exists():
            time.sleep(0.05)
        seconds = time.perf_counter() - t0
    finally:
        stop_workers(processes)
    finished = list(Job.objects.filter(pk__in=ids))
    assert all(j.status == Job.Status.PROCESSED and j.succeeded == j.total for j in finished), (
        "a job did not finish"
    )
    per_job = sorted((j.processed_at - j.started_at).total_seconds() for j in finished)
    rows = sum(j.total for j in finished)
    return {
        "seconds": seconds,
        "jobs_per_minute": len(finished) * 60 / seconds,
        "rows_per_second": rows / seconds,
        "median_job_seconds": per_job[len(per_job) // 2],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=40)
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--workers", default="1,2", help="Worker counts to measure, comma-separated.")
    args = parser.parse_args()
    if not postgres_reachable(PG_DB):
        raise SystemExit("The scale-out benchmark needs PostgreSQL.")
    database_url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{PG_DB}"
    var = Path(tempfile.mkdtemp(prefix="certdesk-scale-"))
    os.environ.update(DATABASE_URL=database_url, CERTDESK_VAR_DIR=str(var), CERTDESK_RUNNER="celery")
    os.environ.update(CELERY_BROKER_URL=BROKER, LOG_LEVEL="WARNING")
    sys.path.insert(0, str(ROOT))
    django_setup()
    try:
        t = time.perf_counter()
        seed(args.jobs * args.rows)
        paths = files(args.jobs, args.rows, var)
        print(
            f"seeded {args.jobs * args.rows} learners and holders in {time.perf_counter() - t:.1f} s; {load_average()}"
        )
        env = {
            **os.environ,
            "CERTDESK_QUEUE_PREFIX": f"bench{uuid.uuid4().hex[:8]}",
            "CERTDESK_WORKER_CONCURRENCY": "1",
        }
        figures = {}
        for count in (int(n) for n in args.workers.split(",")):
            figures[count] = run(count, paths, env, var)
            f = figures[count]
            print(
                f"{count} worker(s): {args.jobs} jobs of {args.rows} rows in {f['seconds']:.1f} s, "
                f"{f['jobs_per_minute']:.1f} jobs/min, {f['rows_per_second']:.0f} rows/s, "
                f"median job {f['median_job_seconds']:.2f} s; {load_average()}"
            )
    finally:
        from django.db import connections

        connections.close_all()
        drop_postgres(PG_DB)
    counts = sorted(figures)
    line = ", ".join(
        f"{n} worker{'s' if n > 1 else ''} {figures[n]['jobs_per_minute']:.1f} jobs/min" for n in counts
    )
    if len(counts) > 1:
        line += f": {figures[counts[-1]]['jobs_per_minute'] / figures[counts[0]]['jobs_per_minute']:.2f}x"
    print(f"scale-out postgresql: {line}")


if __name__ == "__main__":
    main()
