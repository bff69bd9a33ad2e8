"""Telling people about jobs: the email a job's creator gets when it ends."""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.core.mail import send_mail
from django.urls import reverse
from django.utils import timezone

from webhooks.services import emit

from .models import Job
from .registry import all_kinds, get_kind

log = logging.getLogger(__name__)


def job_url(job: Job) -> str:
    """The job's page (sign-in first, then the page; the API has its own address)."""
    return f"{settings.CERTDESK_BASE_URL}{reverse('web:job', args=[job.pk])}"


def tell_endpoints(job: Job, event: str) -> int:
    """Tell the webhook endpoints subscribed to ``event`` about the job, in the caller's transaction
    (the worker's sender delivers it; a job never waits for an endpoint)."""
    return emit(
        event,
        {
            "job": {
                "id": job.pk,
                "kind": job.kind,
                "title": job.title,
                "status": job.status,
                "created_by": job.created_by.username if job.created_by_id else None,
                "rows": job.total,
                "succeeded": job.succeeded,
                "failed": job.failed,
                "skipped": job.skipped,
                "reason": job.failure_reason or job.params.get("approval", {}).get("reason", ""),
                "url": job_url(job),
            }
        },
    )


def results_url(job: Job) -> str:
    return f"{settings.CERTDESK_BASE_URL}{reverse('web:job-results', args=[job.pk])}"


def notify_job_finished(job: Job) -> bool:
    """Email the creator once; True when an email was sent."""
    recipient = job.created_by.email
    if not recipient:
        log.info("Job %s finished; its creator has no email address", job.pk)
        return False
    # Claim the notice first so that two workers finishing the same job cannot both send it.
    if not Job.objects.filter(pk=job.pk, notified_at__isnull=True).update(notified_at=timezone.now()):
        return False
    kind = get_kind(job.kind)
    # A header cannot hold a line break (Django refuses it), and a title may contain one.
    title = " ".join(job.title.split())
    subject = f"{kind.label} job \u201c{title}\u201d: {job.get_status_display()}"
    body = job_finished_body(job)
    try:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [recipient])
    except Exception:
        # The job has ended whatever the mail server says: do not fail the worker, and release the
        # claim so that a later notice can still be sent.
        log.exception("Job %s finished; its email to %s could not be sent", job.pk, recipient)
        Job.objects.filter(pk=job.pk).update(notified_at=None)
        return False
    return True


def job_finished_body(job: Job) -> str:
    """The plain-text email a job's creator gets when it ends."""
    kind = get_kind(job.kind)
    greeting = job.created_by.first_name or job.created_by.username
    lines = [
        f"Hello {greeting},",
        "",
        f'Your {kind.label.lower()} job "{job.title}" is {job.get_status_display()}.',
        "",
    ]
    if job.status == Job.Status.VERIFIED:
        labels = kind.labels_for(job)
        lines += [
            "This was a verification only: nothing was changed and no emails were sent to learners.",
            "",
            f"Rows in the file: {job.total}",
            *(f"{labels[outcome]}: {count}" for outcome, count in _outcome_counts(job)),
            "",
            "Fix any rows marked Error and upload the file again, or start the job as it is from its page.",
        ]
    elif job.status == Job.Status.PROCESSED:
        lines += [
            f"Rows in the file: {job.total}",
            f"{kind.labels_for(job)['succeeded']}: {job.succeeded}",
            f"Skipped: {job.skipped}",
            f"Errors: {job.failed}",
        ]
    else:
        lines += [
            f"The job stopped before it finished: {job.failure_reason}",
            f"Rows processed before it stopped: {job.rows_done} of {job.total}. Changes already committed stay "
            "in place; the results file says which rows they are.",
        ]
    lines += [
        "",
        f"Job details: {job_url(job)}",
        f"Results file (each row of your file with its Result and Message): {results_url(job)}",
        "",
        "-- ",
        "certdesk",
    ]
    return "\n".join(lines) + "\n"


def _outcome_counts(job: Job) -> list[tuple[str, int]]:
    """What a verified job would do: its rows pending, skipped and in error."""
    counts = job.outcome_counts()
    return [(outcome, counts[outcome]) for outcome in ("pending", "skipped", "error")]


def send_unsent_notices(limit: int = 20, settle_seconds: int = 60) -> int:
    """Send the end-of-job emails that a worker crash or a mail outage left unsent.

    Jobs that ended in the last ``settle_seconds`` are left to the worker that finished them.
    Returns how many emails were sent.
    """
    now = timezone.now()
    unsent = (
        Job.objects.filter(
            status__in=Job.FINISHED,
            notified_at__isnull=True,
            processed_at__lt=now - dt.timedelta(seconds=settle_seconds),
            processed_at__gte=now - dt.timedelta(days=7),
        )
        .exclude(created_by__email="")
        .select_related("created_by")
        .order_by("processed_at")[:limit]
    )
    return sum(notify_job_finished(job) for job in unsent)


def sweep_unsent() -> str:
    """The scheduled sweep: end-of-job emails and each kind's learner emails left unsent."""
    sent = send_unsent_notices()
    for kind in all_kinds():
        kind.send_notices(None)
    return f"{sent} end-of-job email(s) sent again; learner emails checked for every kind."
