from django.contrib import admin

from .models import Award, Certification


@admin.register(Certification)
class CertificationAdmin(admin.ModelAdmin):
    list_display = ("code", "title", "validity_days", "renewal_window_days")
    search_fields = ("code", "title")
    # Completing one of these awards the certification automatically.
    filter_horizontal = ("activities", "external_activities")


@admin.register(Award)
class AwardAdmin(admin.ModelAdmin):
    list_display = ("certification", "user", "issue_date", "expiration_date", "association_type", "status")
    list_filter = ("status", "association_type", "certification")
    search_fields = ("user__user_id", "user__username", "certification__code")
    raw_id_fields = ("user", "removed_by", "removed_by_job", "awarded_by", "awarded_by_job")
    list_select_related = ("user", "certification")
