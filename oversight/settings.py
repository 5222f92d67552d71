"""Oversight settings: every value comes from the environment (see `.env.example`).

With nothing set, the product runs on SQLite under var/, runs tasks in-process
and uses the in-memory channel layer. Real deployments set DATABASE_URL and
REDIS_URL and run Celery workers.
"""

from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from oversight.env import env_bool, env_int, env_list, env_networks, env_str, env_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

DEBUG = env_bool("DEBUG", default=True)

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production"  # noqa: S105

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "django_htmx",
    "template_partials",
    "ninja",
    "axes",
    "reviews",
    "worker",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "oversight.security.ContentSecurityPolicyMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "oversight.urls"
ASGI_APPLICATION = "oversight.asgi.application"
WSGI_APPLICATION = None

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
                "reviews.context_processors.roles",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------
DATABASE_URL = env_url("DATABASE_URL", schemes={"postgres", "postgresql", "sqlite"})
if not DATABASE_URL:
    VAR_DIR.mkdir(exist_ok=True)
    DATABASE_URL = f"sqlite:///{VAR_DIR / 'oversight.sqlite3'}"
# Seconds a connection outlives its request or task. 0 for the web: under ASGI each request runs in a thread of
# its own, so a kept connection is stranded with that thread (Django's docs say to disable them there); the
# Celery workers, long-lived processes, set it (docker-compose.yml).
DATABASE_CONN_MAX_AGE = env_int("DATABASE_CONN_MAX_AGE", 0, minimum=0)
DATABASES = {
    "default": dj_database_url.parse(DATABASE_URL, conn_max_age=DATABASE_CONN_MAX_AGE, conn_health_checks=True)
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # In-process tasks write while the web request holds the file: wait, don't fail.
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: Celery broker and Channels layer ------------------------------
REDIS_URL = env_url("REDIS_URL", schemes={"redis", "rediss"})
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {"worker.*": {"queue": "score"}}
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A task that runs longer than this is redelivered by Redis: keep it above the longest task.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# With the broker down, ingest still commits (the sweeper re-enqueues later): fail fast, don't hang.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}
CELERY_BEAT_SCHEDULE = {
    "sweep-unscored": {"task": "reviews.sweep_unscored", "schedule": 120.0, "options": {"queue": "default"}},
    "sweep-unclustered": {"task": "reviews.sweep_unclustered", "schedule": 120.0, "options": {"queue": "default"}},
    "sla-sweep": {"task": "reviews.sla_sweep", "schedule": 60.0, "options": {"queue": "default"}},
    # Analytics rollups: recomputes the last hours (and older ones a new decision touched); idempotent.
    "analytics-rollup": {"task": "reviews.analytics_rollup", "schedule": 300.0, "options": {"queue": "default"}},
    # The audit trail's count and head hash into the log, to compare later with verify_audit --expect.
    "audit-head": {"task": "reviews.audit_head", "schedule": 300.0, "options": {"queue": "default"}},
}

# A consumer waits for its next message with BZPOPMIN, which Redis answers (empty) after 5 s of quiet
# (channels_redis's brpop_timeout). redis-py 8 gives up on a read after 5 s by default, so an idle socket's
# consumer lost that race and crashed, closing the socket: read for longer than the pop waits. Not None:
# a half-open connection still fails, after CHANNEL_LAYER_READ_TIMEOUT s, instead of hanging the consumer.
CHANNEL_LAYER_READ_TIMEOUT = 15
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": CHANNEL_LAYER_READ_TIMEOUT}]},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# --- Auth -----------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
# Axes' lockout check runs first; it refuses locked-out logins and never logs anyone in itself.
AUTHENTICATION_BACKENDS = [
    "reviews.auth_backends.LoginLockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Failed logins lock out one username from one IP address, so an attacker cannot lock everyone out;
# a success resets the count. The client address is REMOTE_ADDR: behind a proxy, run daphne --proxy-headers.
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_LOCKOUT_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "reviews:home"
LOGOUT_REDIRECT_URL = "login"

# --- Ingest ---------------------------------------------------------------
INGEST_MAX_BODY_BYTES = env_int("INGEST_MAX_BODY_BYTES", 32 * 1024 * 1024, minimum=1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = INGEST_MAX_BODY_BYTES
DEMO_PASSWORD = env_str("DEMO_PASSWORD", "oversight-demo")
# Requests per minute per API token (a batch is one request); over it: 429 with Retry-After. 0: no limit.
API_RATE_LIMIT_PER_MINUTE = env_int("API_RATE_LIMIT_PER_MINUTE", 600)
# Settled decisions of a campaign's members (agreeing on the verdict) needed before it may be applied in bulk.
CAMPAIGN_SAMPLE_MIN = env_int("CAMPAIGN_SAMPLE_MIN", 3, minimum=1)

# --- Prometheus /metrics ----------------------------------------------------
# Open to `Authorization: Bearer $METRICS_TOKEN`, or without a token to clients in METRICS_ALLOWED_NETWORKS.
METRICS_TOKEN = env_str("METRICS_TOKEN")
METRICS_ALLOWED_NETWORKS = env_networks("METRICS_ALLOWED_NETWORKS", "127.0.0.1/32,::1/128")

# --- Static, i18n, security -------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise expects it; collectstatic fills it
MEDIA_ROOT = env_str("MEDIA_ROOT", str(VAR_DIR / "media"))
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

X_FRAME_OPTIONS = "DENY"
# No inline scripts or styles anywhere (htmx is configured for it in base.html); 'self' covers same-origin ws(s).
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SESSION_COOKIE_HTTPONLY = True
# HTTPS only outside debug: plain HTTP is redirected, and HSTS makes browsers never try it again.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=not DEBUG)
# Health probes and Prometheus speak plain HTTP to the container from inside the network.
SECURE_REDIRECT_EXEMPT = [r"^api/v1/health$", r"^metrics$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=False)
if not SECURE_HSTS_PRELOAD:
    # Preloading binds the whole registrable domain into browsers for months, and only the apex domain
    # can ask for it: a decision for the domain's owner, not a default of one app on a subdomain.
    SILENCED_SYSTEM_CHECKS = ["security.W021"]
# Behind a proxy that terminates TLS: the header it sets to "https" (e.g. X-Forwarded-Proto). Only set it
# when that proxy always sets or strips the header, or a client could claim HTTPS over plain HTTP.
_PROXY_SSL_HEADER = env_str("SECURE_PROXY_SSL_HEADER").strip()
if _PROXY_SSL_HEADER:
    if not _PROXY_SSL_HEADER.replace("-", "").isalnum():
        raise ImproperlyConfigured(f"SECURE_PROXY_SSL_HEADER={_PROXY_SSL_HEADER!r} is not a header name.")
    SECURE_PROXY_SSL_HEADER = ("HTTP_" + _PROXY_SSL_HEADER.upper().replace("-", "_"), "https")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO").upper()},
}
