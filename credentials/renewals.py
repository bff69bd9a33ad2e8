"""Renewal reminders: each holder whose award's renewal window has opened gets one email per award
and window (the window is known by the expiration date it leads to, so a renewed award opens a new
one)."""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
from dataclasses import dataclass, field

from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from base.sql import execute, fetch, in_values, table
from learning.models import EmailTemplate
from learning.notices import email_template, learner_values, render
from webhooks.services import emit_many

from .models import Award, Certification

log = logging.getLogger(__name__)

BATCH = 200


@dataclass
class Notice:
    award_id: int
    username: str
    email: str
    certification: str
    expiration_date: dt.date
    sent: bool
    problem: str = ""


@dataclass
class NoticeRun:
    notices: list[Notice] = field(default_factory=list)
    stopped: str = ""  # why the run stopped early (the mail server could not be reached)

    @property
    def sent(self) -> int:
        return sum(n.sent for n in self.notices)


def due(today: dt.date) -> QuerySet[Award]:
    """Active awards whose renewal window is open today, not expired, and not yet reminded for it."""
    windows = Q(pk__in=[])
    # One condition per window length (certifications share a few), not one per award.
    for days in set(Certification.objects.values_list("renewal_window_days", flat=True)):
        windows |= Q(
            certification__renewal_window_days=days, expiration_date__lte=today + dt.timedelta(days=days)
        )
    return (
        Award.objects.filter(
            windows, status=Award.Status.ACTIVE, expiration_date__gte=today, user__is_active=True
        )
        .filter(Q(renewal_notice_for__isnull=True) | ~Q(renewal_notice_for=F("expiration_date")))
        .order_by("expiration_date", "pk")
    )


def send_renewal_notices(today: dt.date, *, dry_run: bool = False) -> NoticeRun:
    """Email every holder whose renewal window has opened, once per award and window."""
    run = NoticeRun()
    template = email_template(EmailTemplate.RENEWAL)
    if dry_run:
        for award in due(today).select_related("user", "certification"):
            run.notices.append(_notice(award, sent=False, problem="dry run: not sent"))
        return run
    awards = table(Award)
    while True:
        ids = list(due(today).values_list("pk", flat=True)[:BATCH])
        if not ids:
            return run
        named, param = in_values("id", ids)
        with transaction.atomic():
            # Claim first: a second run at the same time finds these already reminded.
            claimed = [
                pk
                for (pk,) in fetch(
                    f"UPDATE {awards} SET renewal_notice_for = expiration_date WHERE {named} "
                    "AND (renewal_notice_for IS NULL OR renewal_notice_for <> expiration_date) RETURNING id",
                    [param],
                )
            ]
            batch = list(
                Award.objects.filter(pk__in=claimed).select_related("user", "certification").order_by("pk")
            )
            # Written with the claim: each award's opened window is told once, as its reminder is sent once.
            emit_many(
                "award.expiring",
                [
                    {
                        "award": {
                            "id": award.pk,
                            "user_id": award.user.user_id,
                            "username": award.user.username,
                            "certification": award.certification.code,
                            "expiration_date": award.expiration_date,
                        }
                    }
                    for award in batch
                ],
                keys=[f"award {award.pk} expiring {award.expiration_date}" for award in batch],
            )
        try:
            with get_connection() as mail:
                for award in batch:
                    if not award.user.email:
                        run.notices.append(
                            _notice(award, sent=False, problem="the user has no email address")
                        )
                        continue
                    try:
                        mail.send_messages([_email(template, award, today)])
                    except (
                        smtplib.SMTPRecipientsRefused,
                        smtplib.SMTPSenderRefused,
                        smtplib.SMTPDataError,
                    ) as exc:
                        run.notices.append(
                            _notice(award, sent=False, problem=f"refused by the mail server: {exc}")
                        )
                    else:
                        run.notices.append(_notice(award, sent=True))
        except Exception as exc:
            done = {n.award_id for n in run.notices}
            unsent = [a.pk for a in batch if a.pk not in done]
            if unsent:
                named, param = in_values("id", unsent)
                execute(f"UPDATE {awards} SET renewal_notice_for = NULL WHERE {named}", [param])
            run.stopped = (
                f"The mail server could not be reached ({exc}); {len(unsent)} reminder(s) will go next time."
            )
            log.exception("Renewal reminders stopped")
            return run


def _email(template: EmailTemplate, award: Award, today: dt.date) -> EmailMessage:
    assert award.expiration_date is not None
    values = {
        **learner_values(award.user),
        "certification_title": award.certification.title,
        "certification_code": award.certification.code,
        "expiration_date": award.expiration_date.isoformat(),
        "days_left": str((award.expiration_date - today).days),
    }
    return render(template, values, award.user.email)


def _notice(award: Award, *, sent: bool, problem: str = "") -> Notice:
    assert award.expiration_date is not None
    return Notice(
        award.pk,
        award.user.username,
        award.user.email,
        award.certification.code,
        award.expiration_date,
        sent,
        problem,
    )


def scheduled_renewal_notices() -> str:
    """The day's reminders, as a scheduled task: raises when the mail server stopped the run, so the
    scheduler gives the day back and tries again."""
    today = timezone.localdate()
    run = send_renewal_notices(today)
    if run.stopped:
        raise ConnectionError(run.stopped)
    return f"{run.sent} renewal reminder(s) sent for {today.isoformat()}."
