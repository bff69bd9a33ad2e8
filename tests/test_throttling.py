"""Throttled sign-in (django-axes) and API throttles (DRF), as an attacker and an operator meet them."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from axes.models import AccessAttempt, AccessAttemptExpiration
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from audit.models import Event

from .factories import UserFactory, make_csv, removal_rows
from .test_api import upload

PASSWORD = "secret-pass-123"
WRONG = "not-the-password"
LOCKED = "Too many failed sign-in attempts for this username from your address"


def sign_in_page(url: str, username: str, password: str, address: str = "127.0.0.1"):  # type: ignore[no-untyped-def]
    return Client(REMOTE_ADDR=address).post(url, {"username": username, "password": password})


def token_sign_in(username: str, password: str, address: str = "127.0.0.1"):  # type: ignore[no-untyped-def]
    return APIClient(REMOTE_ADDR=address).post(
        "/api/v1/auth/token/", {"username": username, "password": password}, format="json"
    )


def signed_in(response) -> bool:  # type: ignore[no-untyped-def]
    if response.request["PATH_INFO"] == "/api/v1/auth/token/":
        return response.status_code == 200 and "token" in response.json()
    return response.status_code == 302


SIGN_INS = {
    "product": lambda user, password, address="127.0.0.1": sign_in_page("/login/", user, password, address),
    "admin": lambda user, password, address="127.0.0.1": sign_in_page(
        "/admin/login/", user, password, address
    ),
    "api-login": lambda user, password, address="127.0.0.1": sign_in_page(
        "/api/auth/login/", user, password, address
    ),
    "api-token": token_sign_in,
}


@pytest.fixture
def staff(db):  # type: ignore[no-untyped-def]
    return UserFactory(username="ursula", password=PASSWORD, is_staff=True, is_superuser=True)


def fail_five_times(sign_in, username: str = "ursula") -> None:  # type: ignore[no-untyped-def]
    for _ in range(5):
        refused = sign_in(username, WRONG)
        assert not signed_in(refused)


@pytest.mark.parametrize("where", sorted(SIGN_INS))
def test_the_sixth_attempt_is_refused_even_with_the_right_password(staff, where):
    sign_in = SIGN_INS[where]
    assert signed_in(sign_in("ursula", PASSWORD)), "the right password signs in at first"
    fail_five_times(sign_in)

    locked = sign_in("ursula", PASSWORD)

    assert locked.status_code == 429
    assert locked["Retry-After"] == "900"
    body = locked.json()["detail"] if where == "api-token" else locked.content.decode()
    assert LOCKED in body and "Try again in 15 minutes" in body
    assert AccessAttempt.objects.get(username="ursula").failures_since_start >= 5


def test_the_lock_holds_one_username_from_one_address_only(staff):
    other = UserFactory(username="otto", password=PASSWORD)
    fail_five_times(SIGN_INS["product"])

    assert sign_in_page("/login/", "ursula", PASSWORD).status_code == 429
    assert signed_in(sign_in_page("/login/", "ursula", PASSWORD, address="10.1.2.3")), "another address"
    assert signed_in(sign_in_page("/login/", other.username, PASSWORD)), "another username"


def test_failures_lockouts_and_unlocks_are_audit_events_and_the_cli_unlocks(staff):
    fail_five_times(SIGN_INS["product"])
    assert sign_in_page("/login/", "ursula", PASSWORD).status_code == 429

    out = io.StringIO()
    call_command("unlock", "ursula", stdout=out)
    assert "Unlocked ursula (failed sign-ins from 127.0.0.1 forgotten)" in out.getvalue()
    assert signed_in(sign_in_page("/login/", "ursula", PASSWORD))

    actions = list(
        Event.objects.filter(object_type="signin", object_id="ursula").values_list("action", flat=True)
    )
    assert actions.count("signin.failed") >= 5
    assert "signin.locked_out" in actions and "signin.unlocked" in actions
    failed = Event.objects.filter(action="signin.failed").first()
    assert failed is not None and failed.after == {"address": "127.0.0.1"}
    with pytest.raises(CommandError, match="No failed sign-ins are recorded for 'nobody'"):
        call_command("unlock", "nobody")


def test_an_administrator_unlocks_in_the_admin(staff):
    fail_five_times(SIGN_INS["api-token"])
    attempt = AccessAttempt.objects.get(username="ursula")
    admin = Client()
    admin.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    listed = admin.get("/admin/axes/accessattempt/")
    assert listed.status_code == 200 and "ursula" in listed.content.decode()

    admin.post(f"/admin/axes/accessattempt/{attempt.pk}/delete/", {"post": "yes"})

    assert signed_in(token_sign_in("ursula", PASSWORD))
    assert Event.objects.filter(action="signin.unlocked", object_id="ursula").exists()


def test_the_lock_ends_by_itself_after_the_lockout_time(staff):
    fail_five_times(SIGN_INS["product"])
    assert sign_in_page("/login/", "ursula", PASSWORD).status_code == 429
    # Fifteen minutes later (the attempt's expiry moved back, rather than waiting).
    AccessAttemptExpiration.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    AccessAttempt.objects.update(attempt_time=timezone.now() - dt.timedelta(minutes=16))

    assert signed_in(sign_in_page("/login/", "ursula", PASSWORD))


def token_client(user, address: str = "127.0.0.1") -> APIClient:  # type: ignore[no-untyped-def]
    client = APIClient(REMOTE_ADDR=address)
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


def test_a_user_over_the_rate_gets_429_with_retry_after_and_others_do_not(settings, alice):
    settings.CERTDESK_API_RATES = {**settings.CERTDESK_API_RATES, "user": "5/minute"}
    client = token_client(alice)
    answers = [client.get("/api/v1/jobs/").status_code for _ in range(6)]

    assert answers == [200] * 5 + [429]
    over = client.get("/api/v1/jobs/")
    assert 0 < int(over["Retry-After"]) <= 60
    assert "Request was throttled" in over.json()["detail"]
    assert token_client(UserFactory(is_superuser=True)).get("/api/v1/jobs/").status_code == 200


def test_guessed_tokens_are_throttled_per_address(settings, alice):
    settings.CERTDESK_API_RATES = {**settings.CERTDESK_API_RATES, "bad_credentials": "3/minute"}
    guesser = APIClient(REMOTE_ADDR="10.9.9.9")
    guesser.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    answers = [guesser.get("/api/v1/jobs/").status_code for _ in range(5)]

    assert answers == [401, 401, 401, 429, 429]
    assert int(guesser.get("/api/v1/jobs/")["Retry-After"]) > 0
    assert token_client(alice, address="10.9.9.9").get("/api/v1/jobs/").status_code == 200, (
        "a valid token from that address still works"
    )


def test_anonymous_token_sign_ins_are_throttled_per_address(settings, staff):
    settings.CERTDESK_API_RATES = {**settings.CERTDESK_API_RATES, "anon": "3/minute"}
    answers = [token_sign_in(f"nobody{n}", WRONG, address="10.7.7.7").status_code for n in range(4)]
    assert answers == [401, 401, 401, 429]
    assert signed_in(token_sign_in("ursula", PASSWORD, address="10.7.7.8"))


def test_uploads_have_a_lower_rate_than_other_calls(settings, alice, certification, holders):
    settings.CERTDESK_API_RATES = {**settings.CERTDESK_API_RATES, "uploads": "2/minute", "user": "50/minute"}
    client = token_client(alice)
    data = make_csv(removal_rows(certification, holders[:2]))
    answers = [upload(client, data, validate_only="true").status_code for _ in range(3)]

    assert answers == [201, 201, 429]
    assert client.get("/api/v1/jobs/").status_code == 200, "reading is still within the general rate"


def test_behind_a_trusted_proxy_the_forwarded_address_is_the_one_locked(settings, staff):
    settings.CERTDESK_TRUSTED_PROXIES = 1
    for _ in range(5):
        Client(REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.5").post(
            "/login/", {"username": "ursula", "password": WRONG}
        )
    from_there = Client(REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.5")
    assert from_there.post("/login/", {"username": "ursula", "password": PASSWORD}).status_code == 429
    elsewhere = Client(REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.7")
    assert elsewhere.post("/login/", {"username": "ursula", "password": PASSWORD}).status_code == 302
