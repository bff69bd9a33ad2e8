"""What a job that has not run would change, worked out now by the validation that staged it.

A job is validated when its file is submitted; the data may change before it runs. A preview checks
the rows that would succeed again, with the kind's own validation, against the data as it is now:
the rows still valid are what the job will change (and the kind says how, before and after), the
others are what the world has overtaken, with the outcome the run will give them. The rows that were
errors or skipped when the file was checked stay so: a run never retries them.

Rows are read, checked and described a batch at a time (CERTDESK_INTAKE_BATCH_ROWS), a few queries a
batch, so that a preview of 300,000 rows costs about what their validation did, and no more memory.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection

from base.cells import neutralise
from base.sql import execute, fetch, keyed_rows, table, value_set
from people.models import OrgUnit, User

from .intake import BUILT, Reading, records_upload
from .kind import Change, JobKind, StagedRow
from .models import Job, JobRow
from .registry import get_kind

PENDING = JobRow.Outcome.PENDING.value
# The jobs a preview is for: those that have not started.
PREVIEWABLE = (Job.Status.DRAFT, Job.Status.VERIFIED, Job.Status.AWAITING_APPROVAL)
NO_UNIT = "Not in an org unit"
UNRESOLVED = "Not recognised"


@dataclass(frozen=True, slots=True)
class ChangedRow:
    """A row the job would change, and how."""

    row_number: int
    key: str
    target: str
    change: Change
    message: str = ""


@dataclass(frozen=True, slots=True)
class OvertakenRow:
    """A row that would have succeeded when the file was checked, and no longer would."""

    row_number: int
    key: str
    outcome: str
    message: str


@dataclass
class Preview:
    """What starting the job now would do: outcome counts as the run will give them, per target and
    per org unit, the first rows it would change and the first the world has overtaken."""

    job: Job
    kind: JobKind
    outcomes: dict[str, int]
    # Target name -> outcome -> rows, the targets with most rows first.
    targets: list[tuple[str, dict[str, int]]]
    # Org unit name -> rows that would change for its members; a member of two units counts in both.
    units: list[tuple[str, int]]
    changes: list[ChangedRow]
    overtaken: list[OvertakenRow]
    overtaken_counts: dict[str, int]
    seconds: float = 0.0
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def changing(self) -> int:
        return self.outcomes.get(PENDING, 0)

    @property
    def overtaken_total(self) -> int:
        return sum(self.overtaken_counts.values())

    def as_dict(self) -> dict[str, Any]:
        labels = self.labels
        return {
            "job": self.job.pk,
            "status": self.job.status,
            "target_label": self.kind.target_label,
            "outcomes": [
                {"outcome": outcome, "label": labels.get(outcome, outcome), "rows": rows}
                for outcome, rows in self.outcomes.items()
            ],
            "targets": [{"target": name, "rows": counts} for name, counts in self.targets],
            "org_units": [{"org_unit": name, "rows": rows} for name, rows in self.units],
            "overtaken_total": self.overtaken_total,
            "overtaken": [
                {"row": r.row_number, "key": r.key, "outcome": r.outcome, "message": r.message}
                for r in self.overtaken
            ],
            "changes_total": self.changing,
            "changes": [
                {
                    "row": c.row_number,
                    "key": c.key,
                    "target": c.target,
                    "change": c.change.action,
                    "before": c.change.before,
                    "after": c.change.after,
                    "message": c.message,
                }
                for c in self.changes
            ],
            "seconds": round(self.seconds, 3),
        }


# A row as staged, read back: (seq, row_number, cells, key, user_id, target_id, data, message), its
# data still as the database returns it (JSON text on SQLite) until ``as_staged`` needs it.
Staged = tuple[Any, ...]


def checked_again(job: Job, kind: JobKind | None = None) -> Iterator[list[tuple[Staged, StagedRow]]]:
    """The job's rows that would succeed, a batch at a time, each as staged and as its kind's
    validation stages it now: (staged, now) pairs, in file order.

    A restore's rows are not a file to validate: they are checked as the restore checks them when it
    runs, and those whose object someone changed after the job they undo come back Skipped, saying
    who and when.
    """
    kind = kind or get_kind(job.kind)
    header = list(job.params.get("header") or [column.name for column in kind.columns])
    restore = bool(job.params.get("restore_of"))
    validation = kind.validation(job.created_by)
    validation.revalidating = True
    size = settings.CERTDESK_INTAKE_BATCH_ROWS
    after = -1
    while True:
        found = fetch(
            f"SELECT seq, row_number, cells, key, user_id, target_id, data, message FROM {table(JobRow)} "
            "WHERE job_id = %s AND outcome = 'pending' AND seq > %s ORDER BY seq LIMIT %s",
            [job.pk, after, size],
        )
        if not found:
            return
        after = found[-1][0]
        if restore:
            restoring = as_staged(found)
            pending = [(r.seq, r.user_id or 0, r.target_id or 0, r.data) for r in restoring]
            for leftover in kind.changed_since_job(job, pending):
                left_alone = set(leftover.seqs or ())
                for staged_row in restoring:
                    if staged_row.seq in left_alone:
                        staged_row.outcome, staged_row.message = leftover.outcome, leftover.message
            yield list(zip(found, restoring, strict=True))
            continue
        cells = [r[2] for r in found]
        if cells and isinstance(cells[0], str):
            cells = json.loads("[" + ",".join(cells) + "]")  # SQLite: one decode for the batch
        upload = records_upload(
            iter([(1, header), *((r[1], c) for r, c in zip(found, cells, strict=True))]),
            kind.columns,
            reading=Reading(BUILT),
            max_rows=len(found),
        )
        rows = list(upload.rows)
        for row, before in zip(rows, found, strict=True):
            row.seq = before[0]
        yield list(zip(found, validation.check(rows), strict=True))


def as_staged(found: Sequence[Staged]) -> list[StagedRow]:
    """Rows read back as staged rows, their cells and data decoded (one decode for them all)."""
    if not found:
        return []
    cells = [r[2] for r in found]
    data = [r[6] for r in found]
    if any(isinstance(c, str) for c in cells):
        cells = json.loads("[" + ",".join(cells) + "]")
        data = json.loads("[" + ",".join(d if d is not None else "null" for d in data) + "]")
    return [
        StagedRow(r[0], r[1], c, r[3], r[4], r[5], d, PENDING, r[7])
        for r, c, d in zip(found, cells, data, strict=True)
    ]


def preview_job(job: Job, *, listed: int | None = None) -> Preview:
    """What starting ``job`` now would do (see the module's docstring); ``listed`` rows of each list
    are kept (CERTDESK_PREVIEW_ROWS)."""
    began = time.perf_counter()
    kind = get_kind(job.kind)
    listed = settings.CERTDESK_PREVIEW_ROWS if listed is None else listed
    outcomes: Counter[str] = Counter()
    by_target: dict[int | None, Counter[str]] = {}
    overtaken_counts: Counter[str] = Counter()
    overtaken: list[OvertakenRow] = []
    changes: list[ChangedRow] = []
    changed_users: list[int] = []
    names: dict[int, str] = {}
    for batch in checked_again(job, kind):
        now_outcomes = [now.outcome for _, now in batch]
        outcomes.update(now_outcomes)
        for (target_id, outcome), rows in Counter(
            (staged[5], outcome) for (staged, _), outcome in zip(batch, now_outcomes, strict=True)
        ).items():
            by_target.setdefault(target_id, Counter())[outcome] += rows
        if now_outcomes.count(PENDING) == len(now_outcomes):
            still = [staged for staged, _ in batch]  # the usual batch: nothing overtaken
        else:
            still = []
            for staged, now in batch:
                if now.outcome == PENDING:
                    still.append(staged)
                    continue
                overtaken_counts[now.outcome] += 1
                if len(overtaken) < listed:
                    overtaken.append(OvertakenRow(staged[1], staged[3], now.outcome, now.message))
        changed_users += [staged[4] for staged in still if staged[4] is not None]
        if len(changes) < listed and still:
            changes += _described(job, kind, as_staged(still[: listed - len(changes)]), names)
    # What validation made errors or skipped is what the run will leave them: one grouped query.
    for target_id, outcome, rows in fetch(
        f"SELECT target_id, outcome, COUNT(*) FROM {table(JobRow)} WHERE job_id = %s "
        "AND outcome <> 'pending' GROUP BY target_id, outcome",
        [job.pk],
    ):
        outcomes[outcome] += rows
        by_target.setdefault(target_id, Counter())[outcome] += rows
    unknown = [pk for pk in by_target if pk is not None and pk not in names]
    names.update(kind.target_names(unknown) if unknown else {})
    order = [PENDING, JobRow.Outcome.SKIPPED.value, JobRow.Outcome.ERROR.value]
    targets = sorted(
        (
            (names.get(pk, UNRESOLVED) if pk is not None else UNRESOLVED, {o: counts[o] for o in order})
            for pk, counts in by_target.items()
        ),
        key=lambda item: (-item[1][PENDING], -sum(item[1].values()), item[0]),
    )
    return Preview(
        job=job,
        kind=kind,
        outcomes={o: outcomes[o] for o in order},
        targets=targets,
        units=units_of(changed_users),
        changes=changes,
        overtaken=overtaken,
        overtaken_counts=dict(overtaken_counts),
        seconds=time.perf_counter() - began,
        labels=kind.preview_labels,
    )


def _described(job: Job, kind: JobKind, rows: Sequence[StagedRow], names: dict[int, str]) -> list[ChangedRow]:
    """The changes of rows that would succeed, as the run will make them (from what was staged)."""
    wanted = sorted({row.target_id for row in rows if row.target_id is not None} - names.keys())
    names.update(kind.target_names(wanted) if wanted else {})
    described = kind.changes(job, rows)
    return [
        ChangedRow(
            row.row_number,
            row.key,
            names.get(row.target_id or 0, ""),
            described.get(row.seq) or Change(kind.preview_labels.get(PENDING, "Would change"), {}, {}),
            row.message,
        )
        for row in rows
    ]


def units_of(user_ids: Sequence[int]) -> list[tuple[str, int]]:
    """Org unit -> how many of ``user_ids`` (a user as often as they have rows) are its members, most
    first, and those in no unit: two queries, whatever the number of users."""
    if not user_ids:
        return []
    membership = table(User.org_units.through)
    users, param = value_set(user_ids)
    counted = fetch(
        f"SELECT m.orgunit_id, COUNT(*) FROM ({users}) v JOIN {membership} m ON m.user_id = v.value "
        "GROUP BY m.orgunit_id",
        [param],
    )
    (outside,) = fetch(
        f"SELECT COUNT(*) FROM ({users}) v WHERE NOT EXISTS "
        f"(SELECT 1 FROM {membership} m WHERE m.user_id = v.value)",
        [param],
    )[0]
    units = OrgUnit.objects.in_bulk([pk for pk, _ in counted])
    named = [(str(units[pk]) if pk in units else f"Unit {pk}", rows) for pk, rows in counted]
    if outside:
        named.append((NO_UNIT, outside))
    return sorted(named, key=lambda item: (-item[1], item[0]))


def changes_header(kind: JobKind) -> list[str]:
    fields = [f"{name} {when}" for name in kind.change_fields for when in ("before", "after")]
    return ["Row", kind.key_column or "Key", kind.target_label, "Change", *fields, "Message"]


def changes_csv_rows(job: Job) -> Iterator[list[str]]:
    """The "changes" file's rows: every row the job would change, before and after, checked now; its
    cells neutralised against spreadsheet formulas. Streams: one batch held at a time."""
    kind = get_kind(job.kind)
    names: dict[int, str] = {}
    for batch in checked_again(job, kind):
        still = as_staged([staged for staged, now in batch if now.outcome == PENDING])
        for row in _described(job, kind, still, names):
            before, after = row.change.before, row.change.after
            fields = [side.get(name, "") for name in kind.change_fields for side in (before, after)]
            yield [
                str(row.row_number),
                *(
                    neutralise(text)
                    for text in (row.key, row.target, row.change.action, *fields, row.message)
                ),
            ]


def record_overtaken(job: Job) -> dict[str, int]:
    """Give the rows the world has overtaken since validation the outcome and message their check
    gives now (an approval): what the job then runs is what its preview said. One UPDATE a batch;
    returns the rows given each outcome."""
    counts: Counter[str] = Counter()
    for batch in checked_again(job):
        moved = [(staged[0], now.outcome, now.message) for staged, now in batch if now.outcome != PENDING]
        if not moved:
            continue
        counts.update(outcome for _, outcome, _ in moved)
        q = connection.ops.quote_name
        with keyed_rows(moved, ("bigint", "text", "text")) as (rows, params):
            execute(
                f"UPDATE {table(JobRow)} SET {q('outcome')} = r.c1, {q('message')} = r.c2 FROM {rows} r "
                f"WHERE job_id = %s AND {q('seq')} = r.c0 AND {q('outcome')} = 'pending'",
                [*params, job.pk],
            )
    return dict(counts)


@dataclass
class RestorePreview:
    """What undoing a processed job now would do, before the restore job exists: how many of its
    changes would be put back, and which rows someone has changed since (left as they are)."""

    restorable: int
    overtaken: list[OvertakenRow]
    overtaken_total: int


def preview_restore(job: Job, *, listed: int | None = None) -> RestorePreview:
    """The drift check a restore of ``job`` runs, run now over the rows it succeeded on, a batch at a
    time: one query for the rows and a few for the check, per batch."""
    kind = get_kind(job.kind)
    listed = settings.CERTDESK_PREVIEW_ROWS if listed is None else listed
    # The restore as it would be made: the rows are the job's, the check the kind's.
    restore = Job(kind=job.kind, params={**job.params, "restore_of": job.pk})
    size = settings.CERTDESK_INTAKE_BATCH_ROWS
    after, restorable, total = -1, 0, 0
    overtaken: list[OvertakenRow] = []
    while True:
        found = fetch(
            f"SELECT seq, row_number, cells, key, user_id, target_id, data, message FROM {table(JobRow)} "
            "WHERE job_id = %s AND outcome = 'succeeded' AND seq > %s ORDER BY seq LIMIT %s",
            [job.pk, after, size],
        )
        if not found:
            return RestorePreview(restorable, overtaken, total)
        after = found[-1][0]
        rows = as_staged(found)
        left: dict[int, str] = {}
        for leftover in kind.changed_since_job(
            restore, [(r.seq, r.user_id or 0, r.target_id or 0, r.data) for r in rows]
        ):
            left.update(dict.fromkeys(leftover.seqs or (), leftover.message))
        total += len(left)
        restorable += len(rows) - len(left)
        for row in rows:
            if row.seq in left and len(overtaken) < listed:
                overtaken.append(
                    OvertakenRow(row.row_number, row.key, JobRow.Outcome.SKIPPED.value, left[row.seq])
                )
