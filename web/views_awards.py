"""Awarding from the Awarded Users page: the two-step Award Users dialog (pick users, groups and org
units; then dates and association type), and each row's Edit, Unassign and Reinstate."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from access.permissions import AWARD_CERTIFICATIONS
from access.policy import NotAllowed, pickable
from bulk.kinds import certification_award
from bulk.registry import get_kind
from bulk.visibility import picker_scope
from credentials.awarding import AwardInputError, AwardTerms, holders_among, terms_from_input
from credentials.edits import awards_in_reach, edit_award, reinstate_award, unassign_award
from credentials.models import Award, Certification
from credentials.picks import IMMEDIATE_LIMIT, Picks, resolve_picks
from people.models import Group, OrgUnit, User

from .permissions import allowed
from .views_upload import upload_page
from .widgets import IsoDateInput

SEARCH_LIMIT = 15
AWARD_KIND = certification_award.CertificationAward.slug

award_required = allowed(
    AWARD_CERTIFICATIONS, "You need the permission 'Award and edit certifications' for this page."
)


class TermsForm(forms.Form):
    # A date input only takes YYYY-MM-DD, whatever the language's own date format.
    issue_date = forms.DateField(label="Issue date", widget=IsoDateInput())
    expiration_date = forms.DateField(
        label="Expiration date",
        required=False,
        widget=IsoDateInput(),
    )
    always_valid = forms.BooleanField(
        label="Always valid",
        required=False,
        widget=forms.CheckboxInput(attrs={"data-clears": "expiration_date"}),
    )
    association_type = forms.ChoiceField(label="Association type", choices=Award.AssociationType.choices)
    external_activity = forms.CharField(label="External training activity", required=False, max_length=200)

    def terms(self, certification: Certification, current: Award | None = None) -> AwardTerms:
        """The terms as the API reads them: every field of the form says something, an empty
        expiration date too."""
        data = self.cleaned_data
        return terms_from_input(
            {
                "issue_date": data["issue_date"],
                "expiration_date": data.get("expiration_date"),
                "always_valid": bool(data.get("always_valid")),
                "association_type": data["association_type"],
                "external_activity": data.get("external_activity") or "",
            },
            certification,
            current,
        )

    def add_problems(self, error: AwardInputError) -> None:
        fields = {
            "Expiration date": "expiration_date",
            "Association type": "association_type",
            "External activity": "external_activity",
        }
        for problem in error.problems:
            self.add_error(fields.get(problem.column or ""), problem.message)


def default_terms_initial(certification: Certification, today: dt.date) -> dict[str, Any]:
    expiration = certification.default_expiration(today)
    return {
        "issue_date": today,
        "expiration_date": expiration,
        "always_valid": expiration is None,
        "association_type": Award.AssociationType.MANUAL,
    }


def _ids(request: HttpRequest, name: str) -> tuple[int, ...]:
    return tuple(
        dict.fromkeys(
            int(v) for v in request.POST.getlist(name) if v.isascii() and v.isdigit() and len(v) < 19
        )
    )


def picks_from(request: HttpRequest) -> Picks:
    return Picks(
        users=_ids(request, "users"),
        groups=_ids(request, "groups"),
        org_units=_ids(request, "org_units"),
        include_sub_units=request.POST.get("include_sub_units") == "on",
    )


def _respond(request: HttpRequest, template: str, context: dict[str, Any], status: int = 200) -> HttpResponse:
    """The dialog's step as a fragment for htmx, or as a page of its own without JavaScript.

    htmx swaps in only successful answers, so a step with errors goes to the dialog as a 200.
    """
    if request.headers.get("HX-Request"):
        return render(request, template, context)
    return render(request, "web/award_users.html", {**context, "step_template": template}, status=status)


def _go(request: HttpRequest, url: str) -> HttpResponse:
    if request.headers.get("HX-Request"):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return redirect(url)


@award_required
@require_http_methods(["GET", "POST"])
def award_users(request: HttpRequest, pk: int) -> HttpResponse:
    """Award Users, step 1 (pick) then step 2 (dates and association type), then Confirm."""
    certification = get_object_or_404(Certification, pk=pk)
    today = timezone.localdate()
    context: dict[str, Any] = {"certification": certification, "limit": IMMEDIATE_LIMIT}
    if request.method == "GET":
        context.update(pick_context(request, certification))
        return _respond(request, "web/_award_pick.html", context)

    picks = picks_from(request)
    context["picks"] = picks
    context["picked"] = picked_items(picks)
    if not (picks.users or picks.groups or picks.org_units):
        context.update(pick_context(request, certification), error="Pick at least one user, group or branch.")
        return _respond(request, "web/_award_pick.html", context, status=400)
    resolved = resolve_picks(picks, request.user)
    held = len(holders_among((u, certification.pk) for u in resolved.user_ids))
    context.update(resolved=resolved, held=held, to_award=len(resolved.user_ids) - held)

    if request.POST.get("step") != "confirm":
        context["form"] = TermsForm(initial=default_terms_initial(certification, today))
        return _respond(request, "web/_award_terms.html", context)

    form = TermsForm(request.POST)
    context["form"] = form
    if form.is_valid():
        try:
            outcome = certification_award.award_users(
                certification, picks, form.terms(certification), actor=request.user
            )
        except NotAllowed as exc:
            raise PermissionDenied(str(exc)) from exc
        except AwardInputError as exc:
            form.add_problems(exc)
        else:
            if outcome.job is not None:
                messages.success(
                    request,
                    f"More than {IMMEDIATE_LIMIT} users: the award runs as a background job. This page shows its "
                    "progress, and you will receive an email with the results file.",
                )
                return _go(request, reverse("web:job", args=[outcome.job.pk]))
            text = f"{outcome.awarded} user{'s were' if outcome.awarded != 1 else ' was'} awarded {certification.code}."
            if outcome.skipped:
                text += f" {outcome.skipped} already held it and {'were' if outcome.skipped != 1 else 'was'} skipped."
            if outcome.outside_scope:
                text += f" {outcome.outside_scope} outside your organisation units and groups were left out."
            messages.success(request, text)
            return _go(request, reverse("web:certification-users", args=[certification.pk]))
    return _respond(request, "web/_award_terms.html", context, status=400)


def pick_context(request: HttpRequest, certification: Certification) -> dict[str, Any]:
    query = request.GET.get("q", "").strip()
    return {"certification": certification, "q": query, "found": search_people(request.user, query)}


def search_people(actor: Any, query: str) -> dict[str, list[Any]]:
    """Active users within the actor's award reach, groups and branches whose name, ID or code
    contains ``query``: the API's lists with ``kind=certification-award``, the same rule."""
    if len(query) < 2:
        return {"users": [], "groups": [], "org_units": []}
    found = pickable(picker_scope(actor, AWARD_KIND), query)
    return {
        "users": list(found.users.filter(is_active=True).order_by("username")[:SEARCH_LIMIT]),
        "groups": list(found.groups.order_by("name")[:SEARCH_LIMIT]),
        "org_units": list(found.org_units.order_by("name")[:SEARCH_LIMIT]),
    }


