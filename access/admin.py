from django.contrib import admin

from .models import Grant, Role


class GrantInline(admin.TabularInline):
    model = Grant
    extra = 1
    autocomplete_fields = ("org_units", "groups")


@admin.register(Role)
class RoleAdmin(admin.ModelAdmin):
    list_display = ("name", "description")
    list_filter = ("grants__permission", "grants__scope")
    search_fields = ("name", "members__username")
    filter_horizontal = ("members",)
    inlines = [GrantInline]


@admin.register(Grant)
class GrantAdmin(admin.ModelAdmin):
    list_display = ("role", "permission", "scope")
    list_filter = ("scope", "permission", "role")
    search_fields = ("role__name", "permission__name")
    autocomplete_fields = ("org_units", "groups")
