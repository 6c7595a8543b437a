from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = "Billing (Digital River)"

    def ready(self):
        # Registers the Digital River operation handlers with core.operations (web and worker alike).
        from billing.services import (  # noqa: F401
            acquisition,
            cancellation,
            catalog,
            changes,
            cloudflare_provisioning,
            renewals,
        )
        from subscriptions.signals import billing_terms, change_requested, service_changed

        # Billing follows the vendor side: a contract cancelled or stopped there is followed here.
        service_changed.connect(cancellation.service_changed, dispatch_uid="billing-follows-service")
        # ...and a service billing provides changes through billing, not directly at the vendor.
        change_requested.connect(cancellation.direct_change_requested, dispatch_uid="billing-guards-service")
        # ...and says on what terms it provides one (a price preview says when a change takes effect).
        billing_terms.connect(cloudflare_provisioning.billing_terms, dispatch_uid="billing-terms")
