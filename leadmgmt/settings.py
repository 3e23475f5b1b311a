"""Settings for every environment, read from the environment (django-environ).

The embedded default (no variables set) is a SQLite file in the project and no
Redis: Celery tasks then run in-process. Production sets DATABASE_URL, REDIS_URL,
DJANGO_SECRET_KEY and uses ``leadmgmt.settings_production``.
"""

import sys
from pathlib import Path

import environ
from csp.constants import NONE, SELF
from django.core.management.utils import get_random_secret_key
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# django-environ reads a value starting with "$" as the name of another variable;
# "\$" at the start of a value (a password, say) stands for a literal "$".
env.escape_proxy = True

DEBUG = env.bool("DJANGO_DEBUG", default=False)

# A laptop run needs no secret configured; the key is then made per machine and
# kept out of the repo (.gitignore). Production refuses to start without one.
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
if not SECRET_KEY:
    key_file = BASE_DIR / ".secret_key"
    if not key_file.exists():
        key_file.write_text(get_random_secret_key())
    SECRET_KEY = key_file.read_text().strip()

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "leadmgmt.apps.BackOfficeAdminConfig",  # django.contrib.admin with the project's site (leadmgmt.admin_site)
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI served from static/, no CDN
    "leads",
    "integrations",
    "integrations.market",
    "integrations.feeds",
    "integrations.scoring",
    "integrations.crm",
    "integrations.workflows",
    "integrations.webhooks",
    "integrations.sms",
    "integrations.alerts",
    "integrations.plans",
    "integrations.routing",
    "integrations.winprob",
    "integrations.matches",
    "integrations.property_alerts",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "leads.api.middleware.ApiErrorMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "leadmgmt.replica.ReadYourWritesMiddleware",
    "leads.accounts.middleware.ViewerTimeZoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "leadmgmt.urls"
WSGI_APPLICATION = "leadmgmt.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    # An empty DATABASE_URL means the default, like an unset one.
    "default": {
        **env.db_url_config(env.str("DATABASE_URL", default="") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        "CONN_MAX_AGE": env.int("DB_CONN_MAX_AGE", default=60),
        "CONN_HEALTH_CHECKS": True,
    }
}
if env.str("DB_POOL_MAX_SIZE", default="") and DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # psycopg's connection pool, per process: each gunicorn worker or Celery process
    # keeps up to this many connections open and shares them between its threads.
    # Django wants persistent connections off when the pool is on.
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": env.int("DB_POOL_MAX_SIZE"),
        "timeout": env.int("DB_POOL_TIMEOUT", default=10),
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Concurrent requests on the embedded default: wait for the write lock
    # instead of failing with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )
    DATABASES["default"]["CONN_MAX_AGE"] = 0

# A PostgreSQL streaming replica (leadmgmt/replica.py): list pages, reports, exports and the
# API's lists read from it when it is at most REPLICA_MAX_LAG_SECONDS behind (checked every
# REPLICA_CHECK_SECONDS) and the user did not write in the last READ_YOUR_WRITES_SECONDS.
if env.str("DATABASE_REPLICA_URL", default=""):
    DATABASES["replica"] = {
        **env.db_url_config(env.str("DATABASE_REPLICA_URL")),
        "CONN_MAX_AGE": DATABASES["default"]["CONN_MAX_AGE"] or 60,
        "CONN_HEALTH_CHECKS": True,
        # Tests run against the primary's test database; the replica is a copy of it.
        "TEST": {"MIRROR": "default"},
    }
    DATABASES["replica"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 2)
    DATABASE_ROUTERS = ["leadmgmt.replica.ReplicaRouter"]
