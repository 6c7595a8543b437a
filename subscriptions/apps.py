from django.apps import AppConfig


class SubscriptionsConfig(AppConfig):
    name = "subscriptions"
    verbose_name = "Subscriptions"

    def ready(self):
        # Registers the ACME, certificate and Cloudflare operation handlers with core.operations
        # (web and worker alike).
        from subscriptions.acme import certificates, handlers  # noqa: F401
        from subscriptions.cloudflare import handlers as cloudflare_handlers  # noqa: F401
