"""How support staff end, keep or downgrade billing subscriptions: each way's service and the
rows of its confirmation page."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django import forms

from billing.models import (
    RENEWING_STATES,
    BillingSubscription,
    Product,
)
from billing.services import cancellation, changes
from billing.services.cancellation import CANCEL_WITH_REFUND, RESUME_RENEWAL, STOP_RENEWAL, EndingOption
from core.admin_confirm import ConfirmRow


@dataclass(frozen=True)
class Ending:
    """One way to end, keep or downgrade billing subscriptions from the admin: the service, and the
    words of its confirmation page and of each row's result."""

    code: str
    service: Callable  # (actor, subscription, **the form's answers)
    title: str
    intro: str
    confirm: str
    done: Callable  # (subscription, option, **the form's answers) -> what happened, for the row's message


ENDINGS = {
    CANCEL_WITH_REFUND: Ending(
        CANCEL_WITH_REFUND,
        cancellation.cancel_with_refund,
        "Cancel with a full refund",
        "This cannot be undone. DigiCert cancels each ACME contract first; once it confirms, the billing "
        "subscription is cancelled (at Digital River, or by the back office) and what the customer paid "
        "is refunded in full; the customer is told. Only inside DigiCert's 30 days.",
        "Yes, cancel and refund in full",
        lambda s, option: (
            "cancellation sent to DigiCert; once it confirms, billing is cancelled and "
            f"{cancellation.paid_amount(s)} {s.product.currency} refunded in full."
        ),
    ),
    STOP_RENEWAL: Ending(
        STOP_RENEWAL,
        cancellation.stop_renewal,
        "Stop renewal",
        "No further charge: what was sold runs to the end of the paid period, then ends. The ACME "
        "contract's renewal is stopped at DigiCert too.",
        "Stop renewal",
        lambda s, option: (
            f"renewal stopped; no further charge, it runs until {option.until:%Y-%m-%d}."
            if option and option.until
            else "renewal stopped; no further charge."
        ),
    ),
    RESUME_RENEWAL: Ending(
        RESUME_RENEWAL,
        cancellation.resume_renewal,
        "Resume renewal",
        "Renew again, while the paid period runs (subscriptions the back office renews only: Digital "
        "River cannot take a cancelled subscription back).",
        "Resume renewal",
        lambda s, option: (
            f"renewal resumed; it renews on {option.until:%Y-%m-%d}."
            if option and option.until
            else "renewal resumed."
        ),
    ),
}

SCHEDULE_DOWNGRADE, CANCEL_DOWNGRADE = "schedule_downgrade", "cancel_scheduled_downgrade"
DOWNGRADES = {
    SCHEDULE_DOWNGRADE: Ending(
        SCHEDULE_DOWNGRADE,
        changes.schedule_downgrade,
        "Schedule downgrade",
        "A cheaper product of the same plan that provides the same kind of service, on the same billing "
        "agreement. Nothing changes before the end of the paid period.",
        "Schedule the downgrade",
        lambda s, option, product: (
            f"downgrade to {product.name} scheduled: it takes effect on "
            f"{s.current_period_end_date:%Y-%m-%d}, at {product.price} {product.currency} from then."
        ),
    ),
    CANCEL_DOWNGRADE: Ending(
        CANCEL_DOWNGRADE,
        changes.cancel_scheduled_downgrade,
        "Cancel scheduled downgrade",
        "The scheduled downgrade is dropped: the subscription renews on its current product, at its "
        "current price.",
        "Cancel the downgrade",
        lambda s, option: f"scheduled downgrade cancelled; it renews at {s.price} {s.product.currency}.",
    ),
}


def scheduled_product(subscription: BillingSubscription) -> Product | None:
    if not subscription.scheduled_change:
        return None
    return Product.objects.filter(pk=subscription.scheduled_change.get("product")).first()


def scheduled_text(subscription: BillingSubscription, product: Product | None) -> str:
    """The scheduled downgrade in words: to what, at which price, from when."""
    end = subscription.current_period_end_date
    when = f" from {end:%Y-%m-%d}, the end of the paid period" if end else ""
    if product is None:
        return f"a product no longer in the catalog{when}"
    return f"{product.name} at {product.price} {product.currency}{when}"