REPLICA_MAX_LAG_SECONDS = env.float("REPLICA_MAX_LAG_SECONDS", default=5.0)
REPLICA_CHECK_SECONDS = env.float("REPLICA_CHECK_SECONDS", default=1.0)
READ_YOUR_WRITES_SECONDS = env.int("READ_YOUR_WRITES_SECONDS", default=10)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "leads.User"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns about a missing root
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Serve straight from the source folders unless collectstatic has been run
# (production runs it and turns this off).
WHITENOISE_USE_FINDERS = env.bool("WHITENOISE_USE_FINDERS", default=True)

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=5 * 1024 * 1024)

# CSV import of leads (leads.imports.services): upload limits, rows per transaction, and how
# many left-out rows the job keeps for its report (the counts cover them all).
IMPORT_MAX_BYTES = env.int("IMPORT_MAX_BYTES", default=50 * 1024 * 1024)
IMPORT_MAX_ROWS = env.int("IMPORT_MAX_ROWS", default=200000)
IMPORT_CHUNK_ROWS = env.int("IMPORT_CHUNK_ROWS", default=1000)
IMPORT_MAX_LISTED_ERRORS = env.int("IMPORT_MAX_LISTED_ERRORS", default=10000)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "leads.api.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "EXCEPTION_HANDLER": "leads.api.errors.api_exception_handler",
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

# OpenAPI 3 schema at /api/v2/schema and Swagger UI at /api/v2/docs (leads.api.docs).
# Both are public: they describe the API and hold no data; every data endpoint
# still requires a token or a session.
SPECTACULAR_SETTINGS = {
    "TITLE": "Lead management API",
    "DESCRIPTION": (
        "REST API v2 for integrations: leads, interactions, batches, merges, history and webhooks.\n\n"
        "**Auth**: `Authorization: Bearer <token>` (or the browser session; writes then need the CSRF token). "
        "An agent sees only their leads; anything else is a 404, like a lead that does not exist.\n\n"
        "**Answers** carry `metadata` and `processing_time`; errors are "
        '`{"error": {"code", "message", "fields"?}, "metadata", "processing_time"}` with honest statuses.\n\n'
        "**Safe retries**: lead answers carry an `ETag` (the lead's version): send it as `If-Match` on updates "
        "(412 when the lead changed). Creates, interactions and batches take an `Idempotency-Key`.\n\n"
        "**Rate limit**: every answer carries `X-RateLimit-Limit`, `-Remaining` and `-Reset`; past the "
        "limit, 429 with `Retry-After`."
    ),
    "VERSION": "2.0",
    # 3.1: nullable fields are JSON Schema's own ("type": ["string", "null"]), so the
    # schema's parts validate responses as they are (leads/tests/test_api_schema.py).
    "OAS_VERSION": "3.1.0",
    "SCHEMA_PATH_PREFIX": r"/api/v2",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "LeadStatusEnum": "leads.models.LeadStatus",
        "LeadSourceEnum": "leads.models.LeadSource",
        "ProcessingStatusEnum": "leads.models.ProcessingStatus",
        "SlaStatusEnum": "leads.models.SlaStatus",
        "DeliveryStatusEnum": "integrations.webhooks.models.DeliveryStatus",
        "WebhookEventEnum": "integrations.webhooks.models.WebhookEvent",
    },
    "PREPROCESSING_HOOKS": ["leads.api.schema.canonical_paths"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "leads.api.schema.partial_nested_requests",
        "leads.api.schema.close_response_objects",
    ],
    # Schema completeness is checked by leads/tests/test_api_schema.py, not by check --deploy.
    "ENABLE_DJANGO_DEPLOY_CHECK": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

REDIS_URL = env.str("REDIS_URL", default="")

