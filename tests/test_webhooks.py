"""Signed webhooks: endpoints registered in the product; deliveries signed (HMAC-SHA256 over timestamp
and body), checked here by a real HTTP server on loopback; retried after a 500; logged, with
Redeliver; never in a job's way; and not delivered twice when a worker is killed mid-send."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.test import Client
from django.utils import timezone

from access.permissions import APPROVE_JOBS
from bulk import services, worker
from bulk.models import Job
from credentials.models import Award
from credentials.renewals import send_renewal_notices
from webhooks.delivery import send_due
from webhooks.models import Attempt, Delivery, Endpoint
from webhooks.services import emit

from .factories import UserFactory, grant, make_csv, removal_rows
from .processes import CERTDESK, cli_env
from .test_api import submit

WAIT_SECONDS = 60


@dataclass
class Received:
    event: str
    delivery: str
    timestamp: str
    signature: str
    body: bytes


@dataclass
class Receiver:
    """An HTTP server on loopback that records what it is sent and answers with ``codes`` in turn
    (then 200); with ``hold_first``, it keeps the first request open until ``release`` is set."""

    codes: list[int] = field(default_factory=list)
    hold_first: bool = False
    got: list[Received] = field(default_factory=list)
    acknowledged: set[str] = field(default_factory=set)
    arrived: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    url: str = ""

    def verified(self, secret: str, received: Received) -> bool:
        expected = hmac.new(
            secret.encode(), received.timestamp.encode() + b"." + received.body, hashlib.sha256
        ).hexdigest()
        return hmac.compare_digest(received.signature, f"sha256={expected}")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.got.append(
                Received(
                    self.headers["Certdesk-Event"],
                    self.headers["Certdesk-Delivery"],
                    self.headers["Certdesk-Timestamp"],
                    self.headers["Certdesk-Signature"],
                    body,
                )
            )
            first = len(state.got) == 1
            state.arrived.set()
            if first and state.hold_first:
                state.release.wait(WAIT_SECONDS)
                return  # its sender is gone: nobody reads an answer
            code = state.codes.pop(0) if state.codes else 200
            if 200 <= code < 300:
                state.acknowledged.add(self.headers["Certdesk-Delivery"])
            self.send_response(code)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            """Quiet: the test reads what was received, not the server's access log."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    yield state
    state.release.set()
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def loopback_allowed(settings):
    """The receivers here listen on loopback, an address inside the network: allowed for this module
    (the refusal has its own tests, which turn it off)."""
    settings.CERTDESK_WEBHOOK_PRIVATE_ADDRESSES = True


@pytest.fixture
def admin(db):
    return grant(UserFactory(username="wendy", first_name="Wendy"), "webhooks.manage_webhooks")


def page_of(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def registered(admin, url: str, *events: str) -> Endpoint:
    answer = page_of(admin).post(
        "/webhooks/", {"url": url, "description": "Compliance system", "events": list(events)}
    )
    assert answer.status_code == 302, answer.content.decode()
    return Endpoint.objects.get(url=url)


def test_a_processed_job_is_delivered_signed_to_a_real_receiver(
    admin, receiver, alice, certification, holders
):
    endpoint = registered(admin, receiver.url, "job.processed", "job.failed")
    job = submit(alice, make_csv(removal_rows(certification, holders[:2])), "Two leavers")
    services.start_job(job, alice)
    worker.run_next("w")

    assert send_due("test-sender") == 1

    (received,) = receiver.got
    assert receiver.verified(endpoint.secret, received)
    assert not receiver.verified("another secret", received)
    assert abs(int(received.timestamp) - time.time()) < 300
    body = json.loads(received.body)
    assert (received.event, body["event"]) == ("job.processed", "job.processed")
    assert body["data"]["job"]["id"] == job.pk and body["data"]["job"]["succeeded"] == 2
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.last_status_code, received.delivery) == (
        "delivered",
        200,
        str(delivery.pk),
    )
    shown = page_of(admin).get(f"/webhooks/{endpoint.pk}/").content.decode()
    assert "Delivered" in shown and "#1" in shown and ": 200" in shown


