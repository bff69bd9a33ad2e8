"""Certification Management pages: the certifications, each one's View Users page and its Export to CSV.

The export is the file the Certification Removal Tool accepts unchanged, and the View Users page
leads to that tool with the certification in mind for those who may remove users.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.http import require_GET

from access.permissions import AWARD_CERTIFICATIONS, MANAGE_CERTIFICATION_REMOVAL, MANAGE_CERTIFICATIONS
from access.policy import has_permission
from access.rules import may_see_certifications
from base.downloads import as_download
from base.paging import Paginator
from credentials.edits import awards_in_reach
from credentials.exports import awarded_users_csv, awarded_users_filename
from credentials.filters import AWARD_STATUSES, AwardFilter
from credentials.models import Award, Certification
from people.lists import in_person_order

from .permissions import allowed
from .sorting import sort_order, sortable_columns

CERTIFICATIONS_PER_PAGE = 25
USERS_PER_PAGE = 50

certifications_required = allowed(may_see_certifications)


def _search_and_query(request: HttpRequest) -> tuple[str, str]:
    """The search text, and the query string without its page for the pagination links."""
    search = request.GET.get("q", "").strip()
    query = request.GET.copy()
    query.pop("page", None)
    return search, query.urlencode()


@certifications_required
@require_GET
def certification_list(request: HttpRequest) -> HttpResponse:
    """Certifications: code, title, validity and how many users hold each (one query for the page)."""
    search, query = _search_and_query(request)
    certifications = Certification.objects.with_holders()
    if search:
        certifications = certifications.filter(Q(code__icontains=search) | Q(title__icontains=search))
    page = Paginator(certifications.order_by("code", "pk"), CERTIFICATIONS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "web/certifications.html",
        {
            "page": page,
            "q": search,
            "query": query,
            "can_award": has_permission(request.user, AWARD_CERTIFICATIONS),
            "can_manage": has_permission(request.user, MANAGE_CERTIFICATIONS),
        },
    )


STATUS_FILTERS = AWARD_STATUSES
# Awarded Users' sortable columns: parameter -> the fields it orders by (a minus reverses it).
AWARD_SORTS = {
    "user_id": ["user__user_id"],
    "username": ["user__username"],
    "issue_date": ["issue_date"],
    "expiration_date": ["expiration_date"],
}
AWARD_COLUMNS = {
    "user_id": "User ID",
    "username": "Username",
    "issue_date": "Issue Date",
    "expiration_date": "Expiration Date",
}


def _days(text: str | None) -> int:
    """The page's "Days (for Expiring within)": a whole number of days up to ten years, else 30."""
    text = (text or "").strip()
    number = int(text) if text.isascii() and text.isdigit() and len(text) < 6 else 0
    return number if 0 < number <= 3650 else 30


@certifications_required
@require_GET
def view_users(request: HttpRequest, pk: int) -> HttpResponse:
    """Awarded Users: the certification's holders with their dates, days left to renew, association
    type and status; searchable, filterable by status; Edit, Unassign and Award Users for awarders."""
    certification = get_object_or_404(Certification, pk=pk)
    search, query = _search_and_query(request)
    today = timezone.localdate()
    status = request.GET.get("status", "current")
    status = status if status in STATUS_FILTERS else "current"
    days = _days(request.GET.get("days"))
    sort, ordering = sort_order(request.GET.get("sort"), AWARD_SORTS, "user_id")
    awards: QuerySet[Award] = AwardFilter(
        {"status": status, "search": search, "days": days},
        Award.objects.filter(certification=certification).select_related("user"),
        today=today,
    ).qs
    page = Paginator(in_person_order(awards, [*ordering, "pk"]), USERS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    can_award = has_permission(request.user, AWARD_CERTIFICATIONS)
    reachable = (
        set(awards_in_reach(request.user).filter(pk__in=[a.pk for a in page]).values_list("pk", flat=True))
        if can_award
        else set()
    )
    return render(
        request,
        "web/certification_users.html",
        {
            "certification": certification,
            "page": page,
            "rows": [(a, a.state(today), a.days_left(today), a.pk in reachable) for a in page],
            "q": search,
            "query": query,
            "status": status,
            "days": days,
            "statuses": STATUS_FILTERS.items(),
            "columns": sortable_columns(request, sort, AWARD_COLUMNS),
            "sort": sort,
            "can_remove": has_permission(request.user, MANAGE_CERTIFICATION_REMOVAL),
            "can_award": can_award,
            "can_manage": has_permission(request.user, MANAGE_CERTIFICATIONS),
            "renewal_opens_within": certification.renewal_window_days,
        },
    )


@certifications_required
@require_GET
def export_users(request: HttpRequest, pk: int) -> StreamingHttpResponse:
    """Export to CSV: the holders in the file the certification removal job accepts unchanged."""
    certification = get_object_or_404(Certification, pk=pk)
    response = StreamingHttpResponse(awarded_users_csv(certification), content_type="text/csv; charset=utf-8")
    return as_download(response, awarded_users_filename(certification))
