from django.apps import AppConfig


class PartnerConfig(AppConfig):
    name = "partner"
    verbose_name = "Partners and customers"

    def ready(self):
        from core.tasks import register_sweepable

        register_sweepable(
            "partner.Subaccount", ("pending", "unknown"), "partner.tasks.provision_subaccount_task"
        )
