from django.apps import AppConfig


class PartnerConfig(AppConfig):
    name = "partner"
    verbose_name = "Partners and customers"

    def ready(self):
        from core.signals import operation_gave_up
        from core.tasks import register_sweepable
        from partner.alerts import operation_gave_up as alert_staff

        # A vendor operation that failed for good is mailed to staff with who to contact.
        operation_gave_up.connect(alert_staff, dispatch_uid="partner-alert-operation-gave-up")

        register_sweepable(
            "partner.Subaccount", ("pending", "unknown"), "partner.tasks.provision_subaccount_task"
        )
