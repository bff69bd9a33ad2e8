from __future__ import annotations

from typing import Any

from django.urls import reverse
from rest_framework import serializers

from bulk.models import Job, JobRow
from credentials.models import Award, Certification
from learning.models import Activity, Enrollment
from people.models import Group, OrgUnit, User


class JobSerializer(serializers.ModelSerializer[Job]):
    created_by = serializers.CharField(source="created_by.username", read_only=True)
    created_by_name = serializers.CharField(source="created_by.display_name", read_only=True)
    status_display = serializers.CharField(source="get_status_display", read_only=True)
    counts = serializers.SerializerMethodField()
    progress = serializers.FloatField(read_only=True)
    # DRF removes declared fields from the class, so this does not shadow Serializer.errors at run time.
    errors = serializers.SerializerMethodField()  # type: ignore[assignment]
    summary = serializers.SerializerMethodField()
    results_url = serializers.SerializerMethodField()
    original_url = serializers.SerializerMethodField()
    restore_of = serializers.SerializerMethodField()
    read_as = serializers.SerializerMethodField()

    class Meta:
        model = Job
        fields = [
            "id",
            "kind",
            "title",
            "comment",
            "status",
            "status_display",
            "created_by",
            "created_by_name",
            "created_at",
            "queued_at",
            "started_at",
            "processed_at",
            "validate_only",
            "counts",
            "progress",
            "errors",
            "warnings",
            "summary",
            "original_filename",
            "original_url",
            "results_url",
            "restore_of",
            "read_as",
        ]
        read_only_fields = fields

    def get_counts(self, job: Job) -> dict[str, int]:
        return {"total": job.total, "succeeded": job.succeeded, "failed": job.failed, "skipped": job.skipped}

    def get_errors(self, job: Job) -> list[dict[str, Any]]:
        if job.failure_reason:
            return [
                {
                    "code": "job_failed",
                    "message": job.failure_reason,
                    "row": None,
                    "column": None,
                    "value": None,
                }
            ]
        return []

    def get_restore_of(self, job: Job) -> int | None:
        return job.params.get("restore_of")

    def get_summary(self, job: Job) -> dict[str, Any]:
        return dict(job.params.get("summary") or {})

    def get_read_as(self, job: Job) -> dict[str, str] | None:
        """How the file was read: format, encoding and delimiter, and the sentence the job page shows."""
        reading = job.params.get("reading")
        return dict(reading) if reading else None

    def _absolute(self, name: str, job: Job) -> str:
        path = reverse(name, args=[job.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path

    def get_results_url(self, job: Job) -> str | None:
        return self._absolute("api:job-results", job) if job.results_file else None

    def get_original_url(self, job: Job) -> str | None:
        return self._absolute("api:job-original", job) if job.original_file else None


class JobCreateSerializer(serializers.Serializer[Any]):
    """The multipart form of POST /api/v1/jobs/."""

    kind = serializers.CharField()
    title = serializers.CharField(allow_blank=True, required=False, default="")
    comment = serializers.CharField(allow_blank=True, required=False, default="")
    # An empty file is the intake's to refuse, with its published message.
    file = serializers.FileField(required=False, allow_empty_file=True)
    validate_only = serializers.BooleanField(required=False, default=False)
    start = serializers.BooleanField(required=False, default=False)


class JobRowSerializer(serializers.ModelSerializer[JobRow]):
    result = serializers.SerializerMethodField()
    message = serializers.SerializerMethodField()

    class Meta:
        model = JobRow
        fields = ["row_number", "cells", "key", "outcome", "result", "message"]

    def get_result(self, row: JobRow) -> str:
        labels: dict[str, str] = self.context.get("labels", {})
        return labels.get(row.outcome, row.outcome)

    def get_message(self, row: JobRow) -> str:
        messages: dict[str, str] = self.context.get("messages", {})
        return row.message or messages.get(row.outcome, "")


class UserSerializer(serializers.ModelSerializer[User]):
    class Meta:
        model = User
        fields = ["id", "user_id", "username", "first_name", "last_name", "email", "is_active"]


class GroupSerializer(serializers.ModelSerializer[Group]):
    class Meta:
        model = Group
        fields = ["id", "name", "description"]


class OrgUnitSerializer(serializers.ModelSerializer[OrgUnit]):
    class Meta:
        model = OrgUnit
        fields = ["id", "code", "name", "kind", "parent"]


class CertificationSerializer(serializers.ModelSerializer[Certification]):
    holders = serializers.IntegerField(read_only=True)
    always_valid = serializers.BooleanField(read_only=True)

    class Meta:
        model = Certification
        fields = ["id", "code", "title", "validity_days", "always_valid", "renewal_window_days", "holders"]


class AwardSerializer(serializers.ModelSerializer[Award]):
    user_id = serializers.CharField(source="user.user_id")
    username = serializers.CharField(source="user.username")
    first_name = serializers.CharField(source="user.first_name")
    last_name = serializers.CharField(source="user.last_name")

    class Meta:
        model = Award
        fields = [
            "id",
            "user_id",
            "username",
            "first_name",
            "last_name",
            "issue_date",
            "expiration_date",
            "always_valid",
            "association_type",
            "external_activity",
            "status",
        ]


class ActivitySerializer(serializers.ModelSerializer[Activity]):
    enrolled = serializers.IntegerField(read_only=True)
    completed = serializers.IntegerField(read_only=True)

    class Meta:
        model = Activity
        fields = [
            "id",
            "type",
            "title",
            "external_reference",
            "starts_at",
            "ends_at",
            "enrolled",
            "completed",
        ]


class EnrollmentSerializer(serializers.ModelSerializer[Enrollment]):
    user_id = serializers.CharField(source="user.user_id", read_only=True)
    username = serializers.CharField(source="user.username", read_only=True)
    activity_reference = serializers.CharField(source="activity.external_reference", read_only=True)

    class Meta:
        model = Enrollment
        fields = [
            "id",
            "user_id",
            "username",
            "activity",
            "activity_reference",
            "status",
            "enrolled_at",
            "completed_on",
            "unenrolled_at",
            "unenrolled_by_job",
        ]