# Redis only helps (cache, rate-limit counters, broker): a call to it fails fast, and after
# a failure a circuit breaker skips it for REDIS_CIRCUIT_OPEN_SECONDS (leadmgmt.redis_breaker).
REDIS_SOCKET_TIMEOUT = env.float("REDIS_SOCKET_TIMEOUT", default=0.5)
REDIS_CIRCUIT_OPEN_SECONDS = env.float("REDIS_CIRCUIT_OPEN_SECONDS", default=5)

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "leadmgmt.redis_breaker.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {
                "socket_connect_timeout": REDIS_SOCKET_TIMEOUT,
                "socket_timeout": REDIS_SOCKET_TIMEOUT,
                "circuit_open_seconds": REDIS_CIRCUIT_OPEN_SECONDS,
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Celery: Redis is the broker when REDIS_URL is set; without it tasks run
# in-process right after the commit, so the embedded default does the same work.
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
# The pipeline sweeper re-sends a job that was never sent (broker down at save
# time) after this many seconds, and one sent but never finished after the second.
PIPELINE_UNSENT_GRACE_SECONDS = env.int("PIPELINE_UNSENT_GRACE_SECONDS", default=10)
PIPELINE_UNFINISHED_GRACE_SECONDS = env.int("PIPELINE_UNFINISHED_GRACE_SECONDS", default=600)
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's Django fixup closes the database connections after every task unless told to
# keep them for this many tasks; leadmgmt.celery applies CONN_MAX_AGE per task instead.
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1000)
CELERY_TASK_TIME_LIMIT = 60
# One queue name per deployment sharing a Redis (and per end-to-end test run).
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_QUEUE", default="leadmgmt")
CELERY_TASK_SOFT_TIME_LIMIT = 45
# Speed to lead first. Redis serves each queue's priority steps in order (kombu's
# priority_steps, 0 first), so the event relay, routing and agent alerts (sent at
# URGENT_TASK_PRIORITY) never wait behind a backlog of after-save work (sent at 6).
CELERY_TASK_DEFAULT_PRIORITY = 6
URGENT_TASK_PRIORITY = 0
# Past priorities, CPU: with CELERY_URGENT_QUEUE set (e.g. leadmgmt.urgent) the urgent tasks
# go to that queue, served by a worker of its own (`-Q leadmgmt.urgent`) while the worker of
# the after-save work runs niced, so its backlog never takes the cores speed to lead needs
# (deploy/systemd/leadmgmt-worker-urgent.service). A worker started without -Q takes both.
CELERY_URGENT_QUEUE = env.str("CELERY_URGENT_QUEUE", default="")
if CELERY_URGENT_QUEUE and CELERY_URGENT_QUEUE != CELERY_TASK_DEFAULT_QUEUE:
    CELERY_TASK_QUEUES = [Queue(CELERY_TASK_DEFAULT_QUEUE), Queue(CELERY_URGENT_QUEUE)]
    CELERY_TASK_ROUTES = ("leadmgmt.broker.route_by_priority",)
# The broker going away (leadmgmt.broker): workers reconnect for as long as it takes, and
# a publisher that cannot connect fails at once (max_retries 0; kombu would otherwise
# retry for 6 s inside the request) and leaves the job to the sweeper. The socket
# timeout bounds commands; a worker's BRPOP is read only once readable, so it is not cut.
CELERY_BROKER_TRANSPORT = "leadmgmt.broker:Transport" if REDIS_URL.startswith(("redis://", "rediss://")) else None
CELERY_BROKER_CONNECTION_RETRY = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": 3600,
    "socket_connect_timeout": REDIS_SOCKET_TIMEOUT,
    "socket_timeout": REDIS_SOCKET_TIMEOUT,
    "socket_keepalive": True,
    "health_check_interval": 10,
    "max_retries": 0,
    "priority_steps": [0, 3, 6, 9],
}
# A running task finishes when the broker drops (its results are committed to PostgreSQL;
# the redelivered message then finds the job done) rather than being killed mid-transaction.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
CELERY_TIMEZONE = "UTC"
# Task modules outside an app's tasks.py (autodiscovery finds only those).
CELERY_IMPORTS = ["leads.events.tasks", "leads.imports.tasks"]
# Lead events (leads.events) not relayed this long after their save are queued again
# by the sweep (their message was refused or lost); relayed ones are kept this many days.
LEAD_EVENTS_RELAY_GRACE_SECONDS = env.int("LEAD_EVENTS_RELAY_GRACE_SECONDS", default=30)
LEAD_EVENTS_KEEP_DAYS = env.int("LEAD_EVENTS_KEEP_DAYS", default=30)

