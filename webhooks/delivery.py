"""Sending deliveries: signed, one sender at a time per delivery (a lease), retried with backoff.

Every worker process runs a ``Sender`` thread beside its jobs: a delivery never waits for a job, nor a
job for a delivery. Each delivery is claimed with a lease before it is sent; a sender killed mid-send
leaves its lease to expire, and the next sender tries again, with the same ``Certdesk-Delivery`` id,
so that a receiver which keeps the ids it has acknowledged never acts on one twice.

The signature is HMAC-SHA256, keyed with the endpoint's secret, of ``"{timestamp}.{body}"``; the
timestamp (Unix seconds) travels in ``Certdesk-Timestamp`` and the signature, hex, in
``Certdesk-Signature`` as ``sha256=…``. A receiver recomputes it over the raw body and refuses a
timestamp far from its clock (a replay).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ipaddress
import logging
import socket
import threading
import time
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.db import close_old_connections, transaction
from django.db.models import F, Q
from django.utils import timezone

from .models import Attempt, Delivery

log = logging.getLogger(__name__)


def signature(secret: str, timestamp: int, body: str | bytes) -> str:
    """The hex HMAC-SHA256 of ``"{timestamp}.{body}"`` with ``secret``."""
    raw = body.encode() if isinstance(body, str) else body
    return hmac.new(secret.encode(), str(timestamp).encode() + b"." + raw, hashlib.sha256).hexdigest()


def backoff(attempts: int) -> dt.timedelta:
    """How long to wait after the ``attempts``-th failed try: doubling from CERTDESK_WEBHOOK_FIRST_RETRY_SECONDS,
    at most six hours."""
    return dt.timedelta(
        seconds=min(settings.CERTDESK_WEBHOOK_FIRST_RETRY_SECONDS * 2 ** (attempts - 1), 6 * 3600)
    )


def private_address(host: str) -> str:
    """The address ``host`` names that is not on the internet (loopback, private, link-local, reserved
    …), "" when none is; "" too when it does not resolve (sending will say so)."""
    try:
        found = {str(info[4][0]) for info in socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)}
    except (OSError, UnicodeError):
        return ""
    for address in sorted(found):
        ip = ipaddress.ip_address(address.split("%")[0])
        if not ip.is_global:
            return address
    return ""


def refused_address(url: str) -> str:
    """Why certdesk will not send to ``url`` ("" when it will): an address inside the network, unless
    CERTDESK_WEBHOOK_PRIVATE_ADDRESSES allows them (a webhook must not reach the servers beside it)."""
    if settings.CERTDESK_WEBHOOK_PRIVATE_ADDRESSES:
        return ""
    host = urlsplit(url).hostname or ""
    address = private_address(host)
    if not address:
        return ""
    return (
        f"{host} is {address}, an address inside the network: webhooks go to internet addresses only "
        "(CERTDESK_WEBHOOK_PRIVATE_ADDRESSES allows others)."
    )


def _due(now: dt.datetime) -> Q:
    # A paused endpoint's deliveries wait: they go out if it is switched on again within their day.
    return Q(status=Delivery.Status.PENDING, next_attempt_at__lte=now, endpoint__active=True) & (
        Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now)
    )


def claim(owner: str, now: dt.datetime) -> Delivery | None:
    """Take the oldest delivery due, with a lease; None when nothing is due."""
    for pk in (
        Delivery.objects.filter(_due(now)).order_by("next_attempt_at", "id").values_list("pk", flat=True)[:20]
    ):
        taken = Delivery.objects.filter(_due(now), pk=pk).update(
            lease_owner=owner[:100],
            lease_expires_at=now + dt.timedelta(seconds=settings.CERTDESK_WEBHOOK_LEASE_SECONDS),
            attempts=F("attempts") + 1,
        )
        if taken:
            return Delivery.objects.select_related("endpoint").get(pk=pk)
    return None


def send(delivery: Delivery, owner: str) -> Attempt:
    """One attempt: POST the body, signed, and record what came of it."""
    started = timezone.now()
    # Written before sending: an attempt cut short by the sender's death stays in the log as such.
    attempt = Attempt.objects.create(delivery=delivery, number=delivery.attempts, started_at=started)
    timestamp = int(time.time())
    body = delivery.body.encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "certdesk-webhooks",
        "Certdesk-Event": delivery.event,
        "Certdesk-Delivery": str(delivery.pk),
        "Certdesk-Timestamp": str(timestamp),
        "Certdesk-Signature": "sha256=" + signature(delivery.endpoint.secret, timestamp, body),
    }
    clock = time.perf_counter()
    code: int | None = None
    error = ""
    refused = refused_address(delivery.endpoint.url)
    try:
        if refused:
            error = f"Not sent: {refused}"[:300]
        else:
            # Streamed and closed unread: only the status matters, and a large answer costs nothing.
            with requests.post(
                delivery.endpoint.url,
                data=body,
                headers=headers,
                timeout=settings.CERTDESK_WEBHOOK_TIMEOUT_SECONDS,
                allow_redirects=False,
                stream=True,
            ) as response:
                code = response.status_code
            if not 200 <= code < 300:
                error = f"The endpoint answered {code}."
    except requests.RequestException as exc:
        error = f"Not delivered: {type(exc).__name__}: {exc}"[:300]
    attempt.status_code, attempt.error = code, error
    attempt.milliseconds = int((time.perf_counter() - clock) * 1000)
    now = timezone.now()
    with transaction.atomic():
        attempt.save(update_fields=["status_code", "error", "milliseconds"])
        mine = Delivery.objects.filter(pk=delivery.pk, lease_owner=owner[:100])
        if not error:
            mine.update(
                status=Delivery.Status.DELIVERED,
                delivered_at=now,
                last_status_code=code,
                last_error="",
                lease_owner="",
                lease_expires_at=None,
                next_attempt_at=None,
            )
        else:
            retry = now + backoff(delivery.attempts)
            gives_up = retry > delivery.retry_until
            mine.update(
                status=Delivery.Status.FAILED if gives_up else Delivery.Status.PENDING,
                next_attempt_at=None if gives_up else retry,
                last_status_code=code,
                last_error=error,
                lease_owner="",
                lease_expires_at=None,
            )
    return attempt


def send_due(owner: str, *, limit: int | None = None, now: dt.datetime | None = None) -> int:
    """Send what is due, up to ``limit`` deliveries (CERTDESK_WEBHOOK_BATCH); how many were tried."""
    limit = limit or settings.CERTDESK_WEBHOOK_BATCH
    tried = 0
    while tried < limit:
        delivery = claim(owner, now or timezone.now())
        if delivery is None:
            break
        send(delivery, owner)
        tried += 1
    return tried


class Sender:
    """A thread that sends due deliveries every CERTDESK_WEBHOOK_POLL_SECONDS, beside a worker's jobs."""

    def __init__(self, owner: str) -> None:
        self.owner = owner
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="certdesk-webhooks", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                close_old_connections()
                send_due(self.owner)
            except Exception:
                log.exception("Webhook sender %s: unexpected error; retrying", self.owner)
            finally:
                close_old_connections()
            self._stop.wait(settings.CERTDESK_WEBHOOK_POLL_SECONDS)
