"""Webhooks (permission "Manage webhooks"): endpoints with their events and signing secret, and each
endpoint's delivery log with Redeliver."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from access.permissions import MANAGE_WEBHOOKS
from webhooks.models import EVENTS, Delivery, Endpoint
from webhooks.services import (
    WebhookInputError,
    delete_endpoint,
    new_endpoint_secret,
    redeliver,
    save_endpoint,
)

from .permissions import allowed

webhooks_required = allowed(MANAGE_WEBHOOKS, "You need the permission Manage webhooks.")
DELIVERIES_SHOWN = 50


@webhooks_required
@require_http_methods(["GET", "POST"])
def webhook_list(request: HttpRequest) -> HttpResponse:
    values: dict[str, object] = {"events": []}
    if request.method == "POST":
        try:
            endpoint = _save(request, None)
        except WebhookInputError as exc:
            values = {**request.POST.dict(), "events": request.POST.getlist("events")}
            return _list(request, values, exc.problems, status=400)
        messages.success(request, f"Endpoint {endpoint.url} is added. Its signing secret is below.")
        return redirect("web:webhook", pk=endpoint.pk)
    return _list(request, values, [])


def _list(request: HttpRequest, values: dict[str, object], errors: list, status: int = 200) -> HttpResponse:
    endpoints = Endpoint.objects.all()
    return render(
        request,
        "web/webhooks.html",
        {"endpoints": endpoints, "events": EVENTS, "values": values, "errors": errors},
        status=status,
    )


def _save(request: HttpRequest, endpoint: Endpoint | None) -> Endpoint:
    return save_endpoint(
        endpoint,
        url=request.POST.get("url", ""),
        events=request.POST.getlist("events"),
        description=request.POST.get("description", ""),
        active=request.POST.get("active", "on" if endpoint is None else "") == "on",
        actor=request.user,
    )


@webhooks_required
@require_http_methods(["GET", "POST"])
def webhook_detail(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = get_object_or_404(Endpoint, pk=pk)
    errors: list = []
    status = 200
    if request.method == "POST":
        action = request.POST.get("action", "save")
        if action == "delete":
            delete_endpoint(endpoint, actor=request.user)
            messages.success(request, f"Endpoint {endpoint.url} is deleted, with its delivery log.")
            return redirect("web:webhooks")
        if action == "secret":
            new_endpoint_secret(endpoint, actor=request.user)
            messages.success(
                request, "A new signing secret is made: deliveries from now on are signed with it."
            )
            return redirect("web:webhook", pk=endpoint.pk)
        try:
            _save(request, endpoint)
            messages.success(request, "The endpoint is saved.")
            return redirect("web:webhook", pk=endpoint.pk)
        except WebhookInputError as exc:
            errors, status = exc.problems, 400
            endpoint.refresh_from_db()
    deliveries = endpoint.deliveries.prefetch_related("tries")[:DELIVERIES_SHOWN]
    return render(
        request,
        "web/webhook.html",
        {"endpoint": endpoint, "events": EVENTS, "deliveries": deliveries, "errors": errors},
        status=status,
    )


@webhooks_required
@require_POST
def webhook_redeliver(request: HttpRequest, pk: int, delivery: int) -> HttpResponse:
    found = get_object_or_404(Delivery, pk=delivery, endpoint_id=pk)
    redeliver(found, actor=request.user)
    messages.success(request, f"Delivery {found.pk} is queued again: a worker sends it within seconds.")
    return redirect("web:webhook", pk=pk)
