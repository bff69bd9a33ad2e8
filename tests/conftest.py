"""Shared fixtures: named people (alice may remove certifications, mallory may not), a certification
with holders, and isolated file storage for each test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.cache import cache

from access.permissions import MANAGE_CERTIFICATION_REMOVAL, VIEW_CERTIFICATIONS
from credentials.models import Certification
from people.models import User

from . import csp_watch
from .cluster import celery_cluster_factory  # noqa: F401  (a fixture every module may use)
from .factories import CertificationFactory, UserFactory, award_many, grant
from .mailserver import smtp_server  # noqa: F401  (a fixture every module may use)
from .s3server import s3_bucket, s3_server  # noqa: F401  (fixtures: a real S3 endpoint, started on first use)

IN_CI = os.environ.get("CI", "").lower() == "true"


@pytest.fixture(autouse=True)
def isolated_media(settings, tmp_path: Path) -> Path:
    """Every test stores uploads and results files in its own folder."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.CERTDESK_CHUNK_PAUSE_SECONDS = 0
    return settings.MEDIA_ROOT


@pytest.fixture(autouse=True, scope="session")
def fast_password_hashing() -> None:
    """The factories hash a password per user; PBKDF2 would spend seconds on a few dozen holders.
    PBKDF2 stays second in the list so passwords made by real code (the demo) still check."""
    from django.conf import settings

    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.MD5PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    ]


@pytest.fixture
def alice(db) -> User:
    """An administrator who may manage certification removal jobs and view certifications."""
    user = UserFactory(username="alice", user_id="ADM-ALICE", email="alice@example.test", first_name="Alice")
    return grant(user, MANAGE_CERTIFICATION_REMOVAL, VIEW_CERTIFICATIONS)


@pytest.fixture
def mallory(db) -> User:
    """Signed in, but holding no certdesk permission."""
    return UserFactory(username="mallory", user_id="ADM-MALLORY", email="mallory@example.test")


@pytest.fixture
def certification(db) -> Certification:
    return CertificationFactory(code="CERT-042", title="Basic Life Support")


@pytest.fixture
def holders(certification: Certification) -> list[User]:
    """Twenty users who hold CERT-042."""
    users = UserFactory.create_batch(20)
    award_many(certification, users)
    return users


@pytest.fixture(autouse=True)
def no_csp_violations() -> Iterator[None]:
    """A browser test fails when any page it opened reported a Content-Security-Policy violation."""
    csp_watch.VIOLATIONS.clear()
    yield
    found, csp_watch.VIOLATIONS[:] = list(csp_watch.VIOLATIONS), []
    assert not found, "Content-Security-Policy violations:\n" + "\n".join(found)


@pytest.fixture(autouse=True)
def generous_api_rates(settings) -> Iterator[None]:
    """The suite makes many API calls a minute as one user: the throttles' own tests lower the rates.
    Each test starts with empty throttle counts."""
    settings.CERTDESK_API_RATES = {scope: "100000/minute" for scope in settings.CERTDESK_API_RATES}
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def no_approval_policy(settings) -> None:
    """Jobs run when started, whatever their size: the approval policy's own tests turn it back on
    (tests/test_approval.py), so that the rest of the suite tests what it is about."""
    settings.CERTDESK_APPROVAL_MAX_ROWS = 0
    settings.CERTDESK_APPROVAL_MAX_ROWS_BY_KIND = {}
    settings.CERTDESK_APPROVAL_REMOVAL_SHARE = 1.0