# The embedded default writes each message to a file in sent_emails/ (git-ignored),
# so a laptop run sends nothing and the terminal stays readable. Production sets SMTP:
# EMAIL_BACKEND=django.core.mail.backends.smtp.EmailBackend and EMAIL_HOST etc.
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.filebased.EmailBackend")
EMAIL_FILE_PATH = env.str("EMAIL_FILE_PATH", default=str(BASE_DIR / "sent_emails"))
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Lead desk <leads@localhost>")

# Security headers that hold in every environment; production adds HTTPS ones.
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
# Where listing photos may be loaded from on the pages (the lead page's property matches):
# CSP sources such as "https:" or "https://photos.example-mls.com".
LISTING_PHOTO_SOURCES = env.list("LISTING_PHOTO_SOURCES", default=["https:"])
# The agent pages load scripts and styles from static/ only (no inline code; chart
# data travels in json_script blocks). The admin's bundled templates need inline styles.
CONTENT_SECURITY_POLICY = {
    "EXCLUDE_URL_PREFIXES": ["/admin/"],
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:", *LISTING_PHOTO_SOURCES],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler", "stream": sys.stderr}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}

# Request budgets (django-ratelimit, counted in the cache above): API calls per token
# (per client address without valid credentials); sign-in attempts per address and
# per username (the agents' page and the admin's); password reset requests per email
# address and per client address. "<count>/<period>" with s, m, h or d.
API_RATE_LIMIT = env.str("API_RATE_LIMIT", default="600/m")
LOGIN_RATE_LIMIT = env.str("LOGIN_RATE_LIMIT", default="10/m")
PASSWORD_RESET_RATE_LIMIT = env.str("PASSWORD_RESET_RATE_LIMIT", default="3/h")
PASSWORD_RESET_IP_RATE_LIMIT = env.str("PASSWORD_RESET_IP_RATE_LIMIT", default="10/h")
# If the cache cannot count, let requests through rather than refuse everyone.
RATELIMIT_FAIL_OPEN = True
# Behind a proxy, the header that holds the client's address (e.g. HTTP_X_REAL_IP).
if env.str("RATELIMIT_IP_META_KEY", default=""):
    RATELIMIT_IP_META_KEY = env.str("RATELIMIT_IP_META_KEY")
# Idempotency-Key answers are replayed for this long; a retry arriving while the
# first request still runs waits this long for it before a 409.
IDEMPOTENCY_KEY_TTL_HOURS = env.int("IDEMPOTENCY_KEY_TTL_HOURS", default=24)
IDEMPOTENCY_WAIT_SECONDS = env.float("IDEMPOTENCY_WAIT_SECONDS", default=5)
# Lead representations in the cache (GET /api/v2/leads/{id}); entries are keyed by
# the lead's state, so this only bounds how long unused ones take space.
LEAD_CACHE_SECONDS = env.int("LEAD_CACHE_SECONDS", default=600)

# --- Domain settings -------------------------------------------------------
LEADS_API_MAX_PAGE_SIZE = 100
LEADS_API_DEFAULT_PAGE_SIZE = 20
# Region assumed for phone numbers typed without a country code.
PHONE_DEFAULT_REGION = env.str("PHONE_DEFAULT_REGION", default="US")
# How far ahead of the server's clock an interaction's time may be (callers' clocks
# drift); later ones are refused: a planned contact is a follow-up, not an interaction.
INTERACTION_MAX_FUTURE_MINUTES = env.int("INTERACTION_MAX_FUTURE_MINUTES", default=5)
# Web activity events (leads.webevents): how far ahead of the server's clock an event's
# time may be, how old it may be, and the requests per minute one sender (API key) may
# make to the events endpoints, on top of API_RATE_LIMIT.
WEB_EVENTS_MAX_FUTURE_MINUTES = env.int("WEB_EVENTS_MAX_FUTURE_MINUTES", default=5)
WEB_EVENTS_MAX_AGE_DAYS = env.int("WEB_EVENTS_MAX_AGE_DAYS", default=365)
WEB_EVENTS_RATE_LIMIT = env.str("WEB_EVENTS_RATE_LIMIT", default="120/m")

