"""Running certdesk in other processes against the test database (CLI, workers, the server)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from urllib.parse import quote

from django.conf import settings as django_settings

CERTDESK = Path(sys.executable).parent / "certdesk"

# Variables of the caller's environment that would change what the subprocess does.
SCRUBBED = (
    "DATABASE_URL",
    "CERTDESK_USER",
    "CERTDESK_CHUNK_SIZE",
    "CERTDESK_CHUNK_PAUSE_SECONDS",
    "CERTDESK_RUNNER",
    "CERTDESK_CHUNK_HOLD_SECONDS",
    "CELERY_BROKER_URL",
    "CERTDESK_QUEUE_PREFIX",
    "EMAIL_URL",
    "MEDIA_ROOT",
    "CERTDESK_STORAGE",
    "CERTDESK_S3_PREFIX",
    "CERTDESK_S3_PRESIGNED_DOWNLOADS",
    "AWS_STORAGE_BUCKET_NAME",
    "AWS_S3_ENDPOINT_URL",
    "AWS_S3_REGION_NAME",
    "AWS_S3_ADDRESSING_STYLE",
)


def database_url() -> str:
    """The URL of the database the tests use now (inside a test: the test database)."""
    db = django_settings.DATABASES["default"]
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    user = quote(str(db.get("USER") or ""), safe="")
    password = quote(str(db.get("PASSWORD") or ""), safe="")
    userinfo = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{userinfo}{db.get('HOST') or '127.0.0.1'}{port}/{quote(db['NAME'], safe='')}"


def cli_env(**overrides: str) -> dict[str, str]:
    """An environment for a certdesk subprocess: the test database and files, no runner thread."""
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED}
    env.update(
        DATABASE_URL=database_url(),
        MEDIA_ROOT=str(django_settings.MEDIA_ROOT),
        CERTDESK_VAR_DIR=str(django_settings.VAR_DIR),
        CERTDESK_RUNNER="none",
        CERTDESK_CHUNK_PAUSE_SECONDS="0",
        # As in the test process (conftest.no_approval_policy): jobs run when started.
        CERTDESK_APPROVAL_MAX_ROWS="0",
        CERTDESK_APPROVAL_REMOVAL_SHARE="1",
    )
    env.update(overrides)
    return env
