"""Pages of the Certification Removal Tool and its jobs. Views are thin: access checks, the engine's
query helpers, a template."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from access.permissions import MANAGE_CERTIFICATION_REMOVAL
from access.policy import NotAllowed, has_permission
from access.rules import may_see_certifications
from base.downloads import download
from base.filters import BadFilter
from base.paging import Paginator
from bulk import files, services
from bulk.approval import may_approve
from bulk.filters import JobFilter
from bulk.models import Job, JobRow
from bulk.preview import preview_restore
from bulk.registry import all_kinds, get_kind
from bulk.samples import sample_file, sample_formats
from bulk.visibility import allowed_kinds, jobs_visible_to, may_manage_jobs
from bulk.worker_status import queue_state, workers_seen_by
from credentials.dashboard import expirations_by_month, expiring_soon

from .charts import Chart, bar_chart
from .navigation import nav_items, tool_for
from .permissions import allowed
from .sorting import sort_order, sortable_columns

REMOVAL = "certification-removal"
JOBS_PER_PAGE = 25
# The rows table shows the file's columns up to this many; the results file has them all.
MAX_SHOWN_COLUMNS = 8
ROWS_PER_PAGE = 50


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """The dashboard: where to go, and the certifications expiring in the next 30, 60 and 90 days."""
    items = nav_items(request.user)
    if not items:
        return render(request, "web/nothing.html", status=200)
    expiring = None
    charts = []
    today = timezone.localdate()
    if may_see_certifications(request.user):
        rows = expiring_soon(today)
        expiring = {
            "rows": rows[:10],
            "more": max(len(rows) - 10, 0),
            "totals": {days: sum(r[f"within_{days}"] for r in rows) for days in (30, 60, 90)},
        }
        charts.append(
            bar_chart(
                "Awards expiring, by month, over the next 12 months",
                [(month.strftime("%b %y"), n, "", "") for month, n in expirations_by_month(today)],
            )
        )
    if may_manage_jobs(request.user):
        charts.append(jobs_chart(request, today))
    return render(request, "web/home.html", {"items": items, "expiring": expiring, "charts": charts})


def jobs_chart(request: HttpRequest, today: dt.date) -> Chart:
    """The jobs you may see created in the last 30 days, by status; each bar opens them on Jobs."""
    since = today - dt.timedelta(days=29)
    found = dict(
        jobs_visible_to(request.user)
        .filter(
            created_at__gte=dt.datetime.combine(since, dt.time.min, tzinfo=timezone.get_current_timezone())
        )
        .values_list("status")
        .annotate(n=Count("pk"))
        .order_by()
    )
    query = f"start={since.isoformat()}&end={today.isoformat()}"
    return bar_chart(
        "Bulk jobs of the last 30 days, by outcome",
        [
            (label, found.get(value, 0), f"{reverse('web:jobs')}?status={value}&{query}", f"status-{value}")
            for value, label in Job.Status.choices
        ],
    )


removal_required = allowed(MANAGE_CERTIFICATION_REMOVAL)
# Which jobs the user then sees is ``visible_job``'s business: per kind, within its constraints.
jobs_required = allowed(may_manage_jobs, "You need a permission for bulk jobs to see this page.")


# The tag of a "queued" message: the job's page leaves it out once the job has ended.
QUEUED_TAG = "job-queued"


def started_message(request: HttpRequest, job: Job, queued: str) -> None:
    """What starting a job did: queued it, or asked a second administrator to approve it."""
    if job.status == Job.Status.AWAITING_APPROVAL:
        messages.info(
            request,
            f"{job.params['approval']['reason']} The administrators who may approve it have been emailed.",
        )
    else:
        messages.success(request, queued, extra_tags=QUEUED_TAG)


def on_page(request: HttpRequest, job: Job, change: Callable[[Job, Any], Any]) -> tuple[bool, Any]:
    """Run a lifecycle service (start, restore, discard) for a page: (True, what it returned), or
    (False, None) with the reason told, when the job's state forbids it now (another tab got there
    first). A missing permission is a 403."""
    try:
        return True, change(job, request.user)
    except NotAllowed as exc:
        raise PermissionDenied(str(exc)) from exc
    except services.JobInputError as exc:
        messages.info(request, " ".join(p.message for p in exc.problems))
        return False, None


def visible_job(request: HttpRequest, pk: int) -> Job:
    """The job if this user may see it; 404 otherwise, so that other divisions' jobs do not leak."""
    return get_object_or_404(jobs_visible_to(request.user).select_related("created_by"), pk=pk)


# The job tables' sortable columns: parameter -> the fields it orders by (a minus reverses it).
JOB_SORTS = {
    "title": ["title"],
    "created": ["created_at"],
    "processed": ["processed_at"],
    "status": ["status"],
}
JOB_COLUMNS = {
    "title": "Job Title",
    "created": "Created Date",
    "processed": "Process Date",
    "status": "Status",
}


