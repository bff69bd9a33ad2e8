"""The embedded default end to end: ``certdesk serve`` answers the API and its worker thread runs jobs.

The server is the real console script in a subprocess, on a free port, against the test database;
nothing else runs jobs (there is no ``certdesk worker`` and the test never runs one itself).
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import http.client
import io
import json
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.authtoken.models import Token

from bulk.models import Job
from credentials.models import Award

from .factories import UserFactory, award_many, make_csv, removal_rows
from .processes import CERTDESK, cli_env

pytestmark = pytest.mark.django_db(transaction=True)

START_TIMEOUT_SECONDS = 30
JOB_TIMEOUT_SECONDS = 30


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def request(url: str, token: str, data: bytes | None = None, content_type: str = "") -> tuple[int, bytes]:
    """GET (or POST ``data``) with token authentication; returns the status and the body."""
    headers = {"Authorization": f"Token {token}"}
    if content_type:
        headers["Content-Type"] = content_type
    req = urllib.request.Request(url, data=data, headers=headers, method="POST" if data else "GET")  # noqa: S310
    try:
        with urllib.request.urlopen(req, timeout=10) as response:  # noqa: S310 - our own server on 127.0.0.1
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def multipart(fields: dict[str, str], files: dict[str, tuple[str, bytes]]) -> tuple[bytes, str]:
    """A multipart/form-data body and its content type."""
    boundary = f"certdesk-{uuid.uuid4().hex}"
    body = io.BytesIO()
    for name, value in fields.items():
        body.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode())
        body.write(value.encode() + b"\r\n")
    for name, (filename, content) in files.items():
        body.write(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
            "Content-Type: text/csv\r\n\r\n".encode()
        )
        body.write(content + b"\r\n")
    body.write(f"--{boundary}--\r\n".encode())
    return body.getvalue(), f"multipart/form-data; boundary={boundary}"


def wait_until_answering(base_url: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"certdesk serve exited with {server.returncode}:\n{log.read_text()}")
        host, port = base_url.removeprefix("http://").split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=2)
        try:
            connection.request("GET", "/api/v1/")
            connection.getresponse().read()
            return  # any answer, a 401 or a redirect to https included
        except OSError:
            time.sleep(0.2)
        finally:
            connection.close()
    pytest.fail(f"certdesk serve did not answer within {START_TIMEOUT_SECONDS}s:\n{log.read_text()}")


def poll_job(url: str, token: str) -> dict[str, Any]:
    deadline = time.monotonic() + JOB_TIMEOUT_SECONDS
    job: dict[str, Any] = {}
    while time.monotonic() < deadline:
        status, body = request(url, token)
        assert status == 200, body
        job = json.loads(body)
        if job["status"] in ("processed", "failed"):
            return job
        time.sleep(0.2)
    pytest.fail(f"the job did not finish within {JOB_TIMEOUT_SECONDS}s; last seen: {job}")


@contextlib.contextmanager
def serving(tmp_path: Path, **env: str) -> Iterator[str]:
    """``certdesk serve`` on a free port with its worker thread; yields its base URL."""
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(CERTDESK), "serve", "--port", str(port), "--threads", "2"],
            env=cli_env(CERTDESK_RUNNER="thread", CERTDESK_WORKER_POLL_SECONDS="0.2", **env),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        base_url = f"http://127.0.0.1:{port}"
        wait_until_answering(base_url, process, log)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    with serving(tmp_path) as base_url:
        yield base_url


def test_served_api_accepts_a_removal_file_and_the_in_process_worker_runs_it(
    alice, certification, holders, server
):
    token = Token.objects.create(user=alice).key
    named = holders[:6]
    body, content_type = multipart(
        {"kind": "certification-removal", "title": "Served removal", "start": "true"},
        {"file": ("removal.csv", make_csv(removal_rows(certification, named)))},
    )

    status, created = request(f"{server}/api/v1/jobs/", token, body, content_type)

    assert status == 201, created
    job = json.loads(created)
    assert job["status"] == "queued"
    finished = poll_job(f"{server}/api/v1/jobs/{job['id']}/", token)
    assert finished["status"] == "processed", finished
    assert finished["counts"] == {"total": 6, "succeeded": 6, "failed": 0, "skipped": 0}
    assert finished["results_url"] == f"{server}/api/v1/jobs/{job['id']}/results/"

    status, content = request(finished["results_url"], token)

    assert status == 200
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert rows[0] == ["Certification ID", "User ID", "Result", "Message"]
    assert [row[:3] for row in rows[1:]] == [[certification.code, u.user_id, "Removed"] for u in named]
    removed = Award.objects.filter(certification=certification, status=Award.Status.REMOVED)
    assert set(removed.values_list("user__user_id", flat=True)) == {u.user_id for u in named}
    assert Job.objects.get(pk=job["id"]).status == Job.Status.PROCESSED


def test_the_embedded_server_sends_renewal_reminders_by_itself(tmp_path, smtp_server, certification):
    """`make run` needs no cron line and no scheduler process: the worker thread runs the schedule."""
    holders = UserFactory.create_batch(3)
    award_many(certification, holders)
    soon = timezone.localdate() + dt.timedelta(days=5)
    Award.objects.filter(certification=certification).update(expiration_date=soon)
    env = {"EMAIL_URL": f"smtp://127.0.0.1:{smtp_server.port}", "CERTDESK_RENEWAL_NOTICES_HOUR": "0"}
    with serving(tmp_path, **env):
        deadline = time.monotonic() + JOB_TIMEOUT_SECONDS
        while len(smtp_server.messages) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
    assert sorted(r for d in smtp_server.messages for r in d.recipients) == sorted(u.email for u in holders)
    assert all(Award.objects.filter(certification=certification).values_list("renewal_notice_for", flat=True))
