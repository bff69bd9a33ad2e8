"""No file can break the intake: every case of the hostile corpus (tests/hostile.py), uploaded through
``POST /api/v1/jobs/`` to every job kind whose file names it fits, is either refused with published
file errors and nothing changed, or becomes a valid verified job — never a 500, never an exception,
within a bound. A handful go through ``certdesk job submit`` too, to show no traceback.

The cases that build more than a megabyte have ``slow`` in their test id: ``-k "not slow"`` leaves
them out.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import resource
import signal
import subprocess
import time
import traceback
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from access.permissions import (
    AWARD_CERTIFICATIONS,
    IMPORT_LICENSES,
    IMPORT_UNENROLMENTS,
    MANAGE_CERTIFICATION_REMOVAL,
    VIEW_CATALOGUE,
    VIEW_CERTIFICATIONS,
)
from audit.models import Event
from base.problems import PUBLISHED_MESSAGES
from bulk.models import Job, JobRow
from credentials.models import Award, Certification, License, LicenseType
from learning.models import Enrollment
from people.models import User

from .factories import ActivityFactory, CertificationFactory, award_many, enrol, grant
from .hostile import (
    ACTIVITY,
    AWARDED_CERTIFICATION,
    CASES,
    CERTIFICATION,
    KIND_SLUGS,
    LICENCE_CODE,
    PEOPLE,
    TOO_MANY_ROWS,
    Case,
    Expect,
    KindSpec,
    cases_by_id,
)
from .processes import CERTDESK, cli_env

JOBS = "/api/v1/jobs/"
ADMIN = "hostile-admin"
# The codes a refusal may carry: the published file errors, and the row cap.
ALLOWED_CODES = frozenset(PUBLISHED_MESSAGES) | {TOO_MANY_ROWS}
HEADLINES = {**PUBLISHED_MESSAGES, TOO_MANY_ROWS: "The file has too many rows"}
# Generous on purpose: the bound catches runaway expansion (a bomb unpacked, a row count believed),
# not slowness. A case still running at HARD_STOP is stopped so that one file cannot hang the suite.
CASE_SECONDS = 30
HARD_STOP_SECONDS = 90
# Address space a case may add to the test process: a file that makes the intake allocate without
# bound fails with MemoryError here instead of taking the machine down.
MEMORY_BUDGET = 4 * 1024 * 1024 * 1024
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
ROWS_READ_BACK = 1000  # rows of a job read from the API to check names (every case's jobs are small)


# --- The data the files name -------------------------------------------------------------------------


@pytest.fixture
def admin(db) -> User:
    """An administrator who may submit every kind of job, and the people, certification, activity and
    licence type the corpus's valid rows name."""
    user = User.objects.create(username=ADMIN, user_id="ADM-HOSTILE", email="hostile@example.test")
    user.set_password("secret-pass-123")
    user.save()
    people = User.objects.bulk_create(
        [User(username=p, user_id=p, email=f"p{n}@example.test") for n, p in enumerate(PEOPLE)]
    )
    award_many(CertificationFactory(code=CERTIFICATION, title="Basic Life Support"), people)
    CertificationFactory(code=AWARDED_CERTIFICATION, title="Hostile Files Awareness")
    enrol(ActivityFactory(external_reference=ACTIVITY, title="Hostile files 101"), people)
    LicenseType.objects.create(code=LICENCE_CODE, name="Registered Nurse", issuing_authority="State Board")
    return grant(
        user,
        MANAGE_CERTIFICATION_REMOVAL,
        VIEW_CERTIFICATIONS,
        IMPORT_UNENROLMENTS,
        VIEW_CATALOGUE,
        AWARD_CERTIFICATIONS,
        IMPORT_LICENSES,
    )


@pytest.fixture
def api(admin) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=admin)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def snapshot() -> dict[str, Any]:
    return {
        "jobs": Job.objects.count(),
        "job_rows": JobRow.objects.count(),
        "awards": list(Award.objects.order_by("pk").values_list("pk", "status", "removed_at")),
        "enrollments": list(Enrollment.objects.order_by("pk").values_list("pk", "status")),
        "licences": License.objects.count(),
        "licence_rows": list(License.objects.order_by("pk").values_list("pk", "number")),
        "certifications": Certification.objects.count(),
        "users": User.objects.count(),
        "last_event": Event.objects.order_by("-pk").values_list("pk", flat=True).first() or 0,
    }


# --- Guards: time and memory --------------------------------------------------------------------------


class Runaway(BaseException):
    """Raised into a case still running at HARD_STOP_SECONDS (not an Exception: nothing swallows it)."""


@contextlib.contextmanager
def bounded() -> Iterator[None]:
    def stop(signum: int, frame: Any) -> None:
        raise Runaway(f"still running after {HARD_STOP_SECONDS} s")

    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/statm") as statm:
        in_use = int(statm.read().split()[0]) * resource.getpagesize()
    cap = in_use + MEMORY_BUDGET
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    previous = signal.signal(signal.SIGALRM, stop)
    signal.alarm(HARD_STOP_SECONDS)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def where(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "/site-packages/" not in f.filename] or frames
    last = ours[-1] if ours else None
    return f" at {last.filename.rsplit('/work/main/', 1)[-1]}:{last.lineno}" if last else ""


