"""The whole certification removal path in one test: submit, run, results."""

from __future__ import annotations

from bulk import services, worker
from bulk.models import Job
from credentials.models import Award

from .factories import make_csv, removal_rows


def test_processed_job_removes_the_named_holders_and_reports_each_row(alice, certification, holders):
    named = holders[:5]
    data = make_csv(removal_rows(certification, named))

    submission = services.submit(
        "certification-removal", data, "removal.csv", actor=alice, title="Audit clean-up", start=True
    )
    job = worker.run_next("test-worker")

    assert job is not None and job.pk == submission.job.pk
    assert job.status == Job.Status.PROCESSED
    assert (job.total, job.succeeded, job.skipped, job.failed) == (5, 5, 0, 0)
    removed = set(Award.objects.filter(status="removed").values_list("user__user_id", flat=True))
    assert removed == {u.user_id for u in named}
