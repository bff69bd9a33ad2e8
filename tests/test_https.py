"""HTTPS by configuration: with CERTDESK_HTTPS=1 behind a TLS proxy, plain http is redirected, every
answer carries HSTS, the session and CSRF cookies are Secure, and `check --deploy` finds nothing."""

from __future__ import annotations

import http.client
import re
import secrets
import subprocess
import sys

import pytest
from django.contrib.auth.hashers import make_password

from .processes import cli_env
from .test_serve import serving

pytestmark = pytest.mark.django_db(transaction=True)

PRODUCTION = {
    "CERTDESK_HTTPS": "1",
    "DEBUG": "0",
    "ALLOWED_HOSTS": "certdesk.example.org,127.0.0.1",
    "CSRF_TRUSTED_ORIGINS": "https://certdesk.example.org",
}


def request(
    port: int, method: str, path: str, headers: dict[str, str], body: str = ""
) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request(method, path, body=body or None, headers=headers)
    response = connection.getresponse()
    response.read()
    return response


def cookies(response: http.client.HTTPResponse) -> dict[str, str]:
    """Each Set-Cookie header by cookie name."""
    return {line.split("=", 1)[0]: line for line in response.headers.get_all("Set-Cookie") or []}


def test_manage_check_deploy_finds_nothing_with_the_production_variables():
    env = cli_env(**PRODUCTION, SECRET_KEY=secrets.token_urlsafe(50))
    run = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "System check identified no issues" in run.stdout


def test_behind_a_tls_proxy_http_is_redirected_and_https_gets_hsts_and_secure_cookies(tmp_path, alice):
    # Hashed as the server process hashes (the tests' own fast hasher is not in its settings).
    alice.password = make_password("secret-pass-123", hasher="pbkdf2_sha256")
    alice.save(update_fields=["password"])
    with serving(tmp_path, **PRODUCTION) as base_url:
        port = int(base_url.rsplit(":", 1)[1])
        plain = request(port, "GET", "/login/", {"Host": "127.0.0.1"})
        assert plain.status == 301 and plain.headers["Location"] == "https://127.0.0.1/login/"

        via_proxy = {"Host": f"127.0.0.1:{port}", "X-Forwarded-Proto": "https"}
        page = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        page.request("GET", "/login/", headers=via_proxy)
        answer = page.getresponse()
        html = answer.read().decode()
        assert answer.status == 200
        assert answer.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
        csrf_cookie = cookies(answer)["csrftoken"]
        assert "; Secure" in csrf_cookie

        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
        assert token is not None
        signed_in = request(
            port,
            "POST",
            "/login/",
            {
                **via_proxy,
                "Origin": f"https://127.0.0.1:{port}",
                "Referer": f"https://127.0.0.1:{port}/login/",
                "Content-Type": "application/x-www-form-urlencoded",
                "Cookie": csrf_cookie.split(";", 1)[0],
            },
            f"csrfmiddlewaretoken={token.group(1)}&username=alice&password=secret-pass-123",
        )
        assert signed_in.status == 302, signed_in.status
        session_cookie = cookies(signed_in)["sessionid"]
        assert "; Secure" in session_cookie and "HttpOnly" in session_cookie


def test_without_the_setting_the_embedded_default_stays_plain_http(tmp_path):
    with serving(tmp_path) as base_url:
        port = int(base_url.rsplit(":", 1)[1])
        page = request(port, "GET", "/login/", {"Host": "127.0.0.1"})
        assert page.status == 200
        assert "Strict-Transport-Security" not in page.headers
        assert "; Secure" not in cookies(page).get("csrftoken", "")