# Lead scoring (integrations.scoring; defaults and meaning in integrations/scoring/config.py
# and the README's "Scoring" section). Any key left out keeps its default.
LEAD_SCORING = {
    # Most points per factor. Fit = who the lead is; engagement = what they did.
    "FIT_WEIGHTS": {"financing": 15, "budget_fit": 10, "timeline": 10, "contact": 10, "source_quality": 10},
    "ENGAGEMENT_WEIGHTS": {"interactions": 8, "recency": 12, "replies": 8, "showings": 8, "web_activity": 9},
    "RECENCY_HALF_LIFE_DAYS": 7.0,  # recency points halve every 7 days without a sign of life
    "SOURCE_PRIOR_WEIGHT": 20,  # source conversion smoothed as if each source had 20 more, average leads
    "RESCORE_AFTER_HOURS": 6,  # the periodic rescoring picks leads scored longer ago than this
}

# Property matching (integrations.matches): a listing up to this percent over a lead's
# max price (or under its min price) still matches, with a penalty in the score. The
# preference index stores the widened band: after changing it, run ``manage.py rebuild_match_index``.
LISTING_MATCH_PRICE_TOLERANCE_PCT = env.float("LISTING_MATCH_PRICE_TOLERANCE_PCT", default=10.0)

# Follow-up workflows (integrations.workflows).
# Base of the links in emails (unsubscribe, lead pages).
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
# Minutes from a lead's arrival to its first-contact deadline, by urgency.
LEAD_FIRST_CONTACT_SLA_MINUTES = {"urgent": 5, "high": 60, "normal": 1440, "low": 4320}
# How long an emailed unsubscribe link stays valid.
UNSUBSCRIBE_LINK_MAX_AGE_DAYS = 365

# CRM sync (integrations.crm). A target in CRM_TARGETS is used only once it is
# configured: the webhook needs a URL and a secret, HubSpot an access token. With
# none configured no sync records are made and leads show "not_configured".
CRM_TARGETS = env.list("CRM_TARGETS", default=["webhook", "hubspot"])
CRM_WEBHOOK_URL = env.str("CRM_WEBHOOK_URL", default="")
CRM_WEBHOOK_SECRET = env.str("CRM_WEBHOOK_SECRET", default="")
CRM_WEBHOOK_CONNECT_TIMEOUT = env.float("CRM_WEBHOOK_CONNECT_TIMEOUT", default=3)
CRM_WEBHOOK_READ_TIMEOUT = env.float("CRM_WEBHOOK_READ_TIMEOUT", default=10)
HUBSPOT_BASE_URL = env.str("HUBSPOT_BASE_URL", default="https://api.hubapi.com")
HUBSPOT_ACCESS_TOKEN = env.str("HUBSPOT_ACCESS_TOKEN", default="")
HUBSPOT_CONNECT_TIMEOUT = env.float("HUBSPOT_CONNECT_TIMEOUT", default=3)
HUBSPOT_READ_TIMEOUT = env.float("HUBSPOT_READ_TIMEOUT", default=10)
# Transient failures (timeouts, connection errors, 429, 5xx) are retried after
# BACKOFF * 2^(attempt-1) seconds (with jitter, at most BACKOFF_MAX); the record is
# dead after MAX_ATTEMPTS. Other 4xx answers make it dead at once.
CRM_SYNC_MAX_ATTEMPTS = env.int("CRM_SYNC_MAX_ATTEMPTS", default=8)
CRM_SYNC_BACKOFF_SECONDS = env.int("CRM_SYNC_BACKOFF_SECONDS", default=30)
CRM_SYNC_BACKOFF_MAX_SECONDS = env.int("CRM_SYNC_BACKOFF_MAX_SECONDS", default=3600)
# A queued or in-flight delivery that has not finished after this long is queued
# again by the sweeper (a lost task or a dead worker never strands a record).
CRM_SYNC_REQUEUE_AFTER_SECONDS = env.int("CRM_SYNC_REQUEUE_AFTER_SECONDS", default=300)

