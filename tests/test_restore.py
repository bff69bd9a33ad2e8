"""Restoring a processed removal: a new job that puts back exactly the awards it removed."""

from __future__ import annotations

import csv
import io

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from audit.models import Event
from bulk import services, worker
from bulk.models import Job
from credentials.models import Award

from .factories import AwardFactory, make_csv, removal_rows


def removal(actor, certification, users) -> Job:
    services.submit(
        "certification-removal",
        make_csv(removal_rows(certification, users)),
        "removal.csv",
        actor=actor,
        title="Audit clean-up",
        start=True,
    )
    return worker.run_next("test-worker")


def active_user_ids(certification) -> set[int]:
    return set(Award.objects.active().filter(certification=certification).values_list("user_id", flat=True))


def test_restore_puts_back_exactly_the_awards_the_job_removed(alice, certification, holders):
    Award.objects.filter(user=holders[9], certification=certification).update(
        status="removed"
    )  # removed earlier
    before = active_user_ids(certification)
    job = removal(alice, certification, holders[:5])
    assert active_user_ids(certification) == before - {u.pk for u in holders[:5]}

    restore = services.restore_job(job, alice)
    assert restore.status == Job.Status.QUEUED
    assert restore.params["restore_of"] == job.pk and restore.title == "Restore: Audit clean-up"
    restore = worker.run_next("test-worker")

    assert restore.status == Job.Status.PROCESSED
    assert (restore.total, restore.succeeded, restore.skipped) == (5, 5, 0)
    assert active_user_ids(certification) == before  # holders[9] stays removed: this job did not remove it
    assert Event.objects.filter(job=restore, action="award.restored").count() == 5
    with restore.results_file.open("rb") as stream:
        rows = list(csv.reader(io.StringIO(stream.read().decode("utf-8-sig"))))
    assert rows[0] == ["Certification ID", "User ID", "Result", "Message"]
    assert rows[1][2:] == ["Restored", "Restored to certification CERT-042."]


def test_a_user_awarded_again_since_is_skipped_not_doubled(alice, certification, holders):
    job = removal(alice, certification, holders[:3])
    AwardFactory(user=holders[1], certification=certification)  # awarded again meanwhile

    services.restore_job(job, alice)
    restore = worker.run_next("test-worker")

    assert (restore.succeeded, restore.skipped) == (2, 1)
    assert Award.objects.active().filter(user=holders[1], certification=certification).count() == 1
    assert restore.rows.get(key=holders[1].user_id).message.startswith(
        "Not restored: the user holds certification"
    )


def test_a_job_is_restored_once_and_only_when_it_has_ended(alice, certification, holders):
    draft = services.submit(
        "certification-removal",
        make_csv(removal_rows(certification, holders[:2])),
        "r.csv",
        actor=alice,
        title="D",
    ).job
    with pytest.raises(services.JobInputError, match="only a processed or failed job can be restored"):
        services.restore_job(draft, alice)

    job = removal(alice, certification, holders[2:4])
    first = services.restore_job(job, alice)
    with pytest.raises(services.JobInputError, match=f"already been restored by job {first.pk}"):
        services.restore_job(job, alice)
    with pytest.raises(services.JobInputError, match="is itself a restore"):
        services.restore_job(first, alice)


def test_restore_over_the_api_needs_the_permission_and_answers_with_the_new_job(
    alice, mallory, certification, holders
):
    job = removal(alice, certification, holders[:2])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=mallory).key}")
    assert client.post(f"/api/v1/jobs/{job.pk}/restore/").status_code == 403

    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=alice).key}")
    response = client.post(f"/api/v1/jobs/{job.pk}/restore/")
    assert response.status_code == 201
    assert response.json()["restore_of"] == job.pk and response.json()["status"] == "queued"

    again = client.post(f"/api/v1/jobs/{job.pk}/restore/")
    assert again.status_code == 409
    assert "already been restored" in again.json()["detail"]


def test_a_failed_job_can_be_restored_for_the_rows_it_did_change(settings, alice, certification, holders):
    settings.CERTDESK_CHUNK_SIZE = 2
    services.submit(
        "certification-removal",
        make_csv(removal_rows(certification, holders[:4])),
        "removal.csv",
        actor=alice,
        title="Interrupted",
        start=True,
    )
    job = worker.claim_job("w")
    worker._run_chunk(job, "w", worker.get_kind(job.kind))  # first two rows applied
    job.refresh_from_db()
    failed = worker._finish(job, "w", Job.Status.FAILED, reason="stopped by hand")
    assert failed.status == Job.Status.FAILED and failed.succeeded == 2

    services.restore_job(failed, alice)
    restore = worker.run_next("w")

    assert (restore.total, restore.succeeded) == (2, 2)
    assert Award.objects.filter(certification=certification, status="removed").count() == 0
