"""Development: debug on, the embedded sandbox as every vendor, throwaway keys if .env has none."""

from .base import *  # noqa: F403
from .base import SITE_URL, env

DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = SECRET_KEY or "dev-only-insecure-secret-key-change-me"  # noqa: F405
# A fixed development key keeps a fresh clone working before `make run` writes a .env.
SECRET_ENCRYPTION_KEYS = SECRET_ENCRYPTION_KEYS or [  # noqa: F405
    "ZGV2LW9ubHktZW5jcnlwdGlvbi1rZXktMzItYnl0ZXM="
]
SANDBOX_ENABLED = env.bool("SANDBOX_ENABLED", default=True)
DIGICERT_BASE_URL = DIGICERT_BASE_URL or f"{SITE_URL}/sandbox/digicert/v1"  # noqa: F405
CLOUDFLARE_BASE_URL = CLOUDFLARE_BASE_URL or f"{SITE_URL}/sandbox/cloudflare/client/v4"  # noqa: F405
DIGITALRIVER_BASE_URL = DIGITALRIVER_BASE_URL or f"{SITE_URL}/sandbox/digitalriver"  # noqa: F405
DIGITALRIVER_DROPIN_URL = DIGITALRIVER_DROPIN_URL or f"{DIGITALRIVER_BASE_URL}/drop-in/payment-method/"  # noqa: F405
DIGITALRIVER_API_KEY = DIGITALRIVER_API_KEY or "sk_test_sandbox"  # noqa: F405
DIGITALRIVER_WEBHOOK_SECRETS = DIGITALRIVER_WEBHOOK_SECRETS or ["whsec_sandbox"]  # noqa: F405

# Serve static files straight from the apps while developing (no collectstatic needed).
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True

if SANDBOX_ENABLED:
    INSTALLED_APPS = [*INSTALLED_APPS, "vendors.sandbox"]  # noqa: F405
    # Business time follows the sandbox's movable clock, so "day 31" can be shown end to end.
    BUSINESS_CLOCK = "vendors.sandbox.clock.sandbox_now"
    # Sandbox-only control: every sandbox vendor endpoint waits this long before it answers, as a
    # real vendor's round trip would (bench/throughput.py uses 0.2). Production refuses the sandbox.
    SANDBOX_LATENCY_SECONDS = env.float("SANDBOX_LATENCY_SECONDS", default=0.0)