# Listing feeds (RESO Web API, integrations.feeds): per request timeouts, how long a run holds
# its feed between two pages, and a bound on the pages of one run (a server looping its nextLink).
LISTING_FEED_CONNECT_TIMEOUT = env.float("LISTING_FEED_CONNECT_TIMEOUT", default=5)
LISTING_FEED_READ_TIMEOUT = env.float("LISTING_FEED_READ_TIMEOUT", default=60)
LISTING_FEED_LEASE_SECONDS = env.int("LISTING_FEED_LEASE_SECONDS", default=600)
LISTING_FEED_MAX_PAGES = env.int("LISTING_FEED_MAX_PAGES", default=10000)

# Outbound webhooks (integrations.webhooks). Targets must resolve to public addresses
# unless WEBHOOKS_ALLOW_PRIVATE_TARGETS is on (local development, receivers on the
# same private network). Transient failures are retried after BACKOFF * 2^(attempt-1)
# seconds (with jitter, at most BACKOFF_MAX); a delivery is dead after MAX_ATTEMPTS,
# and at once on other 4xx answers. A queued delivery not finished after
# REQUEUE_AFTER seconds is queued again by the sweeper.
WEBHOOKS_ALLOW_PRIVATE_TARGETS = env.bool("WEBHOOKS_ALLOW_PRIVATE_TARGETS", default=False)
WEBHOOKS_CONNECT_TIMEOUT = env.float("WEBHOOKS_CONNECT_TIMEOUT", default=3)
WEBHOOKS_READ_TIMEOUT = env.float("WEBHOOKS_READ_TIMEOUT", default=10)
WEBHOOKS_MAX_ATTEMPTS = env.int("WEBHOOKS_MAX_ATTEMPTS", default=8)
WEBHOOKS_BACKOFF_SECONDS = env.int("WEBHOOKS_BACKOFF_SECONDS", default=30)
WEBHOOKS_BACKOFF_MAX_SECONDS = env.int("WEBHOOKS_BACKOFF_MAX_SECONDS", default=3600)
WEBHOOKS_REQUEUE_AFTER_SECONDS = env.int("WEBHOOKS_REQUEUE_AFTER_SECONDS", default=300)

# SMS (integrations.sms): a Twilio-compatible REST API (POST
# {SMS_BASE_URL}/2010-04-01/Accounts/{SMS_ACCOUNT_SID}/Messages.json, basic auth). Texts are
# off until the sid, the auth token and the sender number are set. The auth token also
# checks the provider's status callbacks (X-Twilio-Signature) at {SITE_URL}/sms/status/...
SMS_BASE_URL = env.str("SMS_BASE_URL", default="https://api.twilio.com")
SMS_ACCOUNT_SID = env.str("SMS_ACCOUNT_SID", default="")
SMS_AUTH_TOKEN = env.str("SMS_AUTH_TOKEN", default="")
SMS_FROM_NUMBER = env.str("SMS_FROM_NUMBER", default="")
SMS_CONNECT_TIMEOUT = env.float("SMS_CONNECT_TIMEOUT", default=3)
SMS_READ_TIMEOUT = env.float("SMS_READ_TIMEOUT", default=10)

