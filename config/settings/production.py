"""Production: every secret and vendor URL must come from the environment; the sandbox is refused."""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import env

DEBUG = False

_REQUIRED = {
    "SECRET_KEY": "a long random string (python -c 'import secrets; print(secrets.token_urlsafe(64))')",
    "SECRET_ENCRYPTION_KEYS": "comma-separated Fernet keys, newest first, not SECRET_KEY",
    "DATABASE_URL": "for example postgres://user:password@host:5432/backoffice",
    "ALLOWED_HOSTS": "the host names the site is served on",
    "DIGICERT_BASE_URL": "https://www.digicert.com/partner-subscription/api/v1",
    "CLOUDFLARE_BASE_URL": "https://api.cloudflare.com/client/v4",
    "DIGITALRIVER_BASE_URL": "https://api.digitalriver.com",
    "DIGITALRIVER_API_KEY": "the Digital River secret key (sk_...)",
    "DIGITALRIVER_WEBHOOK_SECRETS": "the webhook signing secret(s), newest first",
}
_missing = [name for name in _REQUIRED if not env(name, default="")]
if _missing:
    raise ImproperlyConfigured(
        "Production settings refuse to start; set these environment variables:\n"
        + "\n".join(f"  {name}: {_REQUIRED[name]}" for name in _missing)
    )
if env.bool("SANDBOX_ENABLED", default=False):
    raise ImproperlyConfigured(
        "SANDBOX_ENABLED=true is refused with production settings: the sandbox emulates vendors "
        "and must never answer for them in production. Point the *_BASE_URL variables at the "
        "real vendors."
    )
if any("/sandbox/" in env(name) for name in _REQUIRED if name.endswith("_BASE_URL")):
    raise ImproperlyConfigured("A *_BASE_URL points at /sandbox/ under production settings.")
SANDBOX_ENABLED = False

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
