"""Pages while a 500,000-row job runs, on the organisation of org_scale.py (a million learners).

certdesk is served as docs/deploy.md runs a web node (gunicorn, gthread, ``--workers 2 --threads 8``)
with the job in a worker process of its own (``run_next``, as ``certdesk worker`` runs it). Twenty
clients on loopback, half as the superuser and half as the Division A administrator, ask the pages
of org_scale.py round and round over keep-alive connections, each pausing ``--think`` seconds after
each page as a person reading it does (``--think 0``: as fast as the node answers, which measures its
capacity rather than a person's wait):

1. the job alone: a 500,000-row unenrolment (a file of the learners' usernames and activities,
   submitted and processed) on a fresh copy of the database;
2. the pages alone, for as long as the job took;
3. the pages and the job together, on another fresh copy.

Prints the pages' p95 and median alone and under the job, the worst pages under it, and the job's
time alone and under load. Targets: p95 ≤ 300 ms while the job runs; the job at most 30% slower.

    .venv/bin/python benchmarks/pages_under_load.py [--database sqlite|postgresql|both]
        [--rows 500000] [--clients 20] [--think 1.0] [--job-nice 10]

Run org_scale.py once first: it seeds the databases this copies (a copy per run keeps the job's
changes out of them).
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

from harness import PG_ADMIN_URL, ROOT, django_setup, on_kept_databases, report, run_child
from org_scale import BENCH_DIR, PG_DATABASE, pages

LOAD_DATABASE = "certdesk_bench_load"
FILE = BENCH_DIR / "unenrolment-500k.csv"
HEADER = "Username,Activity external reference,Send unenrolment email\n"


# --- child side: runs with Django set up ---------------------------------------------------------


def build_file(rows: int) -> dict:
    """``rows`` current enrolments (username, activity), in the order they were made."""
    from base.sql import fetch, table
    from learning.models import Activity, Enrollment
    from people.models import User

    found = fetch(
        f"SELECT u.username, a.external_reference FROM {table(Enrollment)} e "
        f"JOIN {table(Activity)} a ON a.id = e.activity_id JOIN {table(User)} u ON u.id = e.user_id "
        f"WHERE e.status = 'enrolled' ORDER BY e.id LIMIT {int(rows)}",
        [],
    )
    FILE.write_text(HEADER + "".join(f"{u},{a},No\n" for u, a in found), encoding="utf-8")
    return {"rows": len(found), "bytes": FILE.stat().st_size}


def sign_in() -> dict:
    """Session cookies for the two administrators, and the pages to ask."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    from bulk.models import Job
    from people.models import OrgUnit, User

    cookies = {}
    for who, username in (("superuser", "root"), ("Division A", "admin0")):
        user = User.objects.get(username=username)
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
        cookies[who] = session.session_key
    big_job = Job.objects.get(title="Leavers of the year").pk
    learners = User.objects.filter(username__startswith="learner").count()
    division_a = OrgUnit.objects.get(code="DIV-A").pk
    listed = [
        (label, path.replace("unit=DIV-A", f"unit={division_a}")) for label, path in pages(big_job, learners)
    ]
    return {"cookies": cookies, "pages": listed}


def run_job(rows: int) -> dict:
    """The unenrolment of the file, submitted and processed as a worker does."""
    from django.conf import settings

    from bulk import services, worker
    from people.models import User

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    actor = User.objects.get(username="root")
    t0 = time.perf_counter()
    with FILE.open("rb") as stream:
        submission = services.submit(
            "unenrolment", stream, FILE.name, actor=actor, title="Under load", start=True
        )
    t1 = time.perf_counter()
    job = worker.run_next("load-worker")
    t2 = time.perf_counter()
    assert job is not None and job.pk == submission.job.pk, "the benchmark job was not the one claimed"
    assert job.status == "processed", job.failure_reason
    return {"validate_s": t1 - t0, "process_s": t2 - t1, "total_s": t2 - t0, "rows": job.total}


def child(args: argparse.Namespace) -> None:
    os.environ["CERTDESK_RUNNER"] = "none"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.chdir(ROOT)
    django_setup()
    if args.step == "file":
        report(build_file(args.rows))
    elif args.step == "sign-in":
        report(sign_in())
    else:
        if args.job_nice:
            os.nice(args.job_nice)
        report(run_job(args.rows))


# --- parent side ---------------------------------------------------------------------------------


