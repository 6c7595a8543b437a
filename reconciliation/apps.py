from django.apps import AppConfig


class ReconciliationConfig(AppConfig):
    name = "reconciliation"
    verbose_name = "Reconciliation (billing against the vendors)"

    def ready(self):
        # Registers the reconciliation's own operation handler with core.operations.
        from reconciliation import actions  # noqa: F401
