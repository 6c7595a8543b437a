"""Support staff's view of billing, one module per topic: catalog, checkouts, subscriptions and
their endings, renewals and notices, webhooks. Importing the package registers every page."""

from billing.admin import catalog, checkouts, renewals, subscriptions, webhooks  # noqa: F401
