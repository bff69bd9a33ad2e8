"""Users, Licences & Certifications: learners' current licences, filtered by type, status, org unit and
a search; add, edit and delete one by hand; Import Data (Only validate the file) and Export Available
Licenses. Administrators manage everyone in their reach; Supervisors the users in their own units."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods

from access.permissions import IMPORT_LICENSES, MANAGE_LICENSES
from access.policy import has_permission
from access.rules import may_see_licences
from base.downloads import download
from base.paging import Paginator
from base.problems import format_size
from bulk.models import Job, JobRow
from bulk.registry import get_kind
from bulk.samples import SAMPLE_FORMATS, sample_file, sample_formats
from bulk.visibility import jobs_visible_to
from credentials.filters import LICENCE_STATUSES, LicenseFilter
from credentials.licences import (
    LicenseDetails,
    LicenseInputError,
    available_licences_csv,
    delete_license,
    learners_in_reach,
    licence_scope,
    licences_in_reach,
    save_license,
)
from credentials.models import License, LicenseType
from people.lists import in_person_order
from people.models import OrgUnit, User

from .permissions import allowed
from .sorting import sort_order, sortable_columns
from .uploading import FILE_FIELD, cap_upload, submit_upload
from .views_create import rejection_context
from .widgets import IsoDateInput

LICENSE_IMPORT = "license-import"
PER_PAGE = 50
STATUSES = LICENCE_STATUSES


licences_required = allowed(
    may_see_licences, "You need the permission 'Manage licences' or 'Import licences' for this page."
)
# These two go below require_http_methods: a method a page does not take is a 405 before they ask.
manage_required = allowed(
    MANAGE_LICENSES, "You need the permission 'Manage licences' to add, edit or delete a licence."
)
import_required = allowed(IMPORT_LICENSES, "You need the permission 'Import licences' to import data.")


def manageable(user: Any) -> QuerySet[License]:
    """The licences this user may see and manage."""
    return licences_in_reach(user)


def _number(text: str | None, *, upto: int) -> int | None:
    """A whole number from 1 to ``upto`` given in a query string, or None for anything else."""
    if not text or not text.isascii() or not text.isdigit() or len(text) > 18:
        return None
    number = int(text)
    return number if 0 < number <= upto else None


# The list's sortable columns: parameter -> the fields it orders by (a minus reverses it).
LICENCE_SORTS = {
    "username": ["user__username", "license_type__code"],
    "licence": ["license_type__code", "user__username"],
    "number": ["number"],
    "issue_date": ["issue_date"],
    "expiration_date": ["expiration_date"],
}
LICENCE_COLUMNS = {
    "username": "Username",
    "licence": "Licence",
    "number": "Number",
    "issue_date": "Issue date",
    "expiration_date": "Expiration date",
}


def _days(text: str | None) -> int:
    return _number(text, upto=3650) or 30


@licences_required
@require_GET
def licence_list(request: HttpRequest) -> HttpResponse:
    """Licences & Certifications: the current licences of the learners this administrator may see."""
    params = request.GET
    today = timezone.localdate()
    days = _days(params.get("days"))
    status = params.get("status") if params.get("status") in STATUSES else "current"
    unit = params.get("unit", "")
    unit_id = _number(unit, upto=2**62)
    search = params.get("q", "").strip()
    # The page mends what LicenseFilter would refuse: an unknown status (current), days (30) or unit (none).
    licences = LicenseFilter(
        {
            "license_code": params.get("type"),
            "status": status,
            "days": days,
            "unit": unit_id,
            "search": search,
        },
        manageable(request.user),
        today=today,
    ).qs
    sort, ordering = sort_order(params.get("sort"), LICENCE_SORTS, "username")
    page = Paginator(in_person_order(licences, [*ordering, "pk"]), PER_PAGE).get_page(params.get("page"))
    query = params.copy()
    query.pop("page", None)
    return render(
        request,
        "web/licences.html",
        {
            "page": page,
            "rows": [(lic, lic.state(today, days)) for lic in page],
            "types": LicenseType.objects.order_by("code"),
            "units": units_in_reach(request.user),
            "statuses": STATUSES.items(),
            "filters": {
                "type": params.get("type", ""),
                "status": status,
                "days": days,
                "unit": unit,
                "q": search,
            },
            "query": query.urlencode(),
            "columns": sortable_columns(request, sort, LICENCE_COLUMNS),
            "sort": sort,
            "can_manage": has_permission(request.user, MANAGE_LICENSES),
            "can_import": has_permission(request.user, IMPORT_LICENSES),
        },
    )


def units_in_reach(user: Any) -> QuerySet[OrgUnit]:
    """The org units to filter by: all of them, or those of a constrained grant (with sub-units)."""
    scope = licence_scope(user)
    units = OrgUnit.objects.order_by("name")
    return units if scope.everywhere else units.filter(pk__in=scope.units)


class LicenceForm(forms.Form):
    username = forms.CharField(label="Username", max_length=150)
    license_type = forms.ModelChoiceField(label="Licence", queryset=LicenseType.objects.order_by("code"))
    number = forms.CharField(label="Number", max_length=100, required=False)
    issuing_authority = forms.CharField(label="Issuing authority", max_length=200, required=False)
    issue_date = forms.DateField(label="Issue date", required=False, widget=IsoDateInput())
    expiration_date = forms.DateField(
        label="Expiration date",
        required=False,
        widget=IsoDateInput(),
    )

    def __init__(self, *args: Any, reach: QuerySet[User], editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reach = reach
        if editing:
            # A licence stays the same user's and the same type's; delete it and add another to change them.
            for name in ("username", "license_type"):
                self.fields[name].disabled = True
                self.fields[
                    name
                ].help_text = "Fixed for an existing licence: delete it and add another instead."

    def clean_username(self) -> User:
        username = self.cleaned_data["username"].strip()
        user = self.reach.filter(username=username).first()
        if user is None:
            raise forms.ValidationError(f"No learner you manage has the username '{username}'.")
        return user


@licences_required
@require_http_methods(["GET", "POST"])
@manage_required
def licence_form(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    """Add a licence (no ``pk``) or edit one."""
    licence = get_object_or_404(manageable(request.user), pk=pk) if pk is not None else None
    initial = {}
    if licence is not None:
        initial = {
            "username": licence.user.username,
            "license_type": licence.license_type,
            "number": licence.number,
            "issuing_authority": licence.issuing_authority,
            "issue_date": licence.issue_date,
            "expiration_date": licence.expiration_date,
        }
    form = LicenceForm(
        request.POST if request.method == "POST" else None,
        initial=initial,
        reach=learners_in_reach(request.user),
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            save_license(
                licence,
                user_id=data["username"].pk,
                license_type=data["license_type"],
                number=data["number"],
                details=LicenseDetails(
                    data["issuing_authority"], data["issue_date"], data["expiration_date"]
                ),
                actor=request.user,
            )
        except LicenseInputError as exc:
            for problem in exc.problems:
                field = {"Number": "number", "Expiration date": "expiration_date"}.get(problem.column or "")
                form.add_error(field, problem.message)
        else:
            messages.success(request, "The licence is saved.")
            return redirect("web:licences")
    return render(
        request,
        "web/licence_form.html",
        {"form": form, "licence": licence},
        status=400 if form.errors else 200,
    )


@licences_required
@require_http_methods(["GET", "POST"])
@manage_required
def licence_delete(request: HttpRequest, pk: int) -> HttpResponse:
    licence = get_object_or_404(manageable(request.user), pk=pk)
    if request.method == "POST":
        delete_license(licence, actor=request.user)
        messages.success(
            request,
            f"The {licence.license_type.code} licence of {licence.user.username} is deleted; it stays in the history.",
        )
        return redirect("web:licences")
    return render(request, "web/licence_delete.html", {"licence": licence})


def import_context(**extra: Any) -> dict[str, Any]:
    kind = get_kind(LICENSE_IMPORT)
    return {
        "kind": kind,
        "accept": ",".join(kind.extensions),
        "max_size": format_size(kind.max_bytes),
        "max_bytes": kind.max_bytes,
        "formats": [(fmt, SAMPLE_FORMATS[fmt][0]) for fmt in sample_formats(kind)],
        "validate_only": True,
        "rejection": None,
        **extra,
    }


@csrf_exempt  # only so the upload handler can be replaced; _import is CSRF-protected
@licences_required
@require_http_methods(["GET", "POST"])
@import_required
def licence_import(request: HttpRequest) -> HttpResponse:
    """Import Data: choose a file; Only validate the file (checked); Upload."""
    if request.method == "POST":
        cap_upload(request, LICENSE_IMPORT)
        return _import(request)
    job = None
    if "job" in request.GET:
        job_id = _number(request.GET["job"], upto=2**62)
        job = jobs_visible_to(request.user).filter(pk=job_id, kind=LICENSE_IMPORT).first() if job_id else None
        if job is None:
            raise Http404("No such licence import.")
    return render(request, "web/licence_import.html", import_context(**validation_context(job)))


def validation_context(job: Job | None) -> dict[str, Any]:
    if job is None:
        return {}
    header = [h.casefold() for h in job.params.get("header") or []]

    def cell(row: JobRow, name: str) -> str:
        index = header.index(name) if name in header else None
        return row.cells[index] if index is not None and index < len(row.cells) else ""

    errors = [
        (row, cell(row, "license code"), cell(row, "number"), cell(row, "action"))
        for row in job.rows.filter(outcome=JobRow.Outcome.ERROR).order_by("seq")[:100]
    ]
    counts = job.params.get("summary") or {}
    return {"validated": job, "errors": errors, "error_count": counts.get("errors", 0), "summary": counts}


@csrf_protect
def _import(request: HttpRequest) -> HttpResponse:
    validate_only = request.POST.get("validate_only") == "on"
    chosen = request.FILES.get(FILE_FIELD)
    title = f"Licences from {chosen.name}" if chosen is not None and chosen.name else "Licences import"
    upload = submit_upload(
        request, LICENSE_IMPORT, title=title[:100], validate_only=validate_only, start=not validate_only
    )
    if upload.job is None:
        return render(
            request,
            "web/licence_import.html",
            import_context(
                rejection=rejection_context(upload.rejected) if upload.rejected else None,
                validate_only=validate_only,
            ),
            status=400,
        )
    if validate_only:
        return redirect(f"{request.path}?job={upload.job.pk}")
    messages.success(
        request,
        "The file is being imported. The counts below fill in as it runs; you will also receive an email.",
    )
    return redirect("web:job", pk=upload.job.pk)


@licences_required
@require_GET
def available_licences(request: HttpRequest) -> HttpResponse:
    """Export Available Licenses: the licence types, with the codes an import file uses."""
    return download(available_licences_csv(), "available-licenses.csv", "text/csv; charset=utf-8")


@licences_required
@require_GET
def licence_sample(request: HttpRequest, which: str, fmt: str) -> HttpResponse:
    """The template or example file of the licence import, in one of its formats."""
    kind = get_kind(LICENSE_IMPORT)
    if which not in ("template", "example") or fmt not in sample_formats(kind):
        raise Http404("No such file.")
    content, filename, content_type = sample_file(kind, fmt, example=which == "example")
    return download(content, filename, content_type)
