from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from django.http import QueryDict
from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from bulk.models import Job, JobRow
from bulk.preview import PREVIEWABLE
from bulk.registry import registry
from bulk.services import TITLE_MAX
from bulk.worker_status import WorkerStatus, workers_alive_count
from credentials.models import Award, Certification
from learning.models import Activity, Enrollment
from people.models import Group, OrgUnit, User

from .schema import CONTROL

TITLE_PATTERN = f"^[^{CONTROL}]*[^{CONTROL}\\s][^{CONTROL}]*$"


def json_type_refused(field: serializers.Field[Any, Any, Any, Any], value: Any) -> str:
    """What ``value`` should have been for ``field`` in a JSON body, or "" when it is that."""
    if value is None and field.allow_null:
        return ""
    if isinstance(field, serializers.ListField):
        if not isinstance(value, list):
            return "a list"
        return next((f"a list of {w}" for item in value if (w := json_type_refused(field.child, item))), "")
    if isinstance(field, serializers.BooleanField):
        return "" if isinstance(value, bool) else "true or false"
    if isinstance(field, serializers.IntegerField):
        return "" if isinstance(value, int) and not isinstance(value, bool) else "a whole number"
    if isinstance(field, (serializers.CharField, serializers.ChoiceField, serializers.DateField)):
        return "" if isinstance(value, str) else "text"
    return ""


