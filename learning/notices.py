"""Emails to learners about their enrolments, from templates administrators edit."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.utils import timezone

from bulk.lookups import fetch, in_values, table
from people.models import User

from .models import Activity, EmailTemplate, Enrollment

log = logging.getLogger(__name__)

PLACEHOLDERS = {
    "first_name": "the learner's first name",
    "last_name": "the learner's last name",
    "full_name": "the learner's first and last name",
    "activity_title": "the title of the course or session",
    "activity_reference": "the activity's external reference",
}
DEFAULTS = {
    EmailTemplate.UNENROLMENT: (
        "You have been unenrolled from {{ activity_title }}",
        "Dear {{ first_name }},\n\n"
        "You have been unenrolled from {{ activity_title }}.\n\n"
        "If you completed it, your completion still stands and still appears in your training record.\n"
        "If you think this is a mistake, please contact your training administrator.\n",
    ),
}
PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")
# Learner emails go out over one SMTP connection in batches of this many.
BATCH = 200


def email_template(key: str) -> EmailTemplate:
    """The template an administrator has saved, or the default wording until they do."""
    subject, body = DEFAULTS[key]
    template, _ = EmailTemplate.objects.get_or_create(key=key, defaults={"subject": subject, "body": body})
    return template


def unknown_placeholders(text: str) -> list[str]:
    return sorted({name for name in PLACEHOLDER.findall(text) if name not in PLACEHOLDERS})


def fill(text: str, values: Mapping[str, str]) -> str:
    """Replace {{ name }} placeholders; plain substitution, so a template cannot reach anything else."""
    return PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def send_unenrolment_emails(job_id: int | None = None, limit: int | None = None) -> int:
    """Send the unenrolment emails waiting to go (those of one job, or all); returns how many were sent.

    Each email is claimed before it is sent (a conditional UPDATE), so two workers never send the same
    one, and it is sent at most once: one the mail server refused is put back to be tried again later.
    """
    template = email_template(EmailTemplate.UNENROLMENT)
    sent = 0
    enrollments = table(Enrollment)
    while limit is None or sent < limit:
        waiting = Enrollment.objects.filter(unenrolment_email=Enrollment.Email.PENDING)
        if job_id is not None:
            waiting = waiting.filter(unenrolled_by_job_id=job_id)
        ids = list(waiting.order_by("pk").values_list("pk", flat=True)[:BATCH])
        if not ids:
            break
        named, ids_param = in_values("id", ids)
        claimed = [
            pk
            for (pk,) in fetch(
                f"UPDATE {enrollments} SET unenrolment_email = 'sent', unenrolment_email_sent_at = %s "
                f"WHERE unenrolment_email = 'pending' AND {named} RETURNING id",
                [timezone.now(), ids_param],
            )
        ]
        delivered, refused = _send_claimed(claimed, template)
        sent += delivered
        if refused:
            break  # the mail server is down: the idle workers' sweep tries again later
    return sent


def _send_claimed(ids: list[int], template: EmailTemplate) -> tuple[int, bool]:
    """Send the claimed emails; returns how many went, and whether the mail server refused."""
    if not ids:
        return 0, False
    enrolments = (
        Enrollment.objects.filter(pk__in=ids)
        .select_related("user", "activity")
        .only(
            "user__first_name",
            "user__last_name",
            "user__username",
            "user__email",
            "activity__title",
            "activity__external_reference",
        )
    )
    messages: list[tuple[int, EmailMessage]] = []
    for enrolment in enrolments:
        user, activity = enrolment.user, enrolment.activity
        if not user.email:
            continue  # validation already said no email can go; nothing to put back
        messages.append((enrolment.pk, _message(template, user, activity)))
    done: set[int] = set()
    try:
        with get_connection() as connection:
            for pk, message in messages:
                connection.send_messages([message])
                done.add(pk)
    except Exception:
        log.exception(
            "Unenrolment emails: the mail server refused; %s put back to retry", len(messages) - len(done)
        )
        retry = [pk for pk, _ in messages if pk not in done]
        Enrollment.objects.filter(pk__in=retry).update(
            unenrolment_email=Enrollment.Email.PENDING, unenrolment_email_sent_at=None
        )
        return len(done), True
    return len(done), False


def _message(template: EmailTemplate, user: User, activity: Activity) -> EmailMessage:
    first, last, username = user.first_name, user.last_name, user.username
    values = {
        "first_name": first or username,
        "last_name": last,
        "full_name": " ".join(part for part in (first, last) if part) or username,
        "activity_title": activity.title,
        "activity_reference": activity.external_reference or "",
    }
    # A header cannot hold a line break, and a title or a template may contain one.
    subject = " ".join(fill(template.subject, values).split())
    return EmailMessage(subject, fill(template.body, values), settings.DEFAULT_FROM_EMAIL, [user.email])
