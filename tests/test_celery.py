"""The scale-out path end to end: jobs started here run on Celery workers in other processes, over
the machine's real Redis and RabbitMQ; workers killed mid-chunk hand their job on; a broker that
restarts empty loses no job; two schedulers send each renewal reminder once."""

from __future__ import annotations

import datetime as dt
import os
import signal
from collections import Counter

import pytest
from django.utils import timezone

from access.permissions import (
    AWARD_CERTIFICATIONS,
    IMPORT_LICENSES,
    IMPORT_UNENROLMENTS,
    MANAGE_CERTIFICATION_REMOVAL,
)
from audit.models import Event
from bulk import services
from bulk.models import Job, JobRow, ScheduleRun, Worker
from credentials.models import Award, License, LicenseType
from learning.models import Enrollment

from .cluster import (
    CELERY,
    RABBITMQ_URL,
    REDIS_URL,
    RedisServer,
    require,
    wait_for,
)
from .factories import (
    AWARD_HEADER,
    LICENCE_HEADER,
    UNENROLMENT_HEADER,
    ActivityFactory,
    CertificationFactory,
    UserFactory,
    award_many,
    enrol,
    grant,
    make_csv,
    removal_rows,
)

pytestmark = pytest.mark.django_db(transaction=True)

PER_KIND = 5
ROWS = 8
CHUNK = 3


@pytest.fixture
def boss(db):
    user = UserFactory(username="boss", user_id="ADM-BOSS", email="boss@example.test", first_name="Bea")
    return grant(
        user, MANAGE_CERTIFICATION_REMOVAL, IMPORT_UNENROLMENTS, AWARD_CERTIFICATIONS, IMPORT_LICENSES
    )


def alive(n: int) -> bool:
    since = timezone.now() - dt.timedelta(seconds=1.5)
    return Worker.objects.filter(stopped_at__isnull=True, last_seen_at__gte=since).count() >= n


def mixed_jobs(actor, settings) -> list[Job]:
    """Five jobs of each kind, each of ROWS rows in chunks of CHUNK, on distinct people: started here."""
    settings.CERTDESK_CHUNK_SIZE = CHUNK
    held = CertificationFactory(code="CERT-HELD")
    CertificationFactory(code="CERT-NEW")
    activity = ActivityFactory(external_reference="ACT-MIX")
    LicenseType.objects.create(code="RN", name="Registered Nurse", issuing_authority="Board")
    jobs = []

    def start(kind: str, rows: list[list[str]], header: tuple[str, ...], title: str) -> None:
        data = make_csv(rows, header)
        jobs.append(services.submit(kind, data, f"{kind}.csv", actor=actor, title=title, start=True).job)

    for n in range(PER_KIND):
        holders = UserFactory.create_batch(ROWS)
        award_many(held, holders)
        start(
            "certification-removal",
            removal_rows(held, holders),
            ("Certification ID", "User ID"),
            f"Removal {n}",
        )
        learners = UserFactory.create_batch(ROWS)
        enrol(activity, learners)
        start(
            "unenrolment",
            [[u.username, "ACT-MIX", "No"] for u in learners],
            UNENROLMENT_HEADER,
            f"Unenrolment {n}",
        )
        awardees = UserFactory.create_batch(ROWS)
        rows = [["CERT-NEW", u.user_id, "2026-03-01", "", "", "", ""] for u in awardees]
        start("certification-award", rows, AWARD_HEADER, f"Award {n}")
        nurses = UserFactory.create_batch(ROWS)
        rows = [[u.username, "RN", f"RN-{u.pk}", "", "2026-01-01", "2028-01-01", "Add"] for u in nurses]
        start("license-import", rows, LICENCE_HEADER, f"Licences {n}")
    assert [j.status for j in jobs] == [Job.Status.QUEUED] * len(jobs), [j.warnings for j in jobs]
    return jobs


