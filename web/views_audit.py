"""The audit log: every change certdesk recorded that the viewer may read, filtered, newest first,
and its export to CSV. Read-only: there is nothing here to add, change or delete."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from audit.filters import EventFilter
from audit.models import Event
from audit.trail import OBJECT_TYPES, audit_csv, events_visible_to, may_view_audit_log, object_label
from base.downloads import as_download
from base.filters import BadFilter

from .permissions import allowed

PER_PAGE = 50
# The page's boxes, under the FilterSet's names, and how the page calls them in a problem.
BOXES = {
    "actor": "Actor",
    "action": "Action",
    "object_type": "Object type",
    "job": "Job ID",
    "created_after": "From",
    "created_before": "To",
}

audit_required = allowed(may_view_audit_log, "You need the permission View audit log.")


def _filtered(request: HttpRequest) -> tuple[QuerySet[Event], str]:
    """The events the boxes leave (a box left blank is no filter), or none and the problem."""
    data = {name: (request.GET.get(name) or "").strip() or None for name in BOXES}
    filters = EventFilter(data, events_visible_to(request.user), labels=BOXES)
    try:
        return filters.narrowed(), ""
    except BadFilter as exc:
        return Event.objects.none(), str(exc)


@audit_required
@require_GET
def audit_log(request: HttpRequest) -> HttpResponse:
    """50 events at a time, newest first; "Older events" continues below the last one shown (no
    count of a million rows is needed to turn the page)."""
    events, error = _filtered(request)
    older_than = request.GET.get("before", "")
    if older_than.isascii() and older_than.isdigit():
        events = events.filter(pk__lt=int(older_than))
    rows = list(events.select_related("actor", "job").order_by("-id")[: PER_PAGE + 1])
    query = request.GET.copy()
    query.pop("before", None)
    return render(
        request,
        "web/audit.html",
        {
            "rows": [(event, event.changes(), object_label(event.object_type)) for event in rows[:PER_PAGE]],
            "older": rows[PER_PAGE - 1].pk if len(rows) > PER_PAGE else None,
            "paged": bool(older_than),
            "query": query.urlencode(),
            "values": {name: request.GET.get(name, "") for name in BOXES},
            "object_types": sorted(OBJECT_TYPES.items(), key=lambda item: item[1]),
            "error": error,
            "zone": timezone.get_current_timezone_name(),
        },
    )


@audit_required
@require_GET
def audit_export(request: HttpRequest) -> HttpResponseBase:
    """The filtered events as CSV, streamed."""
    events, error = _filtered(request)
    if error:  # the page says what is wrong with the filters
        return redirect(f"{reverse('web:audit')}?{request.GET.urlencode()}")
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response = StreamingHttpResponse(audit_csv(events), content_type="text/csv; charset=utf-8")
    return as_download(response, f"audit-log-{stamp}.csv")
