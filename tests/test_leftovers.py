"""The engine, not the kind, gives the rows a chunk did not succeed on their outcome: a kind says what
they get (named rows first, then every row still pending), and the job's counts include them."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest

from access.permissions import MANAGE_CERTIFICATION_REMOVAL
from bulk import services, worker
from bulk.intake import Column, Row
from bulk.kind import JobKind, Leftover, StagedRow, Validation
from bulk.models import Job, JobRow
from bulk.staging import mark_seqs

from .factories import make_csv


class VerdictValidation(Validation):
    def check(self, rows: list[Row]) -> list[StagedRow]:
        return [StagedRow(r.seq, r.row_number, r.cells, key=r.values["Verdict"]) for r in rows]


class VerdictKind(JobKind):
    """Rows saying "ok" succeed, "bad" are errors by name, the others are left to the engine."""

    slug = "verdict"
    label = "Verdict"
    tool_name = "Verdicts"
    permission = MANAGE_CERTIFICATION_REMOVAL
    columns = [Column("Verdict")]
    strict = False

    def validation(self, actor) -> VerdictValidation:
        return VerdictValidation(actor)

    def apply_chunk(self, job: Job, lo: int, hi: int, now: dt.datetime) -> list[Leftover]:
        rows = list(JobRow.objects.filter(job_id=job.pk, seq__gte=lo, seq__lt=hi).values_list("seq", "key"))
        mark_seqs(job, [seq for seq, verdict in rows if verdict == "ok"], JobRow.Outcome.SUCCEEDED)
        return [
            Leftover(
                JobRow.Outcome.ERROR, "Bad by name.", seqs=[seq for seq, verdict in rows if verdict == "bad"]
            ),
            Leftover(JobRow.Outcome.SKIPPED, "Left over."),
        ]


@pytest.fixture
def verdicts(settings):
    settings.CERTDESK_JOB_KINDS = [*settings.CERTDESK_JOB_KINDS, "tests.test_leftovers.VerdictKind"]
    settings.CERTDESK_CHUNK_SIZE = 2


def test_rows_a_kind_did_not_succeed_on_get_what_it_said_and_are_counted(verdicts, alice):
    verdicts_of_rows = ["ok", "bad", "maybe", "ok", "bad", "ok", "later"]
    job = services.submit(
        "verdict",
        make_csv([[v] for v in verdicts_of_rows], ("Verdict",)),
        "verdicts.csv",
        actor=alice,
        title="Verdicts",
        start=True,
    ).job

    ran = worker.run_next("test-worker")

    assert ran is not None and ran.pk == job.pk and ran.status == Job.Status.PROCESSED
    assert (ran.succeeded, ran.failed, ran.skipped, ran.rows_done) == (3, 2, 2, 7)
    with ran.results_file.open("rb") as stream:
        rows = list(csv.DictReader(io.StringIO(stream.read().decode("utf-8-sig"))))
    assert [(r["Result"], r["Message"]) for r in rows] == [
        ("Succeeded", ""),
        ("Error", "Bad by name."),
        ("Skipped", "Left over."),
        ("Succeeded", ""),
        ("Error", "Bad by name."),
        ("Succeeded", ""),
        ("Skipped", "Left over."),
    ]
