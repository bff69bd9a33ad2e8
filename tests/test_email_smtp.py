"""The email a job's creator gets when the job ends, delivered to a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import datetime as dt

from django.test import Client

from access.permissions import MANAGE_CERTIFICATION_REMOVAL
from bulk import services, worker
from bulk.models import Job
from bulk.notify import notify_job_finished, send_unsent_notices

from .factories import UserFactory, grant, make_csv, removal_rows
from .mailserver import BASE_URL, body_of, free_port


def run_removal(actor, users, certification, title: str = "Audit clean-up") -> Job:
    data = make_csv(removal_rows(certification, users))
    submitted = services.submit(
        "certification-removal", data, "removal.csv", actor=actor, title=title, start=True
    ).job
    job = worker.run_next("test")
    assert job is not None and job.pk == submitted.pk
    return job


def test_creator_gets_one_email_with_links_to_the_job_and_its_results(
    smtp_server, alice, certification, holders
):
    job = run_removal(alice, holders[:3], certification)

    assert job.status == Job.Status.PROCESSED
    assert len(smtp_server.messages) == 1
    [delivered] = smtp_server.messages
    assert delivered.recipients == ["alice@example.test"]
    assert delivered.message["To"] == "alice@example.test"
    subject = delivered.message["Subject"]
    assert "Audit clean-up" in subject
    assert "Processed" in subject
    body = body_of(delivered)
    assert f"Job details: {BASE_URL}/jobs/{job.pk}/" in body.splitlines()
    assert f"{BASE_URL}/jobs/{job.pk}/results/" in body
    assert "Removed: 3" in body
    assert "Hello Alice" in body


def test_results_link_in_the_email_downloads_the_results_file(smtp_server, alice, certification, holders):
    job = run_removal(alice, holders[:3], certification)
    body = body_of(smtp_server.messages[0])
    [link] = [word for word in body.split() if word.endswith("/results/")]
    assert link.startswith(BASE_URL)
    client = Client()
    signed_out = client.get(link.removeprefix(BASE_URL))
    assert signed_out.status_code == 302 and signed_out["Location"].startswith("/login/")
    client.force_login(alice)

    response = client.get(link.removeprefix(BASE_URL))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    content = b"".join(response.streaming_content).decode("utf-8-sig")
    assert content.splitlines() == [
        "Certification ID,User ID,Result,Message",
        *[f"CERT-042,{u.user_id},Removed,Removed from certification CERT-042." for u in holders[:3]],
    ]
    assert job.results_sha256


def test_job_whose_creator_has_no_email_address_sends_nothing(smtp_server, certification, holders):
    silent = grant(UserFactory(username="silent", email=""), MANAGE_CERTIFICATION_REMOVAL)

    job = run_removal(silent, holders[:2], certification)

    assert job.status == Job.Status.PROCESSED
    assert smtp_server.messages == []


def test_job_finishing_twice_sends_one_email(smtp_server, alice, certification, holders):
    job = run_removal(alice, holders[:2], certification)

    again = notify_job_finished(Job.objects.get(pk=job.pk))
    once_more = notify_job_finished(Job.objects.get(pk=job.pk))

    assert (again, once_more) == (False, False)
    assert len(smtp_server.messages) == 1


def test_first_notice_of_a_finished_job_sends_exactly_one_email(smtp_server, alice, certification, holders):
    job = run_removal(alice, holders[:2], certification)
    smtp_server.messages.clear()
    Job.objects.filter(pk=job.pk).update(notified_at=None)

    first = notify_job_finished(Job.objects.get(pk=job.pk))
    second = notify_job_finished(Job.objects.get(pk=job.pk))

    assert (first, second) == (True, False)
    assert len(smtp_server.messages) == 1
    assert Job.objects.get(pk=job.pk).notified_at is not None


def test_title_with_a_line_break_still_reaches_the_creator(smtp_server, alice, certification, holders):
    job = run_removal(alice, holders[:2], certification, title="Audit\nclean-up")

    assert job.status == Job.Status.PROCESSED
    assert len(smtp_server.messages) == 1
    subject = smtp_server.messages[0].message["Subject"]
    assert "Audit clean-up" in subject
    assert "\n" not in subject


def test_failed_job_email_says_it_failed_and_why(smtp_server, alice, certification, holders):
    data = make_csv(removal_rows(certification, holders[:2]))
    submitted = services.submit(
        "certification-removal", data, "removal.csv", actor=alice, title="Broken plan", start=True
    ).job
    # A job whose stored plan names no usable certification cannot be applied.
    broken = {k: v for k, v in submitted.params.items() if k != "certification_id"}
    Job.objects.filter(pk=submitted.pk).update(params=broken)

    job = worker.run_next("test")

    assert job.status == Job.Status.FAILED
    [delivered] = smtp_server.messages
    assert "Broken plan" in delivered.message["Subject"]
    assert "Failed" in delivered.message["Subject"]
    body = body_of(delivered)
    assert "stopped before it finished" in body
    assert job.failure_reason in body
    assert f"{BASE_URL}/jobs/{job.pk}/results/" in body


def test_job_still_ends_when_the_mail_server_is_down_and_can_be_notified_later(
    smtp_server, settings, alice, certification, holders
):
    settings.EMAIL_PORT = free_port()  # nothing listens there

    job = run_removal(alice, holders[:2], certification)

    assert job.status == Job.Status.PROCESSED
    assert Job.objects.get(pk=job.pk).notified_at is None
    assert smtp_server.messages == []

    settings.EMAIL_PORT = smtp_server.port
    # Workers look for unsent notices of jobs that ended more than a minute ago.
    assert send_unsent_notices() == 0
    Job.objects.filter(pk=job.pk).update(processed_at=job.processed_at - dt.timedelta(minutes=2))
    assert send_unsent_notices() == 1
    assert len(smtp_server.messages) == 1
    assert send_unsent_notices() == 0