def test_a_delivery_answered_500_is_tried_again_later_with_the_same_id(admin, receiver):
    receiver.codes = [500]
    registered(admin, receiver.url, "job.failed")
    emit("job.failed", {"job": {"id": 7}})
    now = timezone.now()

    send_due("s", now=now)
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, 500)
    assert delivery.next_attempt_at >= now + dt.timedelta(seconds=29)
    assert send_due("s", now=now + dt.timedelta(seconds=5)) == 0  # not due yet: the backoff holds
    assert send_due("s", now=delivery.next_attempt_at + dt.timedelta(seconds=1)) == 1

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("delivered", 2)
    assert [r.delivery for r in receiver.got] == [str(delivery.pk)] * 2
    assert list(Attempt.objects.filter(delivery=delivery).values_list("number", "status_code")) == [
        (1, 500),
        (2, 200),
    ]


def test_a_delivery_is_given_up_after_its_retry_window(settings, admin, receiver):
    settings.CERTDESK_WEBHOOK_RETRY_HOURS = 0.01  # 36 seconds
    receiver.codes = [503, 503, 503]
    registered(admin, receiver.url, "job.failed")
    emit("job.failed", {"job": {"id": 7}})
    now = timezone.now()

    for step in range(3):
        send_due("s", now=now + dt.timedelta(seconds=60 * step))

    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.last_error) == ("failed", "The endpoint answered 503.")
    assert send_due("s", now=now + dt.timedelta(days=2)) == 0


def test_redeliver_sends_it_again(admin, receiver):
    endpoint = registered(admin, receiver.url, "job.failed")
    emit("job.failed", {"job": {"id": 7}})
    send_due("s")
    delivery = Delivery.objects.get()

    answer = page_of(admin).post(f"/webhooks/{endpoint.pk}/deliveries/{delivery.pk}/redeliver/")
    assert answer.status_code == 302
    assert send_due("s") == 1

    assert len(receiver.got) == 2 and Delivery.objects.get().attempts == 2


def test_an_endpoint_down_never_holds_a_job_up(admin, alice, certification, holders):
    registered(admin, "http://127.0.0.1:9/nothing-listens", "job.processed")
    job = submit(alice, make_csv(removal_rows(certification, holders[:2])), "Two")
    services.start_job(job, alice)

    finished = worker.run_next("w")

    assert finished.status == Job.Status.PROCESSED  # the delivery waits for the sender, not the job
    assert Delivery.objects.get().status == "pending"
    send_due("s")
    assert Delivery.objects.get().last_error.startswith("Not delivered: ConnectionError")


def test_awaiting_approval_and_expiring_awards_are_told(
    settings, admin, receiver, alice, certification, holders
):
    registered(admin, receiver.url, "job.awaiting_approval", "award.expiring")
    settings.CERTDESK_APPROVAL_MAX_ROWS = 1
    grant(UserFactory(username="vera"), APPROVE_JOBS)
    job = submit(alice, make_csv(removal_rows(certification, holders[:3])), "Three")
    services.start_job(job, alice)
    send_renewal_notices(dt.date(2026, 12, 20))  # the holders' awards expire on 2027-01-15

    send_due("s")

    events = sorted({r.event for r in receiver.got})
    assert events == ["award.expiring", "job.awaiting_approval"]
    expiring = [json.loads(r.body)["data"]["award"] for r in receiver.got if r.event == "award.expiring"]
    assert len(expiring) == 20 and expiring[0]["certification"] == "CERT-042"


def test_only_an_administrator_who_manages_webhooks_sees_them(admin, mallory):
    endpoint = registered(admin, "https://hooks.example.org/x", "job.processed")

    assert page_of(mallory).get("/webhooks/").status_code == 403
    assert page_of(mallory).get(f"/webhooks/{endpoint.pk}/").status_code == 403
    assert page_of(mallory).post(f"/webhooks/{endpoint.pk}/", {"action": "delete"}).status_code == 403
    assert Endpoint.objects.filter(pk=endpoint.pk).exists()


