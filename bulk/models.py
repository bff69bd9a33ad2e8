"""Jobs and their rows: the source of truth for every bulk change."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Count, Q


class Job(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        VERIFIED = "verified", "Verified"
        AWAITING_APPROVAL = "awaiting_approval", "Awaiting approval"
        QUEUED = "queued", "Queued"
        IN_PROGRESS = "in_progress", "In Progress"
        PROCESSED = "processed", "Processed"
        FAILED = "failed", "Failed"

    STARTABLE = (Status.DRAFT, Status.VERIFIED)
    FINISHED = (Status.PROCESSED, Status.FAILED)

    kind = models.CharField(max_length=50, db_index=True)
    title = models.CharField("Job Title", max_length=100)
    comment = models.TextField(blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT)
    validate_only = models.BooleanField(default=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="jobs")
    created_at = models.DateTimeField(db_index=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    # When a runner last sent the job to a worker (a queue may lose messages: the janitor sends again).
    enqueued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    # What the kind resolved while validating (e.g. the certification), for the apply step.
    params = models.JSONField(default=dict, blank=True)
    warnings = models.JSONField(default=list, blank=True)

    total = models.PositiveIntegerField(default=0)
    rows_done = models.PositiveIntegerField(default=0)
    succeeded = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)

    # Checkpoint: chunks below this index are committed; a resumed job starts here.
    chunk_size = models.PositiveIntegerField()
    chunks_done = models.PositiveIntegerField(default=0)

    # Lease: the worker holding it owns the job until it expires; every chunk commit is fenced by it.
    lease_owner = models.CharField(max_length=100, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)

    original_file = models.FileField(max_length=300, blank=True)
    original_filename = models.CharField(max_length=255, blank=True)
    original_size = models.PositiveIntegerField(default=0)
    original_sha256 = models.CharField(max_length=64, blank=True)
    results_file = models.FileField(max_length=300, blank=True)
    results_size = models.PositiveIntegerField(default=0)
    results_sha256 = models.CharField(max_length=64, blank=True)

    failure_reason = models.TextField(blank=True)
    notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        permissions = [
            ("manage_certification_removal", "Manage certification removal jobs"),
            ("import_unenrolments", "Import unenrolments"),
            ("approve_jobs", "Approve bulk jobs"),
        ]
        indexes = [
            # The claim query looks for the oldest queued job, or one whose lease expired.
            models.Index(fields=["status", "created_at"], name="job_status_created"),
            models.Index(fields=["kind", "created_at"], name="job_kind_created"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(rows_done__lte=models.F("total")), name="job_rows_done_within_total"
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.title}"

    def outcome(self) -> str:
        """The row counts in a few words ("48 succeeded, 2 failed"); for a job not run yet, its size."""
        if self.status in self.STARTABLE:
            return f"{self.total:,} row{'' if self.total == 1 else 's'}, not run yet"
        parts = [
            f"{number:,} {word}"
            for number, word in (
                (self.succeeded, "succeeded"),
                (self.failed, "failed"),
                (self.skipped, "skipped"),
            )
            if number
        ]
        return ", ".join(parts) or "—"

    @property
    def progress(self) -> float:
        if self.status == self.Status.PROCESSED:
            return 1.0
        return self.rows_done / self.total if self.total else 0.0

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    @property
    def chunk_count(self) -> int:
        return -(-self.total // self.chunk_size) if self.chunk_size else 0

    def outcome_counts(self) -> dict[str, int]:
        """How many of the job's rows have each outcome, every outcome listed (one grouped query).

        What the rows say now, e.g. what a verified job would do; the counters (``succeeded`` …)
        say what a run has done so far. Once every chunk has run they say the same, and are read
        instead of counting the rows (a tenth of a second for a job of 500,000): each chunk counted
        its rows' outcomes as it committed, and nothing changes a row's outcome after its chunk.
        """
        if (
            self.total
            and self.chunk_count
            and self.chunks_done >= self.chunk_count
            and self.rows_done == self.total
        ):
            done = self.succeeded + self.skipped + self.failed
            return {
                JobRow.Outcome.PENDING.value: self.total - done,
                JobRow.Outcome.SUCCEEDED.value: self.succeeded,
                JobRow.Outcome.SKIPPED.value: self.skipped,
                JobRow.Outcome.ERROR.value: self.failed,
            }
        found = dict(self.rows.values_list("outcome").annotate(n=Count("id")).order_by())
        return {outcome: found.get(outcome, 0) for outcome in JobRow.Outcome.values}


class JobRow(models.Model):
    """One data row of a job's file, with what the kind resolved and what happened to it.

    ``seq`` orders rows as in the file (0-based, data rows only) and decides their chunk;
    ``row_number`` is the row an administrator sees in a spreadsheet (the header is row 1).
    """

    class Outcome(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Succeeded"
        SKIPPED = "skipped", "Skipped"
        ERROR = "error", "Error"

    # Indexed by the (job, seq) unique constraint; a separate job index would only slow inserts. Neither
    # reference is a database constraint: staging writes 50,000 rows for the job it has just made, naming
    # users it has just read, and PostgreSQL would check (and lock) both for every row when the
    # transaction commits, a fifth of a second each. Deleting a job or a user goes through Django, which
    # deletes the job's rows and clears the user (on_delete).
    job = models.ForeignKey(
        Job, on_delete=models.CASCADE, related_name="rows", db_index=False, db_constraint=False
    )
    seq = models.PositiveIntegerField()
    row_number = models.PositiveIntegerField()
    cells = models.JSONField(help_text="The row's cells as uploaded, for the results file.")
    key = models.CharField(max_length=200, blank=True, help_text="The row's main value, e.g. its User ID.")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    target_id = models.BigIntegerField(null=True, blank=True, help_text="Certification, activity …")
    data = models.JSONField(null=True, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.PENDING)
    message = models.TextField(blank=True)

    class Meta:
        ordering = ["job", "seq"]
        constraints = [models.UniqueConstraint(fields=["job", "seq"], name="job_row_seq_unique")]

    def __str__(self) -> str:
        return f"job {self.job_id} row {self.row_number}: {self.outcome}"


class Worker(models.Model):
    """A process that runs jobs, known by the heartbeat it records while it lives.

    ``name`` is the owner written on the leases it takes, so a job's lease says which worker holds it.
    """

    name = models.CharField(max_length=100, unique=True)
    runner = models.CharField(max_length=20, help_text="thread, worker (the polling loop) or celery")
    hostname = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    queues = models.CharField(max_length=255, blank=True)
    started_at = models.DateTimeField()
    last_seen_at = models.DateTimeField(db_index=True)
    stopped_at = models.DateTimeField(null=True, blank=True)
    job = models.ForeignKey(
        Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", help_text="Running now"
    )
    jobs_run = models.PositiveIntegerField(default=0)
    # Since when it has run no job (None while it runs one): a queued job older than a long idle
    # worker that takes its queue was lost by the broker.
    idle_since = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-last_seen_at"]

    def __str__(self) -> str:
        return self.name


class ScheduleRun(models.Model):
    """One run of a scheduled task for one period: the row is the claim, so two schedulers run it once."""

    name = models.CharField(max_length=50)
    slot = models.CharField(max_length=40, help_text="The period claimed, e.g. a date or a minute")
    claimed_by = models.CharField(max_length=100)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.TextField(blank=True)
    # Other schedulers that found this period already claimed (two schedulers running by mistake).
    duplicates = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-started_at"]
        constraints = [models.UniqueConstraint(fields=["name", "slot"], name="schedule_run_once")]

    def __str__(self) -> str:
        return f"{self.name} {self.slot}"
