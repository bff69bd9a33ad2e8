"""Workers visible: which workers are alive and what they run, in the API, on the Jobs page and on a
queued job's page — and a worker's job is named only to those who may see that job.

Workers here record real heartbeats: ``bulk.heartbeat.Heartbeat`` threads in the test process, and a
real ``certdesk worker`` subprocess.
"""

from __future__ import annotations

import datetime as dt
import signal
import subprocess
from collections.abc import Callable, Iterator

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from access.models import Grant, Role
from bulk import services, worker
from bulk.heartbeat import Heartbeat, alive_workers, running
from bulk.models import Job, Worker
from people.models import User

from .cluster import wait_for
from .factories import OrgUnitFactory, UserFactory, make_csv, removal_rows
from .processes import CERTDESK, cli_env

pytestmark = pytest.mark.django_db(transaction=True)

WORKERS = "/api/v1/workers/"
WAIT_SECONDS = 30
ALIVE_SECONDS = 3


@pytest.fixture(autouse=True)
def short_heartbeats(settings) -> None:
    settings.CERTDESK_HEARTBEAT_SECONDS = 0.05
    settings.CERTDESK_WORKER_ALIVE_SECONDS = ALIVE_SECONDS


@pytest.fixture
def heartbeat() -> Iterator[Callable[..., Heartbeat]]:
    """Start a real heartbeat in this process; every one started is stopped at the end."""
    started: list[Heartbeat] = []

    def start(name: str, runner: str = "worker", queues: str = "") -> Heartbeat:
        beat = Heartbeat(name, runner, queues)
        beat.start()
        started.append(beat)
        return beat

    yield start
    for beat in started:
        beat.stop()
        beat.join(timeout=10)


def api_for(user: User) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def queued_job(actor: User, certification, users, title: str) -> Job:
    data = make_csv(removal_rows(certification, users))
    job = services.submit(
        "certification-removal", data, "removal.csv", actor=actor, title=title, start=True
    ).job
    assert job.status == Job.Status.QUEUED
    return job


def run_on(name: str, job: Job) -> Job:
    """What a worker loop does when it takes a job: claim it, then say it runs it."""
    claimed = worker.claim_job(name, job.pk)
    assert claimed is not None
    running(name, claimed)
    return claimed


def by_name(body: dict) -> dict[str, dict]:
    return {w["name"]: w for w in body["results"]}


@pytest.fixture
def divisions(db) -> dict[str, User]:
    """Two administrators constrained to their own division: ada in A, bob in B."""
    role = Role.objects.create(name="Division administrator")
    Grant.objects.create(
        role=role,
        permission=Permission.objects.get(
            content_type__app_label="bulk", codename="manage_certification_removal"
        ),
        scope=Grant.Scope.OWN_UNITS,
    )
    people = {}
    for username, code in (("ada", "DIV-A"), ("bob", "DIV-B")):
        user = UserFactory(username=username, user_id=f"ADM-{username.upper()}")
        user.org_units.add(OrgUnitFactory(code=code, name=f"Division {code[-1]}", kind="Division"))
        role.members.add(user)
        people[username] = User.objects.get(pk=user.pk)
    return people


def test_the_api_counts_the_workers_alive_busy_and_idle(alice, certification, holders, heartbeat):
    busy = heartbeat("worker:busy")
    heartbeat("thread:idle", runner="thread")
    job = run_on(busy.name, queued_job(alice, certification, holders[:3], "Audit clean-up"))
    started = Worker.objects.get(name=busy.name).last_seen_at
    wait_for(lambda: Worker.objects.get(name=busy.name).last_seen_at > started, "a second heartbeat")

    body = api_for(alice).get(WORKERS).json()

    assert (body["alive"], body["busy"], body["idle"]) == (2, 1, 1)
    workers = by_name(body)
    assert workers["worker:busy"]["alive"] is True
    assert workers["worker:busy"]["runner"] == "worker"
    assert workers["worker:busy"]["job"] == {
        "id": job.pk,
        "title": "Audit clean-up",
        "kind": "certification-removal",
        "progress": 0.0,
        "hidden": False,
    }
    assert workers["thread:idle"]["runner"] == "thread"
    assert workers["thread:idle"]["job"] is None
    assert set(workers["thread:idle"]) >= {
        "name",
        "runner",
        "hostname",
        "pid",
        "queues",
        "started_at",
        "last_seen_at",
        "alive",
        "job",
    }


