"""People: everyone within the administrator's reach, searchable and sortable, and a page per learner
with their certifications, licences, enrolments and the history of every change to them."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from access.permissions import COMPLETE_ENROLMENTS, IMPORT_UNENROLMENTS
from access.policy import has_permission
from access.reach import may_see_people, people_in_reach, sections_for
from base.paging import Paginator
from credentials.learners import current_awards, current_licences, enrolments, history
from people.filters import SORTS, PersonFilter
from people.models import Group, OrgUnit

from .permissions import allowed
from .sorting import sortable_columns

PER_PAGE = 50
PEOPLE_COLUMNS = {"user_id": "User ID", "username": "Username", "name": "Name", "email": "Email"}
HISTORY_PER_PAGE = 25

people_required = allowed(
    may_see_people, "You need a permission over learners' certifications, licences or enrolments."
)


@people_required
@require_GET
def people_list(request: HttpRequest) -> HttpResponse:
    """People: search by User ID, username, name or email; filter by org unit and group; sort."""
    params = request.GET
    sort = params.get("sort", "user_id")
    if sort.lstrip("-") not in SORTS:
        sort = "user_id"
    data = {"search": params.get("q", "").strip(), "sort": sort}
    for name in ("unit", "group"):
        value = params.get(name, "")
        if value.isascii() and value.isdigit():
            data[name] = value
    filtered = PersonFilter(data, people_in_reach(request.user).prefetch_related("org_units"))
    people = filtered.qs if filtered.is_valid() else people_in_reach(request.user).none()
    page = Paginator(people, PER_PAGE).get_page(params.get("page"))
    query = params.copy()
    query.pop("page", None)
    return render(
        request,
        "web/people.html",
        {
            "page": page,
            "query": query.urlencode(),
            "columns": sortable_columns(request, sort, PEOPLE_COLUMNS),
            "q": data["search"],
            "unit": params.get("unit", ""),
            "group": params.get("group", ""),
            "units": OrgUnit.objects.order_by("name"),
            "groups": Group.objects.order_by("name"),
        },
    )


@people_required
@require_GET
def learner(request: HttpRequest, user_id: str) -> HttpResponse:
    """A learner's page; a learner outside the viewer's reach is a 404, as if there were none."""
    person = get_object_or_404(people_in_reach(request.user), user_id=user_id)
    sections = sections_for(request.user, person)
    events, subjects = history(person, sections)
    page = Paginator(events, HISTORY_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "web/learner.html",
        {
            "person": person,
            "sections": sections,
            "org_units": person.org_units.order_by("name"),
            "groups": person.member_of.order_by("name"),
            "awards": current_awards(person) if sections.certifications else [],
            "licences": current_licences(person) if sections.licences else [],
            "enrolments": enrolments(person) if sections.enrolments else [],
            "can_unenrol": has_permission(request.user, IMPORT_UNENROLMENTS),
            "can_complete": has_permission(request.user, COMPLETE_ENROLMENTS),
            "page": page,
            "query": "",
            "rows": [(event, subjects.of(event), event.changes()) for event in page],
        },
    )
