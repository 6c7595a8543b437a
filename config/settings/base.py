"""Settings shared by every environment. Every value comes from the environment (django-environ)."""

from pathlib import Path

import environ
from csp.constants import NONCE, NONE, SELF, UNSAFE_INLINE
from django.core.exceptions import ImproperlyConfigured

from vendors.digitalriver.signature import FORMATS as _DR_SIGNATURE_FORMATS

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
# A developer's .env is read if present; real deployments set the environment directly.
# DJANGO_READ_DOT_ENV=0 skips it (the settings tests check production settings on their own).
if (BASE_DIR / ".env").exists() and env.bool("DJANGO_READ_DOT_ENV", default=True):
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

SECRET_KEY = env("SECRET_KEY", default="")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_q",
    "django_htmx",
    "csp",
    # django-axes under the admin heading "Sign-in protection" (config/signin.py).
    "config.signin.SignInProtectionConfig",
    "config",
    "core",
    "partner",
    "subscriptions",
    "billing",
    "reconciliation",
    "dashboard",
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
    "csp.middleware.CSPMiddleware",
    "config.security.SecurityHeadersMiddleware",
    # Last, as django-axes asks: turns a locked-out sign-in into its page (config/signin.py).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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

# --- Database -------------------------------------------------------------------------------
# SQLite by default. WAL lets the web process read while the django-q2 worker writes, IMMEDIATE
# transactions take the write lock up front (no lock upgrade deadlock, the usual cause of
# "database is locked"), and the busy timeout makes a writer wait instead of failing.
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'var' / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=30000;",
        }
    )
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    # Not a rule: its password_changed hook revokes the user's API tokens (change, reset, admin).
    {"NAME": "core.tokens.RevokeApiTokensOnPasswordChange"},
]
# Every password sign-in (dashboard and admin) passes django-axes first: a locked-out user and
# address is refused before the password is checked. API tokens are not password sign-ins.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# The dashboard's sign-in; the admin keeps its own login page at /admin/login/.
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard:home"

# --- Sign-in protection (django-axes) ---------------------------------------------------------
# After AXES_FAILURE_LIMIT wrong passwords for one user from one address, that user is locked out
# from that address for AXES_COOLOFF_TIME hours (0: until staff unlock it in the admin, Sign-in
# protection -> Access attempts). Other addresses and other users are not affected.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_TIME", default=0.25) or None
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True  # a right password (or a password reset) clears the count
AXES_LOCKOUT_CALLABLE = "config.signin.locked_out"
AXES_ENABLE_ACCESS_FAILURE_LOG = True  # each failure is listed for staff under Access failures
AXES_VERBOSE = False
# Behind a reverse proxy, the client's address: the header to trust and how many proxies set it.
AXES_IPWARE_META_PRECEDENCE_ORDER = env.list("AXES_IPWARE_META_PRECEDENCE_ORDER", default=["REMOTE_ADDR"])
AXES_IPWARE_PROXY_COUNT = env.int("AXES_IPWARE_PROXY_COUNT", default=None)
# Password-reset e-mails per client address and per user account within the window; past either,
# the form answers as usual ("if the address exists...") and sends nothing. The counters live in
# the default cache: use a shared one (CACHE_URL) when several web processes serve.
PASSWORD_RESET_LIMIT_PER_ADDRESS = env.int("PASSWORD_RESET_LIMIT_PER_ADDRESS", default=10)
PASSWORD_RESET_LIMIT_PER_USER = env.int("PASSWORD_RESET_LIMIT_PER_USER", default=3)
PASSWORD_RESET_LIMIT_WINDOW_SECONDS = env.int("PASSWORD_RESET_LIMIT_WINDOW_SECONDS", default=3600)

# --- Content-Security-Policy (django-csp) -----------------------------------------------------
# Scripts and style sheets from this site only; a <style> or <script> in a template carries
# nonce="{{ request.csp_nonce }}". Inline style attributes (admin badges, layout tweaks) are allowed;
# inline event handlers are not (the dashboard's data-confirm, the admin's confirm.js).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        "style-src-attr": [UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "frame-ancestors": [NONE],
    },
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# Times with seconds, ISO-style, wherever Django formats a date or time (config/formats/en).
FORMAT_MODULE_PATH = ["config.formats"]

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

