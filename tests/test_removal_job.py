"""The certification removal job from validation to results: what it changes, what it reports, and
what it costs in queries."""

from __future__ import annotations

import csv
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.models import Event
from base.problems import FileRejected
from bulk import services, worker
from bulk.models import Job, JobRow
from credentials.models import Award

from .factories import CertificationFactory, UserFactory, award_many, make_csv, removal_rows

REMOVAL = "certification-removal"


def submit(actor, data: bytes, **kwargs) -> Job:
    kwargs.setdefault("title", "Audit clean-up")
    return services.submit(REMOVAL, data, "removal.csv", actor=actor, **kwargs).job


def run_to_end(job: Job) -> Job:
    ran = worker.run_next("test-worker")
    assert ran is not None and ran.pk == job.pk
    return ran


def results_table(job: Job) -> list[list[str]]:
    job.refresh_from_db()
    with job.results_file.open("rb") as stream:
        text = stream.read().decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


def test_processed_job_removes_exactly_the_named_awards_and_nothing_else(alice, certification, holders):
    other_certification = CertificationFactory(code="CERT-077")
    award_many(other_certification, holders)
    named, kept = holders[:7], holders[7:]

    job = run_to_end(submit(alice, make_csv(removal_rows(certification, named)), start=True))

    assert job.status == Job.Status.PROCESSED
    removed = Award.objects.filter(certification=certification, status=Award.Status.REMOVED)
    assert {a.user_id for a in removed} == {u.pk for u in named}
    assert Award.objects.filter(certification=certification, user__in=kept, status="active").count() == len(
        kept
    )
    assert Award.objects.filter(certification=other_certification, status="active").count() == len(holders)
    # Removal is a status change with its who, when and which job; never a delete.
    assert Award.objects.count() == 2 * len(holders)
    for award in removed:
        assert award.removed_by_job_id == job.pk
        assert award.removed_by_id == alice.pk
        assert award.removed_at is not None


def test_every_removed_award_gets_one_audit_event(alice, certification, holders):
    job = run_to_end(submit(alice, make_csv(removal_rows(certification, holders[:4])), start=True))

    events = Event.objects.filter(job=job, action="award.removed")
    removed_ids = set(Award.objects.filter(removed_by_job=job).values_list("pk", flat=True))
    assert sorted(int(e.object_id) for e in events) == sorted(removed_ids)
    assert all(e.actor_id == alice.pk and e.after == {"status": "removed"} for e in events)


def test_a_repeated_user_id_is_removed_once_and_the_repeat_is_skipped(alice, certification, holders):
    first, second = holders[0], holders[1]
    rows = [
        [certification.code, first.user_id],
        [certification.code, second.user_id],
        [certification.code, first.user_id],
    ]

    job = run_to_end(submit(alice, make_csv(rows), start=True))

    assert (job.total, job.succeeded, job.skipped, job.failed) == (3, 2, 1, 0)
    table = results_table(job)
    assert table[3][2:] == ["Skipped", f"User ID '{first.user_id}' repeats row 2; the user is removed once."]
    assert Event.objects.filter(job=job, action="award.removed").count() == 2


def test_a_user_who_lost_the_certification_after_validation_is_skipped_not_failed(
    alice, certification, holders
):
    job = submit(alice, make_csv(removal_rows(certification, holders[:3])))
    assert job.status == Job.Status.DRAFT
    # Someone else removes one of them between validation and processing.
    Award.objects.filter(user=holders[1], certification=certification).update(status=Award.Status.REMOVED)

    services.start_job(job, alice)
    job = run_to_end(job)

    assert job.status == Job.Status.PROCESSED
    assert (job.succeeded, job.skipped, job.failed) == (2, 1, 0)
    row = JobRow.objects.get(job=job, key=holders[1].user_id)
    assert row.outcome == JobRow.Outcome.SKIPPED
    assert row.message == "The user no longer holds certification CERT-042; nothing to remove."


def test_results_file_lists_the_uploaded_rows_in_order_with_result_and_message(alice, certification, holders):
    header = ("Certification ID", "User ID", "Note")
    rows = [
        [certification.code, holders[2].user_id, '=HYPERLINK("http://evil.test")'],
        [certification.code, holders[0].user_id, "+1 555"],
        [certification.code, holders[2].user_id, "plain"],
    ]
    job = run_to_end(submit(alice, make_csv(rows, header=header), start=True))

    table = results_table(job)
    assert table[0] == ["Certification ID", "User ID", "Note", "Result", "Message"]
    assert [r[1] for r in table[1:]] == [holders[2].user_id, holders[0].user_id, holders[2].user_id]
    assert [r[3] for r in table[1:]] == ["Removed", "Removed", "Skipped"]
    assert table[1][4] == "Removed from certification CERT-042."
    # Formulas are neutralised so a spreadsheet shows them as text.
    assert table[1][2] == '\'=HYPERLINK("http://evil.test")'
    assert table[2][2] == "'+1 555"
    assert job.warnings == ["Column 'Note' is not used by this job and was ignored."]


