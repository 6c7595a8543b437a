from django.apps import AppConfig


class ReconciliationConfig(AppConfig):
    name = "reconciliation"
    verbose_name = "Reconciliation (billing against the vendors)"

    def ready(self):
        # Registers the reconciliation's own operation handler with core.operations.
        from reconciliation import actions, services  # noqa: F401
        from subscriptions.signals import unbilled_service_started

        # A direct paid vendor change (any face) keeps the reason it is not billed, as a not-billed mark.
        unbilled_service_started.connect(services.unbilled_service_started, dispatch_uid="note-not-billed")