# --- The API ------------------------------------------------------------------------------------------


def post(api: APIClient, slug: str, filename: str, data: bytes) -> Any:
    form = {
        "kind": slug,
        "title": "Hostile file",
        "validate_only": "true",
        "file": SimpleUploadedFile(filename, data, content_type="application/octet-stream"),
    }
    return api.post(JOBS, form, format="multipart")


def job_rows(api: APIClient, job_id: int, **params: str) -> tuple[int, list[dict[str, Any]]]:
    """The number of rows (with ``params``) and the first ROWS_READ_BACK of them."""
    response = api.get(f"{JOBS}{job_id}/rows/", params)
    assert response.status_code == 200, response.content[:500]
    body = response.json()
    rows = list(body["results"])
    page = 1
    while body.get("next") and len(rows) < ROWS_READ_BACK:
        page += 1
        body = api.get(f"{JOBS}{job_id}/rows/", {**params, "page": str(page)}).json()
        rows.extend(body["results"])
    return body["count"], rows


def results_cells(api: APIClient, job_id: int) -> list[list[str]]:
    response = api.get(f"{JOBS}{job_id}/results/")
    assert response.status_code == 200, response.content[:500]
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"), newline="")))


# --- The checks ---------------------------------------------------------------------------------------
# Each check notes every way the answer falls short, so a failing case reports all of them at once.


def check_refusal(body: dict[str, Any], expect: Expect, before: dict[str, Any], wrong: list[str]) -> None:
    errors = body.get("errors")
    if not errors:
        wrong.append(f"a 400 without errors: {str(body)[:300]}")
        return
    codes = {e.get("code") for e in errors}
    if not codes <= ALLOWED_CODES:
        wrong.append(f"unpublished error codes {sorted(codes - ALLOWED_CODES)}: {errors[:2]}")
    if not all(isinstance(e.get("message"), str) and e["message"].strip() for e in errors):
        wrong.append(f"an error without a message: {errors[:3]}")
    for code in codes & ALLOWED_CODES:
        published = HEADLINES[code].split("{", 1)[0].strip()
        if published not in body.get("detail", ""):
            wrong.append(f"the headline of {code} is missing from {body.get('detail')!r}")
    if expect.codes is not None and not codes <= expect.codes:
        wrong.append(f"refused with {sorted(codes)}, expected among {sorted(expect.codes)}: {errors[:2]}")
    if expect.error_row is not None and expect.error_row not in [e.get("row") for e in errors]:
        wrong.append(f"no error names row {expect.error_row}: {errors[:3]}")
    after = snapshot()
    changed = [k for k in before if k != "last_event" and before[k] != after[k]]
    if changed:
        wrong.append(f"a refused upload changed {changed}")
    new_events = list(Event.objects.filter(pk__gt=before["last_event"]).values_list("action", flat=True))
    if len(new_events) > 1 or not set(new_events) <= {"job.rejected"}:
        wrong.append(f"a refused upload wrote the audit events {new_events}")
    flat = json.dumps(body, ensure_ascii=False)
    wrong.extend(f"{text!r} leaked into the answer" for text in expect.absent if text in flat)


def check_job(
    api: APIClient, body: dict[str, Any], expect: Expect, before: dict[str, Any], wrong: list[str]
) -> None:
    if body.get("status") != "verified" or body.get("validate_only") is not True:
        wrong.append(
            f"a validate-only upload gave a {body.get('status')} job (validate_only {body.get('validate_only')})"
        )
    after = snapshot()
    changed = [
        k
        for k in ("awards", "enrollments", "licence_rows", "certifications", "users")
        if before[k] != after[k]
    ]
    if changed:
        wrong.append(f"a validate-only job changed {changed}")
    total, rows = job_rows(api, body["id"])
    if total == 0:
        wrong.append("a job without rows")
    if expect.total is not None and total != expect.total:
        wrong.append(f"{total} rows read, the file has {expect.total}")
    cells = {cell for row in rows for cell in row["cells"]}
    missing = [name for name in expect.names if name not in cells]
    if missing:
        wrong.append(f"{missing} not read back as written (mojibake?); cells: {sorted(cells)[:10]}")
    by_number = {row["row_number"]: row for row in rows}
    for number in expect.error_rows:
        row = by_number.get(number)
        if row is None or row["outcome"] != "error" or not row["message"]:
            wrong.append(f"row {number} should be an error with a message, is {row}")
    flat = json.dumps([body, rows], ensure_ascii=False)
    wrong.extend(f"{text!r} leaked into the job" for text in expect.absent if text in flat)
    if expect.neutralised:
        results = results_cells(api, body["id"])
        if len(results) != total + 1:
            wrong.append(f"the results file has {len(results) - 1} rows, the job {total}")
        read = {cell for row in results for cell in row}
        for formula in expect.neutralised:
            if "'" + formula not in read and "'" + formula.strip() not in read:
                wrong.append(f"{formula!r} is not in the results file neutralised")
        live = [cell for row in results for cell in row if cell.startswith(FORMULA_STARTS)]
        if live:
            wrong.append(f"cells of the results file a spreadsheet would run: {live[:5]}")
    # Rows accounted for, as the Job JSON gives them (its counts, and pending if it says so; else the
    # pending rows the API lists).
    counts = body["counts"]
    pending = counts["pending"] if "pending" in counts else job_rows(api, body["id"], outcome="pending")[0]
    accounted = counts["succeeded"] + counts["failed"] + counts["skipped"] + pending
    if counts["total"] != total or counts["total"] != accounted:
        outcomes = {
            o: job_rows(api, body["id"], outcome=o)[0] for o in ("pending", "succeeded", "skipped", "error")
        }
        wrong.append(
            f"rows not accounted for: counts {counts} + pending {pending} = {accounted} of {total} rows; "
            f"the rows' outcomes: {outcomes}"
        )