def test_a_bad_endpoint_is_refused_with_a_clear_error(admin):
    answer = page_of(admin).post("/webhooks/", {"url": "ftp://files.example.org", "events": ["job.nope"]})

    shown = answer.content.decode()
    assert answer.status_code == 400
    assert "URL must be an http:// or https:// address, not &#x27;ftp://files.example.org&#x27;." in shown
    assert "&#x27;job.nope&#x27; is not an event" in shown
    assert not Endpoint.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_send_is_not_delivered_twice(receiver):
    admin = grant(UserFactory(username="wendy"), "webhooks.manage_webhooks")
    endpoint = registered(admin, receiver.url, "job.failed")
    receiver.hold_first = True
    emit("job.failed", {"job": {"id": 7}})
    options = {
        "CERTDESK_WEBHOOK_POLL_SECONDS": "0.1",
        "CERTDESK_WEBHOOK_LEASE_SECONDS": "2",
        "CERTDESK_WEBHOOK_TIMEOUT_SECONDS": "30",
        "CERTDESK_WEBHOOK_PRIVATE_ADDRESSES": "true",
    }
    victim = subprocess.Popen(
        [str(CERTDESK), "worker"], env=cli_env(**options), stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    try:
        assert receiver.arrived.wait(WAIT_SECONDS), "the first worker never sent the delivery"
        victim.send_signal(signal.SIGKILL)
        victim.wait(WAIT_SECONDS)
    finally:
        if victim.poll() is None:
            victim.kill()
    receiver.release.set()
    successor = subprocess.Popen(
        [str(CERTDESK), "worker"], env=cli_env(**options), stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + WAIT_SECONDS
        while Delivery.objects.get().status != "delivered" and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        successor.terminate()
        successor.wait(WAIT_SECONDS)

    delivery = Delivery.objects.get()
    assert delivery.status == "delivered"
    # Sent again after the kill, with the same id: the receiver acknowledged it once.
    assert [r.delivery for r in receiver.got] == [str(delivery.pk)] * 2
    assert receiver.acknowledged == {str(delivery.pk)}
    assert all(receiver.verified(endpoint.secret, r) for r in receiver.got)
    attempts = list(Attempt.objects.filter(delivery=delivery).values_list("number", "status_code"))
    assert attempts == [(1, None), (2, 200)]  # the first cut short by the kill, as the log shows
    assert send_due("after") == 0  # delivered: never sent again


def test_an_address_inside_the_network_is_refused_unless_allowed(settings, admin, receiver):
    endpoint = registered(admin, receiver.url, "job.failed")
    settings.CERTDESK_WEBHOOK_PRIVATE_ADDRESSES = False

    refused = page_of(admin).post(
        "/webhooks/", {"url": "http://169.254.169.254/latest", "events": ["job.failed"]}
    )
    emit("job.failed", {"job": {"id": 7}})
    send_due("s")

    assert refused.status_code == 400
    assert "169.254.169.254 is 169.254.169.254, an address inside the network" in refused.content.decode()
    assert receiver.got == []  # nothing reached the loopback receiver
    delivery = Delivery.objects.get(endpoint=endpoint)
    assert delivery.last_error.startswith("Not sent: 127.0.0.1 is 127.0.0.1, an address inside the network")


def test_a_paused_endpoints_deliveries_wait(admin, receiver):
    endpoint = registered(admin, receiver.url, "job.failed")
    emit("job.failed", {"job": {"id": 7}})
    Endpoint.objects.filter(pk=endpoint.pk).update(active=False)

    assert send_due("s") == 0
    Endpoint.objects.filter(pk=endpoint.pk).update(active=True)
    assert send_due("s") == 1


def test_an_award_window_is_told_once_however_often_its_reminder_run_is_retried(
    admin, certification, holders
):
    registered(admin, "https://hooks.example.org/x", "award.expiring")
    day = dt.date(2026, 12, 20)

    send_renewal_notices(day)
    # As after a mail outage: the reminders are given back and the next run claims them again.
    Award.objects.update(renewal_notice_for=None)
    send_renewal_notices(day)

    assert Delivery.objects.filter(event="award.expiring").count() == 20
