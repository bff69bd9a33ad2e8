"""Emails to learners about their enrolments, from templates administrators edit."""

from __future__ import annotations

import datetime as dt
import logging
import re
import smtplib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import connection, transaction
from django.utils import timezone

from base.sql import fetch, in_values, table
from people.models import User

from .models import Activity, EmailTemplate, Enrollment

log = logging.getLogger(__name__)

LEARNER = {
    "first_name": "the learner's first name",
    "last_name": "the learner's last name",
    "full_name": "the learner's first and last name",
}
# The placeholders each template may use.
PLACEHOLDERS = {
    EmailTemplate.UNENROLMENT: {
        **LEARNER,
        "activity_title": "the title of the course or session",
        "activity_reference": "the activity's external reference",
    },
    EmailTemplate.RENEWAL: {
        **LEARNER,
        "certification_title": "the certification's title",
        "certification_code": "its Certification ID",
        "expiration_date": "the date the award expires (YYYY-MM-DD)",
        "days_left": "the number of days left to renew",
    },
}
DEFAULTS = {
    EmailTemplate.UNENROLMENT: (
        "You have been unenrolled from {{ activity_title }}",
        "Dear {{ first_name }},\n\n"
        "You have been unenrolled from {{ activity_title }}.\n\n"
        "If you completed it, your completion still stands and still appears in your training record.\n"
        "If you think this is a mistake, please contact your training administrator.\n",
    ),
    EmailTemplate.RENEWAL: (
        "Time to renew {{ certification_title }}: it expires on {{ expiration_date }}",
        "Dear {{ first_name }},\n\n"
        "Your certification {{ certification_title }} ({{ certification_code }}) expires on {{ expiration_date }}, "
        "in {{ days_left }} days. Its renewal window is now open.\n\n"
        "Please complete the renewal before it expires. If you have renewed already, you can ignore this email.\n",
    ),
}
PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")
# Learner emails go out over one SMTP connection in batches of this many.
BATCH = 200
# A claim older than this belongs to a worker that died while sending.
INTERRUPTED_AFTER = dt.timedelta(minutes=15)
# Errors about one message (its address, its content), after which the next message may still go.
ADDRESS_ERRORS = (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, smtplib.SMTPDataError)


def email_template(key: str) -> EmailTemplate:
    """The template an administrator has saved, or the default wording until they do."""
    subject, body = DEFAULTS[key]
    template, _ = EmailTemplate.objects.get_or_create(key=key, defaults={"subject": subject, "body": body})
    return template


def unknown_placeholders(text: str, key: str = EmailTemplate.UNENROLMENT) -> list[str]:
    return sorted({name for name in PLACEHOLDER.findall(text) if name not in PLACEHOLDERS[key]})


def learner_values(user: Any) -> dict[str, str]:
    """The placeholders every learner email can use."""
    first, last = user.first_name, user.last_name
    return {
        "first_name": first or user.username,
        "last_name": last,
        "full_name": " ".join(part for part in (first, last) if part) or user.username,
    }


def render(template: EmailTemplate, values: Mapping[str, str], to: str) -> EmailMessage:
    """The email a template makes for one learner."""
    # A header cannot hold a line break, and a title or a template may contain one.
    subject = " ".join(fill(template.subject, values).split())
    return EmailMessage(subject, fill(template.body, values), settings.DEFAULT_FROM_EMAIL, [to])


