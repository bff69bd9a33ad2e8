"""What every benchmark here shares: each measurement runs in a child process of its own (so that its
peak memory is the job's, not the seeding's), a throwaway PostgreSQL database when one answers, and
small helpers for seeding set-based and timing the engine's steps."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
RESULT = "RESULT "


def django_setup() -> None:
    """Set Django up in a child process, from the project root."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "certdesk.settings")
    # The engine is measured, not the second pair of eyes: no job a benchmark submits waits for approval.
    os.environ.setdefault("CERTDESK_APPROVAL_MAX_ROWS", str(10**9))
    os.environ.setdefault("CERTDESK_APPROVAL_REMOVAL_SHARE", "1.0")
    import django

    django.setup()
    # A running worker loaded the URLconf (job links in emails and webhooks) with its first job; a
    # benchmark's fresh process would count that import, a fifth of a second, in the job it times.
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018


def fresh_sqlite(prefix: str) -> Path:
    """A new SQLite database in a temporary folder, migrated, with Django set up on it."""
    import tempfile

    work = Path(tempfile.mkdtemp(prefix=prefix))
    os.environ["CERTDESK_VAR_DIR"] = str(work)
    os.environ["DATABASE_URL"] = f"sqlite:///{work / 'bench.sqlite3'}"
    os.chdir(ROOT)
    django_setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return work


def percentiles(timings: list[float]) -> str:
    """p95 and median of request times in milliseconds, as the benchmarks print them."""
    import statistics

    p95 = statistics.quantiles(timings, n=20)[-1]
    return f"p95 {p95:.1f} ms, median {statistics.median(timings):.1f} ms"


def report(result: dict) -> None:
    """What a child process hands back to its parent: one line of JSON."""
    print(RESULT + json.dumps(result))


def run_child(script: str, step: str, options: list[str], env: dict[str, str]) -> dict:
    """Run ``script --step STEP OPTIONS`` in a fresh process and return the result it reported."""
    out = subprocess.run(
        [sys.executable, script, "--step", step, *options], env=env, capture_output=True, text=True, cwd=ROOT
    )
    if out.returncode != 0:
        raise SystemExit(f"step {step} {' '.join(options)} failed:\n{out.stdout}\n{out.stderr}")
    line = [ln for ln in out.stdout.splitlines() if ln.startswith(RESULT)][-1]
    return json.loads(line[len(RESULT) :])


def postgres_reachable(database: str) -> bool:
    """Create an empty ``database`` for the run; False (and why) when PostgreSQL does not answer."""
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {database}")
            conn.execute(f"CREATE DATABASE {database}")
        return True
    except Exception as exc:
        print(f"PostgreSQL not reachable at {PG_ADMIN_URL}: {exc}; measuring SQLite only.")
        return False


def drop_postgres(database: str) -> None:
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {database}")
    except Exception as exc:
        print(f"Could not drop the benchmark database {database}: {exc}")


