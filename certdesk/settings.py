"""certdesk settings, read from the environment.

The embedded default needs no variable at all: SQLite under ``var/``, files on local disk, an
in-process job worker and a file outbox for email. Every other deployment shape is configuration.
"""

from __future__ import annotations

import datetime as dt
import secrets
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from certdesk.filestorage import LOCAL_STORAGE, s3_storage, storage_choice

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

VAR_DIR = Path(env.str("CERTDESK_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    """Use SECRET_KEY when set; otherwise keep a generated key under var/ so sessions survive restarts."""
    if "SECRET_KEY" in env.ENVIRON:
        return env.str("SECRET_KEY")
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# --- HTTPS ----------------------------------------------------------------------------------------
# CERTDESK_HTTPS=1 behind a TLS proxy: redirect to https, HSTS for a year with sub-domains, Secure
# cookies, and the proxy's X-Forwarded-Proto trusted. Each part can be set on its own as well.
CERTDESK_HTTPS = env.bool("CERTDESK_HTTPS", default=False)
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=CERTDESK_HTTPS)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000 if CERTDESK_HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=CERTDESK_HTTPS)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
# Preloading is a commitment a site opts into; not making it is a choice, not a warning.
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=CERTDESK_HTTPS)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=CERTDESK_HTTPS)
# Only behind a proxy that sets X-Forwarded-Proto itself (and strips it from clients' requests).
if env.bool("CERTDESK_TRUST_PROXY_SSL_HEADER", default=CERTDESK_HTTPS):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# The health check of a load balancer speaks plain HTTP to the node: it must not be redirected.
SECURE_REDIRECT_EXEMPT = env.list("SECURE_REDIRECT_EXEMPT", default=[])

# Content-Security-Policy (django-csp) on every response: scripts, styles and everything else from
# certdesk itself only, no inline code anywhere (the pages keep theirs in static files), no framing.
# Images may also be data: URIs (the blank favicon, the API docs' icons).
CERTDESK_CSP_REPORT_URI = env.str("CERTDESK_CSP_REPORT_URI", default="")
_csp_directives: dict[str, list[str]] = {
    "default-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}
if CERTDESK_CSP_REPORT_URI:
    _csp_directives["report-uri"] = [CERTDESK_CSP_REPORT_URI]
# Report-only: browsers report what the policy would block and block nothing (to try a change first).
if env.bool("CERTDESK_CSP_REPORT_ONLY", default=False):
    CONTENT_SECURITY_POLICY_REPORT_ONLY = {"DIRECTIVES": _csp_directives}
else:
    CONTENT_SECURITY_POLICY = {"DIRECTIVES": _csp_directives}

# Absolute address used in emails (links to a job and its results file).
CERTDESK_BASE_URL = env.str("CERTDESK_BASE_URL", default="http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "certdesk",
    "people",
    "credentials",
    "learning",
    "access",
    "audit",
    "webhooks",
    "bulk",
    "api",
    "web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # Inside SessionMiddleware: marks the session for saving on the way out, once a minute at most.
    "certdesk.sessions.RenewIdleSessions",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # NUL and other control characters anywhere in a request: 400, before PostgreSQL would refuse them.
    "certdesk.middleware.RefuseControlCharacters",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: answers a locked-out sign-in with certdesk.signin.lockout_response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "certdesk.urls"
WSGI_APPLICATION = "certdesk.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "web.navigation.navigation",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
# SQLite by default. The web server, its worker thread and the CLI write at the same time, so
# SQLite runs in WAL mode, waits for locks instead of failing, and takes the write lock when a
# transaction starts (IMMEDIATE) rather than failing when a reader later tries to write.
SQLITE_PATH = VAR_DIR / "certdesk.sqlite3"
DATABASES = {"default": env.db_url("DATABASE_URL", default=f"sqlite:///{SQLITE_PATH}")}
_db = DATABASES["default"]
if _db["ENGINE"] == "django.db.backends.sqlite3":
    _db.setdefault("OPTIONS", {}).update(
        {
            "timeout": env.int("SQLITE_BUSY_TIMEOUT_SECONDS", default=30),
            "transaction_mode": "IMMEDIATE",
            # A 32 MB page cache keeps the indexes that bulk updates touch in memory.
            # The write-ahead log is copied back into the database once it holds 65,536 pages (256 MB),
            # not 1,000: a 50,000-row job chunk (~110 MB of pages) then commits without spending 0.2 s
            # on that copy and its fsync. The copy is made when the last connection closes, as the
            # worker's does once the queue is empty, or by the commit that takes the log past the limit.
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-32768; "
                "PRAGMA temp_store=MEMORY; PRAGMA wal_autocheckpoint=65536; PRAGMA foreign_keys=ON"
            ),
        }
    )
    # Tests use a file, not memory, so that worker subprocesses see the same data.
    _db["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
elif _db["ENGINE"] in ("django.db.backends.postgresql", "django.db.backends.postgresql_psycopg2"):
    _db["ENGINE"] = "django.db.backends.postgresql"
    _db.setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=0))
else:
    raise ImproperlyConfigured(f"DATABASE_URL must name SQLite or PostgreSQL, not {_db['ENGINE']}")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "people.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked-out (username, address) pair
    "django.contrib.auth.backends.ModelBackend",  # passwords; permissions given directly (unconstrained)
    "access.backends.RoleBackend",  # permissions granted to roles, with constraints
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": env.int("CERTDESK_PASSWORD_MIN_LENGTH", default=12)},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# A session ends after this many minutes without a request (each request starts the count again,
# renewing the session at most once every CERTDESK_SESSION_RENEW_SECONDS: certdesk.sessions).
CERTDESK_SESSION_IDLE_MINUTES = env.int("CERTDESK_SESSION_IDLE_MINUTES", default=60)
CERTDESK_SESSION_RENEW_SECONDS = env.int("CERTDESK_SESSION_RENEW_SECONDS", default=60)
# A renewal that finds the database locked (a job's write) waits this long, then is left to a later request.
CERTDESK_SESSION_RENEW_WAIT_MS = env.int("CERTDESK_SESSION_RENEW_WAIT_MS", default=250)
SESSION_ENGINE = "certdesk.sessions"
SESSION_COOKIE_AGE = CERTDESK_SESSION_IDLE_MINUTES * 60

LANGUAGE_CODE = "en-gb"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

# --- Files ----------------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)  # whitenoise warns about a missing folder on every start
WHITENOISE_USE_FINDERS = True  # the embedded default serves static files without collectstatic
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
MEDIA_URL = "media/"

# Uploads larger than every job kind's limit are refused before their body is read; a kind's own,
# smaller limit is enforced by the job engine while the file streams in.
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
DATA_UPLOAD_MAX_NUMBER_FILES = 5  # a job takes one file; more parts only cost memory

# Jobs' originals and results files: on local disk under MEDIA_ROOT ("local"), or in an S3-compatible
# bucket ("s3") that every web node and worker shares. Either way a download passes certdesk's
# permission checks first; it is streamed through certdesk, or, with CERTDESK_S3_PRESIGNED_DOWNLOADS,
# answered with a redirect to a signed URL that lasts CERTDESK_S3_PRESIGNED_SECONDS.
CERTDESK_STORAGE = storage_choice(env.str("CERTDESK_STORAGE", default="local"))
if CERTDESK_STORAGE == "s3":
    _default_storage = s3_storage(
        bucket=env.str("AWS_STORAGE_BUCKET_NAME", default=""),
        endpoint_url=env.str("AWS_S3_ENDPOINT_URL", default=""),
        region=env.str("AWS_S3_REGION_NAME", default=""),
        access_key=env.str("AWS_ACCESS_KEY_ID", default=""),
        secret_key=env.str("AWS_SECRET_ACCESS_KEY", default=""),
        prefix=env.str("CERTDESK_S3_PREFIX", default=""),
        addressing_style=env.str("AWS_S3_ADDRESSING_STYLE", default=""),
        max_memory_bytes=FILE_UPLOAD_MAX_MEMORY_SIZE,
    )
else:
    _default_storage = LOCAL_STORAGE
STORAGES = {
    "default": _default_storage,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
CERTDESK_S3_PRESIGNED_DOWNLOADS = env.bool("CERTDESK_S3_PRESIGNED_DOWNLOADS", default=False)
CERTDESK_S3_PRESIGNED_SECONDS = env.int("CERTDESK_S3_PRESIGNED_SECONDS", default=300)
if CERTDESK_S3_PRESIGNED_DOWNLOADS and CERTDESK_STORAGE != "s3":
    raise ImproperlyConfigured("CERTDESK_S3_PRESIGNED_DOWNLOADS needs CERTDESK_STORAGE=s3")
# A signature version 4 URL lasts at most 7 days.
if not 1 <= CERTDESK_S3_PRESIGNED_SECONDS <= 604_800:
    raise ImproperlyConfigured(
        f"CERTDESK_S3_PRESIGNED_SECONDS must be between 1 and 604800 (7 days), not {CERTDESK_S3_PRESIGNED_SECONDS}"
    )

# --- Email ----------------------------------------------------------------------------------
# A file outbox under var/ by default; EMAIL_URL (smtp://user:pass@host:port) sends for real.
if "EMAIL_URL" in env.ENVIRON:
    vars().update(env.email_url("EMAIL_URL"))
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = str(VAR_DIR / "outbox")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="certdesk <certdesk@localhost>")
# A mail server that accepts the connection and then hangs must not hold a worker for ever.
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=30)

# --- Jobs -----------------------------------------------------------------------------------
# "thread": a worker thread inside `certdesk serve` (the embedded default); "none": jobs wait for a
# `certdesk worker` polling the database; "celery": jobs are sent to Celery workers (docs/deploy.md).
RUNNERS = ("thread", "none", "celery")
CERTDESK_RUNNER = env.str("CERTDESK_RUNNER", default="thread")
if CERTDESK_RUNNER not in RUNNERS:
    raise ImproperlyConfigured(
        f"CERTDESK_RUNNER must be one of {', '.join(RUNNERS)}, not {CERTDESK_RUNNER!r}"
    )
# Rows per chunk transaction. The rows of a file touch pages all over the awards table, and SQLite
# writes every page a transaction dirtied: a 1 MB file in one 50,000-row chunk writes each page once,
# in ten chunks ten times. A 50,000-row chunk still commits in well under a second.
CERTDESK_CHUNK_SIZE = env.int("CERTDESK_CHUNK_SIZE", default=50_000)
# Approval for large changes: a job that would change more rows than this (0: never by size), per kind
# with CERTDESK_APPROVAL_MAX_ROWS_BY_KIND ("license-import=5000,unenrolment=2000"), or a removal that
# would take away more than this share of a certification's current holders (1: never by share), waits
# for a second administrator who holds "Approve bulk jobs".
CERTDESK_APPROVAL_MAX_ROWS = env.int("CERTDESK_APPROVAL_MAX_ROWS", default=1000)
CERTDESK_APPROVAL_MAX_ROWS_BY_KIND = {
    kind: int(limit) for kind, limit in env.dict("CERTDESK_APPROVAL_MAX_ROWS_BY_KIND", default={}).items()
}
CERTDESK_APPROVAL_REMOVAL_SHARE = env.float("CERTDESK_APPROVAL_REMOVAL_SHARE", default=0.20)
CERTDESK_LEASE_SECONDS = env.int("CERTDESK_LEASE_SECONDS", default=60)
# A job claimed this many times without finishing is failed rather than retried again.
CERTDESK_MAX_ATTEMPTS = env.int("CERTDESK_MAX_ATTEMPTS", default=5)
# On PostgreSQL a worker's transaction left idle this long (the worker froze or lost the network inside a
# chunk), or a statement running longer, is ended by the server: its locks go, and another worker
# resumes the job once the lease has expired. Both default to the lease.
CERTDESK_WORKER_IDLE_TRANSACTION_SECONDS = env.float(
    "CERTDESK_WORKER_IDLE_TRANSACTION_SECONDS", default=CERTDESK_LEASE_SECONDS
)
CERTDESK_WORKER_STATEMENT_SECONDS = env.float(
    "CERTDESK_WORKER_STATEMENT_SECONDS", default=CERTDESK_LEASE_SECONDS
)
CERTDESK_WORKER_POLL_SECONDS = env.float("CERTDESK_WORKER_POLL_SECONDS", default=2.0)
# Pause after each chunk; only for demonstrations and crash tests that need a job to run slowly.
CERTDESK_CHUNK_PAUSE_SECONDS = env.float("CERTDESK_CHUNK_PAUSE_SECONDS", default=0.0)
# Pause inside each chunk's transaction, before it commits; only for tests that kill a worker mid-chunk.
CERTDESK_CHUNK_HOLD_SECONDS = env.float("CERTDESK_CHUNK_HOLD_SECONDS", default=0.0)
CERTDESK_MAX_LISTED_PROBLEMS = env.int("CERTDESK_MAX_LISTED_PROBLEMS", default=1000)

# --- Workers, schedules and the janitor -----------------------------------------------------------
# Each worker records a heartbeat this often; one not seen for the second figure counts as gone.
CERTDESK_HEARTBEAT_SECONDS = env.float("CERTDESK_HEARTBEAT_SECONDS", default=10.0)
CERTDESK_WORKER_ALIVE_SECONDS = env.float("CERTDESK_WORKER_ALIVE_SECONDS", default=30.0)
# Workers no longer alive are still listed (GET /api/v1/workers/) this long after they were last seen.
CERTDESK_WORKERS_LISTED_SECONDS = env.int("CERTDESK_WORKERS_LISTED_SECONDS", default=3600)
# A queued job no worker took for this long while a worker sits idle is sent to the queue again.
CERTDESK_RESEND_AFTER_SECONDS = env.int("CERTDESK_RESEND_AFTER_SECONDS", default=120)
# Draft and Verified jobs nobody started are deleted, with their files, after this many days.
CERTDESK_DRAFT_RETENTION_DAYS = env.int("CERTDESK_DRAFT_RETENTION_DAYS", default=30)  # 0: kept for ever
# Heartbeats of stopped workers and the record of scheduled runs are kept this many days.
CERTDESK_RECORD_RETENTION_DAYS = env.int("CERTDESK_RECORD_RETENTION_DAYS", default=30)
# Renewal reminders go out once a day, from this hour (TIME_ZONE); the schedule asks every N seconds.
CERTDESK_RENEWAL_NOTICES_HOUR = env.int("CERTDESK_RENEWAL_NOTICES_HOUR", default=6)
CERTDESK_SCHEDULE_CHECK_SECONDS = env.int("CERTDESK_SCHEDULE_CHECK_SECONDS", default=300)
CERTDESK_NOTICE_SWEEP_SECONDS = env.int("CERTDESK_NOTICE_SWEEP_SECONDS", default=60)
CERTDESK_JANITOR_SECONDS = env.int("CERTDESK_JANITOR_SECONDS", default=300)
# A scheduled run left unfinished this long (its worker died mid-run) is run again by the next scheduler.
CERTDESK_SCHEDULE_STALE_SECONDS = env.int("CERTDESK_SCHEDULE_STALE_SECONDS", default=3600)
if not 0 <= CERTDESK_RENEWAL_NOTICES_HOUR <= 23:
    raise ImproperlyConfigured(
        f"CERTDESK_RENEWAL_NOTICES_HOUR must be an hour from 0 to 23, not {CERTDESK_RENEWAL_NOTICES_HOUR}"
    )

# --- Celery (CERTDESK_RUNNER=celery) --------------------------------------------------------------
# The job row is the source of truth and the queue only wakes a worker: no result backend, and a
# message is acknowledged once its job has ended, so a worker that dies hands its job on.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="redis://127.0.0.1:6379/0")
CERTDESK_QUEUE_PREFIX = env.str("CERTDESK_QUEUE_PREFIX", default="certdesk")
# Jobs of more rows than this go to the "<prefix>.large" queue, the others to "<prefix>.jobs".
CERTDESK_LARGE_JOB_ROWS = env.int("CERTDESK_LARGE_JOB_ROWS", default=20_000)
# Jobs one `certdesk worker` runs at a time (Celery pool processes).
CERTDESK_WORKER_CONCURRENCY = env.int("CERTDESK_WORKER_CONCURRENCY", default=1)
CELERY_WORKER_CONCURRENCY = CERTDESK_WORKER_CONCURRENCY  # `celery -A certdesk worker` without -c too
# Redis hands an unacknowledged message to another worker after this long. Longer than the lease, so
# that the message of a worker that died arrives when its lease has expired and the job can be taken.
CERTDESK_BROKER_VISIBILITY_SECONDS = env.int(
    "CERTDESK_BROKER_VISIBILITY_SECONDS", default=2 * CERTDESK_LEASE_SECONDS
)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_DEFAULT_QUEUE = f"{CERTDESK_QUEUE_PREFIX}.jobs"
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CERTDESK_BROKER_VISIBILITY_SECONDS}
CELERY_BROKER_CONNECTION_TIMEOUT = env.float("CERTDESK_BROKER_TIMEOUT_SECONDS", default=2.0)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A job keeps running while the broker is away; its message is acknowledged (or found done) later.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
# Starting a job must not hang on a broker that is down: two quick retries, then the janitor resends.
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.5,
    "interval_max": 1,
}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_IMPORTS = ("certdesk.tasks",)
CELERY_TIMEZONE = TIME_ZONE

# --- Job kinds ------------------------------------------------------------------------------------
# The kinds of bulk job, one class each, imported on first use (docs/architecture.md: adding a kind).
CERTDESK_JOB_KINDS = [
    "bulk.kinds.certification_removal.CertificationRemoval",
    "bulk.kinds.unenrolment.Unenrolment",
    "bulk.kinds.certification_award.CertificationAward",
    "bulk.kinds.license_import.LicenseImport",
]

# --- Intake: what an upload may be ----------------------------------------------------------------
# Each kind's upload size and data rows. The rows are chosen so that real files at the size limit fit
# (about 25 bytes a row for a removal, 35 for an unenrolment, 70 for an award or a licence) and so
# that the process reading a file at the limits stays within about 300 MB.
CERTDESK_MAX_BYTES = {
    "certification-removal": env.int("CERTDESK_REMOVAL_MAX_BYTES", default=1024 * 1024),
    "unenrolment": env.int("CERTDESK_UNENROLMENT_MAX_BYTES", default=10 * 1024 * 1024),
    "certification-award": env.int("CERTDESK_AWARD_MAX_BYTES", default=10 * 1024 * 1024),
    "license-import": env.int("CERTDESK_LICENSE_IMPORT_MAX_BYTES", default=20 * 1024 * 1024),
}
CERTDESK_MAX_ROWS = {
    "certification-removal": env.int("CERTDESK_REMOVAL_MAX_ROWS", default=100_000),
    "unenrolment": env.int("CERTDESK_UNENROLMENT_MAX_ROWS", default=300_000),
    "certification-award": env.int("CERTDESK_AWARD_MAX_ROWS", default=200_000),
    "license-import": env.int("CERTDESK_LICENSE_IMPORT_MAX_ROWS", default=200_000),
}
# Rows validated and staged at a time: memory is per batch, not per file.
CERTDESK_INTAKE_BATCH_ROWS = env.int("CERTDESK_INTAKE_BATCH_ROWS", default=10_000)
# How many rows a job's preview lists (of those it would change, and of those overtaken since the
# file was checked); its counts and its "changes" file cover every row.
CERTDESK_PREVIEW_ROWS = env.int("CERTDESK_PREVIEW_ROWS", default=100)
# Lists count their rows exactly up to this many; longer ones say "more than" (base.paging).
CERTDESK_EXACT_COUNT_ROWS = env.int("CERTDESK_EXACT_COUNT_ROWS", default=10_000)
# Beyond that, they count to this many pages past the one asked for.
CERTDESK_COUNT_PAGES_AHEAD = env.int("CERTDESK_COUNT_PAGES_AHEAD", default=10)
# A list of people's rows longer than this (awarded users, licences), in User ID or username order,
# is paged by walking the people in that order instead of sorting all its rows (people.lists).
CERTDESK_SORTED_ROWS_AT_MOST = env.int("CERTDESK_SORTED_ROWS_AT_MOST", default=10_000)
# Webhooks: how often a worker's sender looks for deliveries due, how many it sends a turn, how long
# one may take, how long its claim lasts (a sender killed mid-send loses it then), the first retry's
# wait (doubling after), and for how long a delivery is retried.
CERTDESK_WEBHOOK_POLL_SECONDS = env.float("CERTDESK_WEBHOOK_POLL_SECONDS", default=2.0)
CERTDESK_WEBHOOK_BATCH = env.int("CERTDESK_WEBHOOK_BATCH", default=50)
CERTDESK_WEBHOOK_TIMEOUT_SECONDS = env.float("CERTDESK_WEBHOOK_TIMEOUT_SECONDS", default=5.0)
CERTDESK_WEBHOOK_LEASE_SECONDS = env.int("CERTDESK_WEBHOOK_LEASE_SECONDS", default=30)
CERTDESK_WEBHOOK_FIRST_RETRY_SECONDS = env.int("CERTDESK_WEBHOOK_FIRST_RETRY_SECONDS", default=30)
CERTDESK_WEBHOOK_RETRY_HOURS = env.float("CERTDESK_WEBHOOK_RETRY_HOURS", default=24.0)
# Whether webhooks may go to addresses inside the network (loopback, private, link-local): off, so
# that an endpoint cannot be used to reach the servers beside certdesk.
CERTDESK_WEBHOOK_PRIVATE_ADDRESSES = env.bool("CERTDESK_WEBHOOK_PRIVATE_ADDRESSES", default=False)
# The longest value a cell may hold (the csv module's own default field limit).
CERTDESK_MAX_CELL_CHARS = env.int("CERTDESK_MAX_CELL_CHARS", default=131_072)
# An .xlsx's first sheet is held as a grid of cells while it is read (about 110 bytes a cell).
CERTDESK_SPREADSHEET_MAX_CELLS = env.int("CERTDESK_SPREADSHEET_MAX_CELLS", default=1_500_000)
# How far an .xlsx may expand when unzipped: at most this many times its size, and this many bytes.
CERTDESK_XLSX_MAX_EXPANSION = env.int("CERTDESK_XLSX_MAX_EXPANSION", default=100)
CERTDESK_XLSX_MAX_UNZIPPED_BYTES = env.int("CERTDESK_XLSX_MAX_UNZIPPED_BYTES", default=100 * 1024 * 1024)
for _name, _limits in (("CERTDESK_MAX_BYTES", CERTDESK_MAX_BYTES), ("CERTDESK_MAX_ROWS", CERTDESK_MAX_ROWS)):
    if min(_limits.values()) < 1:
        raise ImproperlyConfigured(f"Every {_name} limit must be positive: {_limits}")

if CERTDESK_CHUNK_SIZE < 1 or CERTDESK_LEASE_SECONDS < 1:
    raise ImproperlyConfigured("CERTDESK_CHUNK_SIZE and CERTDESK_LEASE_SECONDS must be positive")

# --- REST API -------------------------------------------------------------------------------
# Sign-in lockout (django-axes, counts in the database, so shared by every process and kept across
# restarts) and API throttles (DRF, counts in the cache: set CERTDESK_CACHE_URL to Redis when several
# processes serve the API, or each counts alone). See certdesk/signin.py and api/throttling.py.
CACHES = {"default": env.cache_url("CERTDESK_CACHE_URL", default="locmemcache://certdesk")}
CERTDESK_TRUSTED_PROXIES = env.int("CERTDESK_TRUSTED_PROXIES", default=0)
AXES_FAILURE_LIMIT = env.int("CERTDESK_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = dt.timedelta(minutes=env.int("CERTDESK_LOGIN_LOCKOUT_MINUTES", default=15))
AXES_USE_ATTEMPT_EXPIRATION = True  # only the failures of the last AXES_COOLOFF_TIME count
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_LOCKOUT_CALLABLE = "certdesk.signin.lockout_response"
AXES_CLIENT_IP_CALLABLE = "certdesk.signin.client_address"
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
CERTDESK_API_RATES = {
    "user": env.str("CERTDESK_API_RATE_USER", default="600/minute"),
    "anon": env.str("CERTDESK_API_RATE_ANON", default="60/minute"),
    "uploads": env.str("CERTDESK_API_RATE_UPLOADS", default="30/minute"),
    "bad_credentials": env.str("CERTDESK_API_RATE_BAD_CREDENTIALS", default="20/minute"),
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.throttling.ThrottledTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": [
        "api.throttling.PerUserThrottle",
        "api.throttling.PerAddressThrottle",
        "api.throttling.UploadThrottle",
    ],
    "NUM_PROXIES": CERTDESK_TRUSTED_PROXIES or None,
    "DEFAULT_PAGINATION_CLASS": "api.pagination.Pages",
    # JSON bodies only; the job upload takes multipart, the token sign-in a form too.
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "api.schema.CertdeskAutoSchema",
    # Every 400 in the problems shape (row, column, value), whoever raised it.
    "EXCEPTION_HANDLER": "api.errors.handle_exception",
    # Checks what DRF parses (multipart bodies too) for control characters, as the middleware does.
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "certdesk.middleware.CheckedContentNegotiation",
}
# /api/schema/ and /api/docs/ need a signed-in user (session or token) unless this opens them.
CERTDESK_API_DOCS_PUBLIC = env.bool("CERTDESK_API_DOCS_PUBLIC", default=False)
SPECTACULAR_SETTINGS = {
    "SERVE_PERMISSIONS": [
        "rest_framework.permissions.AllowAny"
        if CERTDESK_API_DOCS_PUBLIC
        else "rest_framework.permissions.IsAuthenticated"
    ],
    "TITLE": "certdesk API",
    "DESCRIPTION": "Bulk certification, enrolment and licence jobs: submit, validate, run, explain.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "api.schema.describe_inputs",
    ],
}

LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/login/"

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