def fill(text: str, values: Mapping[str, str]) -> str:
    """Replace {{ name }} placeholders; plain substitution, so a template cannot reach anything else."""
    return PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def send_unenrolment_emails(
    job_id: int | None = None, limit: int | None = None, enrollment_ids: list[int] | None = None
) -> int:
    """Send the unenrolment emails waiting to go (those of one job, or all); returns how many were sent.

    Each email is claimed before it is sent (a conditional UPDATE to "sending"), so two workers never
    send the same one, and none is sent twice. An address the mail server refuses is marked "not sent"
    with its reason and the others go on; when the server cannot be reached at all, the claimed
    emails are put back for the idle workers' sweep to try again later.
    """
    give_up_interrupted()
    template = email_template(EmailTemplate.UNENROLMENT)
    sent = 0
    enrollments = table(Enrollment)
    while limit is None or sent < limit:
        waiting = Enrollment.objects.filter(unenrolment_email=Enrollment.Email.PENDING)
        if job_id is not None:
            waiting = waiting.filter(unenrolled_by_job_id=job_id)
        if enrollment_ids is not None:
            waiting = waiting.filter(pk__in=enrollment_ids)
        batch = BATCH if limit is None else min(BATCH, limit - sent)
        ids = list(waiting.order_by("pk").values_list("pk", flat=True)[:batch])
        if not ids:
            break
        named, ids_param = in_values("id", ids)
        claimed = [
            pk
            for (pk,) in fetch(
                f"UPDATE {enrollments} SET unenrolment_email = 'sending', unenrolment_email_sent_at = %s "
                f"WHERE unenrolment_email = 'pending' AND {named} RETURNING id",
                [connection.ops.adapt_datetimefield_value(timezone.now()), ids_param],
            )
        ]
        outcome = _send_claimed(claimed, template)
        _record(outcome)
        sent += len(outcome.delivered)
        if outcome.unreachable:
            break  # the mail server is down: the idle workers' sweep tries again later
    return sent


@dataclass
class Outcome:
    delivered: list[int] = field(default_factory=list)
    refused: dict[int, str] = field(default_factory=dict)
    put_back: list[int] = field(default_factory=list)
    unreachable: bool = False


def _send_claimed(ids: list[int], template: EmailTemplate) -> Outcome:
    """Send the claimed emails over one connection and say what became of each."""
    outcome = Outcome()
    if not ids:
        return outcome
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
            outcome.refused[enrolment.pk] = "The user has no email address."
            continue
        messages.append((enrolment.pk, _message(template, user, activity)))
    try:
        with get_connection() as mail:
            for pk, message in messages:
                try:
                    mail.send_messages([message])
                except ADDRESS_ERRORS as exc:
                    # This address or message is refused; the next one may well go.
                    outcome.refused[pk] = f"The mail server refused it: {exc}"[:300]
                else:
                    outcome.delivered.append(pk)
    except Exception:
        done = set(outcome.delivered) | set(outcome.refused)
        outcome.put_back = [pk for pk, _ in messages if pk not in done]
        outcome.unreachable = True
        log.exception(
            "Unenrolment emails: the mail server failed; %s put back to retry", len(outcome.put_back)
        )
    return outcome


def _record(outcome: Outcome) -> None:
    """Write what became of the claimed emails: a few UPDATEs per batch in one transaction, not one per email."""
    with transaction.atomic():
        _record_outcome(outcome)


def _record_outcome(outcome: Outcome) -> None:
    now = timezone.now()
    Enrollment.objects.filter(pk__in=outcome.delivered).update(
        unenrolment_email=Enrollment.Email.SENT, unenrolment_email_sent_at=now, unenrolment_email_error=""
    )
    Enrollment.objects.filter(pk__in=outcome.put_back).update(
        unenrolment_email=Enrollment.Email.PENDING, unenrolment_email_sent_at=None
    )
    by_reason: dict[str, list[int]] = {}
    for pk, reason in outcome.refused.items():
        by_reason.setdefault(reason, []).append(pk)
    for reason, pks in by_reason.items():
        Enrollment.objects.filter(pk__in=pks).update(
            unenrolment_email=Enrollment.Email.FAILED,
            unenrolment_email_sent_at=None,
            unenrolment_email_error=reason,
        )


def give_up_interrupted(older_than: dt.timedelta = INTERRUPTED_AFTER) -> int:
    """Emails a worker claimed and never reported on (it died mid-send) are marked not sent: sending them
    again could send them twice. Returns how many."""
    return Enrollment.objects.filter(
        unenrolment_email=Enrollment.Email.SENDING, unenrolment_email_sent_at__lt=timezone.now() - older_than
    ).update(
        unenrolment_email=Enrollment.Email.FAILED,
        unenrolment_email_error="Sending was interrupted; it is not known whether the email went.",
    )


def _message(template: EmailTemplate, user: User, activity: Activity) -> EmailMessage:
    values = {
        **learner_values(user),
        "activity_title": activity.title,
        "activity_reference": activity.external_reference or "",
    }
    return render(template, values, user.email)
