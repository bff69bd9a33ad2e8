"""Create a Certification Removal Job: upload and validate a file, review it, confirm, remove.

The published flow: Job Title, Enter Comment and Upload CSV; the file is validated on upload (a
rejected file lists every offending row and creates nothing); a valid file is a Draft job whose
summary the administrator reviews (Create), then confirms (Remove), which queues it.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods

from base.downloads import download
from base.problems import FileRejected, format_size, listing
from bulk import services
from bulk.models import Job
from bulk.registry import get_kind
from bulk.samples import example_csv, example_filename, template_csv, template_filename
from credentials.models import Certification

from .uploading import cap_upload, submit_upload
from .views import REMOVAL, on_page, removal_required, started_message, visible_job

FILE_FIELD = "file"
QUEUED_MESSAGE = "The removal job is queued; it will process shortly."


def rejection_context(rejected: FileRejected) -> dict[str, Any]:
    """The published headlines and every problem, up to the configured cap, with how many more."""
    limit = settings.CERTDESK_MAX_LISTED_PROBLEMS
    headlines = rejected.headlines
    plain = {h.rstrip(".") for h in headlines}
    # A file-level problem whose message is only its headline says nothing the alert does not.
    detailed = [
        p
        for p in rejected.problems
        if p.row is not None or p.column or p.value or p.message.rstrip(".") not in plain
    ]
    # Only the first problems of a file are kept; the rest were counted.
    shown = listing(detailed, limit, len(detailed) + rejected.total - len(rejected.problems))
    return {
        "headlines": headlines,
        "problems": [p.located() for p in shown.listed],
        "problems_total": shown.total,
        "problems_more": shown.more,
    }


def certification_note(code: str) -> Certification | None:
    """The certification a View Users page sent the administrator here for, if it exists."""
    code = (code or "").strip()
    if not code or len(code) > 100:
        return None
    return Certification.objects.filter(code=code).first()


def render_form(request: HttpRequest, status: int = 200, **context: Any) -> HttpResponse:
    kind = get_kind(REMOVAL)
    source = request.POST if request.method == "POST" else request.GET
    base = {
        "kind": kind,
        "title_max": services.TITLE_MAX,
        "max_bytes": kind.max_bytes,
        "max_size": format_size(kind.max_bytes),
        "accept": ",".join(kind.extensions),
        "title": "",
        "comment": "",
        "title_error": "",
        "rejection": None,
        "certification": certification_note(source.get("certification", "")),
    }
    base.update(context)
    return render(request, "web/removal_new.html", base, status=status)


@csrf_exempt  # only so the upload handlers can be replaced; _create is CSRF-protected
@removal_required
@require_http_methods(["GET", "POST"])
def new_job(request: HttpRequest) -> HttpResponse:
    """Create a Certification Removal Job: the form, and the upload that validates the file."""
    if request.method == "POST":
        cap_upload(request, REMOVAL)
        return _create(request)
    return render_form(request)


@csrf_protect
def _create(request: HttpRequest) -> HttpResponse:
    title = request.POST.get("title", "")
    comment = request.POST.get("comment", "").strip()
    # Started from a certification's Awarded Users: the file must be for that certification.
    note = certification_note(request.POST.get("certification", ""))
    started_from = {"certification_code": note.code} if note else None
    upload = submit_upload(
        request, REMOVAL, title=title, comment=comment, start=False, started_from=started_from
    )
    if upload.job is not None:
        return redirect("web:removal-confirm", pk=upload.job.pk)
    return render_form(
        request,
        status=400,
        title_error=upload.title_error,
        rejection=rejection_context(upload.rejected) if upload.rejected else None,
        title=title,
        comment=comment,
        file_was_chosen=upload.file_was_chosen,
    )


@removal_required
@require_http_methods(["GET", "POST"])
def confirm_job(request: HttpRequest, pk: int) -> HttpResponse:
    """Step 1 "File validated" (Create), step 2 "Confirm" (Remove), for a Draft or Verified job."""
    job = visible_job(request, pk)
    if job.kind != REMOVAL:
        raise Http404("No such certification removal job.")
    if job.status not in Job.STARTABLE:
        return redirect("web:job", pk=job.pk)

    if request.method == "POST":
        if request.POST.get("action") != "remove":
            return redirect(f"{reverse('web:removal-confirm', args=[job.pk])}?step=confirm")
        done, started = on_page(request, job, services.start_job)
        if done:
            started_message(request, started, QUEUED_MESSAGE)
        return redirect("web:job", pk=job.pk)

    step = "confirm" if request.GET.get("step") == "confirm" else "review"
    return render(
        request,
        "web/removal_confirm.html",
        {"job": job, "summary": job.params.get("summary") or {}, "step": step},
    )


@removal_required
@require_GET
def template(request: HttpRequest) -> HttpResponse:
    """Download CSV Template: the header row only, ready to fill in."""
    return kind_file(REMOVAL, example=False)


def kind_file(kind_slug: str, *, example: bool) -> HttpResponse:
    """A kind's CSV template (the header row) or its example file, as a download."""
    kind = get_kind(kind_slug)
    content, name = (
        (example_csv(kind), example_filename(kind))
        if example
        else (template_csv(kind), template_filename(kind))
    )
    return download(content, name, "text/csv; charset=utf-8")