def assert_each_job_processed_once(jobs: list[Job]) -> None:
    for job in jobs:
        job.refresh_from_db()
        assert job.status == Job.Status.PROCESSED, (job.title, job.status, job.failure_reason)
        assert (job.total, job.rows_done, job.succeeded, job.skipped, job.failed) == (ROWS, ROWS, ROWS, 0, 0)
        outcomes = Counter(JobRow.objects.filter(job=job).values_list("outcome", flat=True))
        assert outcomes == {JobRow.Outcome.SUCCEEDED: ROWS}, (job.title, outcomes)
        assert Event.objects.filter(job=job, action="job.processed").count() == 1, job.title
    by_kind = Counter(j.kind for j in jobs)
    removed = Award.objects.filter(status=Award.Status.REMOVED, removed_by_job__in=jobs).count()
    assert removed == by_kind["certification-removal"] * ROWS
    unenrolled = Enrollment.objects.filter(unenrolled_by_job__in=jobs).count()
    assert unenrolled == by_kind["unenrolment"] * ROWS
    assert (
        Award.objects.filter(certification__code="CERT-NEW").count() == by_kind["certification-award"] * ROWS
    )
    assert License.objects.count() == by_kind["license-import"] * ROWS
    # No change was made twice: one audit event per changed object and action.
    per_object = Counter(
        Event.objects.filter(job__in=jobs)
        .exclude(action__startswith="job.")
        .values_list("action", "object_id")
    )
    assert per_object and set(per_object.values()) == {1}, [k for k, v in per_object.items() if v > 1][:5]


@pytest.mark.parametrize("broker", ["redis", "rabbitmq"])
def test_twenty_jobs_of_every_kind_on_two_workers_each_run_once(
    broker, boss, settings, celery_cluster_factory
):
    url = REDIS_URL if broker == "redis" else RABBITMQ_URL
    require(url, "Redis" if broker == "redis" else "RabbitMQ")
    cluster = celery_cluster_factory(url)
    cluster.start_worker("w1")
    cluster.start_worker("w2")
    wait_for(lambda: alive(2), "two Celery workers to report a heartbeat")

    jobs = mixed_jobs(boss, settings)
    wait_for(
        lambda: (
            Job.objects.filter(pk__in=[j.pk for j in jobs], status=Job.Status.PROCESSED).count() == len(jobs)
        ),
        "all 20 jobs to be processed",
    )
    assert_each_job_processed_once(jobs)
    assert all(j.attempts == 1 for j in jobs), [(j.title, j.attempts) for j in jobs]
    wait_for(
        lambda: sum(Worker.objects.filter(runner="celery").values_list("jobs_run", flat=True)) == len(jobs),
        "the workers to count the 20 jobs they ran, and no more",
    )


def test_a_plain_celery_worker_of_the_certdesk_app_runs_jobs(boss, certification, celery_cluster_factory):
    require(REDIS_URL, "Redis")
    cluster = celery_cluster_factory(REDIS_URL)
    cluster.start_celery_worker("plain")
    wait_for(lambda: alive(1), "the celery worker to report a heartbeat")
    holders = UserFactory.create_batch(5)
    award_many(certification, holders)
    job = services.submit(
        "certification-removal",
        make_csv(removal_rows(certification, holders)),
        "r.csv",
        actor=boss,
        title="Plain",
        start=True,
    ).job
    wait_for(lambda: Job.objects.get(pk=job.pk).status == Job.Status.PROCESSED, "the job to be processed")
    assert Award.objects.filter(removed_by_job=job).count() == 5
    # The worker counts the job once it is back from it, just after the job's status says Processed.
    wait_for(
        lambda: Worker.objects.filter(runner="celery", jobs_run=1).exists(), "the worker to count the job"
    )


def test_a_worker_on_a_pool_that_would_share_one_name_between_jobs_is_refused(celery_cluster_factory):
    require(REDIS_URL, "Redis")
    cluster = celery_cluster_factory(REDIS_URL)
    process = cluster.start("threads", "-A", "certdesk", "worker", "-P", "threads", "-c", "2", program=CELERY)
    assert process.wait(timeout=60) == 2
    assert "certdesk workers need the prefork or solo pool, not celery.concurrency.thread" in cluster.log(
        "threads"
    )


