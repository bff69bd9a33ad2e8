"""The Catalogue: activities with their external references and enrolments, each activity's properties
page, the Import unenrolments dialog (template, example, Verify import file only) and the unenrolment
email learners get."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import PurePath
from typing import Any, cast

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods

from access.permissions import EDIT_ACTIVITIES, EDIT_EMAIL_TEMPLATES, IMPORT_UNENROLMENTS
from access.policy import has_permission
from access.rules import may_view_catalogue
from base.paging import Paginator
from base.problems import format_size
from bulk import services
from bulk.registry import get_kind
from bulk.samples import sample_formats
from learning.filters import ActivityFilter
from learning.models import Activity, EmailTemplate, Enrollment
from learning.notices import PLACEHOLDERS, email_template, unknown_placeholders
from learning.services import ActivityInputError, change_external_reference
from people.models import User

from .permissions import allowed
from .uploading import FILE_FIELD, cap_upload, submit_upload
from .views import job_list_context
from .views_create import kind_file, rejection_context
from .views_enrolments import activity_learners

UNENROLMENT = "unenrolment"
ACTIVITIES_PER_PAGE = 25

NOT_ALLOWED = "You do not have permission to open this page."
catalogue_required = allowed(may_view_catalogue, NOT_ALLOWED)
import_required = allowed(IMPORT_UNENROLMENTS, NOT_ALLOWED)


@catalogue_required
@require_GET
def catalogue(request: HttpRequest) -> HttpResponse:
    """Activities with their external references and enrolment counts; Actions, Import unenrolments."""
    search = request.GET.get("q", "").strip()
    activity_type = request.GET.get("type", "")
    # The page ignores a type there is not; the API refuses it, naming the types.
    activities = ActivityFilter(
        {"search": search, "type": activity_type if activity_type in Activity.Type.values else None},
        Activity.objects.all(),
    ).qs
    page = Paginator(activities.order_by("title", "pk"), ACTIVITIES_PER_PAGE).get_page(
        request.GET.get("page")
    )
    # Counted for the page's activities only: one query, however many enrolments there are.
    counts = Enrollment.objects.filter(activity__in=[a.pk for a in page]).counts_by_activity()
    query = request.GET.copy()
    query.pop("page", None)
    can_import = has_permission(request.user, IMPORT_UNENROLMENTS)
    return render(
        request,
        "web/catalogue.html",
        {
            "page": page,
            "rows": [(a, counts.get(a.pk, {})) for a in page],
            "q": search,
            "type": activity_type,
            "types": Activity.Type.choices,
            "query": query.urlencode(),
            "can_import": can_import,
            "can_edit": has_permission(request.user, EDIT_ACTIVITIES),
            "can_edit_email": has_permission(request.user, EDIT_EMAIL_TEMPLATES),
            **(import_form_context() if can_import else {}),
        },
    )


class ActivityForm(forms.Form):
    # Whether another activity has it is the service's to say (change_external_reference).
    external_reference = forms.CharField(max_length=100, required=False)


@catalogue_required
@require_http_methods(["GET", "POST"])
def activity_properties(request: HttpRequest, pk: int) -> HttpResponse:
    """An activity's properties page: its details, enrolment counts and external reference."""
    activity = get_object_or_404(Activity, pk=pk)
    can_edit = has_permission(request.user, EDIT_ACTIVITIES)
    form = ActivityForm(initial={"external_reference": activity.external_reference})
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied("You may view this activity but not change its external reference.")
        form = ActivityForm(request.POST)
        if form.is_valid():
            try:
                change_external_reference(
                    activity, form.cleaned_data["external_reference"], actor=cast(User, request.user)
                )
            except ActivityInputError as exc:
                for problem in exc.problems:
                    form.add_error("external_reference", problem.message)
            else:
                messages.success(request, "The external reference is saved.")
                return redirect("web:activity", pk=activity.pk)
    counts = activity.enrollments.counts()
    return render(
        request,
        "web/activity.html",
        {
            "activity": activity,
            "form": form,
            "can_edit": can_edit,
            "counts": counts,
            "learners": activity_learners(request, activity),
        },
        status=400 if form.errors else 200,
    )


