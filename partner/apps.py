from django.apps import AppConfig


class PartnerConfig(AppConfig):
    name = "partner"
    verbose_name = "Partners and customers"

    def ready(self):
        # Registers the subaccount operation handler with core.operations (web and worker alike).
        import partner.handlers  # noqa: F401
        from core.signals import operation_gave_up
        from partner.alerts import operation_gave_up as alert_staff

        # A vendor operation that failed for good is mailed to staff with who to contact.
        operation_gave_up.connect(alert_staff, dispatch_uid="partner-alert-operation-gave-up")
