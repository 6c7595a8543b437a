"""The subscriptions app's dashboard parts, for the dashboard's autodiscovery: each vendor keeps its own."""

from subscriptions.acme.dashboard import parts as acme_parts  # noqa: F401 - registers the ACME parts
from subscriptions.cloudflare.dashboard import parts as cloudflare_parts  # noqa: F401 - registers Cloudflare's
