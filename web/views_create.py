"""Create a Certification Removal Job: upload and validate a file, review it, confirm, remove.

The published flow: Job Title, Enter Comment and Upload CSV; the file is validated on upload (a
rejected file lists every offending row and creates nothing); a valid file is a Draft job whose
summary the administrator reviews (Create), then confirms (Remove), which queues it.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods

from access.policy import NotAllowed
from bulk import services
from bulk.intake import too_large
from bulk.kinds import get_kind
from bulk.models import Job
from bulk.problems import EMPTY_FILE, FileRejected, Problem, format_size
from bulk.samples import template_csv, template_filename
from bulk.uploads import CappedUploadHandler
from credentials.models import Certification

from .views import REMOVAL, removal_required, visible_job

FILE_FIELD = "file"
QUEUED_MESSAGE = "The removal job is queued; it will process shortly."


def describe(problem: Problem) -> str:
    """One offending row as an administrator reads it: where, what value, what is wrong."""
    where = []
    if problem.row is not None:
        where.append(f"Row {problem.row}")
    if problem.column:
        where.append(f"column {problem.column}")
    if problem.value is not None and problem.value != "":
        where.append(f"value '{problem.value}'")
    prefix = ", ".join(where)
    return f"{prefix}: {problem.message}" if prefix else problem.message


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
    listed = detailed[:limit]
    return {
        "headlines": headlines,
        "problems": [describe(p) for p in listed],
        "problems_total": len(detailed),
        "problems_more": len(detailed) - len(listed),
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
        # Before anything reads the body: the file is kept in memory up to the kind's limit only.
        request.upload_handlers = [CappedUploadHandler(request, get_kind(REMOVAL).max_bytes)]
        return _create(request)
    return render_form(request)


@csrf_protect
def _create(request: HttpRequest) -> HttpResponse:
    kind = get_kind(REMOVAL)
    title = request.POST.get("title", "")
    comment = request.POST.get("comment", "").strip()
    upload = request.FILES.get(FILE_FIELD)
    handler = request.upload_handlers[0]
    kept = {"title": title, "comment": comment, "file_was_chosen": bool(upload) or _skipped(handler)}

    title_error = ""
    try:
        services.check_title(title)
    except services.JobInputError as exc:
        title_error = " ".join(p.message for p in exc.problems)

    rejected: FileRejected | None = None
    if _skipped(handler):
        rejected = too_large(kind.max_bytes)
    elif upload is None or upload.file is None:
        rejected = FileRejected([Problem(EMPTY_FILE, "The file is empty: no file was uploaded.")])

    if not title_error and rejected is None and upload is not None and upload.file is not None:
        try:
            submission = services.submit(
                kind.slug,
                upload.file,
                upload.name or "",
                actor=request.user,
                title=title,
                comment=comment,
                start=False,
            )
        except NotAllowed as exc:
            raise PermissionDenied(str(exc)) from exc
        except services.JobInputError as exc:
            title_error = " ".join(p.message for p in exc.problems)
        except FileRejected as exc:
            rejected = exc
        else:
            return redirect("web:removal-confirm", pk=submission.job.pk)

    return render_form(
        request,
        status=400,
        title_error=title_error,
        rejection=rejection_context(rejected) if rejected else None,
        **kept,
    )


def _skipped(handler: Any) -> bool:
    return FILE_FIELD in getattr(handler, "too_large", ())


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
        try:
            services.start_job(job, request.user)
        except NotAllowed as exc:
            raise PermissionDenied(str(exc)) from exc
        except services.JobInputError as exc:
            # Someone (or another tab) started it meanwhile: its page says where it is.
            messages.info(request, " ".join(p.message for p in exc.problems))
            return redirect("web:job", pk=job.pk)
        messages.success(request, QUEUED_MESSAGE)
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
    kind = get_kind(REMOVAL)
    response = HttpResponse(template_csv(kind), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{template_filename(kind)}"'
    return response