# Web push (integrations.alerts): the VAPID key pair (manage.py vapid_keys prints one).
# Without it, a pair is made once per machine into WEBPUSH_VAPID_KEY_FILE (git-ignored),
# so the embedded default pushes out of the box; production sets the keys (the file is off).
WEBPUSH_VAPID_PRIVATE_KEY = env.str("WEBPUSH_VAPID_PRIVATE_KEY", default="")
WEBPUSH_VAPID_PUBLIC_KEY = env.str("WEBPUSH_VAPID_PUBLIC_KEY", default="")
# Who push services contact about our pushes: a mailto: or https: URL (default: mailto:
# the address of DEFAULT_FROM_EMAIL).
WEBPUSH_VAPID_SUBJECT = env.str("WEBPUSH_VAPID_SUBJECT", default="")
WEBPUSH_VAPID_KEY_FILE = env.str("WEBPUSH_VAPID_KEY_FILE", default=str(BASE_DIR / ".vapid_key"))
# Push endpoints must be https on public addresses, unless this is on (tests, a push
# service on the same network).
WEBPUSH_ALLOW_PRIVATE_ENDPOINTS = env.bool("WEBPUSH_ALLOW_PRIVATE_ENDPOINTS", default=False)
# How long a push service keeps an alert for a phone that is offline (seconds).
WEBPUSH_TTL_SECONDS = env.int("WEBPUSH_TTL_SECONDS", default=900)
WEBPUSH_CONNECT_TIMEOUT = env.float("WEBPUSH_CONNECT_TIMEOUT", default=3)
WEBPUSH_READ_TIMEOUT = env.float("WEBPUSH_READ_TIMEOUT", default=10)

# Agent alerts (integrations.alerts): a channel that fails transiently (timeouts, 5xx) is
# tried ALERTS_MAX_ATTEMPTS times, BACKOFF * 2^(attempt-1) seconds apart (with jitter, at
# most BACKOFF_MAX), before the next channel is tried; the sweep runs every 10 seconds.
ALERTS_MAX_ATTEMPTS = env.int("ALERTS_MAX_ATTEMPTS", default=2)
ALERTS_BACKOFF_SECONDS = env.int("ALERTS_BACKOFF_SECONDS", default=5)
ALERTS_BACKOFF_MAX_SECONDS = env.int("ALERTS_BACKOFF_MAX_SECONDS", default=60)
ALERTS_REQUEUE_AFTER_SECONDS = env.int("ALERTS_REQUEUE_AFTER_SECONDS", default=120)
# Where an offer's "Claim" button goes (the routing engine's claim page).
ALERTS_CLAIM_PATH = env.str("ALERTS_CLAIM_PATH", default="/leads/{lead_id}/claim/")

