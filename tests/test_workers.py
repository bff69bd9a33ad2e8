"""Workers: claiming is atomic, a dead worker's job is resumed where it stopped, and no row is ever
applied twice. Workers here are real ``certdesk worker`` processes, killed with SIGKILL."""

from __future__ import annotations

import datetime as dt
import signal
import subprocess
import threading
import time
from collections import Counter

import pytest
from django.db import close_old_connections, connection
from django.utils import timezone

from audit.models import Event
from bulk import services, worker
from bulk.models import Job, JobRow, Worker
from credentials.models import Award

from .factories import UserFactory, award_many, make_csv, removal_rows
from .processes import CERTDESK, cli_env

pytestmark = pytest.mark.django_db(transaction=True)

ROWS = 60
CHUNK = 6
WAIT_SECONDS = 60


@pytest.fixture
def queued_job(settings, alice, certification) -> Job:
    """A queued removal of 60 holders in chunks of 6."""
    settings.CERTDESK_CHUNK_SIZE = CHUNK
    users = UserFactory.create_batch(ROWS)
    award_many(certification, users)
    data = make_csv(removal_rows(certification, users))
    return services.submit(
        "certification-removal", data, "removal.csv", actor=alice, title="Big removal", start=True
    ).job


def start_worker(*args: str, **env: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [str(CERTDESK), "worker", *args],
        env=cli_env(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def wait_for(predicate, what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def assert_every_row_applied_once(job: Job) -> None:
    job.refresh_from_db()
    assert job.status == Job.Status.PROCESSED
    assert (job.total, job.rows_done, job.succeeded, job.skipped, job.failed) == (ROWS, ROWS, ROWS, 0, 0)
    assert JobRow.objects.filter(job=job, outcome=JobRow.Outcome.SUCCEEDED).count() == ROWS
    assert Award.objects.filter(removed_by_job=job).count() == ROWS
    events = Counter(
        Event.objects.filter(job=job, action="award.removed").values_list("object_id", flat=True)
    )
    assert len(events) == ROWS and set(events.values()) == {1}, "an award was removed more than once"


def test_a_worker_killed_mid_job_is_resumed_at_its_first_unfinished_chunk(queued_job):
    victim = start_worker(
        CERTDESK_CHUNK_PAUSE_SECONDS="0.4", CERTDESK_LEASE_SECONDS="2", CERTDESK_HEARTBEAT_SECONDS="0.2"
    )
    try:
        wait_for(lambda: Job.objects.get(pk=queued_job.pk).chunks_done >= 3, "three committed chunks")
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
    finally:
        if victim.poll() is None:
            victim.kill()

    stopped = Job.objects.get(pk=queued_job.pk)
    assert stopped.status == Job.Status.IN_PROGRESS
    assert 3 <= stopped.chunks_done < ROWS // CHUNK
    # What was committed is whole chunks: counters, row outcomes and awards agree.
    assert stopped.rows_done == stopped.chunks_done * CHUNK
    assert Award.objects.filter(removed_by_job=stopped).count() == stopped.rows_done
    assert (
        JobRow.objects.filter(job=stopped).exclude(outcome=JobRow.Outcome.PENDING).count()
        == stopped.rows_done
    )

    # The next worker takes the job over once the dead worker's lease has expired and its heartbeat
    # has stopped (a worker that still beats is slow, not dead).
    wait_for(
        lambda: Job.objects.get(pk=queued_job.pk).lease_expires_at < timezone.now(), "the lease to expire"
    )
    silent = lambda: timezone.now() - dt.timedelta(seconds=1)  # noqa: E731
    wait_for(
        lambda: not Worker.objects.filter(job=queued_job, last_seen_at__gte=silent()).exists(),
        "the dead worker's heartbeat to stop",
    )
    rescuer = subprocess.run(
        [str(CERTDESK), "worker", "--once"],
        env=cli_env(CERTDESK_WORKER_ALIVE_SECONDS="1"),
        capture_output=True,
        timeout=WAIT_SECONDS,
    )
    assert rescuer.returncode == 0, rescuer.stdout + rescuer.stderr

    assert_every_row_applied_once(queued_job)
    queued_job.refresh_from_db()
    assert queued_job.attempts == 2


def test_two_workers_racing_for_one_job_run_it_once(queued_job):
    workers = [start_worker("--once") for _ in range(2)]
    outputs = []
    for process in workers:
        out, _ = process.communicate(timeout=WAIT_SECONDS)
        assert process.returncode == 0, out
        outputs.append(out.decode())

    assert sorted(outputs) == ["Ran 0 job(s).\n", "Ran 1 job(s).\n"]
    assert_every_row_applied_once(queued_job)
    queued_job.refresh_from_db()
    assert queued_job.attempts == 1


def test_many_threads_claiming_at_once_get_the_job_exactly_once(queued_job):
    winners: list[str] = []
    barrier = threading.Barrier(6)

    def claim(n: int) -> None:
        try:
            barrier.wait()
            if worker.claim_job(f"thread-{n}") is not None:
                winners.append(f"thread-{n}")
        finally:
            close_old_connections()

    threads = [threading.Thread(target=claim, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(winners) == 1
    job = Job.objects.get(pk=queued_job.pk)
    assert job.lease_owner == winners[0] and job.attempts == 1


def test_a_worker_whose_lease_was_taken_over_commits_nothing_more(queued_job):
    stale = worker.claim_job("stale-worker")
    assert stale is not None
    worker._run_chunk(stale, "stale-worker", worker.get_kind(stale.kind))
    # The stale worker stalls past its lease; another worker claims the job and finishes it.
    Job.objects.filter(pk=stale.pk).update(lease_expires_at=timezone.now() - dt.timedelta(seconds=1))
    fresh = worker.claim_job("fresh-worker")
    assert fresh is not None and fresh.pk == stale.pk and fresh.chunks_done == 1
    worker.run_job(fresh, "fresh-worker")

    # The stale worker wakes up and tries to go on: it is fenced off and changes nothing.
    with pytest.raises(worker.LeaseLost):
        worker._run_chunk(stale, "stale-worker", worker.get_kind(stale.kind))
    assert worker.run_job(stale, "stale-worker").status == Job.Status.PROCESSED

    assert_every_row_applied_once(queued_job)


def test_only_the_owner_renews_a_lease(queued_job):
    job = worker.claim_job("owner")
    assert job is not None
    worker.renew_lease(job, "owner")
    with pytest.raises(worker.LeaseLost):
        worker.renew_lease(job, "somebody-else")


def test_a_job_that_never_finishes_is_failed_after_the_last_attempt_not_retried_forever(settings, queued_job):
    settings.CERTDESK_MAX_ATTEMPTS = 2
    for attempt in (1, 2):
        job = worker.claim_job(f"doomed-{attempt}")
        assert job is not None and job.attempts == attempt
        # The worker dies without a trace; its lease runs out.
        Job.objects.filter(pk=job.pk).update(lease_expires_at=timezone.now() - dt.timedelta(seconds=1))

    assert worker.claim_job("third") is None

    job = Job.objects.get(pk=queued_job.pk)
    assert job.status == Job.Status.FAILED
    assert "started 2 times and never finished" in job.failure_reason
    assert job.results_file  # the rows say "Not processed"


def test_a_worker_frozen_inside_a_chunk_loses_its_transaction_and_another_finishes_the_job(queued_job):
    """SIGSTOP inside a chunk's transaction: on PostgreSQL the server ends the idle transaction, so its
    locks go and the next worker takes the job over once the lease has expired, exactly once."""
    if connection.vendor != "postgresql":
        pytest.skip(
            "needs PostgreSQL: idle-in-transaction timeouts are a PostgreSQL feature (SQLite has none); "
            "it runs in CI's PostgreSQL pass"
        )
    frozen = start_worker(
        CERTDESK_CHUNK_HOLD_SECONDS="0.5",
        CERTDESK_LEASE_SECONDS="3",
        CERTDESK_HEARTBEAT_SECONDS="0.2",
        LOG_LEVEL="INFO",
    )
    said: list[str] = []
    reader = threading.Thread(
        target=lambda: said.extend(line.decode() for line in frozen.stdout), daemon=True
    )
    reader.start()
    rescuer = None
    try:
        marker = f"Job {queued_job.pk}: chunk 3 of 10 applied, not yet committed"
        wait_for(lambda: any(marker in line for line in said), "the worker to be inside its third chunk")
        frozen.send_signal(signal.SIGSTOP)  # frozen with the chunk's transaction open and its locks held
        rescuer = start_worker(CERTDESK_WORKER_ALIVE_SECONDS="1", CERTDESK_LEASE_SECONDS="3")
        wait_for(
            lambda: Job.objects.get(pk=queued_job.pk).status == Job.Status.PROCESSED, "the rescuer to finish"
        )
    finally:
        for process in (frozen, rescuer):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGCONT)
                process.kill()
                process.wait(timeout=10)
    assert_every_row_applied_once(queued_job)
    queued_job.refresh_from_db()
    assert queued_job.attempts == 2