def job_list_context(request: HttpRequest, kind: str | None) -> dict[str, Any]:
    """A kind's previous jobs this user may see (every kind's with None, or the one asked for):
    searchable by title, filterable by date and status."""
    params = request.GET
    error = ""
    jobs = jobs_visible_to(request.user)
    # The Jobs page filters by the kind asked for; each tool's page lists its own kind.
    asked = params.get("kind") if kind is None and params.get("kind") in allowed_kinds(request.user) else ""
    # Select Date is one day: it stands for both ends of the range, whatever they say.
    single = params.get("date")
    filters = JobFilter(
        {
            "kind": kind or asked,
            # A box left blank is no filter.
            "status": params.get("status") or None,
            "search": params.get("q"),
            "created_after": single or params.get("start") or None,
            "created_before": single or params.get("end") or None,
        },
        jobs,
        labels={
            "created_after": "Select Date" if single else "Start date",
            "created_before": "Select Date" if single else "End date",
        },
        dates_in_order=True,
    )
    try:
        jobs = filters.narrowed()
    except BadFilter as exc:
        error = str(exc)
        jobs = jobs.none()
    sort, ordering = sort_order(params.get("sort"), JOB_SORTS, "-created")
    page = Paginator(jobs.select_related("created_by").order_by(*ordering, "-id"), JOBS_PER_PAGE).get_page(
        params.get("page")
    )
    labels = {kind.slug: kind.label for kind in all_kinds()}
    for job in page:
        job.kind_label = labels.get(job.kind, job.kind)  # type: ignore[attr-defined]
    query = params.copy()
    query.pop("page", None)
    return {
        "page": page,
        "filters": params,
        "query": query.urlencode(),
        "error": error,
        "statuses": [(value, label) for value, label in Job.Status.choices],
        "today": dt.date.today(),
        "kinds": [(slug, get_kind(slug).label) for slug in allowed_kinds(request.user)],
        "kind": asked,
        "columns": sortable_columns(request, sort, JOB_COLUMNS),
        "sort": sort,
    }


@jobs_required
@require_GET
def job_list(request: HttpRequest) -> HttpResponse:
    """Jobs: every bulk job this user may see, of every kind, with the same search and filters; and
    the workers that run them."""
    context = job_list_context(request, None)
    # Every kind's jobs in one table: say which each is, and let the filters pick a kind.
    context["show_kind"] = context["pick_kind"] = True
    workers = workers_seen_by(request.user)
    context["workers"] = workers
    context["queued_waiting"] = (
        not workers.alive and jobs_visible_to(request.user).filter(status=Job.Status.QUEUED).exists()
    )
    return render(request, "web/jobs.html", context)


@removal_required
@require_GET
def removal_tool(request: HttpRequest) -> HttpResponse:
    """Certification Removal Tool: previous jobs, searchable by title and filterable by date and status."""
    return render(request, "web/removal_tool.html", job_list_context(request, REMOVAL))


@jobs_required
@require_GET
def job_detail(request: HttpRequest, pk: int) -> HttpResponse:
    job = visible_job(request, pk)
    kind = get_kind(job.kind)
    outcome = request.GET.get("outcome", "")
    rows = job.rows.order_by("seq")
    if outcome in JobRow.Outcome.values:
        rows = rows.filter(outcome=outcome)
    page = Paginator(rows, ROWS_PER_PAGE).get_page(request.GET.get("page"))
    labels = kind.labels_for(job)
    messages = kind.messages_for(job)
    header = list(job.params.get("header") or [c.name for c in kind.columns])[:MAX_SHOWN_COLUMNS]
    outcome_counts = job.outcome_counts()
    return render(
        request,
        "web/job_detail.html",
        {
            "job": job,
            "kind": kind,
            "page": page,
            "header": header,
            "rows": [
                (
                    row,
                    (list(row.cells) + [""] * len(header))[: len(header)],
                    labels.get(row.outcome, row.outcome),
                    row.message or messages.get(row.outcome, ""),
                )
                for row in page
            ],
            "outcome": outcome,
            "outcome_choices": [(o, labels.get(o, o), n) for o, n in outcome_counts.items()],
            "summary": job.params.get("summary") or {},
            "tool": tool_for(job.kind),
            "key_column": kind.key_column or "Key",
            "counts": job_counts(job, outcome_counts),
            "can_restore": kind.restorable
            and job.is_finished
            and job.succeeded > 0
            and not job.params.get("restore_of")
            and has_permission(request.user, kind.permission),
            "can_start": job.status in Job.STARTABLE and has_permission(request.user, kind.permission),
            "can_decide": job.status == Job.Status.AWAITING_APPROVAL and may_approve(request.user, job),
            "approval": job.params.get("approval") or {},
            "rejection": job.params.get("rejection") or {},
            "queue_state": queue_state(job, request.user),
        },
    )


@jobs_required
@require_http_methods(["GET", "POST"])
def job_start(request: HttpRequest, pk: int) -> HttpResponse:
    """Start a draft or verified job as it is, without uploading its file again: confirm, then queue."""
    job = visible_job(request, pk)
    kind = get_kind(job.kind)
    if job.status not in Job.STARTABLE:
        return redirect("web:job", pk=job.pk)
    if request.method == "GET":
        return render(
            request,
            "web/job_start.html",
            {
                "job": job,
                "kind": kind,
                "tool": tool_for(job.kind),
                "counts": job_counts(job) if job.status == Job.Status.VERIFIED else [],
                "summary": job.params.get("summary") or {},
            },
        )
    done, started = on_page(request, job, services.start_job)
    if done:
        started_message(
            request,
            started,
            "The job is queued; it will process shortly. You will receive an email when it ends.",
        )
    return redirect("web:job", pk=job.pk)


