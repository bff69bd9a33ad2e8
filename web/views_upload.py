"""The upload page of any job kind: title, file and "Only validate the file", as the kind declares it.

A kind without a page of its own is uploaded at /jobs/new/<kind>/; a kind whose page is the generic
one at another address (Award certifications from a file) renders it through ``upload_page``.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_http_methods

from access.policy import has_permission
from base.problems import format_size
from bulk.kind import JobKind
from bulk.registry import registry
from bulk.samples import sample_formats

from .navigation import tool_for
from .uploading import cap_upload, submit_upload
from .views_create import rejection_context


@csrf_exempt  # only so the upload handler can be replaced; _upload is CSRF-protected
@login_required
@require_http_methods(["GET", "POST"])
def new_job(request: HttpRequest, kind: str) -> HttpResponse:
    """/jobs/new/<kind>/: the generic upload page, or the kind's own page when it has one."""
    job_kind = registry().get(kind)
    if job_kind is None:
        raise Http404(f"Unknown job kind '{kind}'.")
    if job_kind.upload.url_name:
        return redirect(job_kind.upload.url_name)
    if not has_permission(request.user, job_kind.permission):
        raise PermissionDenied(f"You do not have permission to use {job_kind.tool_name}.")
    return upload_page(request, job_kind)


def upload_page(request: HttpRequest, kind: JobKind) -> HttpResponse:
    """The form, and the upload that validates the file (the caller has checked the permission)."""
    if request.method == "POST":
        cap_upload(request, kind.slug)
        return _upload(request, kind)
    return _render(request, kind, title="", validate_only=kind.upload.validate_only_default)


@csrf_protect
def _upload(request: HttpRequest, kind: JobKind) -> HttpResponse:
    title = request.POST.get("title", "").strip()
    validate_only = request.POST.get("validate_only") == "on"
    upload = submit_upload(
        request, kind.slug, title=title, validate_only=validate_only, start=not validate_only
    )
    if upload.job is not None:
        page = kind.upload
        messages.success(request, page.validated_message if validate_only else page.queued_message)
        return redirect("web:job", pk=upload.job.pk)
    return _render(
        request,
        kind,
        status=400,
        title=title,
        validate_only=validate_only,
        title_error=upload.title_error,
        rejection=rejection_context(upload.rejected) if upload.rejected else None,
    )


def _render(request: HttpRequest, kind: JobKind, status: int = 200, **extra: Any) -> HttpResponse:
    context = {
        "heading": kind.upload.heading or kind.tool_name,
        "kind": kind,
        "page": kind.upload,
        # The upload page sits under the first page of the kind's trail (Certifications, Jobs …).
        "tool": tool_for(kind.slug)[:1],
        "formats": sample_formats(kind),
        "accept": ",".join(kind.extensions),
        "max_size": format_size(kind.max_bytes),
        "max_bytes": kind.max_bytes,
        **extra,
    }
    return render(request, kind.upload.template, context, status=status)