def picked_items(picks: Picks) -> dict[str, list[Any]]:
    return {
        "users": list(User.objects.filter(pk__in=picks.users).order_by("username")),
        "groups": list(Group.objects.filter(pk__in=picks.groups).order_by("name")),
        "org_units": list(OrgUnit.objects.filter(pk__in=picks.org_units).order_by("name")),
    }


@award_required
@require_GET
def award_search(request: HttpRequest, pk: int) -> HttpResponse:
    """Search-as-you-type for the Award Users dialog: matching users, groups and branches."""
    certification = get_object_or_404(Certification, pk=pk)
    return render(request, "web/_award_results.html", pick_context(request, certification))


def _reachable_award(request: HttpRequest, certification_pk: int, pk: int) -> Award:
    """The award, if it belongs to this certification and its user is within the user's reach; else 404."""
    return get_object_or_404(awards_in_reach(request.user), pk=pk, certification_id=certification_pk)


@award_required
@require_http_methods(["GET", "POST"])
def award_edit(request: HttpRequest, certification_pk: int, pk: int) -> HttpResponse:
    """Edit: issue and expiration dates, Always valid, association type; Confirm saves."""
    award = _reachable_award(request, certification_pk, pk)
    if award.status != Award.Status.ACTIVE:
        messages.info(request, "This award has been unassigned; reinstate it first to edit it.")
        return redirect("web:certification-users", pk=certification_pk)
    initial = {
        "issue_date": award.issue_date,
        "expiration_date": award.expiration_date,
        "always_valid": award.always_valid,
        "association_type": award.association_type,
        "external_activity": award.external_activity,
    }
    form = TermsForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            edit_award(award, form.terms(award.certification, award), actor=request.user)
        except AwardInputError as exc:
            form.add_problems(exc)
        else:
            messages.success(request, f"The award of {award.user.username} is saved.")
            return redirect("web:certification-users", pk=certification_pk)
    return render(
        request,
        "web/award_edit.html",
        {"award": award, "certification": award.certification, "form": form},
        status=400 if form.errors else 200,
    )


@award_required
@require_http_methods(["GET", "POST"])
def award_unassign(request: HttpRequest, certification_pk: int, pk: int) -> HttpResponse:
    """Unassign, after a confirmation: the award is removed, recorded, and can be reinstated."""
    award = _reachable_award(request, certification_pk, pk)
    if request.method == "POST":
        try:
            unassign_award(award, actor=request.user)
        except AwardInputError:
            messages.info(request, "This award was already unassigned.")
        else:
            messages.success(
                request,
                f"{award.certification.code} is unassigned from {award.user.username}. Reinstate it from the Removed list.",
            )
        return redirect("web:certification-users", pk=certification_pk)
    return render(request, "web/award_unassign.html", {"award": award, "certification": award.certification})


@award_required
@require_POST
def award_reinstate(request: HttpRequest, certification_pk: int, pk: int) -> HttpResponse:
    award = _reachable_award(request, certification_pk, pk)
    if reinstate_award(award, actor=request.user):
        messages.success(request, f"{award.certification.code} is active again for {award.user.username}.")
    else:
        messages.error(
            request,
            f"Not reinstated: {award.user.username} holds {award.certification.code} again, or it is active already.",
        )
    return redirect(f"{reverse('web:certification-users', args=[certification_pk])}?status=removed")


AWARD_KIND = "certification-award"


@csrf_exempt  # only so the upload handler can be replaced; the generic page's upload is CSRF-protected
@award_required
@require_http_methods(["GET", "POST"])
def award_file(request: HttpRequest) -> HttpResponse:
    """Award certifications from a file: the certification-award job, validated row by row."""
    return upload_page(request, get_kind(AWARD_KIND))
