from django.apps import AppConfig


class SubscriptionsConfig(AppConfig):
    name = "subscriptions"
    verbose_name = "Subscriptions"

    def ready(self):
        # Registers the ACME, certificate and Cloudflare operation handlers with core.operations
        # (web and worker alike).
        from subscriptions.services import acme, certificates, cloudflare  # noqa: F401