def fresh_copy(vendor: str) -> str:
    """A copy of the org_scale database for one run; its URL."""
    if vendor == "sqlite":
        source, target = BENCH_DIR / "org.sqlite3", BENCH_DIR / "load.sqlite3"
        for suffix in ("-wal", "-shm"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(source, target)
        return f"sqlite:///{target}"
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {LOAD_DATABASE}")
        conn.execute(f"CREATE DATABASE {LOAD_DATABASE} TEMPLATE {PG_DATABASE}")
    return f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{LOAD_DATABASE}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "certdesk.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--worker-class",
            "gthread",
            "--workers",
            "2",
            "--threads",
            "8",
            "--no-control-socket",
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/login/")
            conn.getresponse().read()
            return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit("the web node did not answer within a minute")


class Clients:
    """``n`` threads asking every page in turn, as a session each, until stopped."""

    def __init__(
        self, n: int, port: int, cookies: dict[str, str], listed: list[tuple[str, str]], think: float
    ) -> None:
        self.think = think
        self.timings: list[tuple[str, float, int]] = []
        self.stop = threading.Event()
        self.recording = threading.Event()
        self.threads = [
            threading.Thread(
                target=self.browse,
                args=(
                    port,
                    list(cookies.items())[i % 2],
                    listed[i % len(listed) :] + listed[: i % len(listed)],
                ),
                daemon=True,
            )
            for i in range(n)
        ]
        for thread in self.threads:
            thread.start()

    def browse(self, port: int, who: tuple[str, str], listed: list[tuple[str, str]]) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        headers = {"Cookie": f"sessionid={who[1]}", "Host": "127.0.0.1"}
        while not self.stop.is_set():
            for label, path in listed:
                if self.stop.is_set():
                    return
                t0 = time.perf_counter()
                try:
                    conn.request("GET", path, headers=headers)
                    response = conn.getresponse()
                    response.read()
                    status = response.status
                except (OSError, http.client.HTTPException):
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                    status = 0
                if self.recording.is_set():
                    self.timings.append((f"{who[0]}: {label}", (time.perf_counter() - t0) * 1000, status))
                self.stop.wait(self.think)

    def record(self, seconds: float | None = None, until: subprocess.Popen[str] | None = None) -> list:
        self.timings = []
        self.recording.set()
        if until is not None:
            until.wait()
        else:
            time.sleep(seconds or 0)
        self.recording.clear()
        return list(self.timings)

    def close(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=130)


def summary(timings: list[tuple[str, float, int]]) -> str:
    times = [ms for _, ms, _ in timings]
    failed = sum(1 for _, _, status in timings if status != 200)
    p95 = statistics.quantiles(times, n=20)[-1]
    return f"p95 {p95:.0f} ms, median {statistics.median(times):.0f} ms over {len(times)} requests" + (
        f", {failed} not answered 200" if failed else ""
    )


def worst(timings: list[tuple[str, float, int]], n: int = 5) -> list[str]:
    by_page: dict[str, list[float]] = {}
    for label, ms, _ in timings:
        by_page.setdefault(label, []).append(ms)
    ranked = sorted(
        (
            (statistics.quantiles(t, n=20)[-1] if len(t) > 1 else t[0], label, len(t))
            for label, t in by_page.items()
        ),
        reverse=True,
    )
    return [f"    {label}: p95 {p95:.0f} ms ({count} requests)" for p95, label, count in ranked[:n]]


def measure(vendor: str, rows: int, clients: int, think: float, nice: int = 0) -> list[str]:
    env = {
        **os.environ,
        "CERTDESK_RUNNER": "none",
        "LOG_LEVEL": "WARNING",
        "CERTDESK_UNENROLMENT_MAX_ROWS": str(max(rows, 300_000)),
        "CERTDESK_UNENROLMENT_MAX_BYTES": str(200 * 1024 * 1024),
        "CERTDESK_API_RATE_USER": "1000000/minute",
        "DJANGO_SETTINGS_MODULE": "certdesk.settings",
    }
    options = ["--rows", str(rows), "--job-nice", str(nice)]
    env["DATABASE_URL"] = fresh_copy(vendor)
    if not FILE.exists() or len(FILE.read_text().splitlines()) != rows + 1:
        made = run_child(__file__, "file", options, env)
        print(f"[{vendor}] file of {made['rows']:,} rows, {made['bytes']:,} bytes", flush=True)
    alone = run_child(__file__, "job", options, env)
    print(
        f"[{vendor}] job alone: {alone['total_s']:.1f} s ({alone['validate_s']:.1f} s checking)", flush=True
    )

    env["DATABASE_URL"] = fresh_copy(vendor)
    signed = run_child(__file__, "sign-in", options, env)
    port = free_port()
    server = serve(env, port)
    try:
        browsing = Clients(clients, port, signed["cookies"], [tuple(p) for p in signed["pages"]], think)
        browsing.record(seconds=10)  # warm both processes' caches and templates
        quiet = browsing.record(seconds=max(20.0, alone["total_s"]))
        print(f"[{vendor}] pages alone: {summary(quiet)}", flush=True)
        job = subprocess.Popen(
            [sys.executable, __file__, "--step", "job", *options],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        loaded = browsing.record(until=job)
        browsing.close()
        out = job.stdout.read() if job.stdout else ""
        if job.returncode != 0:
            raise SystemExit(f"the job under load failed:\n{out}")
        import json

        under = json.loads([ln for ln in out.splitlines() if ln.startswith("RESULT ")][-1][len("RESULT ") :])
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
    growth = under["total_s"] / alone["total_s"] - 1
    return [
        f"{vendor:10} {clients} clients, {think:g} s between pages"
        + (f", the job's process at nice {nice}" if nice else ""),
        f"{vendor:10} pages with no job        {summary(quiet)}",
        f"{vendor:10} pages while the job runs {summary(loaded)}",
        *worst(loaded),
        f"{vendor:10} job of {alone['rows']:,} rows: {alone['total_s']:.1f} s alone, "
        f"{under['total_s']:.1f} s under {clients} clients thinking {think:g} s ({growth:+.0%})",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--step", choices=["file", "sign-in", "job"])
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--think", type=float, default=1.0, help="seconds each client waits after a page")
    parser.add_argument(
        "--job-nice",
        type=int,
        default=0,
        help="lower the job process's CPU priority by this much (nice), so that pages come first",
    )
    args = parser.parse_args()
    if args.step:
        child(args)
        return
    on_kept_databases(
        args.database, lambda vendor: measure(vendor, args.rows, args.clients, args.think, args.job_nice)
    )


if __name__ == "__main__":
    main()
