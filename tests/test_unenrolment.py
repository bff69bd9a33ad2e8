"""Batch unenrolment: every row outcome, verify-only, completions kept, restore, set-based apply."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from access.permissions import IMPORT_UNENROLMENTS
from audit.models import Event
from base.problems import FileRejected
from bulk import services, worker
from bulk.models import Job
from learning.models import Activity, Enrollment

from .factories import UNENROLMENT_HEADER, ActivityFactory, UserFactory, enrol, grant, make_csv

UNENROLMENT = "unenrolment"


@pytest.fixture
def cara(db):
    """A content administrator: may import unenrolments."""
    user = UserFactory(username="cara", user_id="ADM-CARA", email="cara@example.test", first_name="Cara")
    return grant(user, IMPORT_UNENROLMENTS)


@pytest.fixture
def fire_safety(db) -> Activity:
    return ActivityFactory(title="Fire Safety Awareness", external_reference="FS-101")


@pytest.fixture
def session(db) -> Activity:
    return ActivityFactory(
        type=Activity.Type.SESSION,
        title="Fire Warden Workshop, 12 March",
        external_reference="FW-0312",
        starts_at=dt.datetime(2026, 3, 12, 9, tzinfo=dt.UTC),
        ends_at=dt.datetime(2026, 3, 12, 12, tzinfo=dt.UTC),
    )


def upload(rows, header=UNENROLMENT_HEADER) -> bytes:
    return make_csv(rows, header)


def submit(actor, data: bytes, **kwargs) -> Job:
    kwargs.setdefault("title", "Cancelled March sessions")
    return services.submit(UNENROLMENT, data, "unenrolments.csv", actor=actor, **kwargs).job


def run(job: Job) -> Job:
    ran = worker.run_next("test-worker")
    assert ran is not None and ran.pk == job.pk
    return ran


def results(job: Job) -> list[dict[str, str]]:
    job.refresh_from_db()
    with job.results_file.open("rb") as stream:
        text = stream.read().decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def status_of(user, activity) -> str:
    return (
        Enrollment.objects.filter(user=user, activity=activity)
        .order_by("-pk")
        .values_list("status", flat=True)[0]
    )


def test_every_row_outcome_is_reported_and_only_valid_rows_run(cara, fire_safety, session):
    enrolled, completed, gone, never, also = UserFactory.create_batch(5)
    enrol(fire_safety, [enrolled, also])
    enrol(session, [completed], completed_on=dt.date(2026, 3, 12))
    enrol(fire_safety, [gone])
    Enrollment.objects.filter(user=gone).update(status=Enrollment.Status.UNENROLLED)

    job = submit(
        cara,
        upload(
            [
                [enrolled.username, "FS-101", "Yes"],  # row 2: Unenrolled
                [completed.username, "FW-0312", "no"],  # row 3: Unenrolled, completion kept
                [never.username, "FS-101", "N"],  # row 4: not enrolled
                [gone.username, "FS-101", "No"],  # row 5: already unenrolled
                ["jdoe7", "FS-101", "Yes"],  # row 6: unknown username
                [also.username, "NOPE-1", "Yes"],  # row 7: unknown reference
                [also.username, "FS-101", "Maybe"],  # row 8: email flag not Yes/No
                [also.username, "FS-101", ""],  # row 9: email flag empty
                [enrolled.username, "FS-101", "TRUE"],  # row 10: repeats row 2
                ["jdoe7", "NOPE-1", "sometimes"],  # row 11: three problems at once
            ]
        ),
        start=True,
    )
    assert job.status == Job.Status.QUEUED  # bad rows do not reject the file
    job = run(job)

    rows = results(job)
    assert [(r["Result"]) for r in rows] == [
        "Unenrolled",
        "Unenrolled",
        "Skipped",
        "Skipped",
        "Error",
        "Error",
        "Error",
        "Error",
        "Skipped",
        "Error",
    ]
    messages = [r["Message"] for r in rows]
    assert messages[0] == "Unenrolled."
    assert "completion is kept" in messages[1]
    assert messages[2] == f"'{never.username}' is not enrolled in 'Fire Safety Awareness'."
    assert messages[3] == f"'{gone.username}' is already unenrolled from 'Fire Safety Awareness'."
    assert messages[4].startswith("Username not recognised") and "'jdoe7'" in messages[4]
    assert messages[5].startswith("Activity external reference not recognised") and "'NOPE-1'" in messages[5]
    assert messages[6] == "Send unenrolment email must be Yes or No, not 'Maybe'."
    assert messages[7] == "Send unenrolment email must be Yes or No; it is empty."
    assert messages[8] == "Same user and activity as row 2; only row 2 is used."
    assert "Username not recognised" in messages[9]
    assert "Activity external reference not recognised" in messages[9]
    assert "'sometimes'" in messages[9]

    assert (job.succeeded, job.skipped, job.failed, job.total) == (2, 3, 5, 10)
    assert status_of(enrolled, fire_safety) == "unenrolled"
    assert status_of(completed, session) == "unenrolled"
    assert status_of(also, fire_safety) == "enrolled"  # its rows were all errors or repeats
    assert not Enrollment.objects.filter(user=never).exists()


def test_unenrolling_a_completed_enrolment_keeps_its_completion(cara, session):
    learner = UserFactory()
    enrol(session, [learner], completed_on=dt.date(2026, 3, 12))

    run(submit(cara, upload([[learner.username, "FW-0312", "No"]]), start=True))

    enrolment = Enrollment.objects.get(user=learner, activity=session)
    assert enrolment.status == Enrollment.Status.UNENROLLED
    assert enrolment.completed_on == dt.date(2026, 3, 12)
    assert enrolment.is_completed
    assert enrolment.unenrolled_by == cara
    assert enrolment.unenrolled_by_job_id is not None
    # Reports count it among the activity's completions still.
    assert Enrollment.objects.filter(activity=session, completed_on__isnull=False).count() == 1


def test_verify_only_changes_nothing_sends_nothing_and_says_what_would_happen(
    cara, fire_safety, django_capture_on_commit_callbacks
):
    learners = UserFactory.create_batch(3)
    enrol(fire_safety, learners[:2])
    before = list(Enrollment.objects.order_by("pk").values())
    events_before = Event.objects.filter(action__startswith="enrollment.").count()

    with django_capture_on_commit_callbacks(execute=True):
        job = submit(
            cara,
            upload([[u.username, "FS-101", "Yes"] for u in learners] + [["ghost", "FS-101", "Yes"]]),
            validate_only=True,
        )

    assert job.status == Job.Status.VERIFIED
    assert list(Enrollment.objects.order_by("pk").values()) == before
    assert Event.objects.filter(action__startswith="enrollment.").count() == events_before
    assert [r["Result"] for r in results(job)] == ["Would unenrol", "Would unenrol", "Skipped", "Error"]
    # The administrator gets the results by email; learners get nothing.
    assert [m.to for m in mail.outbox] == [["cara@example.test"]]
    assert "verification only" in mail.outbox[0].body
    assert "Would unenrol: 2" in mail.outbox[0].body
    assert worker.run_next("test-worker") is None  # nothing was queued


def test_a_verified_file_is_started_for_real_without_uploading_it_again(cara, fire_safety):
    learners = UserFactory.create_batch(2)
    enrol(fire_safety, learners)
    job = submit(cara, upload([[u.username, "FS-101", "Yes"] for u in learners]), validate_only=True)
    mail.outbox.clear()

    services.start_job(job, cara)
    job = run(job)

    assert job.status == Job.Status.PROCESSED
    assert [r["Result"] for r in results(job)] == ["Unenrolled", "Unenrolled"]
    assert all(status_of(u, fire_safety) == "unenrolled" for u in learners)
    recipients = sorted(m.to[0] for m in mail.outbox)
    assert recipients == sorted(["cara@example.test", *(u.email for u in learners)])


def test_a_user_unenrolled_between_verification_and_the_run_is_skipped(cara, fire_safety):
    learner = UserFactory()
    enrol(fire_safety, [learner])
    job = submit(cara, upload([[learner.username, "FS-101", "Yes"]]), validate_only=True)
    Enrollment.objects.update(status=Enrollment.Status.UNENROLLED)

    services.start_job(job, cara)
    job = run(job)

    [row] = results(job)
    assert row["Result"] == "Skipped"
    # Checked again as it was started: the check's own words.
    assert row["Message"] == f"'{learner.username}' is already unenrolled from 'Fire Safety Awareness'."
    assert not [m for m in mail.outbox if m.to == [learner.email]]


@pytest.mark.parametrize("yes", ["Yes", "YES", "y", "True", "true"])
def test_yes_is_accepted_in_its_usual_spellings(cara, fire_safety, yes):
    learner = UserFactory()
    enrol(fire_safety, [learner])
    job = run(submit(cara, upload([[learner.username, "FS-101", yes]]), start=True))
    assert job.succeeded == 1
    assert [m.to for m in mail.outbox if m.to != ["cara@example.test"]] == [[learner.email]]


def test_a_learner_without_an_email_address_is_unenrolled_and_the_row_says_no_email_went(cara, fire_safety):
    learner = UserFactory(email="")
    enrol(fire_safety, [learner])
    job = run(submit(cara, upload([[learner.username, "FS-101", "Yes"]]), start=True))
    [row] = results(job)
    assert row["Result"] == "Unenrolled"
    assert "no email address" in row["Message"]
    assert [m.to for m in mail.outbox] == [["cara@example.test"]]


@pytest.mark.parametrize(
    ("data", "headline"),
    [
        (b"", "The file is empty"),
        (make_csv([], UNENROLMENT_HEADER), "The file is empty"),
        (
            make_csv([["u", "FS-101"]], ("Username", "Activity external reference")),
            "The file has invalid columns",
        ),
        (b"PK\x03\x04" + b"\x00" * 100, "The file is the incorrect file format"),
    ],
)
def test_file_level_errors_reject_the_file_and_change_nothing(cara, fire_safety, data, headline):
    enrol(fire_safety, UserFactory.create_batch(2))
    with pytest.raises(FileRejected) as rejected:
        submit(cara, data, start=True)
    assert headline in rejected.value.headlines[0]
    assert not Job.objects.exists()
    assert not Enrollment.objects.filter(status="unenrolled").exists()


def test_a_file_over_the_limit_is_refused(cara, settings):
    from bulk.registry import get_kind

    limit = get_kind(UNENROLMENT).max_bytes
    data = upload([["u" * 20, "FS-101", "Yes"]] * (limit // 30 + 10))
    with pytest.raises(FileRejected) as rejected:
        submit(cara, data)
    assert rejected.value.headlines == ["The file size must be 10MB or less"]


def test_an_unenrolment_job_can_be_restored_and_completions_come_back_as_completed(
    cara, fire_safety, session
):
    plain, done = UserFactory.create_batch(2)
    enrol(fire_safety, [plain])
    enrol(session, [done], completed_on=dt.date(2026, 3, 12))
    job = run(
        submit(cara, upload([[plain.username, "FS-101", "No"], [done.username, "FW-0312", "No"]]), start=True)
    )

    restore = run(services.restore_job(job, cara))

    assert restore.succeeded == 2
    assert status_of(plain, fire_safety) == "enrolled"
    assert status_of(done, session) == "completed"
    assert [r["Result"] for r in results(restore)] == ["Re-enrolled", "Re-enrolled"]


def test_restore_skips_a_user_who_was_enrolled_again_meanwhile(cara, fire_safety):
    learner = UserFactory()
    enrol(fire_safety, [learner])
    job = run(submit(cara, upload([[learner.username, "FS-101", "No"]]), start=True))
    enrol(fire_safety, [learner])  # enrolled again since

    restore = run(services.restore_job(job, cara))

    assert (restore.succeeded, restore.skipped) == (0, 1)
    assert Enrollment.objects.filter(user=learner, activity=fire_safety).current().count() == 1


def test_every_unenrolment_gets_one_audit_event(cara, fire_safety, session):
    learners = UserFactory.create_batch(4)
    enrol(fire_safety, learners[:2])
    enrol(session, learners[2:], completed_on=dt.date(2026, 3, 12))
    job = run(
        submit(
            cara,
            upload(
                [[u.username, "FS-101", "No"] for u in learners[:2]]
                + [[u.username, "FW-0312", "No"] for u in learners[2:]]
            ),
            start=True,
        )
    )
    events = Event.objects.filter(job=job, action="enrollment.unenrolled")
    assert events.count() == 4
    assert sorted(e.before["status"] for e in events) == ["completed", "completed", "enrolled", "enrolled"]


def _apply_queries(actor, users, activity) -> int:
    enrol(activity, users)
    job = submit(actor, upload([[u.username, activity.external_reference, "Yes"] for u in users]), start=True)
    claimed = worker.claim_job("test-worker", job.pk)
    assert claimed is not None
    with CaptureQueriesContext(connection) as queries:
        worker._run_chunk(claimed, "test-worker", worker.get_kind(UNENROLMENT))
    claimed.refresh_from_db()
    assert claimed.succeeded == len(users)
    return len(queries)


def test_applying_a_chunk_costs_the_same_few_queries_whatever_its_size(cara):
    small = _apply_queries(cara, UserFactory.create_batch(3), ActivityFactory())
    large = _apply_queries(cara, UserFactory.create_batch(300), ActivityFactory())
    assert small == large
    assert small <= 12


def test_validation_costs_the_same_few_queries_whatever_the_file_size(cara):
    from bulk.intake import parse_csv
    from bulk.registry import get_kind

    kind = get_kind(UNENROLMENT)

    def queries_for(count: int) -> int:
        activity = ActivityFactory()
        users = UserFactory.create_batch(count)
        enrol(activity, users)
        table = parse_csv(
            upload([[u.username, activity.external_reference, "No"] for u in users]),
            kind.columns,
            limit=10**7,
        )
        validation = kind.validation(cara)
        with CaptureQueriesContext(connection) as queries:
            staged = validation.check(table.rows)
        assert [row.outcome for row in staged] == ["pending"] * count
        return len(queries)

    assert queries_for(3) == queries_for(200) <= 4


def test_usernames_and_references_typed_in_another_case_match_when_unambiguous(cara, fire_safety):
    learner = UserFactory(username="JDoe")
    twin_a, twin_b = UserFactory(username="Sam.Lee"), UserFactory(username="sam.lee")
    enrol(fire_safety, [learner, twin_a, twin_b])

    job = run(
        submit(
            cara,
            upload([["jdoe", "fs-101", "No"], ["SAM.LEE", "FS-101", "No"], ["sam.lee", "FS-101", "No"]]),
            start=True,
        )
    )

    rows = results(job)
    assert [r["Result"] for r in rows] == ["Unenrolled", "Error", "Unenrolled"]
    assert "'jdoe' was taken as the username 'JDoe'." in rows[0]["Message"]
    assert "'fs-101' was taken as the reference 'FS-101'." in rows[0]["Message"]
    assert rows[1]["Message"] == (
        "Username not recognised: 'SAM.LEE' could be any of 'Sam.Lee', 'sam.lee', which differ only in case; "
        "write it exactly."
    )
    assert status_of(learner, fire_safety) == "unenrolled"
    assert status_of(twin_a, fire_safety) == "enrolled"  # 'SAM.LEE' could be either: not guessed