PAIRS = [(slug, c) for c in CASES for slug in KIND_SLUGS if c.fits(slug)]


def case_param(slug: str, c: Case) -> Any:
    return pytest.param(slug, c, id=f"{slug}:{c.id}" + ("-slow" if c.slow else ""))


@pytest.mark.parametrize(("slug", "case"), [case_param(s, c) for s, c in PAIRS])
def test_a_hostile_file_is_refused_with_published_errors_or_becomes_a_valid_job(api, slug, case):
    spec = KindSpec.of(slug)
    filename, data = case.build(spec)
    expect = case.expectation(spec)
    before = snapshot()

    started = time.perf_counter()
    try:
        with bounded():
            response = post(api, slug, filename, data)
    except Runaway as exc:
        pytest.fail(f"{exc}: the intake ran away on {filename} ({len(data):,} bytes)")
    except Exception as exc:  # the test client re-raises what the view let escape
        pytest.fail(f"exception escaped: {type(exc).__name__}: {str(exc)[:300]}{where(exc)}")
    seconds = time.perf_counter() - started

    assert response.status_code != 500, response.content[:500]
    assert response.status_code in (201, 400), f"{response.status_code}: {response.content[:500]!r}"
    wrong: list[str] = []
    if seconds >= CASE_SECONDS:
        wrong.append(f"took {seconds:.1f} s")
    body = response.json()
    if response.status_code == 400:
        if expect.refused is False:
            wrong.append(f"refused, expected a job: {body.get('errors', [])[:3]}")
        check_refusal(body, expect, before, wrong)
    else:
        if expect.refused is True:
            wrong.append(f"a job was created (counts {body.get('counts')}), expected a refusal")
        check_job(api, body, expect, before, wrong)
    assert not wrong, f"{response.status_code}: " + " | ".join(wrong)


def test_the_corpus_covers_every_kind_with_enough_cases():
    assert len(PAIRS) >= 60
    for slug in KIND_SLUGS:
        assert sum(1 for s, _ in PAIRS if s == slug) >= 20, slug
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))


# --- The command line ---------------------------------------------------------------------------------

CLI_CASES = [
    ("certification-removal", "csv-nul-in-cell"),
    ("certification-removal", "csv-utf8-one-bad-byte"),
    ("certification-removal", "csv-unterminated-quote"),
    ("unenrolment", "xml-plain-billion-laughs"),
    ("unenrolment", "xlsx-numfmt-without-numfmtid"),
    ("certification-award", "xml-2003-row-index-superscript"),
    ("certification-award", "xlsx-date-cell-inf"),
    ("license-import", "xml-2003-row-index-huge"),
    ("license-import", "csv-formula-cells"),
]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("slug", "case_id"), CLI_CASES, ids=[f"{s}:{c}" for s, c in CLI_CASES])
def test_certdesk_job_submit_answers_a_hostile_file_without_a_traceback(admin, slug, case_id, tmp_path):
    filename, data = cases_by_id()[case_id].build(KindSpec.of(slug))
    upload = tmp_path / filename
    upload.write_bytes(data)
    command = [str(CERTDESK), "job", "submit", slug, str(upload), "--title", "Hostile file"]
    command += ["--validate-only", "--as", ADMIN, "--json"]

    done = subprocess.run(
        command, env=cli_env(), capture_output=True, text=True, timeout=HARD_STOP_SECONDS, check=False
    )

    assert "Traceback" not in done.stderr + done.stdout, done.stderr[-2000:]
    assert done.returncode in (0, 1), f"exit {done.returncode}: {done.stderr[-1000:]}"
    answer = json.loads(done.stdout)
    if done.returncode == 1:
        assert answer["errors"], answer
        assert {e["code"] for e in answer["errors"]} <= ALLOWED_CODES, answer["errors"][:3]
        assert all(e["message"] for e in answer["errors"])
    else:
        assert answer["status"] == "verified", answer