def import_form_context(**extra: Any) -> dict[str, Any]:
    kind = get_kind(UNENROLMENT)
    return {
        "kind": kind,
        "max_bytes": kind.max_bytes,
        "max_size": format_size(kind.max_bytes),
        "accept": ",".join(kind.extensions),
        "other_formats": [f for f in sample_formats(kind) if f != "csv"],
        "verify_only": True,
        "title": "",
        "rejection": None,
        "title_error": "",
        **extra,
    }


@csrf_exempt  # only so the upload handler can be replaced; _import is CSRF-protected
@import_required
@require_http_methods(["GET", "POST"])
def import_unenrolments(request: HttpRequest) -> HttpResponse:
    """The Import unenrolments dialog (a page of its own without JavaScript), and its Upload."""
    if request.method == "POST":
        cap_upload(request, UNENROLMENT)
        return _import(request)
    return render(request, "web/import_unenrolments.html", import_form_context())


@csrf_protect
def _import(request: HttpRequest) -> HttpResponse:
    chosen = request.FILES.get(FILE_FIELD)
    verify_only = request.POST.get("verify_only") == "on"
    title = request.POST.get("title", "").strip()
    if not title and chosen is not None:
        title = f"Unenrolments from {PurePath(chosen.name or 'upload.csv').name}"[: services.TITLE_MAX]
    upload = submit_upload(
        request, UNENROLMENT, title=title, validate_only=verify_only, start=not verify_only
    )
    if upload.job is not None:
        if verify_only:
            messages.success(
                request,
                "The file was verified: nothing was changed and no learner was emailed. The results below "
                "say what would happen; you will also receive the results file by email.",
            )
        else:
            messages.success(
                request, "The unenrolments are queued. You will receive an email with the results file."
            )
        return redirect("web:job", pk=upload.job.pk)
    return render(
        request,
        "web/import_unenrolments.html",
        import_form_context(
            rejection=rejection_context(upload.rejected) if upload.rejected else None,
            title=title,
            title_error=upload.title_error,
            verify_only=verify_only,
        ),
        status=400,
    )


@import_required
@require_GET
def unenrolment_template(request: HttpRequest) -> HttpResponse:
    return kind_file(UNENROLMENT, example=False)


@import_required
@require_GET
def unenrolment_example(request: HttpRequest) -> HttpResponse:
    return kind_file(UNENROLMENT, example=True)


@import_required
@require_GET
def unenrolment_imports(request: HttpRequest) -> HttpResponse:
    """Previous unenrolment imports, verified and real, searchable like every job list."""
    return render(request, "web/unenrolment_imports.html", job_list_context(request, UNENROLMENT))


def braced(names: Iterable[str]) -> str:
    return ", ".join("{{ " + name + " }}" for name in names)


class EmailTemplateForm(forms.ModelForm):
    class Meta:
        model = EmailTemplate
        fields = ["subject", "body"]
        widgets = {"body": forms.Textarea(attrs={"rows": 10})}

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for field in ("subject", "body"):
            unknown = unknown_placeholders(cleaned.get(field) or "")
            if unknown:
                self.add_error(
                    field,
                    f"Unknown placeholder{'s' if len(unknown) > 1 else ''}: {braced(unknown)}. "
                    f"Use {braced(PLACEHOLDERS[EmailTemplate.UNENROLMENT])}.",
                )
        return cleaned


@allowed(EDIT_EMAIL_TEMPLATES, NOT_ALLOWED)
@require_http_methods(["GET", "POST"])
def unenrolment_email(request: HttpRequest) -> HttpResponse:
    """Edit the email learners get when an import unenrols them (rows marked Yes)."""
    template = email_template(EmailTemplate.UNENROLMENT)
    form = EmailTemplateForm(instance=template)
    if request.method == "POST":
        form = EmailTemplateForm(request.POST, instance=template)
        if form.is_valid():
            saved = form.save(commit=False)
            saved.updated_by = request.user
            saved.save()
            messages.success(request, "The unenrolment email is saved. Imports from now on use it.")
            return redirect("web:unenrolment-email")
    return render(
        request,
        "web/unenrolment_email.html",
        {"form": form, "placeholders": PLACEHOLDERS[EmailTemplate.UNENROLMENT].items(), "template": template},
        status=400 if form.errors else 200,
    )
