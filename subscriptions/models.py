"""The subscriptions app's models, for Django to find: each vendor keeps its own in its folder."""

from subscriptions.acme.models import AcmeContract, Certificate
from subscriptions.cloudflare.models import CatalogComponent, CatalogPlan, CloudflareAddon, CloudflareZone

__all__ = [
    "AcmeContract",
    "CatalogComponent",
    "CatalogPlan",
    "Certificate",
    "CloudflareAddon",
    "CloudflareZone",
]