def test_a_constrained_admin_sees_that_a_worker_is_busy_but_not_with_what(
    divisions, certification, holders, heartbeat
):
    ada, bob = divisions["ada"], divisions["bob"]
    run_on(heartbeat("worker:b").name, queued_job(bob, certification, holders[:3], "Payroll purge B"))
    own = run_on(heartbeat("worker:a").name, queued_job(ada, certification, holders[3:6], "Ada tidy-up"))

    response = api_for(ada).get(WORKERS)

    assert response.status_code == 200
    body = response.json()
    assert (body["alive"], body["busy"], body["idle"]) == (2, 2, 0)
    assert by_name(body)["worker:b"]["job"] == {"id": None, "hidden": True}
    assert by_name(body)["worker:a"]["job"]["id"] == own.pk
    assert b"Payroll purge B" not in response.content

    page = signed_in(ada).get("/jobs/")
    assert "2 workers alive · 2 running a job" in page.content.decode()
    assert "A job you cannot see" in page.content.decode()
    assert "Ada tidy-up" in page.content.decode()
    assert b"Payroll purge B" not in page.content

    # Bob, whose job it is, sees its title.
    assert by_name(api_for(bob).get(WORKERS).json())["worker:b"]["job"]["title"] == "Payroll purge B"


def test_someone_with_no_job_permission_is_refused(mallory, heartbeat):
    heartbeat("worker:any")
    response = api_for(mallory).get(WORKERS)
    assert response.status_code == 403
    assert "bulk job permission" in response.json()["detail"]
    assert APIClient().get(WORKERS).status_code == 401


def test_a_stopped_worker_is_listed_but_not_alive(alice, heartbeat):
    beat = heartbeat("worker:gone")
    assert api_for(alice).get(WORKERS).json()["alive"] == 1

    beat.stop()

    body = api_for(alice).get(WORKERS).json()
    assert (body["alive"], body["busy"], body["idle"]) == (0, 0, 0)
    assert by_name(body)["worker:gone"]["alive"] is False
    assert by_name(body)["worker:gone"]["stopped_at"] is not None


def test_a_beat_that_comes_after_the_goodbye_does_not_bring_the_worker_back(alice, heartbeat):
    """The heartbeat thread may be mid-beat as the worker stops: its beat must not list it alive again."""
    beat = heartbeat("worker:late")
    beat.stop()
    beat.beat()

    body = api_for(alice).get(WORKERS).json()
    assert body["alive"] == 0
    assert by_name(body)["worker:late"]["stopped_at"] is not None


def test_a_worker_silent_for_longer_than_the_alive_window_is_not_alive(settings, alice, heartbeat):
    settings.CERTDESK_HEARTBEAT_SECONDS = 600  # no beat comes during the test
    heartbeat("worker:silent")
    heartbeat("worker:long-gone")
    now = timezone.now()
    Worker.objects.filter(name="worker:silent").update(
        last_seen_at=now - dt.timedelta(seconds=ALIVE_SECONDS + 1)
    )
    Worker.objects.filter(name="worker:long-gone").update(last_seen_at=now - dt.timedelta(hours=2))

    body = api_for(alice).get(WORKERS).json()

    assert body["alive"] == 0
    assert by_name(body)["worker:silent"]["alive"] is False
    assert "worker:long-gone" not in by_name(body)  # seen more than an hour ago: no longer listed
    assert not alive_workers().exists()


def test_listing_workers_costs_the_same_queries_for_one_worker_or_many(
    alice, certification, holders, heartbeat
):
    client = api_for(alice)
    run_on(heartbeat("worker:1").name, queued_job(alice, certification, holders[:2], "One"))
    client.get(WORKERS)  # the token and permissions are looked up alike each time; warm nothing else
    with CaptureQueriesContext(connection) as one:
        assert client.get(WORKERS).json()["busy"] == 1
    for n, users in ((2, holders[2:4]), (3, holders[4:6])):
        run_on(heartbeat(f"worker:{n}").name, queued_job(alice, certification, users, f"Job {n}"))
    with CaptureQueriesContext(connection) as three:
        assert client.get(WORKERS).json()["busy"] == 3
    assert len(three) == len(one)


