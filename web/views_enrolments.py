"""An activity's learners (on its Catalogue page), and changing one enrolment by hand: unenrol (with the
optional email the import sends), enrol again, mark completed. Each goes through the service the
imports and the API use, with its audit record."""

from __future__ import annotations

from typing import Any, cast

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from access.permissions import COMPLETE_ENROLMENTS, IMPORT_UNENROLMENTS
from access.policy import has_permission
from access.reach import enrolments_within_reach
from base.paging import Paginator
from learning.models import Activity, Enrollment
from learning.services import complete_enrollment, enrol, unenrol_one
from people.lists import in_person_order
from people.models import User
from people.search import people_matching

from .permissions import allowed

LEARNERS_PER_PAGE = 25


def activity_learners(request: HttpRequest, activity: Activity) -> dict[str, Any]:
    """The activity page's list of learners within the viewer's reach, searchable and paginated."""
    search = request.GET.get("q", "").strip()
    enrolments = Enrollment.objects.filter(
        enrolments_within_reach(request.user), activity=activity
    ).select_related("user", "activity")
    if search:
        enrolments = enrolments.filter(people_matching(search, "user"))
    page = Paginator(in_person_order(enrolments, ["user__user_id", "-pk"]), LEARNERS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    query = request.GET.copy()
    query.pop("page", None)
    return {
        "page": page,
        "query": query.urlencode(),
        "q": search,
        "can_unenrol": has_permission(request.user, IMPORT_UNENROLMENTS),
        "can_complete": has_permission(request.user, COMPLETE_ENROLMENTS),
    }


def _enrolment(request: HttpRequest, pk: int) -> Enrollment:
    """An enrolment of a learner within the viewer's reach, else 404."""
    return get_object_or_404(
        Enrollment.objects.select_related("user", "activity").filter(enrolments_within_reach(request.user)),
        pk=pk,
    )


def _back(request: HttpRequest, enrolment: Enrollment) -> HttpResponse:
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect("web:activity", pk=enrolment.activity_id)


@allowed(IMPORT_UNENROLMENTS, "You need the permission 'Import unenrolments' to unenrol learners.")
@require_POST
def unenrol_learner(request: HttpRequest, pk: int) -> HttpResponse:
    enrolment = _enrolment(request, pk)
    send_email = request.POST.get("send_email") == "on"
    name = enrolment.user.display_name
    if unenrol_one(enrolment, send_email=send_email, actor=request.user):
        emailed = " and emailed" if send_email else ""
        messages.success(request, f"{name} is unenrolled from {enrolment.activity.title}{emailed}.")
    else:
        messages.error(request, f"{name} was already unenrolled from {enrolment.activity.title}.")
    return _back(request, enrolment)


@allowed(IMPORT_UNENROLMENTS, "You need the permission 'Import unenrolments' to enrol learners again.")
@require_POST
def reenrol_learner(request: HttpRequest, pk: int) -> HttpResponse:
    enrolment = _enrolment(request, pk)
    name = enrolment.user.display_name
    if enrol(enrolment.user_id, enrolment.activity_id, actor=request.user):
        messages.success(request, f"{name} is enrolled in {enrolment.activity.title} again.")
    else:
        messages.error(request, f"{name} is already enrolled in {enrolment.activity.title}.")
    return _back(request, enrolment)


@allowed(COMPLETE_ENROLMENTS, "You need the permission to record completions.")
@require_POST
def complete_learner(request: HttpRequest, pk: int) -> HttpResponse:
    enrolment = _enrolment(request, pk)
    done = complete_enrollment(enrolment.pk, timezone.localdate(), actor=cast(User, request.user))
    name = enrolment.user.display_name
    if done.recorded:
        awarded = ", ".join(c.code for c in done.awarded)
        messages.success(
            request,
            f"{name} completed {enrolment.activity.title}."
            + (f" Awarded: {awarded}." if awarded else " It awards no certification they do not hold."),
        )
    else:
        messages.error(request, f"{name}'s enrolment in {enrolment.activity.title} is not open to complete.")
    return _back(request, enrolment)