def test_validate_only_changes_nothing_and_says_what_would_happen(alice, certification, holders):
    job = submit(alice, make_csv(removal_rows(certification, holders[:3])), validate_only=True)

    assert job.status == Job.Status.VERIFIED
    assert Award.objects.filter(status=Award.Status.REMOVED).count() == 0
    assert [r[2] for r in results_table(job)[1:]] == ["Would remove"] * 3
    assert worker.run_next("test-worker") is None  # nothing is queued

    services.start_job(job, alice)
    job = run_to_end(job)
    assert job.status == Job.Status.PROCESSED
    assert [r[2] for r in results_table(job)[1:]] == ["Removed"] * 3


def test_a_processed_job_cannot_be_started_again(alice, certification, holders):
    job = run_to_end(submit(alice, make_csv(removal_rows(certification, holders[:2])), start=True))

    with pytest.raises(services.JobInputError, match="is Processed and cannot be started"):
        services.start_job(job, alice)


def test_the_original_upload_is_kept_byte_for_byte(alice, certification, holders):
    data = make_csv(removal_rows(certification, holders[:2]), delimiter=";", line_ending="\r\n")
    job = submit(alice, data)
    with job.original_file.open("rb") as stream:
        assert stream.read() == data
    assert job.original_filename == "removal.csv"


def _queries_for_one_chunk(actor, certification, users) -> int:
    job = submit(actor, make_csv(removal_rows(certification, users)), start=True)
    claimed = worker.claim_job("counting-worker", job_id=job.pk)
    assert claimed is not None
    with CaptureQueriesContext(connection) as queries:
        worker._run_chunk(claimed, "counting-worker", worker.get_kind(claimed.kind))
    claimed.refresh_from_db()
    assert claimed.rows_done == len(users)
    return len(queries)


def test_applying_a_chunk_costs_the_same_few_queries_whatever_its_size(settings, alice):
    settings.CERTDESK_CHUNK_SIZE = 1000
    small_cert, large_cert = CertificationFactory(), CertificationFactory()
    small, large = UserFactory.create_batch(3), UserFactory.create_batch(300)
    award_many(small_cert, small)
    award_many(large_cert, large)

    small_cost = _queries_for_one_chunk(alice, small_cert, small)
    large_cost = _queries_for_one_chunk(alice, large_cert, large)

    assert small_cost == large_cost
    assert large_cost <= 12, f"a chunk took {large_cost} queries"
    assert Award.objects.filter(certification=large_cert, status="removed").count() == 300


def test_one_certification_written_in_two_cases_is_one_certification(alice, certification, holders):
    rows = [["cert-042", holders[0].user_id], ["CERT-042", holders[1].user_id]]

    job = run_to_end(submit(alice, make_csv(rows), start=True))

    assert (job.succeeded, job.failed) == (2, 0)
    assert job.params["certification_code"] == "CERT-042"


def test_two_certifications_in_one_file_list_every_row_naming_the_second(alice, certification, holders):
    other = CertificationFactory(code="CERT-077")
    rows = [
        [certification.code, holders[0].user_id],
        [other.code, holders[1].user_id],
        [other.code, holders[2].user_id],
    ]

    with pytest.raises(FileRejected) as rejected:
        submit(alice, make_csv(rows))

    assert [(p.row, p.column, p.value) for p in rejected.value.problems] == [
        (3, "Certification ID", "CERT-077"),
        (4, "Certification ID", "CERT-077"),
    ]
    assert rejected.value.headlines == ["The Certification ID included in the file is invalid"]
    assert not Job.objects.exists()


def test_a_user_deleted_after_validation_is_skipped_on_every_database(alice, certification, holders):
    job = submit(alice, make_csv(removal_rows(certification, holders[:3])))
    holders[2].delete()

    services.start_job(job, alice)
    job = run_to_end(job)

    assert job.status == Job.Status.PROCESSED
    assert (job.succeeded, job.skipped) == (2, 1)


def test_two_certifications_whose_codes_differ_only_in_case_stay_two(alice, holders):
    upper = CertificationFactory(code="CERT-001")
    CertificationFactory(code="cert-001")
    award_many(upper, holders[:2])
    rows = [["CERT-001", holders[0].user_id], ["cert-001", holders[1].user_id]]

    with pytest.raises(FileRejected) as rejected:
        submit(alice, make_csv(rows))

    assert [(p.row, p.value) for p in rejected.value.problems] == [(3, "cert-001")]


def test_starting_a_verified_job_withdraws_its_preview_until_the_real_results_exist(
    alice, certification, holders
):
    job = submit(alice, make_csv(removal_rows(certification, holders[:2])), validate_only=True)
    assert job.results_file

    job = services.start_job(job, alice)

    assert job.status == Job.Status.QUEUED and not job.results_file
    job = run_to_end(job)
    assert [r[2] for r in results_table(job)[1:]] == ["Removed", "Removed"]
