"""The schedule: a daily task is due from its hour and runs once that day, however many schedulers ask;
a run that failed (the mail server was down) gives its day back and the reminders go out later."""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter

import pytest
from django.db import close_old_connections
from django.utils import timezone
from django.utils.module_loading import import_string

from base.schedules import Schedule
from bulk.models import ScheduleRun
from bulk.schedule import Timetable, run_scheduled
from certdesk.schedule import by_name, schedules
from credentials.models import Award

from .factories import UserFactory, award_many
from .mailserver import free_port

pytestmark = pytest.mark.django_db(transaction=True)

UTC = dt.UTC


def test_a_daily_task_is_due_from_its_hour_and_a_missed_hour_still_runs_that_day(settings):
    settings.TIME_ZONE = "Europe/London"
    daily = Schedule("renewal-notices", "Renewal reminders", "x.y", daily_hour=6)
    assert daily.slot(dt.datetime(2026, 7, 1, 4, 59, tzinfo=UTC)) is None  # 05:59 in London (BST)
    assert daily.slot(dt.datetime(2026, 7, 1, 5, 0, tzinfo=UTC)) == "2026-07-01"
    assert (
        daily.slot(dt.datetime(2026, 7, 1, 22, 30, tzinfo=UTC)) == "2026-07-01"
    )  # scheduler was down at six
    assert (
        daily.slot(dt.datetime(2026, 7, 1, 23, 30, tzinfo=UTC)) is None
    )  # a new day in London waits for six
    assert daily.slot(dt.datetime(2026, 7, 2, 5, 0, tzinfo=UTC)) == "2026-07-02"
    every = Schedule("janitor", "Janitor", "x.y", every_seconds=300)
    assert every.slot(dt.datetime(2026, 7, 1, 5, 0, tzinfo=UTC)) == every.slot(
        dt.datetime(2026, 7, 1, 5, 4, 59, tzinfo=UTC)
    )
    assert every.slot(dt.datetime(2026, 7, 1, 5, 5, tzinfo=UTC)) != every.slot(
        dt.datetime(2026, 7, 1, 5, 4, 59, tzinfo=UTC)
    )


def test_the_schedule_lists_reminders_sweep_and_janitor_from_the_settings(settings):
    settings.CERTDESK_RENEWAL_NOTICES_HOUR = 7
    settings.CERTDESK_JANITOR_SECONDS = 120
    listed = by_name()
    assert set(listed) == {"renewal-notices", "notice-sweep", "janitor"}
    assert listed["renewal-notices"].daily_hour == 7
    assert listed["janitor"].every_seconds == 120
    assert all(callable(import_string(s.task)) for s in schedules())  # each names a function that exists


@pytest.fixture
def due_holders(certification):
    holders = UserFactory.create_batch(8)
    award_many(certification, holders)
    Award.objects.filter(certification=certification).update(
        expiration_date=timezone.localdate() + dt.timedelta(days=7)
    )
    return holders


def test_four_schedulers_asking_at_once_send_each_reminder_once(settings, smtp_server, due_holders):
    settings.CERTDESK_RENEWAL_NOTICES_HOUR = 0
    reminders = [by_name()["renewal-notices"]]
    start = threading.Barrier(4)
    errors: list[BaseException] = []

    def scheduler(n: int) -> None:
        try:
            timetable = Timetable(reminders, f"scheduler-{n}")
            start.wait()
            timetable.run_due()
        except BaseException as exc:  # reported below, on the test's thread
            errors.append(exc)
        finally:
            close_old_connections()

    threads = [threading.Thread(target=scheduler, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors

    recipients = Counter(r for d in smtp_server.messages for r in d.recipients)
    assert recipients == Counter(u.email for u in due_holders)
    run = ScheduleRun.objects.get(name="renewal-notices", slot=timezone.localdate().isoformat())
    assert run.duplicates == 3 and run.outcome == "8 renewal reminder(s) sent for " + run.slot + "."


def test_a_run_the_mail_server_stopped_gives_its_day_back(settings, smtp_server, due_holders):
    settings.CERTDESK_RENEWAL_NOTICES_HOUR = 0
    reminders = by_name()["renewal-notices"]
    settings.EMAIL_PORT = free_port()  # nothing listens there: the mail server is down

    failed = run_scheduled(reminders, "scheduler-1")
    assert failed is not None and failed.outcome.startswith("failed: ConnectionError")
    assert not ScheduleRun.objects.filter(name="renewal-notices").exists()
    assert smtp_server.messages == []

    settings.EMAIL_PORT = smtp_server.port  # back
    again = run_scheduled(reminders, "scheduler-1")
    assert again is not None and again.outcome.startswith("8 renewal reminder(s) sent")
    assert Counter(r for d in smtp_server.messages for r in d.recipients) == Counter(
        u.email for u in due_holders
    )
    assert run_scheduled(reminders, "scheduler-2") is None  # done for today


def test_a_run_whose_worker_died_mid_run_is_taken_over_once_it_is_stale(settings, smtp_server, due_holders):
    settings.CERTDESK_RENEWAL_NOTICES_HOUR = 0
    reminders = by_name()["renewal-notices"]
    slot = timezone.localdate().isoformat()
    # A worker claimed today's reminders, then was killed before it finished.
    ScheduleRun.objects.create(
        name=reminders.name, slot=slot, claimed_by="celery:node-1:77:dead", started_at=timezone.now()
    )

    assert run_scheduled(reminders, "scheduler-2") is None  # not stale yet: it may still be running
    assert smtp_server.messages == []

    ScheduleRun.objects.filter(slot=slot).update(
        started_at=timezone.now() - dt.timedelta(seconds=settings.CERTDESK_SCHEDULE_STALE_SECONDS + 1)
    )
    run = run_scheduled(reminders, "scheduler-2")
    assert (
        run is not None
        and run.claimed_by == "scheduler-2"
        and run.outcome.startswith("8 renewal reminder(s)")
    )
    assert len(smtp_server.messages) == 8
    assert ScheduleRun.objects.get(slot=slot).finished_at is not None
