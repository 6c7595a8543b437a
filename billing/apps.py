from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = "Billing (Digital River)"

    def ready(self):
        # Registers the Digital River operation handlers with core.operations (web and worker alike).
        from billing.services import acquisition, catalog, changes, renewals  # noqa: F401