def test_the_jobs_page_says_how_many_workers_are_alive_and_what_they_run(
    alice, certification, holders, heartbeat
):
    job = run_on(
        heartbeat("worker:busy").name, queued_job(alice, certification, holders[:3], "Audit clean-up")
    )
    heartbeat("worker:idle")

    page = signed_in(alice).get("/jobs/").content.decode()

    assert "2 workers alive · 1 running a job · last seen" in page
    assert " s ago</time>" in page
    assert f'<a href="/jobs/{job.pk}/">Audit clean-up</a>' in page
    assert "Nothing: waiting for a job" in page
    assert "No worker is running" not in page


def test_the_jobs_page_warns_when_jobs_are_queued_and_no_worker_runs(alice, certification, holders):
    client = signed_in(alice)
    assert "No worker is running. Jobs you start will wait" in client.get("/jobs/").content.decode()

    queued_job(alice, certification, holders[:3], "Audit clean-up")

    page = client.get("/jobs/").content.decode()
    assert "No worker is running: queued jobs are waiting for a worker." in page
    assert "Start one with <code>certdesk worker</code> (see docs/deploy.md)." in page


def test_a_queued_job_says_it_waits_for_a_worker_when_none_runs(alice, certification, holders):
    job = queued_job(alice, certification, holders[:3], "Audit clean-up")
    client = signed_in(alice)

    page = client.get(f"/jobs/{job.pk}/").content.decode()
    assert "Queued — waiting for a worker: no worker is running." in page
    progress = client.get(f"/jobs/{job.pk}/progress/", HTTP_HX_REQUEST="true").content.decode()
    assert "Queued — waiting for a worker: no worker is running." in progress
    assert api_for(alice).get(f"/api/v1/jobs/{job.pk}/").json()["waiting_for_worker"] is True


def test_a_queued_job_behind_busy_workers_says_how_many_jobs_are_ahead(
    alice, certification, holders, heartbeat
):
    run_on(heartbeat("worker:only").name, queued_job(alice, certification, holders[:2], "Running"))
    queued_job(alice, certification, holders[2:4], "Next")
    last = queued_job(alice, certification, holders[4:6], "Last")

    page = signed_in(alice).get(f"/jobs/{last.pk}/").content.decode()

    assert "Queued — waiting for a free worker: every worker is running a job." in page
    assert "1 job(s) you can see are queued ahead of it." in page
    assert "no worker is running" not in page
    assert api_for(alice).get(f"/api/v1/jobs/{last.pk}/").json()["waiting_for_worker"] is False


def test_a_real_worker_appears_alive_runs_the_waiting_job_and_leaves(settings, alice, certification, holders):
    settings.CERTDESK_CHUNK_SIZE = 2
    job = queued_job(alice, certification, holders[:12], "Audit clean-up")
    client = api_for(alice)
    assert client.get(f"/api/v1/jobs/{job.pk}/").json()["waiting_for_worker"] is True

    proc = subprocess.Popen(
        [str(CERTDESK), "worker"],
        env=cli_env(
            CERTDESK_HEARTBEAT_SECONDS="0.1",
            CERTDESK_WORKER_POLL_SECONDS="0.1",
            CERTDESK_CHUNK_PAUSE_SECONDS="0.3",  # six chunks: long enough to be seen running
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for(lambda: alive_workers().filter(pid=proc.pid).exists(), "the worker's heartbeat")

        def seen_running() -> bool:
            body = client.get(WORKERS).json()
            mine = [w for w in body["results"] if w["pid"] == proc.pid]
            return bool(mine) and mine[0]["job"] is not None and mine[0]["job"]["id"] == job.pk

        wait_for(seen_running, "the worker shown running the job")
        body = client.get(WORKERS).json()
        assert (body["alive"], body["busy"]) == (1, 1)
        shown = next(w for w in body["results"] if w["pid"] == proc.pid)
        assert shown["runner"] == "worker" and shown["alive"] is True
        assert shown["job"]["title"] == "Audit clean-up"

        wait_for(lambda: Job.objects.get(pk=job.pk).status == Job.Status.PROCESSED, "the job to end")
        wait_for(lambda: client.get(WORKERS).json()["idle"] == 1, "the worker idle again")
        assert "1 worker alive · 0 running a job" in signed_in(alice).get("/jobs/").content.decode()

        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=WAIT_SECONDS)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    body = client.get(WORKERS).json()
    assert body["alive"] == 0
    gone = next(w for w in body["results"] if w["pid"] == proc.pid)
    assert gone["alive"] is False and gone["jobs_run"] == 1
