"""Emails of an unenrolment import, delivered to a real SMTP server (aiosmtpd): the administrator's
results email with a working link, and one email per learner whose row says Yes — none for the others."""

from __future__ import annotations

import csv
import io

import pytest
from django.test import Client

from access.permissions import IMPORT_UNENROLMENTS
from bulk import services, worker
from bulk.models import Job
from learning.models import Enrollment
from learning.notices import send_unenrolment_emails

from .factories import UNENROLMENT_HEADER, ActivityFactory, UserFactory, enrol, grant, make_csv
from .mailserver import BASE_URL, body_of, free_port


@pytest.fixture
def cara(db):
    user = UserFactory(username="cara", user_id="ADM-CARA", email="cara@example.test", first_name="Cara")
    return grant(user, IMPORT_UNENROLMENTS)


def import_file(actor, rows, **kwargs) -> Job:
    job = services.submit(
        "unenrolment", make_csv(rows, UNENROLMENT_HEADER), "unenrol.csv", actor=actor, title="March", **kwargs
    ).job
    if job.status == Job.Status.QUEUED:
        job = worker.run_next("test-worker")
    return job


def test_admin_gets_the_results_link_and_only_learners_marked_yes_get_an_email(smtp_server, cara):
    course = ActivityFactory(title="Fire Safety Awareness", external_reference="FS-101")
    yes_1, yes_2, no, not_enrolled = UserFactory.create_batch(4)
    enrol(course, [yes_1, yes_2, no])

    job = import_file(
        cara,
        [
            [yes_1.username, "FS-101", "Yes"],
            [yes_2.username, "FS-101", "y"],
            [no.username, "FS-101", "No"],
            [not_enrolled.username, "FS-101", "Yes"],  # skipped: no email
            ["ghost", "FS-101", "Yes"],  # error: no email
            [yes_1.username, "FS-101", "Yes"],  # repeat: no second email
        ],
        start=True,
    )

    assert job.status == Job.Status.PROCESSED
    by_recipient = {tuple(d.recipients): d for d in smtp_server.messages}
    assert sorted(by_recipient) == sorted([("cara@example.test",), (yes_1.email,), (yes_2.email,)])

    to_admin = body_of(by_recipient[("cara@example.test",)])
    results_link = f"{BASE_URL}/jobs/{job.pk}/results/"
    assert results_link in to_admin
    assert "Unenrolled: 3" in to_admin
    # The link works for the administrator once signed in: it is the uploaded CSV plus Result and Message.
    client = Client()
    client.force_login(cara)
    response = client.get(results_link.removeprefix(BASE_URL))
    assert response.status_code == 200
    table = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert table[0] == [*UNENROLMENT_HEADER, "Result", "Message"]
    assert [row[3] for row in table[1:]] == [
        "Unenrolled",
        "Unenrolled",
        "Unenrolled",
        "Skipped",
        "Error",
        "Skipped",
    ]

    to_learner = by_recipient[(yes_1.email,)].message
    assert to_learner["Subject"] == "You have been unenrolled from Fire Safety Awareness"
    assert f"Dear {yes_1.first_name}," in to_learner.get_content()

    # Sent once: sweeping again sends nothing more.
    assert send_unenrolment_emails() == 0
    assert len(smtp_server.messages) == 3


def test_verify_only_sends_learners_nothing(smtp_server, cara, django_capture_on_commit_callbacks):
    course = ActivityFactory(external_reference="FS-101")
    learners = UserFactory.create_batch(3)
    enrol(course, learners)

    with django_capture_on_commit_callbacks(execute=True):
        job = import_file(cara, [[u.username, "FS-101", "Yes"] for u in learners], validate_only=True)

    assert job.status == Job.Status.VERIFIED
    assert [d.recipients for d in smtp_server.messages] == [["cara@example.test"]]
    assert "verification only" in body_of(smtp_server.messages[0])
    assert not Enrollment.objects.exclude(unenrolment_email="").exists()


