"""Tests: the sandbox reached in-process, tasks run inline, fast hashing, no network."""

import os

from .development import *  # noqa: F403
from .development import Q_CLUSTER

# Playwright's sync API runs an event loop in the test thread; Django must allow ORM calls there.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

DEBUG = False
SITE_URL = "http://testserver"
ALLOWED_HOSTS = ["*"]
DIGICERT_BASE_URL = "http://testserver/sandbox/digicert/v1"
CLOUDFLARE_BASE_URL = "http://testserver/sandbox/cloudflare/client/v4"
DIGITALRIVER_BASE_URL = "http://testserver/sandbox/digitalriver"
DIGITALRIVER_DROPIN_URL = f"{DIGITALRIVER_BASE_URL}/drop-in/payment-method/"
SECRET_ENCRYPTION_KEYS = [
    "dGVzdC1vbmx5LWVuY3J5cHRpb24ta2V5LTMyLWJ5dGU=",
    "b2xkLXRlc3QtZW5jcnlwdGlvbi1rZXktMzItYnl0ZXM=",
]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Tasks run inline when their on-commit hook fires, so tests exercise the real enqueue path.
Q_CLUSTER = {**Q_CLUSTER, "sync": True}
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