def load_average() -> str:
    return "load {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def machine_reference() -> str:
    """The time of one fixed piece of work like a job's (Python loops, JSON, an indexed SQLite table
    in memory), best of three: machines lent for a run differ by up to 2x, and a figure from another
    run compares only after dividing by its reference."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        db = sqlite3.connect(":memory:")
        db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT, v TEXT)")
        db.execute("CREATE INDEX t_k ON t (k)")
        rows = [(f"U{i * 7919 % 100_000:06d}", json.dumps([i, "x" * (i % 13)])) for i in range(100_000)]
        db.executemany("INSERT INTO t (k, v) VALUES (?, ?)", rows)
        db.execute("UPDATE t SET v = k WHERE k >= 'U050000'")
        sum(len(v) for (v,) in db.execute("SELECT v FROM t ORDER BY k"))
        db.close()
        best = min(best, time.perf_counter() - started)
    return f"machine reference {best:.3f} s (fixed work; divide another run's figures by its own reference)"


def select_list(model: Any, given: dict[str, tuple[str, list[Any]]]) -> tuple[str, str, list[Any]]:
    """Columns, SELECT expressions and their parameters for an INSERT … SELECT into ``model``'s table:
    the expressions ``given`` by field name, and every other field's default, so that a field added
    to the model later does not break the seeding."""
    from django.db import connection

    columns, values, params = [], [], []
    for f in model._meta.concrete_fields:
        if f.primary_key:
            continue
        columns.append(connection.ops.quote_name(f.column))
        if f.name in given:
            sql, args = given[f.name]
            values.append(sql)
            params += args
        else:
            values.append("%s")
            params.append(f.get_db_prep_save(f.get_default(), connection))
    unknown = set(given) - {f.name for f in model._meta.concrete_fields}
    assert not unknown, f"{model.__name__} has no field {unknown}"
    return ", ".join(columns), ", ".join(values), params


def timed(marks: dict[str, float], name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn``, adding the seconds each call takes to ``marks[name]``."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            marks[name] = marks.get(name, 0.0) + time.perf_counter() - t

    return wrapper


def time_intake(marks: dict[str, float], services: Any, kind: Any) -> None:
    """Time the intake's steps in the engine as it is: ``parse`` (reading rows from the file), ``check``
    (the kind's validation) and ``stage`` (writing the job's rows). A streaming engine reads, checks and
    stages a batch at a time, so each step is the sum over its batches."""
    from bulk import intake

    services.insert_rows = timed(marks, "stage", services.insert_rows)
    if not hasattr(intake, "Upload"):  # an engine that parses the whole file, then validates it
        for reader in ("parse_upload", "parse_csv"):
            if hasattr(services, reader):
                setattr(services, reader, timed(marks, "parse", getattr(services, reader)))
        kind.validate = timed(marks, "check", kind.validate)
        return
    services.open_upload = timed(marks, "parse", services.open_upload)
    batches = intake.Upload.batches

    def timed_batches(upload: Any, size: int | None = None) -> Any:
        stream = batches(upload, size)
        while True:
            t = time.perf_counter()
            batch = next(stream, None)
            marks["parse"] = marks.get("parse", 0.0) + time.perf_counter() - t
            if batch is None:
                return
            yield batch

    intake.Upload.batches = timed_batches
    validation = kind.validation

    def timed_validation(actor: Any) -> Any:
        checking = validation(actor)
        checking.check = timed(marks, "check", checking.check)
        return checking

    kind.validation = timed_validation


def skip_deferred_fk_checks() -> None:
    """On PostgreSQL, inside the seeding transaction: skip the foreign-key checks it would run at commit,
    one per row (several seconds); seeded rows are consistent by construction. Needs a superuser, as the
    local postgres is; elsewhere it does nothing."""
    from django.db import DatabaseError, connection, transaction

    if connection.vendor != "postgresql":
        return
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL session_replication_role = replica")
    except DatabaseError:
        pass


def seed_learners(count: int, *, user_id_offset: int = 0) -> None:
    """``count`` learners, learner0 … (User IDs 'U' + offset + i), in one INSERT … SELECT."""
    import datetime as dt

    from django.db import connection

    from base.sql import execute, table
    from people.models import User

    columns, values, params = select_list(
        User,
        {
            "password": ("'!'", []),
            "is_superuser": ("%s", [False]),
            "username": ("'learner' || i", []),
            "first_name": ("'Pat'", []),
            "last_name": ("'Learner' || i", []),
            "email": ("'learner' || i || '@bench.test'", []),
            "is_staff": ("%s", [False]),
            "is_active": ("%s", [True]),
            "date_joined": (
                "%s",
                [connection.ops.adapt_datetimefield_value(dt.datetime(2024, 1, 1, tzinfo=dt.UTC))],
            ),
            "user_id": (f"'U' || ({user_id_offset} + i)" if user_id_offset else "'U' || i", []),
        },
    )
    execute(
        f"WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < %s) "
        f"INSERT INTO {table(User)} ({columns}) SELECT {values} FROM n",
        [count - 1, *params],
    )


def on_kept_databases(choice: str, measure: Callable[[str], list[str]]) -> None:
    """Run ``measure(vendor)`` for the databases ``--database`` names ("sqlite", "postgresql" or
    "both"), databases a benchmark keeps between runs; then print the figures of all, last."""
    lines: list[str] = []
    for vendor in ["sqlite", "postgresql"] if choice == "both" else [choice]:
        lines += measure(vendor)
    print()
    for line in lines:
        print(line)
    print(load_average())
    print(machine_reference())


def run_on_databases(
    bench_dir: Path, pg_database: str, only: str | None, bench: Callable[[str, str], list[str]]
) -> None:
    """Run ``bench(name, database_url)`` on a fresh SQLite file and, when it answers, on a throwaway
    PostgreSQL database; then print the figures of both, last, for comparing between runs."""
    bench_dir.mkdir(parents=True, exist_ok=True)
    lines: list[str] = []
    if only in (None, "sqlite"):
        db = bench_dir / "bench.sqlite3"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        lines += bench("sqlite", f"sqlite:///{db}")
    if only in (None, "postgresql") and postgres_reachable(pg_database):
        base = PG_ADMIN_URL.rsplit("/", 1)[0]
        try:
            lines += bench("postgresql", f"{base}/{pg_database}")
        finally:
            drop_postgres(pg_database)
    print()
    for line in lines:
        print(line)
    print(machine_reference())
