"""The learning catalogue: activities (courses, sessions, learning plans) and who is enrolled in them."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q


class Activity(models.Model):
    """A course, session or learning plan. Files name it by its external reference."""

    class Type(models.TextChoices):
        COURSE = "course", "Course"
        SESSION = "session", "Session"
        LEARNING_PLAN = "learning_plan", "Learning plan"

    type = models.CharField(max_length=20, choices=Type.choices, default=Type.COURSE)
    title = models.CharField(max_length=200)
    # NULL, not "", when unset: the unique constraint must allow any number of activities without one.
    external_reference = models.CharField(
        "external reference",
        max_length=100,
        null=True,
        blank=True,
        unique=True,
        help_text="Matches this activity to the rows of an import file, e.g. unenrolments.",
    )
    description = models.TextField(blank=True)
    starts_at = models.DateTimeField("start", null=True, blank=True, help_text="Sessions only.")
    ends_at = models.DateTimeField("end", null=True, blank=True, help_text="Sessions only.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["title", "id"]
        verbose_name_plural = "activities"
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__isnull=True)
                | Q(starts_at__isnull=True)
                | Q(ends_at__gte=models.F("starts_at")),
                name="activity_ends_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.external_reference})" if self.external_reference else self.title

    def save(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        self.external_reference = (self.external_reference or "").strip() or None
        super().save(*args, **kwargs)


class EnrollmentQuerySet(models.QuerySet["Enrollment"]):
    def current(self) -> EnrollmentQuerySet:
        """Enrolments that have not ended: enrolled or completed."""
        return self.exclude(status=Enrollment.Status.UNENROLLED)

    def counts(self) -> dict[str, int]:
        """How many are enrolled (not ended), completed (ended since or not) and unenrolled: one query."""
        return _summed(self.values("status").annotate(**_counted()).order_by())

    def counts_by_activity(self) -> dict[int, dict[str, int]]:
        """The same counts per activity (those without enrolments are absent): one grouped query,
        however many enrolments there are."""
        rows: dict[int, list[dict[str, Any]]] = {}
        for row in self.values("activity_id", "status").annotate(**_counted()).order_by():
            rows.setdefault(row["activity_id"], []).append(row)
        return {activity_id: _summed(found) for activity_id, found in rows.items()}


def _counted() -> dict[str, models.Count]:
    # Grouped by status and counted from the (activity, status, completion date) index alone: a
    # count filtered per row would read every enrolment of the listed activities from the table.
    return {"n": models.Count("*"), "with_completion": models.Count("completed_on")}


def _summed(by_status: Any) -> dict[str, int]:
    counts = {"enrolled": 0, "completed": 0, "unenrolled": 0}
    for row in by_status:
        ended = row["status"] == Enrollment.Status.UNENROLLED
        counts["unenrolled" if ended else "enrolled"] += row["n"]
        counts["completed"] += row["with_completion"]
    return counts


class Enrollment(models.Model):
    """A user's enrolment in an activity.

    Unenrolling ends the enrolment but keeps its completion: ``completed_on`` stays, so reports
    still show a completed course or an attended session.
    """

    class Status(models.TextChoices):
        ENROLLED = "enrolled", "Enrolled"
        COMPLETED = "completed", "Completed"
        UNENROLLED = "unenrolled", "Unenrolled"

    class Email(models.TextChoices):
        NONE = "", "No email"
        PENDING = "pending", "Waiting to be sent"
        SENDING = "sending", "Being sent"
        SENT = "sent", "Sent"
        FAILED = "failed", "Not sent"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="enrollments")
    # Indexed by (activity, status) below; a second index on the activity alone would only cost writes.
    activity = models.ForeignKey(
        Activity, on_delete=models.CASCADE, related_name="enrollments", db_index=False
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ENROLLED)
    enrolled_at = models.DateTimeField()
    completed_on = models.DateField("completion date", null=True, blank=True)
    unenrolled_at = models.DateTimeField(null=True, blank=True)
    # Provenance, not database constraints, as on awards.
    unenrolled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    unenrolled_by_job = models.ForeignKey(
        "bulk.Job",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    # The learner's unenrolment email, sent once, after the change has committed.
    unenrolment_email = models.CharField(max_length=8, choices=Email.choices, blank=True, default=Email.NONE)
    # When it was sent (or, while being sent, when it was claimed).
    unenrolment_email_sent_at = models.DateTimeField(null=True, blank=True)
    unenrolment_email_error = models.CharField(max_length=300, blank=True)

    objects = EnrollmentQuerySet.as_manager()

    class Meta:
        ordering = ["activity", "user"]
        indexes = [
            # With the completion date, the catalogue's counts read this index alone.
            models.Index(fields=["activity", "status", "completed_on"], name="enrollment_activity_status"),
            models.Index(fields=["unenrolled_by_job", "user"], name="enrollment_unenrolled_by_job"),
            models.Index(
                fields=["unenrolment_email"],
                name="enrollment_email_pending",
                condition=Q(unenrolment_email="pending"),
            ),
        ]
        constraints = [
            # One current enrolment per user and activity; ended ones are history.
            models.UniqueConstraint(
                fields=["user", "activity"],
                condition=~Q(status="unenrolled"),
                name="one_current_enrollment",
            ),
            # The status says whether it was completed; an ended enrolment keeps its completion date.
            models.CheckConstraint(
                condition=~Q(status="completed") | Q(completed_on__isnull=False),
                name="completed_enrollment_has_date",
            ),
            models.CheckConstraint(
                condition=~Q(status="enrolled") | Q(completed_on__isnull=True),
                name="enrolled_enrollment_not_completed",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.activity}: {self.get_status_display()}"

    @property
    def is_completed(self) -> bool:
        """Completed (or attended), whether or not the enrolment has ended since."""
        return self.completed_on is not None


class ExternalActivity(models.Model):
    """Training done outside the platform (a conference, a regional training day) that can be recorded
    for a learner and assigned to certifications."""

    title = models.CharField(max_length=200, unique=True)
    provider = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["title"]
        verbose_name_plural = "external activities"

    def __str__(self) -> str:
        return self.title


class ExternalTrainingRecord(models.Model):
    """A learner completed an external training activity."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="external_training"
    )
    external_activity = models.ForeignKey(ExternalActivity, on_delete=models.PROTECT, related_name="records")
    completed_on = models.DateField()
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-completed_on", "-id"]
        constraints = [
            # Recording the same completion twice (a double click, a retried request) is one record.
            models.UniqueConstraint(
                fields=["user", "external_activity", "completed_on"], name="one_record_per_completion"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} completed {self.external_activity} on {self.completed_on}"


class EmailTemplate(models.Model):
    """An email certdesk sends to learners, editable by administrators.

    Placeholders in double braces — {{ first_name }}, {{ last_name }}, {{ full_name }},
    {{ activity_title }}, {{ activity_reference }} — are filled in for each learner.
    """

    UNENROLMENT = "unenrolment"
    RENEWAL = "renewal"
    KEYS = [(UNENROLMENT, "Unenrolment email"), (RENEWAL, "Certification renewal reminder")]

    key = models.CharField(max_length=50, unique=True, choices=KEYS)
    subject = models.CharField(max_length=200)
    body = models.TextField()
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    def __str__(self) -> str:
        return self.get_key_display()
