"""Approval for large changes: which jobs need a second administrator before they run, who may
approve them, and the email that asks them.

The policy reads settings: a job that would change more than CERTDESK_APPROVAL_MAX_ROWS rows (per kind
with CERTDESK_APPROVAL_MAX_ROWS_BY_KIND), or a removal that would take a certification from more than
CERTDESK_APPROVAL_REMOVAL_SHARE of its current holders. The creator can never approve their own job.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db.models import Q

from access.permissions import APPROVE_JOBS
from access.policy import has_permission
from people.models import User

from .models import Job, JobRow
from .notify import job_url
from .registry import get_kind
from .visibility import jobs_visible_to

log = logging.getLogger(__name__)


def approval_reason(job: Job, *, checked_now: bool = False) -> str:
    """Why this job must wait for approval, in a sentence; "" when it may run as it is.

    ``checked_now``: the job's rows were staged by this very request, so its counters say how many rows
    would change, and each of them was found to hold what it changes; nothing is counted again."""
    if checked_now:
        changing = job.total - job.failed - job.skipped
    else:
        changing = job.rows.filter(outcome=JobRow.Outcome.PENDING).count()
    limit = settings.CERTDESK_APPROVAL_MAX_ROWS_BY_KIND.get(job.kind, settings.CERTDESK_APPROVAL_MAX_ROWS)
    if limit and changing > limit:
        return (
            f"It would change {changing:,} rows: a job that changes more than {limit:,} needs the approval "
            "of a second administrator."
        )
    share = get_kind(job.kind).share_of_holders(job, changing, checked_now=checked_now)
    threshold = settings.CERTDESK_APPROVAL_REMOVAL_SHARE
    if share is not None and share > threshold:
        return (
            f"It would remove {share:.0%} of the certification's current holders ({changing:,}): a removal "
            f"of more than {threshold:.0%} needs the approval of a second administrator."
        )
    return ""


def may_approve(user: Any, job: Job) -> bool:
    """Holds "Approve bulk jobs", sees the job (it is in their scope), and did not create it."""
    return (
        has_permission(user, APPROVE_JOBS)
        and job.created_by_id != user.pk
        and jobs_visible_to(user).filter(pk=job.pk).exists()
    )


def approvers(job: Job) -> list[User]:
    """Everyone who may approve this job (for the email that asks them)."""
    app_label, codename = APPROVE_JOBS.split(".")
    holds = (
        Q(is_superuser=True)
        | Q(user_permissions__content_type__app_label=app_label, user_permissions__codename=codename)
        | Q(
            roles__grants__permission__content_type__app_label=app_label,
            roles__grants__permission__codename=codename,
        )
    )
    candidates = User.objects.filter(holds, is_active=True).exclude(pk=job.created_by_id).distinct()
    return [user for user in candidates if may_approve(user, job)]


def ask_approvers(job_id: int) -> int:
    """Email each approver a link to the job; how many were sent (a mail outage is logged, not raised)."""
    job = Job.objects.select_related("created_by").filter(pk=job_id).first()
    if job is None or job.status != Job.Status.AWAITING_APPROVAL:
        return 0
    title = " ".join(job.title.split())
    subject = f"Approval needed: {get_kind(job.kind).label} job \u201c{title}\u201d"
    body = (
        f"{job.created_by.display_name} asks for your approval of job {job.pk}, \u201c{title}\u201d.\n\n"
        f"{job.params.get('approval', {}).get('reason', '')}\n\n"
        f"Review it, then approve or reject it: {job_url(job)}\n"
    )
    sent = 0
    for user in approvers(job):
        if not user.email:
            continue
        try:
            send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [user.email])
            sent += 1
        except Exception:
            log.exception("Job %s: the approval request to %s could not be sent", job.pk, user.email)
    return sent


def overtaken_note(counts: dict[str, int]) -> str:
    """What the check made when a job was approved found the world had overtaken ("" when nothing)."""
    total = sum(counts.values())
    if not total:
        return ""
    parts = ", ".join(
        f"{counts[outcome]:,} {label}"
        for outcome, label in (("skipped", "Skipped"), ("error", "Error"))
        if counts.get(outcome)
    )
    rows = (
        "row that would have succeeded no longer would"
        if total == 1
        else "rows that would have succeeded no longer would"
    )
    return (
        f"Checked again when approved: {total:,} {rows} ({parts}); the job leaves "
        f"{'it' if total == 1 else 'them'} unchanged."
    )
