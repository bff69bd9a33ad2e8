"""Files in object storage: with CERTDESK_STORAGE=s3, jobs' originals and results files are objects in
a bucket, against a real S3 endpoint (moto's standalone server on loopback, tests/s3server.py).

Downloads stay behind certdesk's permission checks: streamed through certdesk by default, or, with
presigned downloads on, a redirect to a signed URL that lasts a few minutes; an administrator who
may not see the job gets 404 either way, never the file's address.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import subprocess
import sys
import urllib.request
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth.models import Permission
from django.core.files.storage import FileSystemStorage, default_storage
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from access.models import Grant, Role
from base.downloads import attachment
from bulk import services, worker
from bulk.files import delete_job_files
from bulk.models import Job
from bulk.results import render_results
from people.models import User

from .factories import OrgUnitFactory, UserFactory, make_csv, removal_rows
from .processes import CERTDESK, cli_env
from .s3server import PREFIX, Bucket

ORIGINAL_NAME = "leavers-été.csv"  # not plain ASCII: the download must still carry this name
WAIT_SECONDS = 60


def submit(actor: User, certification, users, **options) -> Job:
    return services.submit(
        "certification-removal",
        make_csv(removal_rows(certification, users)),
        ORIGINAL_NAME,
        actor=actor,
        title="Leavers",
        **options,
    ).job


def processed_job(actor: User, certification, users) -> Job:
    job = submit(actor, certification, users, start=True)
    assert worker.run_next("test-worker") is not None
    job.refresh_from_db()
    assert job.status == Job.Status.PROCESSED
    return job


def web_client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def api_client(user: User) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


def downloads(job: Job) -> dict[str, str]:
    """The four download addresses of a job: its page's and the API's, for each file."""
    return {
        "web results": f"/jobs/{job.pk}/results/",
        "web original": f"/jobs/{job.pk}/original/",
        "api results": f"/api/v1/jobs/{job.pk}/results/",
        "api original": f"/api/v1/jobs/{job.pk}/original/",
    }


def get(user: User, where: str, url: str):
    client = api_client(user) if where.startswith("api") else web_client(user)
    return client.get(url)


def content_of(response) -> bytes:
    assert response.status_code == 200, response
    return b"".join(response.streaming_content)


def local_files(media_root: Path) -> list[Path]:
    return [p for p in Path(media_root).rglob("*") if p.is_file()] if Path(media_root).exists() else []


@pytest.fixture
def outsider(db) -> User:
    """bob: may manage certification removal jobs, but only those of administrators in Division B."""
    division_b = OrgUnitFactory(code="DIV-B", name="Division B", kind="Division")
    role = Role.objects.create(name="Division B administrator")
    grant = Grant.objects.create(
        role=role,
        permission=Permission.objects.get(
            content_type__app_label="bulk", codename="manage_certification_removal"
        ),
        scope=Grant.Scope.OWN_UNITS,
    )
    assert grant.pk
    bob = UserFactory(username="bob", user_id="ADM-BOB")
    bob.org_units.add(division_b)
    role.members.add(bob)
    return User.objects.get(pk=bob.pk)


def test_an_uploaded_original_is_an_object_in_the_bucket(
    s3_bucket: Bucket, alice, certification, holders, isolated_media
):
    job = submit(alice, certification, holders[:3])

    key = f"{PREFIX}/jobs/{job.pk}/original-leavers-été.csv"
    assert s3_bucket.objects() == [key]
    assert s3_bucket.read(key) == make_csv(removal_rows(certification, holders[:3]))
    assert job.original_file.name == f"jobs/{job.pk}/original-leavers-été.csv"
    assert local_files(isolated_media) == []  # nothing went to the local disk


def test_a_processed_jobs_results_file_is_in_the_bucket_and_downloads_through_the_page_and_the_api(
    s3_bucket: Bucket, alice, certification, holders, isolated_media
):
    job = processed_job(alice, certification, holders[:3])

    results_key = f"{PREFIX}/jobs/{job.pk}/results-{job.pk}.csv"
    assert results_key in s3_bucket.objects()
    stored = s3_bucket.read(results_key)
    assert stored == render_results(job)
    assert stored.decode("utf-8-sig").splitlines()[1:] == [
        f"{certification.code},{user.user_id},Removed,Removed from certification CERT-042."
        for user in holders[:3]
    ]
    original = make_csv(removal_rows(certification, holders[:3]))
    for where, url in downloads(job).items():
        response = get(alice, where, url)
        expected = stored if "results" in where else original
        assert content_of(response) == expected, where
        assert int(response["Content-Length"]) == len(expected), where
        filename = f"job-{job.pk}-results.csv" if "results" in where else ORIGINAL_NAME
        assert response["Content-Disposition"] == attachment(filename), where
    assert local_files(isolated_media) == []


@pytest.mark.parametrize("presigned", [False, True], ids=["streamed", "presigned"])
def test_an_administrator_outside_the_jobs_scope_gets_404_on_both_downloads_and_no_redirect(
    s3_bucket: Bucket, settings, alice, outsider, certification, holders, presigned
):
    settings.CERTDESK_S3_PRESIGNED_DOWNLOADS = presigned
    job = processed_job(alice, certification, holders[:3])

    for where, url in downloads(job).items():
        response = get(outsider, where, url)
        assert response.status_code == 404, where
        assert "Location" not in response, where
        assert s3_bucket.name.encode() not in response.content, where
    # The same addresses serve the job's creator: the files are there, only bob may not have them.
    assert get(alice, "web results", downloads(job)["web results"]).status_code == (302 if presigned else 200)


def test_with_presigned_downloads_a_permitted_download_is_a_redirect_to_a_signed_url_that_works(
    s3_bucket: Bucket, settings, alice, certification, holders
):
    settings.CERTDESK_S3_PRESIGNED_DOWNLOADS = True
    job = processed_job(alice, certification, holders[:3])
    expected = {
        "results": (
            s3_bucket.read(f"{PREFIX}/jobs/{job.pk}/results-{job.pk}.csv"),
            f"job-{job.pk}-results.csv",
        ),
        "original": (make_csv(removal_rows(certification, holders[:3])), ORIGINAL_NAME),
    }

    for where, url in downloads(job).items():
        response = get(alice, where, url)
        assert response.status_code == 302, where
        assert response["Cache-Control"] == "no-store", where
        location = response["Location"]
        assert location.startswith(
            f"{s3_bucket.server.endpoint_url}/{s3_bucket.name}/{PREFIX}/jobs/{job.pk}/"
        )
        query = parse_qs(urlsplit(location).query)
        assert query["X-Amz-Expires"] == ["300"], where  # CERTDESK_S3_PRESIGNED_SECONDS' default
        assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"] and query["X-Amz-Signature"], where
        content, filename = expected[where.split()[1]]
        with urllib.request.urlopen(location, timeout=10) as fetched:  # noqa: S310  (our own moto server)
            assert fetched.read() == content, where
            assert fetched.headers["Content-Disposition"] == attachment(filename), where


def test_presigned_urls_last_as_long_as_configured(
    s3_bucket: Bucket, settings, alice, certification, holders
):
    settings.CERTDESK_S3_PRESIGNED_DOWNLOADS = True
    settings.CERTDESK_S3_PRESIGNED_SECONDS = 60
    job = submit(alice, certification, holders[:2], validate_only=True)

    location = get(alice, "api results", downloads(job)["api results"])["Location"]

    assert parse_qs(urlsplit(location).query)["X-Amz-Expires"] == ["60"]


def test_a_file_missing_from_the_bucket_is_404_not_a_server_error(
    s3_bucket: Bucket, settings, alice, certification, holders
):
    job = submit(alice, certification, holders[:2], validate_only=True)
    s3_bucket.server.client().delete_object(Bucket=s3_bucket.name, Key=f"{PREFIX}/{job.results_file.name}")

    for presigned in (False, True):
        settings.CERTDESK_S3_PRESIGNED_DOWNLOADS = presigned
        assert web_client(alice).get(downloads(job)["web results"]).status_code == 404
        response = api_client(alice).get(downloads(job)["api results"])
        assert response.status_code == 404 and "Location" not in response
        assert response.json() == {"detail": "This file is no longer kept."}


def test_delete_job_files_removes_the_original_and_the_results_file_from_the_bucket(
    s3_bucket: Bucket, alice, certification, holders
):
    job = submit(alice, certification, holders[:3], validate_only=True)
    kept = submit(alice, certification, holders[:2], validate_only=True)
    names = [f"jobs/{job.pk}/original-leavers-été.csv", f"jobs/{job.pk}/results-{job.pk}.csv"]
    assert {f"{PREFIX}/{name}" for name in names} <= set(s3_bucket.objects())

    assert delete_job_files(job) == sorted(names)

    assert all(f"/jobs/{job.pk}/" not in key for key in s3_bucket.objects())
    assert len([key for key in s3_bucket.objects() if f"/jobs/{kept.pk}/" in key]) == 2  # another job's stay
    # Already gone: no error, and nothing else is touched.
    assert delete_job_files(job) == sorted(names)
    assert len(s3_bucket.objects()) == 2


@pytest.mark.django_db(transaction=True)
def test_the_janitor_deletes_an_old_verified_job_with_its_files_in_the_bucket(
    s3_bucket: Bucket, settings, alice, certification, holders
):
    old = submit(alice, certification, holders[:3], validate_only=True)
    recent = submit(alice, certification, holders[:2], validate_only=True)
    Job.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - dt.timedelta(days=settings.CERTDESK_DRAFT_RETENTION_DAYS + 1)
    )

    out = io.StringIO()
    call_command("janitor", stdout=out)

    assert "1 old draft or verified job(s) were deleted." in out.getvalue()
    assert not Job.objects.filter(pk=old.pk).exists()
    assert all(f"/jobs/{old.pk}/" not in key for key in s3_bucket.objects())
    assert len([key for key in s3_bucket.objects() if f"/jobs/{recent.pk}/" in key]) == 2


def test_delete_job_files_on_local_disk_tolerates_files_already_gone(alice, certification, holders):
    job = submit(alice, certification, holders[:3], validate_only=True)
    assert default_storage.exists(job.original_file.name) and default_storage.exists(job.results_file.name)

    default_storage.delete(job.results_file.name)
    delete_job_files(job)

    assert not default_storage.exists(job.original_file.name)
    delete_job_files(job)  # the folder itself may be gone too


@pytest.mark.django_db(transaction=True)
def test_a_worker_process_with_the_storage_variables_writes_its_results_file_to_the_bucket(
    s3_bucket: Bucket, alice, certification, holders, isolated_media, tmp_path
):
    """A `certdesk worker` on another machine shares nothing with the web node but the database and
    the bucket: here, a separate process whose only way to the files is the environment."""
    job = submit(alice, certification, holders[:3], start=True)

    run = subprocess.run(
        [str(CERTDESK), "worker", "--once"],
        env=cli_env(**s3_bucket.env()),
        capture_output=True,
        timeout=WAIT_SECONDS,
    )
    assert run.returncode == 0, run.stderr.decode()

    job.refresh_from_db()
    assert job.status == Job.Status.PROCESSED and job.succeeded == 3
    stored = s3_bucket.read(f"{PREFIX}/jobs/{job.pk}/results-{job.pk}.csv")
    assert stored == render_results(job)
    assert content_of(web_client(alice).get(downloads(job)["web results"])) == stored
    assert local_files(isolated_media) == []
    # The CLI reads it from the bucket too.
    output = tmp_path / "results.csv"
    cli = subprocess.run(
        [str(CERTDESK), "job", "results", str(job.pk), "--as", "alice", "-o", str(output)],
        env=cli_env(**s3_bucket.env()),
        capture_output=True,
        timeout=WAIT_SECONDS,
    )
    assert cli.returncode == 0, cli.stderr.decode()
    assert output.read_bytes() == stored


SHOW_STORAGE = (
    "import json; from django.conf import settings; "
    "options = settings.STORAGES['default'].get('OPTIONS', {}); "
    "print(json.dumps({'backend': settings.STORAGES['default']['BACKEND'], "
    "**{k: options.get(k) for k in ('bucket_name', 'endpoint_url', 'region_name', 'location', "
    "'querystring_auth', 'file_overwrite', 'default_acl', 'signature_version')}}))"
)


def settings_in_a_process(**env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {SHOW_STORAGE}"],
        env=cli_env(DJANGO_SETTINGS_MODULE="certdesk.settings", **env),
        capture_output=True,
        text=True,
        timeout=WAIT_SECONDS,
    )


def test_the_storage_variables_configure_a_private_s3_storage(db):
    run = settings_in_a_process(
        CERTDESK_STORAGE="s3",
        AWS_STORAGE_BUCKET_NAME="certdesk-files",
        AWS_S3_ENDPOINT_URL="http://127.0.0.1:9000",
        AWS_S3_REGION_NAME="eu-west-2",
        CERTDESK_S3_PREFIX="/tenant-a/",
    )
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == {
        "backend": "storages.backends.s3.S3Storage",
        "bucket_name": "certdesk-files",
        "endpoint_url": "http://127.0.0.1:9000",
        "region_name": "eu-west-2",
        "location": "tenant-a",
        "querystring_auth": True,
        "file_overwrite": False,
        "default_acl": None,
        "signature_version": "s3v4",
    }
    local = settings_in_a_process()
    assert json.loads(local.stdout)["backend"] == "django.core.files.storage.FileSystemStorage"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CERTDESK_STORAGE": "s3"}, "CERTDESK_STORAGE=s3 needs AWS_STORAGE_BUCKET_NAME"),
        ({"CERTDESK_STORAGE": "ftp"}, "CERTDESK_STORAGE must be one of 'local', 's3', not 'ftp'"),
        (
            {"CERTDESK_S3_PRESIGNED_DOWNLOADS": "1"},
            "CERTDESK_S3_PRESIGNED_DOWNLOADS needs CERTDESK_STORAGE=s3",
        ),
        (
            {"CERTDESK_STORAGE": "s3", "AWS_STORAGE_BUCKET_NAME": "b", "CERTDESK_S3_PRESIGNED_SECONDS": "0"},
            "CERTDESK_S3_PRESIGNED_SECONDS must be between 1 and 604800",
        ),
    ],
    ids=["no bucket", "unknown storage", "presigned on local disk", "presigned for no time"],
)
def test_a_wrong_storage_setting_stops_certdesk_with_a_message_that_names_it(db, env, message):
    run = settings_in_a_process(**env)
    assert run.returncode != 0
    assert "ImproperlyConfigured" in run.stderr and message in run.stderr


def test_after_these_tests_the_default_storage_is_the_local_disk_again(db):
    """The overrides above were undone and Django's storage cache emptied: the tests after this
    module write to their own folders again."""
    assert isinstance(default_storage, FileSystemStorage)
