"""Registering webhook endpoints, and telling them about events.

``emit`` writes a delivery per subscribed endpoint in the caller's transaction and sends nothing: the
worker's sender (webhooks.delivery) does that, apart from any job, so an endpoint that is slow or
down never holds a job up, and a change that is rolled back tells nobody.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from access.permissions import MANAGE_WEBHOOKS
from access.policy import require
from audit.services import record
from base.problems import InputProblems, Problem

from .delivery import refused_address
from .models import EVENTS, Delivery, Endpoint, new_secret


class WebhookInputError(InputProblems):
    """An endpoint that cannot be saved as given."""


def check_endpoint(url: str, events: Sequence[str]) -> tuple[str, list[str]]:
    url = (url or "").strip()
    parts = urlsplit(url)
    problems = []
    if parts.scheme not in ("http", "https") or not parts.netloc:
        problems.append(
            Problem(
                "invalid_url", f"URL must be an http:// or https:// address, not '{url[:100]}'.", column="URL"
            )
        )
    elif len(url) > 500:
        problems.append(Problem("invalid_url", "URL can be up to 500 characters.", column="URL"))
    elif _literal_private(parts.hostname or ""):
        problems.append(Problem("private_address", refused_address(url), column="URL", value=url[:100]))
    unknown = [e for e in events if e not in EVENTS]
    if unknown:
        problems.append(
            Problem(
                "unknown_event",
                f"'{unknown[0][:50]}' is not an event; choose from {', '.join(EVENTS)}.",
                column="Events",
                value=unknown[0][:50],
            )
        )
    if not events:
        problems.append(Problem("no_events", "Choose at least one event to send.", column="Events"))
    if problems:
        raise WebhookInputError(problems)
    return url, [e for e in EVENTS if e in events]


def _literal_private(host: str) -> bool:
    """An address written as such (an IP, or localhost) inside the network, refused when the endpoint is
    saved; a name is checked each time a delivery is sent, as it resolves then."""
    if host == "localhost" or host.endswith(".localhost"):
        return bool(refused_address(f"http://{host}/"))
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return bool(refused_address(f"http://{host}/"))


def save_endpoint(
    endpoint: Endpoint | None, *, url: str, events: Sequence[str], description: str, active: bool, actor: Any
) -> Endpoint:
    require(actor, MANAGE_WEBHOOKS, doing="manage webhooks")
    url, chosen = check_endpoint(url, events)
    description = " ".join((description or "").split())[:200]
    with transaction.atomic():
        if endpoint is None:
            endpoint = Endpoint.objects.create(
                url=url,
                events=chosen,
                description=description,
                active=active,
                created_by=actor,
                created_at=timezone.now(),
            )
            record("webhook.created", actor=actor, obj=endpoint, after={"url": url, "events": chosen})
            return endpoint
        before = {"url": endpoint.url, "events": endpoint.events, "active": endpoint.active}
        endpoint.url, endpoint.events, endpoint.description, endpoint.active = (
            url,
            chosen,
            description,
            active,
        )
        endpoint.save()
        after = {"url": url, "events": chosen, "active": active}
        record("webhook.edited", actor=actor, obj=endpoint, before=before, after=after)
    return endpoint


def new_endpoint_secret(endpoint: Endpoint, *, actor: Any) -> Endpoint:
    """A new signing secret: deliveries from now on are signed with it."""
    require(actor, MANAGE_WEBHOOKS, doing="manage webhooks")
    endpoint.secret = new_secret()
    endpoint.save(update_fields=["secret"])
    record("webhook.secret_changed", actor=actor, obj=endpoint)
    return endpoint


def delete_endpoint(endpoint: Endpoint, *, actor: Any) -> None:
    require(actor, MANAGE_WEBHOOKS, doing="manage webhooks")
    with transaction.atomic():
        record(
            "webhook.deleted",
            actor=actor,
            obj=endpoint,
            before={"url": endpoint.url, "events": endpoint.events},
        )
        endpoint.delete()


def redeliver(delivery: Delivery, *, actor: Any) -> Delivery:
    """Send a delivery again, now, whatever became of it: the same body, a new signature and attempt."""
    require(actor, MANAGE_WEBHOOKS, doing="manage webhooks")
    now = timezone.now()
    Delivery.objects.filter(pk=delivery.pk).update(
        status=Delivery.Status.PENDING,
        next_attempt_at=now,
        retry_until=now + dt.timedelta(hours=settings.CERTDESK_WEBHOOK_RETRY_HOURS),
        lease_owner="",
        lease_expires_at=None,
    )
    record("webhook.redelivered", actor=actor, obj=delivery.endpoint, after={"delivery": delivery.pk})
    delivery.refresh_from_db()
    return delivery


def emit(event: str, data: Mapping[str, Any], *, now: dt.datetime | None = None) -> int:
    """Tell every active endpoint subscribed to ``event``: one delivery each, in the caller's
    transaction; how many."""
    return emit_many(event, [data], now=now)


def emit_many(
    event: str,
    items: Iterable[Mapping[str, Any]],
    *,
    keys: Sequence[str] | None = None,
    now: dt.datetime | None = None,
) -> int:
    """``emit`` for several events of one name at once: one query to find the endpoints, one INSERT;
    how many deliveries were asked for. ``keys`` name what each item is about when it must be told
    once only: an emit of a key already told makes no delivery."""
    if event not in EVENTS:
        raise ValueError(f"unknown webhook event {event!r}")
    endpoints = [e for e in Endpoint.objects.filter(active=True) if event in e.events]
    if not endpoints:
        return 0
    now = now or timezone.now()
    until = now + dt.timedelta(hours=settings.CERTDESK_WEBHOOK_RETRY_HOURS)
    bodies = [
        json.dumps({"event": event, "created_at": now.isoformat(), "data": dict(item)}, cls=DjangoJSONEncoder)
        for item in items
    ]
    named = list(keys) if keys is not None else [""] * len(bodies)
    Delivery.objects.bulk_create(
        [
            Delivery(
                endpoint=endpoint,
                event=event,
                key=key[:100],
                body=body,
                created_at=now,
                next_attempt_at=now,
                retry_until=until,
            )
            for endpoint in endpoints
            for body, key in zip(bodies, named, strict=True)
        ],
        # A key told already stays as it was: the partial unique constraint delivery_told_once.
        ignore_conflicts=keys is not None,
    )
    return len(endpoints) * len(bodies)