EMAIL_CONFIG = env.email("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Partner back office <noreply@localhost>")

# --- Secrets at rest ------------------------------------------------------------------------
# Fernet keys, newest first, separate from SECRET_KEY. Older keys still decrypt during a
# rotation; `manage.py rotate_secrets` re-encrypts every stored secret with the newest key.
SECRET_ENCRYPTION_KEYS = env.list("SECRET_ENCRYPTION_KEYS", default=[])

# --- Vendors --------------------------------------------------------------------------------
# The base URL is the only switch between a real vendor and the embedded sandbox.
DIGICERT_BASE_URL = env("DIGICERT_BASE_URL", default="")
CLOUDFLARE_BASE_URL = env("CLOUDFLARE_BASE_URL", default="")
DIGITALRIVER_BASE_URL = env("DIGITALRIVER_BASE_URL", default="")
DIGITALRIVER_API_KEY = env("DIGITALRIVER_API_KEY", default="")
# The page hosting Digital River's Drop-in where a customer enters a new card; it returns to us
# with ?sourceId=. Development and tests use the sandbox's stand-in page.
DIGITALRIVER_DROPIN_URL = env("DIGITALRIVER_DROPIN_URL", default="")
DIGITALRIVER_WEBHOOK_SECRETS = env.list("DIGITALRIVER_WEBHOOK_SECRETS", default=[])
# How old a signed webhook may be (its timestamp against our clock) before it is refused.
# Refused provisionings are retried every 5 minutes; after this many the item is cancelled, not charged.
BILLING_PROVISION_ATTEMPTS = env.int("BILLING_PROVISION_ATTEMPTS", default=5)
DIGITALRIVER_WEBHOOK_TOLERANCE_SECONDS = env.int("DIGITALRIVER_WEBHOOK_TOLERANCE_SECONDS", default=300)
# The largest webhook body accepted; a larger one is answered 413 unread. Digital River documents
# no size for events (an envelope around one object: an order with its items, a subscription,
# an invoice), so the default is generous: 256 KB.
DIGITALRIVER_WEBHOOK_MAX_BYTES = env.int("DIGITALRIVER_WEBHOOK_MAX_BYTES", default=256 * 1024)
# Refused webhook requests (bad or missing signature, oversized, unreadable, redeliveries) an
# address may make per period ("<count>/<second|minute|hour|day>") before it is answered 429 with
# Retry-After, in the cache (CACHE_URL). Fresh signed events never count. Empty: no throttling.
DIGITALRIVER_WEBHOOK_THROTTLE_RATE = env("DIGITALRIVER_WEBHOOK_THROTTLE_RATE", default="60/minute")
# The DigitalRiver-Version header on every Digital River API call, so that answers keep their
# shape (the sandbox follows 2021-12-13). Empty sends none: the account's default version.
DIGITALRIVER_API_VERSION = env("DIGITALRIVER_API_VERSION", default="2021-12-13")
# The DigitalRiver-Signature header's format, SILENT at Digital River: one of
# vendors.digitalriver.signature.FORMATS, "prefixed" (t=<unix>, v0=<base64>),
# "timestamp-prefixed" (t=<unix>, <base64>) or "plain" (<unix>, <base64>). The sandbox signs and
# the webhook verifies in it. Check a real test event with `manage.py dr_verify_signature`.
DIGITALRIVER_SIGNATURE_FORMAT = env("DIGITALRIVER_SIGNATURE_FORMAT", default="prefixed")
if DIGITALRIVER_SIGNATURE_FORMAT not in _DR_SIGNATURE_FORMATS:
    raise ImproperlyConfigured(
        f"DIGITALRIVER_SIGNATURE_FORMAT={DIGITALRIVER_SIGNATURE_FORMAT!r} is not one of {', '.join(_DR_SIGNATURE_FORMATS)}."
    )
ADMINS = [("Support", email) for email in env.list("ADMINS", default=[])]
VENDOR_TIMEOUT_SECONDS = env.float("VENDOR_TIMEOUT_SECONDS", default=15.0)
SANDBOX_ENABLED = env.bool("SANDBOX_ENABLED", default=False)
# What "now" is for business rules (30-day windows, terms, reminders); see core/clock.py.
BUSINESS_CLOCK = "django.utils.timezone.now"
CERTIFICATE_EXPIRY_WARNING_DAYS = env.int("CERTIFICATE_EXPIRY_WARNING_DAYS", default=30)

