"""Create and edit a certification in the product (permission "Manage certifications"): its ID, title,
validity or Always valid, renewal window, and what awards it automatically."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from access.permissions import MANAGE_CERTIFICATIONS
from credentials.definitions import (
    LONGEST_VALIDITY_DAYS,
    CertificationInputError,
    Definition,
    save_certification,
)
from credentials.models import Certification
from learning.models import Activity, ExternalActivity

from .permissions import allowed

manage_required = allowed(MANAGE_CERTIFICATIONS, "You need the permission Manage certifications.")


class CertificationForm(forms.Form):
    code = forms.CharField(
        label="Certification ID", max_length=100, help_text="The ID files and exports use."
    )
    title = forms.CharField(max_length=200)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    always_valid = forms.BooleanField(
        label="Always valid (awards never expire)",
        required=False,
        widget=forms.CheckboxInput(attrs={"data-clears": "validity_days"}),
    )
    validity_days = forms.IntegerField(
        label="Validity (days)",
        required=False,
        min_value=1,
        max_value=LONGEST_VALIDITY_DAYS,
        help_text="How long an award lasts from its issue date. Awards already made keep their dates.",
    )
    renewal_window_days = forms.IntegerField(
        label="Renewal window (days)",
        min_value=0,
        initial=30,
        help_text="Days before expiry when holders are reminded to renew.",
    )
    activities = forms.ModelMultipleChoiceField(
        label="Courses, sessions and learning plans that award it when completed",
        queryset=Activity.objects.order_by("title"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    external_activities = forms.ModelMultipleChoiceField(
        label="External training activities that award it when recorded",
        queryset=ExternalActivity.objects.order_by("title"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("always_valid"):
            data["validity_days"] = None
        elif data.get("validity_days") is None and "validity_days" not in self.errors:
            self.add_error("validity_days", "Give the validity in days, or tick Always valid.")
        return data


FIELDS = {
    "Certification ID": "code",
    "Title": "title",
    "Description": "description",
    "Validity (days)": "validity_days",
    "Renewal window (days)": "renewal_window_days",
}


def _initial(certification: Certification) -> dict[str, Any]:
    return {
        "code": certification.code,
        "title": certification.title,
        "description": certification.description,
        "always_valid": certification.validity_days is None,
        "validity_days": certification.validity_days,
        "renewal_window_days": certification.renewal_window_days,
        "activities": list(certification.activities.all()),
        "external_activities": list(certification.external_activities.all()),
    }


def _edit(request: HttpRequest, certification: Certification | None) -> HttpResponse:
    form = CertificationForm(request.POST or None, initial=_initial(certification) if certification else None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            saved = save_certification(
                certification,
                Definition(
                    code=data["code"],
                    title=data["title"],
                    description=data["description"],
                    validity_days=data["validity_days"],
                    renewal_window_days=data["renewal_window_days"],
                    activities=list(data["activities"]),
                    external_activities=list(data["external_activities"]),
                ),
                actor=request.user,
            )
        except CertificationInputError as exc:
            for problem in exc.problems:
                form.add_error(FIELDS.get(problem.column or ""), problem.message)
        else:
            verb = "created" if certification is None else "saved"
            messages.success(request, f"Certification {saved.code} is {verb}.")
            return redirect("web:certification-users", pk=saved.pk)
    return render(
        request,
        "web/certification_form.html",
        {"form": form, "certification": certification},
        status=400 if form.errors else 200,
    )


@manage_required
@require_http_methods(["GET", "POST"])
def certification_new(request: HttpRequest) -> HttpResponse:
    return _edit(request, None)


@manage_required
@require_http_methods(["GET", "POST"])
def certification_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _edit(request, get_object_or_404(Certification, pk=pk))
