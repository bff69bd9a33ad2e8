from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from .models import Activity, EmailTemplate, Enrollment, ExternalActivity, ExternalTrainingRecord
from .services import complete_enrollment, record_external_training


@admin.register(Activity)
class ActivityAdmin(admin.ModelAdmin):
    list_display = ("title", "type", "external_reference", "starts_at")
    list_filter = ("type",)
    search_fields = ("title", "external_reference")


@admin.register(Enrollment)
class EnrollmentAdmin(admin.ModelAdmin):
    list_display = ("activity", "user", "status", "enrolled_at", "completed_on", "unenrolled_at")
    list_filter = ("status", "unenrolment_email")
    search_fields = ("user__username", "user__user_id", "activity__external_reference", "activity__title")
    raw_id_fields = ("user", "activity", "unenrolled_by", "unenrolled_by_job")
    list_select_related = ("user", "activity")
    actions = ["mark_completed_today"]

    @admin.action(description="Mark selected enrolments completed today (awards assigned certifications)")
    def mark_completed_today(self, request: HttpRequest, queryset: QuerySet[Enrollment]) -> None:
        today = timezone.localdate()
        recorded = awarded = 0
        # Through the one completion service, so certifications assigned to the activity are awarded once.
        for pk in queryset.filter(status=Enrollment.Status.ENROLLED).values_list("pk", flat=True)[:1000]:
            done = complete_enrollment(pk, today, actor=request.user)
            recorded += done.recorded
            awarded += len(done.awarded)
        self.message_user(
            request,
            f"{recorded} enrolment(s) marked completed; {awarded} certification award(s) made.",
            messages.SUCCESS,
        )


@admin.register(ExternalActivity)
class ExternalActivityAdmin(admin.ModelAdmin):
    list_display = ("title", "provider")
    search_fields = ("title", "provider")


@admin.register(ExternalTrainingRecord)
class ExternalTrainingRecordAdmin(admin.ModelAdmin):
    list_display = ("user", "external_activity", "completed_on", "recorded_by", "recorded_at")
    raw_id_fields = ("user", "recorded_by")
    list_select_related = ("user", "external_activity")

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        # A new record goes through the service, which awards the certifications assigned to it.
        done = record_external_training(
            obj.user_id, obj.external_activity_id, obj.completed_on, actor=request.user
        )
        record = ExternalTrainingRecord.objects.filter(
            user_id=obj.user_id, external_activity_id=obj.external_activity_id, completed_on=obj.completed_on
        ).first()
        if record is not None:
            obj.pk = record.pk
        if done.awarded:
            self.message_user(
                request, f"Awarded: {', '.join(c.code for c in done.awarded)}.", messages.SUCCESS
            )


@admin.register(EmailTemplate)
class EmailTemplateAdmin(admin.ModelAdmin):
    list_display = ("key", "subject", "updated_at", "updated_by")
    raw_id_fields = ("updated_by",)