# Follow-up plans (integrations.plans). Messages go through their own outbox: a failed
# send is tried PLANS_MAX_ATTEMPTS times with backoff. A lead gets at most
# PLANS_DAILY_MESSAGE_CAP automated messages (emails and texts of every plan) per day of its
# zone; texts go out only between PLANS_TEXT_QUIET_HOURS_END and _START (lead-local, "HH:MM").
PLANS_MAX_ATTEMPTS = env.int("PLANS_MAX_ATTEMPTS", default=5)
PLANS_BACKOFF_SECONDS = env.int("PLANS_BACKOFF_SECONDS", default=30)
PLANS_BACKOFF_MAX_SECONDS = env.int("PLANS_BACKOFF_MAX_SECONDS", default=3600)
PLANS_REQUEUE_AFTER_SECONDS = env.int("PLANS_REQUEUE_AFTER_SECONDS", default=300)
PLANS_DAILY_MESSAGE_CAP = env.int("PLANS_DAILY_MESSAGE_CAP", default=3)
PLANS_TEXT_QUIET_HOURS_END = env.str("PLANS_TEXT_QUIET_HOURS_END", default="09:00")  # texts from
PLANS_TEXT_QUIET_HOURS_START = env.str("PLANS_TEXT_QUIET_HOURS_START", default="20:00")  # texts until
# Channels a lead without a Consent row is taken to agree to (an inquiry implies email;
# automated texts and calls need express consent).
PLANS_IMPLIED_CONSENT = env.list("PLANS_IMPLIED_CONSENT", default=["email"])
# Plan emails carry Reply-To: reply+<signed lead token>@PLANS_REPLY_DOMAIN; the mail
# provider's inbound-parse webhook posts replies to /plans/inbound-email/<PLANS_INBOUND_EMAIL_SECRET>
# (empty secret: the webhook is off).
PLANS_REPLY_DOMAIN = env.str("PLANS_REPLY_DOMAIN", default="reply.leads.example.com")
PLANS_INBOUND_EMAIL_SECRET = env.str("PLANS_INBOUND_EMAIL_SECRET", default="")
PLANS_BATCH_SIZE = env.int("PLANS_BATCH_SIZE", default=500)
# With a broker, run_plan_steps claims batches and hands them to the workers until this many
# batches' worth are in flight (claimed, not yet run): keep it below what the workers run within
# PLANS_CLAIM_SECONDS, or leases expire in the queue and are claimed (not run) again.
PLANS_MAX_BATCHES_PER_RUN = env.int("PLANS_MAX_BATCHES_PER_RUN", default=40)
PLANS_CLAIM_SECONDS = env.int("PLANS_CLAIM_SECONDS", default=120)
# A chunk's texts go to the SMS provider over one keep-alive session, this many requests at a time.
PLANS_SMS_THREADS = env.int("PLANS_SMS_THREADS", default=8)
# The merge field {{ listing_url }}: a matching listing's page on your listings site
# ("{external_id}" is replaced); empty: the field is empty (the summary still shows).
PLANS_LISTING_URL = env.str("PLANS_LISTING_URL", default="")

# Property alerts (integrations.property_alerts): the matches emailed to each lead, instant
# (a job every few minutes) or as a daily / weekly digest at PROPERTY_ALERTS_DIGEST_HOUR
# lead-local (weekly on PROPERTY_ALERTS_WEEKLY_DAY, 0 = Monday). A lead with matches and no
# setting gets PROPERTY_ALERTS_DEFAULT_FREQUENCY (sellers: off). After STEP_DOWN_AFTER alerts
# unopened the frequency steps down (instant -> daily -> weekly), after PAUSE_AFTER more at
# weekly the alerts pause; an open or a click restores the chosen frequency. A click goes to
# PLANS_LISTING_URL when set, else to the listing's public page here (/alerts/l/<signed>/).
PROPERTY_ALERTS_DEFAULT_FREQUENCY = env.str("PROPERTY_ALERTS_DEFAULT_FREQUENCY", default="daily")
PROPERTY_ALERTS_DIGEST_HOUR = env.int("PROPERTY_ALERTS_DIGEST_HOUR", default=8)
PROPERTY_ALERTS_WEEKLY_DAY = env.int("PROPERTY_ALERTS_WEEKLY_DAY", default=5)
PROPERTY_ALERTS_MAX_LISTINGS = env.int("PROPERTY_ALERTS_MAX_LISTINGS", default=10)
PROPERTY_ALERTS_STEP_DOWN_AFTER = env.int("PROPERTY_ALERTS_STEP_DOWN_AFTER", default=3)
PROPERTY_ALERTS_PAUSE_AFTER = env.int("PROPERTY_ALERTS_PAUSE_AFTER", default=3)
PROPERTY_ALERTS_LINK_MAX_AGE_DAYS = env.int("PROPERTY_ALERTS_LINK_MAX_AGE_DAYS", default=365)
PROPERTY_ALERTS_BATCH_SIZE = env.int("PROPERTY_ALERTS_BATCH_SIZE", default=200)
PROPERTY_ALERTS_CLAIM_SECONDS = env.int("PROPERTY_ALERTS_CLAIM_SECONDS", default=600)