def test_large_jobs_go_to_their_own_queue_so_a_worker_kept_for_small_ones_is_never_taken(
    boss, certification, settings, celery_cluster_factory
):
    require(REDIS_URL, "Redis")
    settings.CERTDESK_LARGE_JOB_ROWS = 6
    cluster = celery_cluster_factory(REDIS_URL)
    cluster.start(
        "small-only",
        "worker",
        "--queues",
        f"{cluster.prefix}.jobs,{cluster.prefix}.schedule",
        CERTDESK_LARGE_JOB_ROWS="6",
    )
    wait_for(lambda: alive(1), "the worker to report a heartbeat")
    assert Worker.objects.get().queues == f"{cluster.prefix}.jobs,{cluster.prefix}.schedule"

    def removal(rows: int, title: str) -> Job:
        holders = UserFactory.create_batch(rows)
        award_many(certification, holders)
        data = make_csv(removal_rows(certification, holders))
        return services.submit(
            "certification-removal", data, "r.csv", actor=boss, title=title, start=True
        ).job

    large = removal(10, "Large")
    small = removal(3, "Small")
    wait_for(lambda: Job.objects.get(pk=small.pk).status == Job.Status.PROCESSED, "the small job to run")
    assert Job.objects.get(pk=large.pk).status == Job.Status.QUEUED  # not for this worker

    cluster.start("large", "worker", "--queues", f"{cluster.prefix}.large", CERTDESK_LARGE_JOB_ROWS="6")
    wait_for(
        lambda: Job.objects.get(pk=large.pk).status == Job.Status.PROCESSED,
        "a worker of the large queue to run it",
    )


@pytest.mark.parametrize("point", [1, 2, 4], ids=["first chunk", "middle chunk", "last chunk"])
def test_a_worker_killed_mid_chunk_hands_its_job_on_and_learners_get_one_email(
    point, boss, settings, smtp_server, celery_cluster_factory
):
    require(REDIS_URL, "Redis")
    cluster = celery_cluster_factory(REDIS_URL)
    cluster.env.update(
        EMAIL_URL=f"smtp://127.0.0.1:{smtp_server.port}",
        CERTDESK_BASE_URL=settings.CERTDESK_BASE_URL,
        CERTDESK_CHUNK_HOLD_SECONDS="0.6",
    )
    cluster.start_worker("w1")
    cluster.start_worker("w2")
    wait_for(lambda: alive(2), "two Celery workers to report a heartbeat")

    settings.CERTDESK_CHUNK_SIZE = 3
    activity = ActivityFactory(external_reference="ACT-KILL")
    learners = UserFactory.create_batch(12)
    enrol(activity, learners)
    rows = [[u.username, "ACT-KILL", "Yes"] for u in learners]
    job = services.submit(
        "unenrolment",
        make_csv(rows, UNENROLMENT_HEADER),
        "unenrol.csv",
        actor=boss,
        title="Kill me",
        start=True,
    ).job
    assert job.chunk_count == 4

    marker = f"Job {job.pk}: chunk {point} of 4 applied, not yet committed"
    wait_for(
        lambda: marker in cluster.log("w1") + cluster.log("w2"), f"the worker to be inside chunk {point}"
    )
    victim = Worker.objects.get(job_id=job.pk)
    os.kill(victim.pid, signal.SIGKILL)  # the pool process that runs the job, mid-transaction

    wait_for(
        lambda: Job.objects.get(pk=job.pk).status == Job.Status.PROCESSED, "another worker to finish the job"
    )
    job.refresh_from_db()
    assert job.lease_owner == "" and job.attempts == 2
    assert (job.total, job.rows_done, job.succeeded, job.failed) == (12, 12, 12, 0)
    assert Enrollment.objects.filter(unenrolled_by_job=job).count() == 12
    events = Counter(
        Event.objects.filter(job=job, action="enrollment.unenrolled").values_list("object_id", flat=True)
    )
    assert len(events) == 12 and set(events.values()) == {1}, events
    wait_for(lambda: len(smtp_server.messages) >= 13, "the learners' and the administrator's emails")
    recipients = Counter(r for d in smtp_server.messages for r in d.recipients)
    assert recipients == Counter([u.email for u in learners] + [boss.email]), recipients