class Input(serializers.Serializer[Any]):
    """A request body: a field it does not name is refused, not ignored, so that a misspelt field
    (``expiry_date`` for ``expiration_date``) cannot pass for a request that changes nothing."""

    # Fields a request of another kind takes, with why this one does not: {name: message}.
    refused: dict[str, str] = {}

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict) and not isinstance(data, QueryDict):
            # A JSON body: each value of the JSON type its field is written as (DRF would take 5 for "5").
            mistyped = {
                name: [f"{name} must be {wanted}, not {type(data[name]).__name__} {data[name]!r}."]
                for name, field in self.fields.items()
                if name in data and (wanted := json_type_refused(field, data[name]))
            }
            if mistyped:
                raise serializers.ValidationError(mistyped)
        if isinstance(data, Mapping):
            unknown = [name for name in data if name not in self.fields]
            if unknown:
                fields = ", ".join(self.fields)
                raise serializers.ValidationError(
                    {
                        name: [
                            serializers.ErrorDetail(self.refused[name], code="fixed_field")
                            if name in self.refused
                            else f"'{name}' is not a field of this request; its fields are {fields}."
                        ]
                        for name in unknown
                    }
                )
        return super().to_internal_value(data)


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
    approval = serializers.SerializerMethodField(
        help_text="While Awaiting approval: why ({reason}) and who asked; once approved, also approved_by"
    )
    rejection = serializers.SerializerMethodField(
        help_text="The last rejection: by, reason, at; null if none"
    )
    waiting_for_worker = serializers.SerializerMethodField(
        help_text="True when the job is queued and no worker is running to take it (GET /api/v1/workers/)."
    )

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
            "approval",
            "rejection",
            "waiting_for_worker",
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

    def get_approval(self, job: Job) -> dict[str, str] | None:
        return dict(job.params.get("approval") or {}) or None

    def get_rejection(self, job: Job) -> dict[str, str] | None:
        return dict(job.params.get("rejection") or {}) or None

    def get_waiting_for_worker(self, job: Job) -> bool:
        if job.status != Job.Status.QUEUED:
            return False
        # Counted once for a whole page of jobs: the context (a dict) is the list serializer's.
        context = cast(dict[str, Any], self.context)
        if "workers_alive" not in context:
            context["workers_alive"] = workers_alive_count()
        return not context["workers_alive"]

    def _absolute(self, name: str, job: Job) -> str:
        path = reverse(name, args=[job.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path

    def get_results_url(self, job: Job) -> str | None:
        return self._absolute("api:job-results", job) if job.results_file else None

    def get_original_url(self, job: Job) -> str | None:
        return self._absolute("api:job-original", job) if job.original_file else None


class WorkerJobSerializer(serializers.Serializer[Any]):
    """The job a worker runs: described when the viewer may see it, else only ``hidden``."""

    id = serializers.IntegerField(allow_null=True, help_text="null when the job is hidden")
    title = serializers.CharField(required=False)
    kind = serializers.CharField(required=False)
    progress = serializers.FloatField(required=False, help_text="0 to 1")
    hidden = serializers.BooleanField(help_text="The worker runs a job outside what you may see")


class WorkerSerializer(serializers.Serializer[WorkerStatus]):
    name = serializers.CharField(source="worker.name", help_text="The owner written on the leases it takes")
    runner = serializers.CharField(source="worker.runner", help_text="thread, worker or celery")
    hostname = serializers.CharField(source="worker.hostname")
    pid = serializers.IntegerField(source="worker.pid")
    queues = serializers.SerializerMethodField()
    started_at = serializers.DateTimeField(source="worker.started_at")
    last_seen_at = serializers.DateTimeField(source="worker.last_seen_at")
    stopped_at = serializers.DateTimeField(source="worker.stopped_at", allow_null=True)
    jobs_run = serializers.IntegerField(source="worker.jobs_run")
    alive = serializers.BooleanField()
    job = serializers.SerializerMethodField(help_text="null when idle")

    def get_queues(self, status: WorkerStatus) -> list[str]:
        """The Celery queues it consumes from; empty for the other runners."""
        return [q for q in status.worker.queues.split(",") if q]

    @extend_schema_field(WorkerJobSerializer(allow_null=True))
    def get_job(self, status: WorkerStatus) -> dict[str, Any] | None:
        if status.hidden:
            return {"id": None, "hidden": True}
        job = status.job
        if job is None:
            return None
        return {"id": job.pk, "title": job.title, "kind": job.kind, "progress": job.progress, "hidden": False}


class WorkersSerializer(serializers.Serializer[Any]):
    """GET /api/v1/workers/: counts of the workers alive now, and the workers themselves."""

    alive = serializers.IntegerField(help_text="Workers alive now")
    busy = serializers.IntegerField(help_text="Alive workers running a job")
    idle = serializers.IntegerField(help_text="Alive workers waiting for a job")
    results = WorkerSerializer(many=True, help_text="Alive workers first, then those seen recently")


class RejectionSerializer(Input):
    reason = serializers.CharField(max_length=1000, help_text="Why: the creator sees it on the job's page")


VALIDATE_ONLY_WITH_START = "validate_only_with_start"


class JobCreateSerializer(Input):
    """The multipart form of POST /api/v1/jobs/."""

    kind = serializers.ChoiceField(choices=[])
    # What check_title takes: some text that is not only spaces, up to TITLE_MAX characters.
    title = serializers.RegexField(TITLE_PATTERN, max_length=TITLE_MAX, trim_whitespace=False)
    comment = serializers.CharField(allow_blank=True, required=False, default="")
    # An empty file is the intake's to refuse, with its published message.
    file = serializers.FileField(required=False, allow_empty_file=True)
    validate_only = serializers.BooleanField(required=False, default=False)
    start = serializers.BooleanField(required=False, default=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The kinds registered when the request comes (a deployment may add its own).
        kinds = sorted(registry())
        kind = cast(serializers.ChoiceField, self.fields["kind"])
        kind.choices = kinds
        kind.error_messages["invalid_choice"] = (
            f"Unknown job kind '{{input}}'. Known kinds: {', '.join(kinds)}."
        )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("validate_only") and attrs.get("start"):
            raise serializers.ValidationError(
                {
                    "start": serializers.ErrorDetail(
                        "Choose one: validate_only checks the file and changes nothing, start runs the "
                        "job; both were given.",
                        code=VALIDATE_ONLY_WITH_START,
                    )
                }
            )
        return attrs


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


class PreviewOutcomeSerializer(serializers.Serializer[Any]):
    outcome = serializers.ChoiceField(choices=["pending", "skipped", "error"])
    # DRF removes declared fields from the class, so this does not shadow Field.label at run time.
    label = serializers.CharField(help_text="As the results file names it: 'Would remove', 'Skipped' …")  # type: ignore[assignment]
    rows = serializers.IntegerField(min_value=0)


class PreviewCountsSerializer(serializers.Serializer[Any]):
    pending = serializers.IntegerField(min_value=0, help_text="Rows that would succeed")
    skipped = serializers.IntegerField(min_value=0)
    error = serializers.IntegerField(min_value=0)


class PreviewTargetSerializer(serializers.Serializer[Any]):
    target = serializers.CharField(help_text="The certification, activity or licence type; 'Not recognised'")
    rows = PreviewCountsSerializer()


class PreviewUnitSerializer(serializers.Serializer[Any]):
    org_unit = serializers.CharField(help_text="'Not in an org unit' for learners in none")
    rows = serializers.IntegerField(min_value=0, help_text="Rows that would change for its members")


class PreviewOvertakenSerializer(serializers.Serializer[Any]):
    row = serializers.IntegerField(min_value=1)
    key = serializers.CharField(allow_blank=True)
    outcome = serializers.ChoiceField(choices=["skipped", "error"])
    message = serializers.CharField(allow_blank=True)


class PreviewChangeSerializer(serializers.Serializer[Any]):
    row = serializers.IntegerField(min_value=1)
    key = serializers.CharField(allow_blank=True)
    target = serializers.CharField(allow_blank=True)
    change = serializers.CharField(help_text="'Would remove', 'Would edit' …")
    before = serializers.DictField(child=serializers.CharField(allow_blank=True))
    after = serializers.DictField(child=serializers.CharField(allow_blank=True))
    message = serializers.CharField(allow_blank=True)


class PreviewSerializer(serializers.Serializer[Any]):
    """What starting a job that has not run would do, checked now by the validation that made it."""

    job = serializers.IntegerField()
    status = serializers.ChoiceField(choices=[s.value for s in PREVIEWABLE])
    target_label = serializers.CharField()
    outcomes = PreviewOutcomeSerializer(many=True)
    targets = PreviewTargetSerializer(many=True)
    org_units = PreviewUnitSerializer(many=True)
    overtaken_total = serializers.IntegerField(
        min_value=0, help_text="Rows valid when the file was checked that no longer are"
    )
    overtaken = PreviewOvertakenSerializer(many=True, help_text="The first CERTDESK_PREVIEW_ROWS of them")
    changes_total = serializers.IntegerField(min_value=0)
    changes = PreviewChangeSerializer(
        many=True, help_text="The first CERTDESK_PREVIEW_ROWS rows it would change; /changes/ has them all"
    )
    seconds = serializers.FloatField(help_text="How long the check took")