def test_learner_emails_a_mail_outage_held_back_are_sent_later_once(smtp_server, settings, cara):
    course = ActivityFactory(external_reference="FS-101")
    learners = UserFactory.create_batch(2)
    enrol(course, learners)
    live_port = settings.EMAIL_PORT
    settings.EMAIL_PORT = free_port()  # nothing listens there: the mail server is down

    job = import_file(cara, [[u.username, "FS-101", "Yes"] for u in learners], start=True)

    assert job.status == Job.Status.PROCESSED  # the unenrolments stand whatever the mail server says
    assert Enrollment.objects.filter(unenrolment_email="pending").count() == 2
    assert smtp_server.messages == []

    settings.EMAIL_PORT = live_port
    assert send_unenrolment_emails() == 2
    assert send_unenrolment_emails() == 0
    assert sorted(d.recipients[0] for d in smtp_server.messages) == sorted(u.email for u in learners)


def test_restoring_before_the_emails_went_cancels_them(settings, cara):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    course = ActivityFactory(external_reference="FS-101")
    learner = UserFactory()
    enrol(course, [learner])
    job = services.submit(
        "unenrolment",
        make_csv([[learner.username, "FS-101", "Yes"]], UNENROLMENT_HEADER),
        "u.csv",
        actor=cara,
        title="Oops",
        start=True,
    ).job
    claimed = worker.claim_job("w1", job.pk)
    assert claimed is not None
    worker._run_chunk(claimed, "w1", worker.get_kind("unenrolment"))  # applied, emails not yet sent
    Job.objects.filter(pk=job.pk).update(status=Job.Status.PROCESSED, lease_owner="")
    job.refresh_from_db()

    services.restore_job(job, cara)
    worker.run_next("test-worker")

    assert Enrollment.objects.get(user=learner).status == Enrollment.Status.ENROLLED
    assert send_unenrolment_emails() == 0


def test_a_refused_address_is_marked_not_sent_and_the_other_learners_still_get_theirs(smtp_server, cara):
    course = ActivityFactory(external_reference="FS-101")
    refused, *others = UserFactory.create_batch(3)
    enrol(course, [refused, *others])
    smtp_server.refuse.add(refused.email)

    import_file(cara, [[u.username, "FS-101", "Yes"] for u in (refused, *others)], start=True)

    learner_mail = sorted(
        d.recipients[0] for d in smtp_server.messages if d.recipients != ["cara@example.test"]
    )
    assert learner_mail == sorted(u.email for u in others)
    failed = Enrollment.objects.get(user=refused)
    assert failed.unenrolment_email == Enrollment.Email.FAILED
    assert "refused" in failed.unenrolment_email_error
    assert send_unenrolment_emails() == 0  # not retried for ever, and nobody gets a second email
    assert len(smtp_server.messages) == 3


def test_verify_and_start_in_one_request_sends_the_admin_the_real_results(
    smtp_server, cara, django_capture_on_commit_callbacks
):
    course = ActivityFactory(external_reference="FS-101")
    enrol(course, [learner := UserFactory()])

    with django_capture_on_commit_callbacks(execute=True):
        services.submit(
            "unenrolment",
            make_csv([[learner.username, "FS-101", "No"]], UNENROLMENT_HEADER),
            "u.csv",
            actor=cara,
            title="Both flags",
            validate_only=True,
            start=True,
        )
    worker.run_next("test-worker")

    [to_admin] = smtp_server.messages
    assert "Processed" in to_admin.message["Subject"]
    assert "Unenrolled: 1" in body_of(to_admin)


def test_an_email_whose_sending_was_interrupted_is_not_sent_twice(settings, cara):
    import datetime as dt

    from django.utils import timezone

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    course = ActivityFactory(external_reference="FS-101")
    enrol(course, [learner := UserFactory()])
    Enrollment.objects.update(
        status=Enrollment.Status.UNENROLLED,
        unenrolment_email=Enrollment.Email.SENDING,
        unenrolment_email_sent_at=timezone.now() - dt.timedelta(hours=1),
    )

    assert send_unenrolment_emails() == 0
    stuck = Enrollment.objects.get(user=learner)
    assert stuck.unenrolment_email == Enrollment.Email.FAILED
    assert "interrupted" in stuck.unenrolment_email_error