def test_a_broker_that_restarts_empty_loses_no_job(boss, settings, tmp_path, celery_cluster_factory):
    require(REDIS_URL, "Redis")  # redis-server is the same program; the machine's proves it is there
    redis = RedisServer(tmp_path)
    redis.start()
    try:
        cluster = celery_cluster_factory(redis.url)
        settings.CERTDESK_CHUNK_SIZE = 4
        certification = CertificationFactory(code="CERT-BRK")

        def removal(title: str) -> Job:
            holders = UserFactory.create_batch(4)
            award_many(certification, holders)
            data = make_csv(removal_rows(certification, holders))
            return services.submit(
                "certification-removal", data, "r.csv", actor=boss, title=title, start=True
            ).job

        # Sent while no worker runs, then lost when the broker restarts without them.
        sent_then_lost = [removal(f"Lost {n}") for n in range(3)]
        assert all(Job.objects.get(pk=j.pk).enqueued_at for j in sent_then_lost)
        redis.stop()
        # Started while the broker is down: the start succeeds, the job waits in the database.
        never_sent = [removal(f"Unsent {n}") for n in range(2)]
        assert all(Job.objects.get(pk=j.pk).enqueued_at is None for j in never_sent)
        redis.start()
        cluster.start_worker("w1")
        cluster.start_worker("w2")
        wait_for(lambda: alive(2), "two Celery workers to report a heartbeat")
        jobs = sent_then_lost + never_sent
        wait_for(
            lambda: Job.objects.filter(pk__in=[j.pk for j in jobs], status=Job.Status.PROCESSED).count() == 5,
            "the janitor to send the lost jobs again and the workers to run them",
        )
        # The broker goes away under running workers and comes back: they reconnect and go on.
        redis.stop()
        redis.start()
        later = [removal(f"After {n}") for n in range(3)]
        wait_for(
            lambda: (
                Job.objects.filter(pk__in=[j.pk for j in later], status=Job.Status.PROCESSED).count() == 3
            ),
            "jobs started after the restart to run",
        )
        for job in jobs + later:
            job.refresh_from_db()
            assert job.status == Job.Status.PROCESSED and job.attempts == 1, (job.title, job.attempts)
            assert job.succeeded == 4 and Event.objects.filter(job=job, action="job.processed").count() == 1
        removed = Counter(
            Event.objects.filter(action="award.removed", job__in=jobs + later).values_list(
                "object_id", flat=True
            )
        )
        assert len(removed) == 32 and set(removed.values()) == {1}
    finally:
        redis.stop()


def test_two_schedulers_at_once_send_each_renewal_reminder_once(
    settings, smtp_server, celery_cluster_factory
):
    require(REDIS_URL, "Redis")
    cluster = celery_cluster_factory(REDIS_URL)
    cluster.env.update(
        EMAIL_URL=f"smtp://127.0.0.1:{smtp_server.port}",
        CERTDESK_RENEWAL_NOTICES_HOUR="0",
        CERTDESK_SCHEDULE_CHECK_SECONDS="1",
        TIME_ZONE="UTC",
    )
    today = timezone.localdate()
    certification = CertificationFactory(code="CERT-RNW", renewal_window_days=30)
    holders = UserFactory.create_batch(6)
    award_many(certification, holders)
    Award.objects.filter(certification=certification).update(expiration_date=today + dt.timedelta(days=10))

    cluster.start_worker("w1")
    cluster.start_worker("w2")
    cluster.start_scheduler("beat-a")
    cluster.start_scheduler("beat-b")
    slot = today.isoformat()

    def both_schedulers_fired() -> bool:
        run = ScheduleRun.objects.filter(name="renewal-notices", slot=slot).first()
        return run is not None and run.finished_at is not None and run.duplicates >= 3

    wait_for(both_schedulers_fired, "both schedulers to ask for today's reminders, more than once")
    assert "Sending due task renewal-notices" in cluster.log("beat-a")
    assert "Sending due task renewal-notices" in cluster.log("beat-b")
    recipients = Counter(r for d in smtp_server.messages for r in d.recipients)
    assert recipients == Counter(u.email for u in holders), recipients
    assert all("CERT-RNW" in d.message["Subject"] + str(d.message) for d in smtp_server.messages)
