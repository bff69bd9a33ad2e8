"""The janitor: a job whose worker died goes back to the queue and finishes exactly once; a job out of
attempts is failed with the reason; queued jobs whose message was lost are sent again; old Draft and
Verified jobs are deleted with their files; --dry-run says all this and changes nothing."""

from __future__ import annotations

import datetime as dt
import io
from collections import Counter

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.utils import timezone

from audit.models import Event
from bulk import services, worker
from bulk.models import Job, Worker
from credentials.models import Award

from .factories import UserFactory, award_many, make_csv, removal_rows

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def removal(settings, alice, certification):
    """A removal of 12 holders in chunks of 4, not started yet."""
    settings.CERTDESK_CHUNK_SIZE = 4
    users = UserFactory.create_batch(12)
    award_many(certification, users)

    def make(**kwargs) -> Job:
        return services.submit(
            "certification-removal",
            make_csv(removal_rows(certification, users)),
            "removal.csv",
            actor=alice,
            title="Spring removal",
            **kwargs,
        ).job

    return make


def janitor(*args: str) -> str:
    out = io.StringIO()
    call_command("janitor", *args, stdout=out)
    return out.getvalue()


def stall(job: Job, owner: str, chunks: int = 1) -> Job:
    """A worker claims the job, commits some chunks, then dies (its lease runs out)."""
    claimed = worker.claim_job(owner, job.pk)
    assert claimed is not None
    for _ in range(chunks):
        worker._run_chunk(claimed, owner, worker.get_kind(claimed.kind))
    Job.objects.filter(pk=job.pk).update(lease_expires_at=timezone.now() - dt.timedelta(seconds=1))
    return Job.objects.get(pk=job.pk)


def heartbeat(name: str, seconds_ago: float = 0, job: Job | None = None) -> Worker:
    seen = timezone.now() - dt.timedelta(seconds=seconds_ago)
    return Worker.objects.create(
        name=name,
        runner="celery",
        hostname="node-2",
        pid=4242,
        started_at=seen,
        last_seen_at=seen,
        job=job,
        idle_since=None if job else seen - dt.timedelta(minutes=10),
    )


def test_a_job_whose_worker_died_is_requeued_and_then_finished_exactly_once(removal):
    job = stall(removal(start=True), "celery:node-2:4242:dead", chunks=1)
    heartbeat("celery:node-2:4242:dead", seconds_ago=600)  # its last heartbeat, long ago

    out = janitor()

    assert (
        f"Job {job.pk} “Spring removal”: its worker celery:node-2:4242:dead stopped; requeued (1 of 3" in out
    )
    assert "1 stalled job(s) were requeued" in out
    job.refresh_from_db()
    assert (job.status, job.lease_owner, job.chunks_done) == (Job.Status.QUEUED, "", 1)
    assert Event.objects.filter(job=job, action="job.requeued").count() == 1

    assert worker.run_next("rescuer") is not None
    job.refresh_from_db()
    assert (job.status, job.rows_done, job.succeeded) == (Job.Status.PROCESSED, 12, 12)
    removed = Counter(
        Event.objects.filter(job=job, action="award.removed").values_list("object_id", flat=True)
    )
    assert len(removed) == 12 and set(removed.values()) == {1}
    assert Award.objects.filter(removed_by_job=job).count() == 12


def test_a_job_its_living_worker_released_after_a_database_error_is_requeued(removal):
    owner = "celery:node-2:4242:alive"
    job = worker.claim_job(owner, removal(start=True).pk)
    heartbeat(owner, seconds_ago=1)
    worker.release(job, owner)  # what run_job does when a chunk meets an OperationalError

    assert "1 stalled job(s) were requeued" in janitor()
    assert Job.objects.get(pk=job.pk).status == Job.Status.QUEUED


def test_a_slow_worker_that_still_beats_keeps_its_job(removal):
    job = stall(removal(start=True), "celery:node-2:4242:slow")
    heartbeat("celery:node-2:4242:slow", seconds_ago=1, job=job)

    out = janitor()

    assert "0 stalled job(s) were requeued" in out
    assert Job.objects.get(pk=job.pk).status == Job.Status.IN_PROGRESS