class DowngradeForm(forms.Form):
    product = forms.ModelChoiceField(queryset=Product.objects.none(), widget=forms.RadioSelect)

    def __init__(self, subscription: BillingSubscription, offered, *args, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["product"]
        # Offered: the downgrades; looked up: any of the partner's products (the service says which
        # is a downgrade, and its refusal is the row's message).
        field.queryset = Product.objects.filter(partner_id=subscription.partner_id)
        field.choices = [(p.pk, f"{p.name} ({p.price} {p.currency})") for p in offered]
        field.label = "Downgrade to"
        if len(offered) == 1:
            field.initial = offered[0].pk


def _row(subscription: BillingSubscription, option: EndingOption | None, reason: str = "") -> ConfirmRow:
    """A subscription on the confirmation page: what applies today and until when, or why nothing does."""
    if option is None:
        return ConfirmRow(subscription, refusal=reason, cells=("",))
    until = f"{option.until:%Y-%m-%d %H:%M:%S}" if option.until else ""
    return ConfirmRow(subscription, change=option.explanation, cells=(until,), data=option)


def downgrade_offer(subscription: BillingSubscription) -> tuple[ConfirmRow, list[Product]]:
    """The subscription's row (when the downgrade takes effect, at which price, or why there is none)
    and the products it can be downgraded to."""
    end = subscription.current_period_end_date
    products = []
    if subscription.scheduled_change:
        reason = (
            f"A downgrade is already scheduled: to {scheduled_text(subscription, scheduled_product(subscription))}. "
            "Cancel it first to choose another."
        )
    elif subscription.state not in RENEWING_STATES or subscription.ends_at_period_end or end is None:
        reason = "Only a live subscription that renews can be downgraded."
    else:
        products = list(changes.downgrade_products(subscription))
        reason = "" if products else "Nothing to downgrade to: no active, cheaper product of the same plan."
    if not products:
        return _row(subscription, None, reason), products
    prices = " or ".join(f"{p.price} {p.currency}" for p in products)
    price = f"price {prices}" if len(products) == 1 else f"price of the chosen product ({prices})"
    explanation = (
        f"Takes effect at the end of the paid period ({end:%Y-%m-%d}); the new {price} applies from then; "
        "until then the customer keeps what they paid for."
    )
    option = EndingOption(SCHEDULE_DOWNGRADE, end, explanation)
    return _row(subscription, option), products


def cancel_downgrade_rows(subscriptions) -> list[ConfirmRow]:
    """Each selected subscription with the downgrade that is dropped, or that none is scheduled."""
    products = Product.objects.in_bulk(
        [s.scheduled_change.get("product") for s in subscriptions if s.scheduled_change]
    )
    rows = []
    for s in subscriptions:
        if not s.scheduled_change:
            rows.append(_row(s, None, "No downgrade is scheduled."))
            continue
        explanation = (
            f"The downgrade to {scheduled_text(s, products.get(s.scheduled_change.get('product')))} is "
            f"dropped; it renews on {s.product.name} at {s.price} {s.product.currency}."
        )
        option = EndingOption(CANCEL_DOWNGRADE, s.current_period_end_date, explanation)
        rows.append(_row(s, option))
    return rows


def ending_rows(subscriptions, code: str, now) -> list[ConfirmRow]:
    """Each selected subscription with the option that applies today (explanation, until), or why not."""
    rows = []
    for subscription in subscriptions:
        options = cancellation.ending_options(subscription, now)
        option = next((o for o in options if o.code == code), None)
        if option is not None:
            reason = ""
        elif options:
            reason = "Does not apply today. " + " ".join(o.explanation for o in options)
        else:
            reason = f"Does not apply today: the subscription is {subscription.get_state_display().lower()}"
            reason += " and its renewal is stopped." if subscription.ends_at_period_end else "."
        rows.append(_row(subscription, option, reason))
    return rows