def job_counts(job: Job, outcome_counts: dict[str, int] | None = None) -> list[tuple[str, int]]:
    """(label, number) per outcome: what would happen for a verified job, else what has happened."""
    labels = get_kind(job.kind).labels_for(job)
    if job.status == Job.Status.VERIFIED:
        if outcome_counts is None:
            outcome_counts = job.outcome_counts()
        return [
            (labels["pending"], outcome_counts["pending"]),
            ("Skipped", outcome_counts["skipped"]),
            ("Errors", outcome_counts["error"]),
        ]
    return [(labels["succeeded"], job.succeeded), ("Skipped", job.skipped), ("Errors", job.failed)]


@jobs_required
@require_GET
def job_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """The live part of a job's page, polled by htmx while the job runs."""
    job = visible_job(request, pk)
    response = render(
        request,
        "web/_job_progress.html",
        {"job": job, "counts": job_counts(job), "queue_state": queue_state(job, request.user)},
    )
    if job.is_finished and request.headers.get("HX-Request"):
        response["HX-Refresh"] = "true"  # once: the whole page then shows the results and the file
    return response


@jobs_required
@require_GET
def job_results(request: HttpRequest, pk: int) -> HttpResponseBase:
    job = visible_job(request, pk)
    if not job.results_file:
        raise_not_found()
    return files.results_download(job)


@jobs_required
@require_GET
def job_original(request: HttpRequest, pk: int) -> HttpResponseBase:
    job = visible_job(request, pk)
    if not job.original_file:
        raise_not_found()
    return files.original_download(job)


def raise_not_found() -> None:
    from django.http import Http404

    raise Http404("This job has no such file yet.")


@jobs_required
@require_POST
def job_approve(request: HttpRequest, pk: int) -> HttpResponse:
    job = visible_job(request, pk)
    done, _ = on_page(request, job, services.approve_job)
    if done:
        messages.success(
            request, "Approved: the job is queued; it will process shortly.", extra_tags=QUEUED_TAG
        )
    return redirect("web:job", pk=job.pk)


@jobs_required
@require_POST
def job_reject(request: HttpRequest, pk: int) -> HttpResponse:
    job = visible_job(request, pk)
    reason = request.POST.get("reason", "")
    done, _ = on_page(request, job, lambda found, user: services.reject_job(found, user, reason))
    if done:
        messages.success(request, "Rejected: the job is back with its creator, with your reason.")
    return redirect("web:job", pk=job.pk)


@jobs_required
@require_http_methods(["GET", "POST"])
def job_discard(request: HttpRequest, pk: int) -> HttpResponse:
    """Discard a draft or verified job: confirm, then delete it with its files."""
    job = visible_job(request, pk)
    if job.status not in Job.STARTABLE:
        return redirect("web:job", pk=job.pk)
    if request.method == "GET":
        return render(request, "web/job_discard.html", {"job": job, "tool": tool_for(job.kind)})
    done, _ = on_page(request, job, services.discard_job)
    if not done:
        return redirect("web:job", pk=job.pk)
    messages.success(request, f"Job {job.pk} “{job.title}” was discarded, with its files.")
    return redirect("web:jobs")


@jobs_required
@require_http_methods(["GET", "POST"])
def job_restore(request: HttpRequest, pk: int) -> HttpResponse:
    """Undo a processed job: confirm, then a new job puts back exactly what this one changed."""
    job = visible_job(request, pk)
    kind = get_kind(job.kind)
    if request.method == "POST":
        done, restore = on_page(request, job, services.restore_job)
        if not done:
            return redirect("web:job", pk=job.pk)
        started_message(request, restore, f"Restore job {restore.pk} is queued: it undoes job {job.pk}.")
        return redirect("web:job", pk=restore.pk)
    undoable = (
        kind.restorable
        and job.is_finished
        and not job.params.get("restore_of")
        and not Job.objects.filter(kind=job.kind, params__restore_of=job.pk)
        .exclude(status=Job.Status.FAILED)
        .exists()
    )
    restore = preview_restore(job) if undoable else None
    return render(
        request,
        "web/job_restore.html",
        {"job": job, "kind": kind, "tool": tool_for(job.kind), "restore": restore},
    )


@jobs_required
@require_GET
def kind_sample(request: HttpRequest, kind: str, which: str, fmt: str) -> HttpResponse:
    """A kind's template or example in one of the formats it takes, for those who may use the kind."""
    if kind not in allowed_kinds(request.user) or which not in ("template", "example"):
        raise_not_found()
    job_kind = get_kind(kind)
    if fmt not in sample_formats(job_kind):
        raise_not_found()
    content, filename, content_type = sample_file(job_kind, fmt, example=which == "example")
    return download(content, filename, content_type)