# --- Background work ------------------------------------------------------------------------
TASK_MAX_ATTEMPTS = env.int("TASK_MAX_ATTEMPTS", default=5)
TASK_BACKOFF_BASE_SECONDS = env.int("TASK_BACKOFF_BASE_SECONDS", default=30)
TASK_BACKOFF_MAX_SECONDS = env.int("TASK_BACKOFF_MAX_SECONDS", default=3600)
# A claimed vendor call that has not reported back after this long is presumed dead (worker
# killed) and is picked up again by the sweeper.
TASK_LEASE_SECONDS = env.int("TASK_LEASE_SECONDS", default=120)
# An operation out of attempts after a lost answer has an unknown outcome: the sweeper asks the
# vendor again this often until its answer says whether it happened.
TASK_RESOLVE_SECONDS = env.int("TASK_RESOLVE_SECONDS", default=3600)

# The broker: "orm" (default: the database's django_q_ormq table, nothing else to run) or
# "redis" (REDIS_URL; several qcluster processes on several machines sharing one Redis). Either
# way "each vendor call once" holds: a worker takes the lease on the Operation row (core.tasks.claim)
# before calling, so a task delivered twice calls once, and a task lost with a dead worker (Redis
# has no redelivery) is picked up by the sweeper once its lease runs out.
Q_BROKER = env("Q_BROKER", default="orm")
if Q_BROKER not in ("orm", "redis"):
    raise ImproperlyConfigured(f"Q_BROKER={Q_BROKER!r} is not one of orm, redis.")
REDIS_URL = env("REDIS_URL", default="redis://127.0.0.1:6379/0")
Q_CLUSTER = {
    # Processes sharing one queue share this name (in Redis it is the queue's key).
    "name": env("Q_NAME", default="backoffice"),
    **({"orm": "default"} if Q_BROKER == "orm" else {"redis": REDIS_URL}),
    "workers": env.int("Q_WORKERS", default=1),
    # timeout > longest task (a few vendor calls); retry > timeout so a slow task is never
    # handed to a second worker while the first still runs.
    "timeout": env.int("Q_TIMEOUT", default=90),
    "retry": env.int("Q_RETRY", default=120),
    "max_attempts": 1,  # retries are ours: state on the row, backoff, sweeper
    "catch_up": False,
    "save_limit": 1000,
    "ack_failures": True,
    "poll": env.float("Q_POLL", default=0.5),
    "label": "Tasks",
}

# --- API ------------------------------------------------------------------------------------
# Our own bounds on a checkout, checked before any call to Digital River (which documents none).
BILLING_MAX_ITEMS = env.int("BILLING_MAX_ITEMS", default=50)
BILLING_MAX_QUANTITY = env.int("BILLING_MAX_QUANTITY", default=10_000)
# Bounds of an API JSON body (core/api/parsers.py): deeper or larger bodies are refused with 400.
API_JSON_MAX_DEPTH = env.int("API_JSON_MAX_DEPTH", default=32)
API_JSON_MAX_ITEMS = env.int("API_JSON_MAX_ITEMS", default=10_000)
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "core.api.authentication.HashedTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "core.api.pagination.StandardPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "core.api.base.IdFilterBackend",  # foreign ids as plain numbers: no existence oracle
        "rest_framework.filters.OrderingFilter",
        "rest_framework.filters.SearchFilter",
    ],
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env("API_THROTTLE_ANON", default="30/minute"),
        "user": env("API_THROTTLE_USER", default="600/minute"),
    },
    "EXCEPTION_HANDLER": "core.api.errors.exception_handler",
    "DEFAULT_PARSER_CLASSES": [
        "core.api.parsers.BoundedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Partner back office API",
    "DESCRIPTION": (
        "Customers, vendor subaccounts, ACME contracts, Cloudflare plans and Digital River billing "
        "of one reseller. Authenticate with `Authorization: Token <key>`. Errors are JSON objects "
        "with a stable `code`, a `message` and `fields` (field errors)."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {},
    # Every operation's 4xx answers in the one error shape (core/api/schema.py), after the default hook.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "core.api.schema.document_error_responses",
    ],
}

CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_secrets": {"()": "core.logging.RedactSecretsFilter"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact_secrets"],
        }
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
