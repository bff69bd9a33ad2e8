from django.contrib import admin

from .models import Activity, EmailTemplate, Enrollment


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


@admin.register(EmailTemplate)
class EmailTemplateAdmin(admin.ModelAdmin):
    list_display = ("key", "subject", "updated_at", "updated_by")
    raw_id_fields = ("updated_by",)
