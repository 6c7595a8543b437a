"""The subscriptions app's admin pages, for Django's autodiscovery: each vendor keeps its own."""

from subscriptions.acme import admin as acme_admin  # noqa: F401 - registers the ACME admin pages
from subscriptions.cloudflare import admin as cloudflare_admin  # noqa: F401 - registers the Cloudflare pages
