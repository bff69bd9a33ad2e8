"""A job's preview: what starting it now would change, checked now by the validation that made it."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from base.downloads import as_download, csv_stream
from bulk.approval import may_approve
from bulk.preview import PREVIEWABLE, changes_csv_rows, changes_header, preview_job
from bulk.registry import get_kind

from .navigation import tool_for
from .views import jobs_required, visible_job


@jobs_required
@require_GET
def job_preview(request: HttpRequest, pk: int) -> HttpResponse:
    job = visible_job(request, pk)
    if job.status not in PREVIEWABLE:
        return redirect("web:job", pk=job.pk)  # it has run, or is running: its rows say what it did
    preview = preview_job(job)
    kind = preview.kind
    fields = kind.change_fields
    return render(
        request,
        "web/job_preview.html",
        {
            "job": job,
            "kind": kind,
            "tool": tool_for(job.kind),
            "preview": preview,
            "outcomes": [
                ("errors" if o == "error" else preview.labels.get(o, o), n)
                for o, n in preview.outcomes.items()
            ],
            "target_columns": [preview.labels.get(o, o) for o in preview.outcomes],
            "targets": [(name, list(counts.values())) for name, counts in preview.targets],
            "fields": fields,
            "changes": [
                (
                    row,
                    [(row.change.before.get(name, ""), row.change.after.get(name, "")) for name in fields],
                )
                for row in preview.changes
            ],
            "can_decide": job.status == job.Status.AWAITING_APPROVAL and may_approve(request.user, job),
        },
    )


@jobs_required
@require_GET
def job_changes(request: HttpRequest, pk: int) -> HttpResponseBase:
    """Every row the job would change, before and after, as CSV, streamed."""
    job = visible_job(request, pk)
    if job.status not in PREVIEWABLE:
        return redirect("web:job", pk=job.pk)
    response = StreamingHttpResponse(
        csv_stream(changes_header(get_kind(job.kind)), changes_csv_rows(job)),
        content_type="text/csv; charset=utf-8",
    )
    return as_download(response, f"job-{job.pk}-changes.csv")
