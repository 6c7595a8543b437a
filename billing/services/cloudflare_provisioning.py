"""What a paid Cloudflare product provisions, and how it ends: through the Cloudflare services."""

from __future__ import annotations

from billing.models import BillingSubscription, Provisions
from billing.services.cancellation import billed_subscription_of
from core.actor import Actor, Face
from core.errors import DomainError, ValidationFailed
from partner.models import Customer
from subscriptions.cloudflare import services as cloudflare
from subscriptions.cloudflare.models import CloudflareAddon, CloudflareZone
from subscriptions.signals import BillingTerms


def check_options(customer: Customer, provisions: str, options: dict, index: int) -> dict:
    """A zone plan needs one of the customer's zones; checked when the checkout starts."""
    if provisions == Provisions.ZONE_PLAN:
        zone_id = options.get("zone")
        if not CloudflareZone.objects.filter(pk=zone_id, customer=customer).exists():
            raise ValidationFailed(
                "Pick one of the customer's zones for the zone plan.",
                fields={f"items[{index}].options.zone": "One of this customer's zones."},
            )
        options = {**options, "zone": int(zone_id)}
    return options


def provision(actor: Actor, subscription: BillingSubscription):
    """Upgrade the zone or buy the add-on the customer paid for."""
    params = subscription.product.provision_params
    plan = {
        "rate_plan_id": params["rate_plan_id"],
        "frequency": params.get("frequency"),
        "component_values": params.get("component_values"),
    }
    if subscription.product.provisions == Provisions.ZONE_PLAN:
        zone = CloudflareZone.objects.get(pk=subscription.provision_options["zone"])
        return cloudflare.upgrade_zone_plan(actor, zone, **plan, billed=True)
    return cloudflare.add_addon(actor, subscription.customer, **plan, billed=True)


def apply_product(actor: Actor, subscription: BillingSubscription) -> None:
    """The subscription's (new) product is applied to the zone it provides, as billing's own change."""
    target = subscription.provisioned
    if not isinstance(target, CloudflareZone):
        return
    params = subscription.product.provision_params
    cloudflare.downgrade_zone_plan(
        actor,
        target,
        rate_plan_id=params["rate_plan_id"],
        frequency=params.get("frequency"),
        component_values=params.get("component_values"),
        billed=True,
    )


def cancel(subscription: BillingSubscription) -> None:
    """The billing ended and its term is over: the add-on is cancelled, the zone goes back to free."""
    from billing.services import notices

    actor = Actor.system(Face.TASK)
    target = subscription.provisioned
    try:
        if isinstance(target, CloudflareAddon):
            cloudflare.cancel_addon(actor, target, billed=True)
        elif isinstance(target, CloudflareZone):
            cloudflare.downgrade_zone_plan(actor, target, billed=True)
    except DomainError as error:
        notices.alert_staff(subscription, f"Ending {target} after the billing ended: {error.message}")


def billing_terms(sender, target, **kwargs) -> BillingTerms | None:
    """subscriptions.signals.billing_terms: how billing provides a zone or add-on (its price previews
    say when a change takes effect): the product and the end of the paid period, None if not billed."""
    subscription = billed_subscription_of(target)
    if subscription is None:
        return None
    return BillingTerms(product=subscription.product.name, period_end=subscription.current_period_end_date)
