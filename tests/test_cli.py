"""The ``certdesk`` command line, run for real: the installed console script in a subprocess, against
the test database.

The tests are transactional so that what they create is committed and the subprocess sees it, and
what the subprocess changes is read back from the same database.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import pty
import re
import select
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from bulk import services, worker
from bulk.models import Job
from credentials.models import Award, Certification
from people.models import User

from .factories import JOB_JSON_FIELDS, UserFactory, award_many, make_csv, removal_rows
from .processes import CERTDESK, cli_env

pytestmark = pytest.mark.django_db(transaction=True)

CLI_TIMEOUT_SECONDS = 60
REMOVAL = "certification-removal"


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


def run_cli(*args: str, env: dict[str, str] | None = None, as_tty: bool = False) -> Run:
    """Run ``certdesk ARGS``; with ``as_tty`` its standard error is a pseudo-terminal."""
    command = [str(CERTDESK), *args]
    env = cli_env() if env is None else env
    if not as_tty:
        done = subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=CLI_TIMEOUT_SECONDS, check=False
        )
        return Run(done.returncode, done.stdout, done.stderr)

    master, slave = pty.openpty()
    with tempfile.TemporaryFile() as stdout:
        try:
            process = subprocess.Popen(command, env=env, stdout=stdout, stderr=slave)
        finally:
            os.close(slave)
        terminal = b""
        deadline = time.monotonic() + CLI_TIMEOUT_SECONDS
        try:
            while time.monotonic() < deadline:
                ready, _, _ = select.select([master], [], [], 0.5)
                if not ready:
                    continue
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO: the process closed the terminal
                    break
                if not chunk:
                    break
                terminal += chunk
            returncode = process.wait(timeout=max(1.0, deadline - time.monotonic()))
        finally:
            os.close(master)
            if process.poll() is None:
                process.kill()
                process.wait()
        stdout.seek(0)
        return Run(returncode, stdout.read().decode(), terminal.decode())


def write_removal_file(path: Path, certification: Certification, users: list[User]) -> Path:
    path.write_bytes(make_csv(removal_rows(certification, users)))
    return path


def removed_user_ids(certification: Certification) -> set[str]:
    return set(
        Award.objects.filter(certification=certification, status=Award.Status.REMOVED).values_list(
            "user__user_id", flat=True
        )
    )


def read_results(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


def submit_in_process(
    alice: User, certification: Certification, users: list[User], title: str, **options: Any
) -> Job:
    data = make_csv(removal_rows(certification, users))
    return services.submit(REMOVAL, data, "removal.csv", actor=alice, title=title, **options).job


# --- submit ----------------------------------------------------------------------------------


def test_submit_with_wait_runs_the_job_in_the_cli_when_no_worker_is_running(
    alice, certification, holders, tmp_path
):
    named = holders[:5]
    upload = write_removal_file(tmp_path / "removal.csv", certification, named)

    run = run_cli(
        "job", "submit", REMOVAL, str(upload), "--title", "Audit clean-up", "--as", "alice", "--wait"
    )

    assert run.returncode == 0, run.stderr
    job = Job.objects.get()
    assert job.status == Job.Status.PROCESSED
    assert (job.total, job.succeeded, job.skipped, job.failed) == (5, 5, 0, 0)
    assert job.started_at is not None and job.processed_at is not None
    assert removed_user_ids(certification) == {u.user_id for u in named}
    assert Award.objects.filter(certification=certification, status=Award.Status.ACTIVE).count() == 15
    assert f"Job {job.pk}: Audit clean-up" in run.stdout
    assert "Status:      Processed" in run.stdout
    assert "Removed 5, Skipped 0, Error 0" in run.stdout


def test_submit_without_wait_leaves_the_job_queued_for_a_worker(alice, certification, holders, tmp_path):
    upload = write_removal_file(tmp_path / "removal.csv", certification, holders[:3])

    run = run_cli("job", "submit", REMOVAL, str(upload), "--title", "Queued for later", "--as", "alice")

    assert run.returncode == 0, run.stderr
    assert Job.objects.get().status == Job.Status.QUEUED
    assert "Status:      Queued" in run.stdout
    assert removed_user_ids(certification) == set()


def test_validate_only_changes_nothing_and_the_verified_job_can_be_started_later(
    alice, certification, holders, tmp_path
):
    named = holders[:4]
    upload = write_removal_file(tmp_path / "removal.csv", certification, named)

    checked = run_cli(
        "job", "submit", REMOVAL, str(upload), "--title", "Check first", "--as", "alice", "--validate-only"
    )

    assert checked.returncode == 0, checked.stderr
    job = Job.objects.get()
    assert job.status == Job.Status.VERIFIED
    assert "Status:      Verified" in checked.stdout
    assert "Would be:    Would remove 4" in checked.stdout
    assert removed_user_ids(certification) == set()
    preview = run_cli("job", "results", str(job.pk), "--as", "alice")
    assert preview.returncode == 0, preview.stderr
    assert [row[2] for row in read_results(preview.stdout.encode())[1:]] == ["Would remove"] * 4

    started = run_cli("job", "start", str(job.pk), "--as", "alice", "--wait")

    assert started.returncode == 0, started.stderr
    job.refresh_from_db()
    assert job.status == Job.Status.PROCESSED
    assert job.succeeded == 4
    assert removed_user_ids(certification) == {u.user_id for u in named}


def test_starting_a_processed_job_again_is_a_usage_error(alice, certification, holders):
    job = submit_in_process(alice, certification, holders[:2], "Done already", start=True)
    worker.run_next("test-worker")

    run = run_cli("job", "start", str(job.pk), "--as", "alice")

    assert run.returncode == 2
    assert f"Job {job.pk} is Processed and cannot be started." in run.stderr


def test_rejected_file_exits_1_lists_every_offending_row_and_creates_nothing(
    alice, certification, holders, tmp_path
):
    outsider = UserFactory(user_id="U-OUTSIDER")
    rows = [
        [certification.code, holders[0].user_id],
        [certification.code, "NO-SUCH-USER"],  # row 3
        [certification.code, holders[1].user_id],
        [certification.code, outsider.user_id],  # row 5: exists, does not hold the certification
        [certification.code, "ALSO-MISSING"],  # row 6
    ]
    upload = tmp_path / "removal.csv"
    upload.write_bytes(make_csv(rows))

    run = run_cli("job", "submit", REMOVAL, str(upload), "--title", "Bad file", "--as", "alice", "--wait")

    assert run.returncode == 1
    assert (
        "The file was rejected: User IDs included in the file are invalid or the users are not enrolled "
        "in the certification" in run.stderr
    )
    assert "Row 3, column User ID, value 'NO-SUCH-USER'" in run.stderr
    assert "Row 5, column User ID, value 'U-OUTSIDER'" in run.stderr
    assert "is not enrolled in certification CERT-042" in run.stderr
    assert "Row 6, column User ID, value 'ALSO-MISSING'" in run.stderr
    assert "Row 2," not in run.stderr and "Row 4," not in run.stderr
    assert not Job.objects.exists()
    assert removed_user_ids(certification) == set()


def test_rejected_file_with_json_gives_each_problem_its_row_column_and_value(
    alice, certification, holders, tmp_path
):
    upload = tmp_path / "removal.csv"
    upload.write_bytes(make_csv([[certification.code, holders[0].user_id], ["CERT-999", holders[1].user_id]]))

    run = run_cli("job", "submit", REMOVAL, str(upload), "--title", "Two certs", "--as", "alice", "--json")

    assert run.returncode == 1
    report = run.json()
    assert report["detail"] == "The Certification ID included in the file is invalid"
    assert [(e["code"], e["row"], e["column"], e["value"]) for e in report["errors"]] == [
        ("invalid_certification", 3, "Certification ID", "CERT-999")
    ]
    assert not Job.objects.exists()


def test_submit_json_carries_every_field_of_the_job_contract(alice, certification, holders, tmp_path):
    upload = write_removal_file(tmp_path / "removal.csv", certification, holders[:3])

    run = run_cli(
        "job",
        "submit",
        REMOVAL,
        str(upload),
        "--title",
        "Audit clean-up",
        "--comment",
        "After the March audit",
        "--as",
        "alice",
        "--wait",
        "--json",
    )

    assert run.returncode == 0, run.stderr
    data = run.json()
    assert set(data) >= JOB_JSON_FIELDS
    job = Job.objects.get()
    assert data["id"] == job.pk
    assert data["kind"] == REMOVAL
    assert data["title"] == "Audit clean-up"
    assert data["comment"] == "After the March audit"
    assert data["status"] == "processed"
    assert data["created_by"] == "alice"
    assert data["validate_only"] is False
    assert data["counts"] == {"total": 3, "succeeded": 3, "failed": 0, "skipped": 0}
    assert data["progress"] == 1.0
    assert data["errors"] == []
    assert data["results_url"].endswith(f"/api/v1/jobs/{job.pk}/results/")
    created, started, processed = (
        dt.datetime.fromisoformat(data[k]) for k in ("created_at", "started_at", "processed_at")
    )
    assert created <= started <= processed


def test_validate_only_json_reports_a_verified_job_with_a_results_file(
    alice, certification, holders, tmp_path
):
    upload = write_removal_file(tmp_path / "removal.csv", certification, holders[:2])

    run = run_cli(
        "job",
        "submit",
        REMOVAL,
        str(upload),
        "--title",
        "Dry run",
        "--as",
        "alice",
        "--validate-only",
        "--json",
    )

    assert run.returncode == 0, run.stderr
    data = run.json()
    assert data["status"] == "verified"
    assert data["validate_only"] is True
    assert data["started_at"] is None and data["processed_at"] is None
    assert data["counts"]["total"] == 2
    assert data["results_url"].endswith(f"/api/v1/jobs/{data['id']}/results/")


# --- usage errors and permissions --------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(
            ["{file}", "--as", "alice"],
            "the following arguments are required: --title",
            id="no-title",
        ),
        pytest.param(
            ["{file}", "--title", "T", "--as", "alice", "--kind-instead"],
            "unrecognized arguments: --kind-instead",
            id="unknown-option",
        ),
        pytest.param(
            ["/nonexistent/removal.csv", "--title", "T", "--as", "alice"],
            "No such file: /nonexistent/removal.csv",
            id="missing-file",
        ),
        pytest.param(
            ["{file}", "--title", "T", "--as", "nobody"],
            "No active user has the username 'nobody'.",
            id="unknown-user",
        ),
        pytest.param(
            ["{file}", "--title", "T"],
            "Say who is acting: --as USERNAME (or set CERTDESK_USER).",
            id="nobody-acting",
        ),
        pytest.param(
            ["{file}", "--title", "x" * 101, "--as", "alice"],
            "Job Title can be up to 100 characters; this one has 101.",
            id="title-of-101-characters",
        ),
        pytest.param(
            ["{file}", "--title", "   ", "--as", "alice"],
            "Job Title is required.",
            id="blank-title",
        ),
    ],
)
def test_submit_usage_errors_exit_2_and_create_nothing(
    alice, certification, holders, tmp_path, args, message
):
    upload = write_removal_file(tmp_path / "removal.csv", certification, holders[:2])
    args = [a.replace("{file}", str(upload)) for a in args]

    run = run_cli("job", "submit", REMOVAL, *args)

    assert run.returncode == 2
    assert message in run.stderr
    assert "file was rejected" not in run.stderr  # the file is fine; the command is not
    assert not Job.objects.exists()


def test_unknown_kind_exits_2_and_names_the_known_kinds(alice, certification, holders, tmp_path):
    upload = write_removal_file(tmp_path / "removal.csv", certification, holders[:2])

    run = run_cli("job", "submit", "license-import-typo", str(upload), "--title", "T", "--as", "alice")

    assert run.returncode == 2
    assert "invalid choice: 'license-import-typo'" in run.stderr
    assert REMOVAL in run.stderr
    assert not Job.objects.exists()


def test_title_of_exactly_100_characters_is_accepted(alice, certification, holders, tmp_path):
    upload = write_removal_file(tmp_path / "removal.csv", certification, holders[:1])

    run = run_cli("job", "submit", REMOVAL, str(upload), "--title", "x" * 100, "--as", "alice")

    assert run.returncode == 0, run.stderr
    assert Job.objects.get().title == "x" * 100


def test_certdesk_user_names_who_acts_when_as_is_not_given(alice, certification, holders):
    job = submit_in_process(alice, certification, holders[:1], "Seen by alice")

    run = run_cli("job", "show", str(job.pk), "--json", env=cli_env(CERTDESK_USER="alice"))

    assert run.returncode == 0, run.stderr
    assert run.json()["title"] == "Seen by alice"


@pytest.mark.parametrize("action", ["submit", "list", "show"])
def test_user_without_the_permission_exits_3_with_an_error_naming_it(
    alice, mallory, certification, holders, tmp_path, action
):
    job = submit_in_process(alice, certification, holders[:2], "Alice's job")
    upload = write_removal_file(tmp_path / "removal.csv", certification, holders[2:4])
    args = {
        "submit": ["submit", REMOVAL, str(upload), "--title", "Sneaky", "--wait"],
        "list": ["list"],
        "show": ["show", str(job.pk)],
    }[action]

    run = run_cli("job", *args, "--as", "mallory")

    assert run.returncode == 3
    assert "mallory may not" in run.stderr
    assert "'Manage certification removal jobs'" in run.stderr
    assert "Alice's job" not in run.stdout
    assert list(Job.objects.values_list("pk", flat=True)) == [job.pk]
    assert removed_user_ids(certification) == set()


# --- list, show, results -----------------------------------------------------------------------


@pytest.fixture
def dated_jobs(alice, certification, holders) -> dict[str, Job]:
    """Three of alice's jobs, created in March, April and May 2026 (noon, in the server's zone)."""
    tz = timezone.get_current_timezone()
    made = {}
    for name, title, created, options in (
        ("march", "Audit March", dt.datetime(2026, 3, 10, 12, tzinfo=tz), {"validate_only": True}),
        ("april", "Audit April", dt.datetime(2026, 4, 15, 12, tzinfo=tz), {}),
        ("may", "Leavers May", dt.datetime(2026, 5, 20, 12, tzinfo=tz), {"validate_only": True}),
    ):
        job = submit_in_process(alice, certification, holders[:2], title, **options)
        Job.objects.filter(pk=job.pk).update(created_at=created)
        made[name] = job
    return made


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        pytest.param([], {"march", "april", "may"}, id="no-filter"),
        pytest.param(["--search", "audit"], {"march", "april"}, id="search-is-case-insensitive"),
        pytest.param(["--status", "verified"], {"march", "may"}, id="status"),
        pytest.param(["--status", "draft"], {"april"}, id="status-draft"),
        pytest.param(["--since", "2026-04-15"], {"april", "may"}, id="since-is-inclusive"),
        pytest.param(["--until", "2026-04-15"], {"march", "april"}, id="until-is-inclusive"),
        pytest.param(["--since", "2026-04-01", "--until", "2026-04-30"], {"april"}, id="since-and-until"),
        pytest.param(["--search", "audit", "--status", "verified"], {"march"}, id="search-and-status"),
        pytest.param(["--since", "2026-06-01"], set(), id="nothing-matches"),
    ],
)
def test_job_list_narrows_to_the_jobs_matching_its_filters(dated_jobs, filters, expected):
    run = run_cli("job", "list", "--as", "alice", "--json", *filters)

    assert run.returncode == 0, run.stderr
    listed = {item["id"] for item in run.json()}
    assert listed == {dated_jobs[name].pk for name in expected}


def test_job_list_prints_newest_first_with_status_creator_and_title(dated_jobs):
    run = run_cli("job", "list", "--as", "alice")

    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].split() == ["ID", "Status", "Created", "Processed", "Created", "by", "Title"]
    assert [line.split()[-2:] for line in lines[1:]] == [
        ["Leavers", "May"],
        ["Audit", "April"],
        ["Audit", "March"],
    ]
    assert "Verified     2026-05-20 12:00" in lines[1]
    assert "Draft        2026-04-15 12:00" in lines[2]
    assert all(" alice " in line for line in lines[1:])


def test_job_list_with_a_malformed_date_is_a_usage_error(alice):
    run = run_cli("job", "list", "--as", "alice", "--since", "2026-13-01")

    assert run.returncode == 2
    assert "--since must be a date as YYYY-MM-DD, not '2026-13-01'." in run.stderr


def test_job_show_describes_the_job(alice, certification, holders):
    job = submit_in_process(alice, certification, holders[:3], "Audit clean-up", comment="Q1 audit")

    run = run_cli("job", "show", str(job.pk), "--as", "alice")

    assert run.returncode == 0, run.stderr
    assert f"Job {job.pk}: Audit clean-up" in run.stdout
    assert "Status:      Draft" in run.stdout
    assert "Created by:  Alice" in run.stdout and "(alice)" in run.stdout
    assert "Comment:     Q1 audit" in run.stdout
    assert "Certification: CERT-042 — Basic Life Support" in run.stdout
    assert "Rows:        3 (0 processed, 0%)" in run.stdout


def test_job_show_of_a_job_that_does_not_exist_exits_2_not_found(alice):
    run = run_cli("job", "show", "999999", "--as", "alice")

    assert run.returncode == 2
    assert "Job 999999 not found." in run.stderr


def test_job_results_writes_the_results_file_with_a_result_for_every_row(
    alice, certification, holders, tmp_path
):
    named = [holders[0], holders[1], holders[0]]  # the repeat is skipped
    job = submit_in_process(alice, certification, named, "Audit clean-up", start=True)
    worker.run_next("test-worker")
    output = tmp_path / "results.csv"

    run = run_cli("job", "results", str(job.pk), "--as", "alice", "-o", str(output))

    assert run.returncode == 0, run.stderr
    assert f"to {output}" in run.stderr
    rows = read_results(output.read_bytes())
    assert rows[0] == ["Certification ID", "User ID", "Result", "Message"]
    assert [row[:3] for row in rows[1:]] == [
        ["CERT-042", holders[0].user_id, "Removed"],
        ["CERT-042", holders[1].user_id, "Removed"],
        ["CERT-042", holders[0].user_id, "Skipped"],
    ]
    assert "repeats row 2" in rows[3][3]


def test_job_results_of_a_job_still_waiting_is_a_usage_error(alice, certification, holders, tmp_path):
    job = submit_in_process(alice, certification, holders[:2], "Not yet", start=True)
    output = tmp_path / "results.csv"

    run = run_cli("job", "results", str(job.pk), "--as", "alice", "-o", str(output))

    assert run.returncode == 2
    assert f"Job {job.pk} has no results file yet" in run.stderr
    assert not output.exists()


# --- progress ---------------------------------------------------------------------------------


@pytest.fixture
def many_holders(certification) -> list[User]:
    """23 holders: with 5 rows a chunk, a job of them runs in five chunks."""
    users = UserFactory.create_batch(23)
    award_many(certification, users)
    return users


def test_wait_on_a_terminal_shows_a_progress_bar_that_reaches_100_percent(
    alice, certification, many_holders, tmp_path
):
    upload = write_removal_file(tmp_path / "removal.csv", certification, many_holders)

    run = run_cli(
        "job",
        "submit",
        REMOVAL,
        str(upload),
        "--title",
        "Big one",
        "--as",
        "alice",
        "--wait",
        env=cli_env(CERTDESK_CHUNK_SIZE="5"),
        as_tty=True,
    )

    assert run.returncode == 0, run.stderr
    assert "[#" in run.stderr
    assert "100%" in run.stderr
    partial = re.findall(r"\[(#+-+)\]", run.stderr)
    assert len(partial) >= 4, run.stderr  # one step per chunk before the last
    assert "23/23 rows" in run.stderr
    assert Job.objects.get().status == Job.Status.PROCESSED
    assert len(removed_user_ids(certification)) == 23


def test_wait_without_a_terminal_prints_no_progress_bar(alice, certification, many_holders, tmp_path):
    upload = write_removal_file(tmp_path / "removal.csv", certification, many_holders)

    run = run_cli(
        "job",
        "submit",
        REMOVAL,
        str(upload),
        "--title",
        "Big one",
        "--as",
        "alice",
        "--wait",
        env=cli_env(CERTDESK_CHUNK_SIZE="5"),
    )

    assert run.returncode == 0, run.stderr
    assert "[#" not in run.stderr and "%" not in run.stderr and "\r" not in run.stderr
    assert "Status:      Processed" in run.stdout
    assert len(removed_user_ids(certification)) == 23


# --- tokens -----------------------------------------------------------------------------------


def test_token_create_prints_a_key_that_authenticates_against_the_api(alice, certification, holders):
    job = submit_in_process(alice, certification, holders[:1], "Visible through the API")

    run = run_cli("token", "create", "alice")

    assert run.returncode == 0, run.stderr
    key = run.stdout.strip()
    assert re.fullmatch(r"[0-9a-f]{40}", key)
    client = Client()
    assert client.get("/api/v1/jobs/").status_code in (401, 403)
    response = client.get("/api/v1/jobs/", HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 200
    assert [item["id"] for item in response.json()["results"]] == [job.pk]
    assert client.get("/api/v1/jobs/", HTTP_AUTHORIZATION="Token " + "0" * 40).status_code == 401


def test_token_create_again_prints_the_same_key(alice):
    first = run_cli("token", "create", "alice")
    second = run_cli("token", "create", "alice")

    assert first.returncode == second.returncode == 0
    assert first.stdout.strip() == second.stdout.strip()


def test_token_create_for_an_unknown_user_is_a_usage_error(db):
    run = run_cli("token", "create", "nobody")

    assert run.returncode == 2
    assert "No user has the username 'nobody'." in run.stderr


def test_restore_with_wait_puts_the_removed_awards_back(alice, certification, holders, tmp_path):
    upload = write_removal_file(tmp_path / "removal.csv", certification, holders[:4])
    assert (
        run_cli(
            "job", "submit", REMOVAL, str(upload), "--title", "Oops", "--as", "alice", "--wait"
        ).returncode
        == 0
    )
    job = Job.objects.get()

    run = run_cli("job", "restore", str(job.pk), "--as", "alice", "--wait", "--json")

    assert run.returncode == 0, run.stderr
    restored = run.json()
    assert restored["restore_of"] == job.pk and restored["status"] == "processed"
    assert restored["counts"]["succeeded"] == 4
    assert removed_user_ids(certification) == set()

    again = run_cli("job", "restore", str(job.pk), "--as", "alice")
    assert again.returncode == 2
    assert f"already been restored by job {restored['id']}" in again.stderr