def test_a_job_out_of_attempts_is_failed_with_the_reason_and_its_creator_told(settings, removal, smtp_server):
    job = stall(removal(start=True), "celery:node-2:4242:dead")
    Job.objects.filter(pk=job.pk).update(attempts=settings.CERTDESK_MAX_ATTEMPTS)

    out = janitor()

    assert f"failed after {settings.CERTDESK_MAX_ATTEMPTS} attempts (1 of 3 chunk(s) done)" in out
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    assert job.failure_reason.startswith(f"The job was started {settings.CERTDESK_MAX_ATTEMPTS} times")
    assert job.results_file and default_storage.exists(job.results_file.name)
    assert [d.recipients for d in smtp_server.messages] == [["alice@example.test"]]
    assert "Failed" in smtp_server.messages[0].message["Subject"]


def test_queued_jobs_whose_message_was_lost_are_sent_again_only_while_a_worker_is_idle(settings, removal):
    settings.CERTDESK_RUNNER = "celery"
    job = removal(start=True)
    long_ago = timezone.now() - dt.timedelta(seconds=settings.CERTDESK_RESEND_AFTER_SECONDS + 60)
    Job.objects.filter(pk=job.pk).update(enqueued_at=long_ago)
    busy = heartbeat("celery:node-2:1:busy", job=removal(start=True))

    assert "0 queued job(s) were sent again" in janitor()  # every worker busy: the job is just waiting

    Worker.objects.filter(pk=busy.pk).update(job=None, idle_since=timezone.now(), queues="certdesk.jobs")
    assert "0 queued job(s) were sent again" in janitor()  # just free: the next message is on its way

    Worker.objects.filter(pk=busy.pk).update(idle_since=long_ago, queues="certdesk.large")
    assert "0 queued job(s) were sent again" in janitor()  # the idle worker takes only large jobs

    Worker.objects.filter(pk=busy.pk).update(queues="certdesk.jobs,certdesk.schedule")
    out = janitor()
    assert f"Job {job.pk} “Spring removal”: queued since" in out and "1 queued job(s) were sent again" in out
    assert Job.objects.get(pk=job.pk).enqueued_at > long_ago


def test_old_draft_and_verified_jobs_are_deleted_with_their_files_and_dry_run_changes_nothing(
    settings, removal
):
    old = timezone.now() - dt.timedelta(days=settings.CERTDESK_DRAFT_RETENTION_DAYS + 1)
    draft = removal()
    verified = removal(validate_only=True)
    recent = removal()
    finished = removal(start=True)
    worker.run_next("w")
    Job.objects.filter(pk__in=[draft.pk, verified.pk, finished.pk]).update(created_at=old)
    draft.refresh_from_db()
    verified.refresh_from_db()
    assert draft.status == Job.Status.DRAFT and verified.status == Job.Status.VERIFIED
    files = [draft.original_file.name, verified.original_file.name, verified.results_file.name]
    assert all(files) and all(default_storage.exists(name) for name in files)

    dry = janitor("--dry-run")
    assert f"Would: Job {draft.pk} “Spring removal” (Draft, created" in dry
    assert f"Would: Job {verified.pk} “Spring removal” (Verified, created" in dry
    assert "2 old draft or verified job(s) would be deleted." in dry
    assert Job.objects.filter(pk__in=[draft.pk, verified.pk]).count() == 2
    assert all(default_storage.exists(name) for name in files)

    out = janitor()
    assert "2 old draft or verified job(s) were deleted." in out
    assert set(Job.objects.values_list("pk", flat=True)) == {recent.pk, finished.pk}
    assert not any(default_storage.exists(name) for name in files)
    deleted = Event.objects.filter(action="job.deleted").values_list("object_id", flat=True)
    assert sorted(deleted) == sorted([str(draft.pk), str(verified.pk)])


def test_a_retention_of_zero_keeps_draft_jobs_for_ever(settings, removal):
    settings.CERTDESK_DRAFT_RETENTION_DAYS = 0
    draft = removal()
    Job.objects.filter(pk=draft.pk).update(created_at=timezone.now() - dt.timedelta(days=3650))

    assert "0 old draft or verified job(s) were deleted." in janitor()
    assert Job.objects.filter(pk=draft.pk).exists()


def test_starting_a_draft_the_janitor_deleted_meanwhile_says_so(alice, removal):
    draft = removal()
    Job.objects.filter(pk=draft.pk).delete()

    with pytest.raises(services.JobInputError) as refused:
        services.start_job(draft, alice)
    assert f"Job {draft.pk} no longer exists" in str(refused.value.problems[0].message)
