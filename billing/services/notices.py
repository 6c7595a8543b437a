"""Customer notices (renewal reminders, renewal notices, payment failures), each sent once.

A `Notice` row per subscription, kind and renewal date is created before the e-mail goes out and
records the delivery outcome; the unique constraint makes "sent once" hold across workers.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, mail_admins
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string

from billing.error_codes import BillingErrorCode
from billing.models import RENEWING_STATES, BillingSubscription, Notice, NoticeKind, RenewalEngine
from billing.rules import REMINDER_DAYS, reminder_dates, trial_reminder_date
from core import audit, clock
from core.actor import Actor
from core.errors import RuleViolation
from partner.access import Can, require
from partner.contacts import contacts_text
from partner.models import Membership, Role

logger = logging.getLogger(__name__)

SUBJECTS = {
    NoticeKind.REMINDER_30: "Your {product} subscription renews on {renewal:%B %d, %Y}",
    NoticeKind.REMINDER_7: "Reminder: {product} renews in 7 days",
    NoticeKind.REMINDER_1: "Reminder: {product} renews tomorrow",
    NoticeKind.RENEWAL_REMINDER: "Your {product} subscription renews on {renewal:%B %d, %Y}",
    NoticeKind.TRIAL_ENDING: "Your {product} free trial ends on {renewal:%B %d, %Y}",
    NoticeKind.RENEWED: "Your {product} subscription has renewed",
    NoticeKind.TRIAL_CONVERTED: "Your {product} free trial is now a paid subscription",
    NoticeKind.PAYMENT_FAILED: "Payment for {product} failed",
    NoticeKind.SOURCE_INVALID: "Please update the payment method for {product}",
    NoticeKind.MANUAL_RENEWAL: "Renew {product}: your payment link",
    NoticeKind.REFUNDED: "We refunded your {product} renewal",
    NoticeKind.CANCELLED_REFUNDED: "Your {product} subscription is cancelled and refunded",
    NoticeKind.RENEWAL_STOPPED: "Your {product} subscription will not renew",
    NoticeKind.ENDED: "Your {product} subscription has ended",
}


def send(
    subscription: BillingSubscription,
    kind: str,
    renewal_on: date,
    *,
    resend: bool = False,
    details: dict | None = None,
) -> Notice | None:
    """Send one notice once; a second call for the same kind and date sends nothing (unless resend).

    `details` is what the notice tells the customer beyond the subscription (amount, card, link),
    kept on the notice so the timeline shows what was said.
    """
    recipients = _recipients(subscription, kind)
    subject = SUBJECTS[kind].format(product=subscription.product.name, renewal=renewal_on)
    try:
        with transaction.atomic():
            notice, created = Notice.objects.get_or_create(
                subscription=subscription,
                kind=kind,
                renewal_date=renewal_on,
                defaults={"to": ", ".join(recipients), "subject": subject, "details": details or {}},
            )
    except IntegrityError:
        return None  # another worker is sending it
    if not created and not resend:
        return None
    context = {
        "subscription": subscription,
        "customer": subscription.customer,
        "partner": subscription.partner,
        "product": subscription.product,
        "plan": subscription.plan,
        "renewal_on": renewal_on,
        "site_url": settings.SITE_URL,
        "details": notice.details,
        "payment_method_link": payment_method_link(subscription.customer),
    }
    message = EmailMultiAlternatives(
        subject,
        render_to_string(f"emails/billing/{kind}.txt", context),
        settings.DEFAULT_FROM_EMAIL,
        recipients,
    )
    try:
        message.send()
        notice.delivered, notice.error = True, ""
    except Exception as error:  # any backend failure is recorded, never lost
        notice.delivered, notice.error = False, f"{type(error).__name__}: {error}"
        logger.warning("notice %s to %s failed: %s", kind, recipients, error)
    # Business time: a reminder's proof is its delivery at least 30 days before the renewal date.
    notice.sent_at = clock.now()
    notice.attempts += 1
    notice.save(update_fields=["delivered", "error", "sent_at", "attempts"])
    if not notice.delivered and notice.flagged_at is None:
        Notice.objects.filter(pk=notice.pk).update(flagged_at=clock.now())
        alert_staff(
            subscription, f"The {notice.get_kind_display().lower()} could not be delivered: {notice.error}"
        )
    return notice


def delivered_in_time(notice: Notice | None, before) -> bool:
    """Proof of a notice: delivered, on or before the day of `before` (business time, UTC days:
    a reminder "30 days before" is on that day)."""
    return bool(notice and notice.delivered and notice.sent_at and notice.sent_at.date() <= before.date())


def undelivered_notices():
    """Notices of live subscriptions whose delivery failed (staff were alerted at the first failure)."""
    return Notice.objects.filter(delivered=False, subscription__state__in=RENEWING_STATES).select_related(
        "subscription__product", "subscription__customer", "subscription__partner", "subscription__plan"
    )


def retry_undelivered() -> int:
    """Scheduled with the reminders: every undelivered notice is sent again."""
    return sum(
        bool(send(n.subscription, n.kind, n.renewal_date, resend=True, details=n.details))
        for n in undelivered_notices()
    )


def _recipients(subscription: BillingSubscription, kind: str) -> list[str]:
    customer = subscription.customer
    to = [customer.contact_email] if customer.contact_email else []
    if kind in (NoticeKind.PAYMENT_FAILED, NoticeKind.SOURCE_INVALID):  # the reseller hears of it too
        to += list(
            Membership.objects.filter(partner_id=subscription.partner_id, role__in=[Role.OWNER, Role.BILLING])
            .exclude(user__email="")
            .values_list("user__email", flat=True)
        )
    return list(dict.fromkeys(to)) or [subscription.partner.org_contact_email or settings.DEFAULT_FROM_EMAIL]


def payment_method_link(customer) -> str:
    """The customer's own link to replace their card (no sign-in; signed, expires)."""
    from billing.services.payment_methods import customer_link

    return customer_link(customer)


def send_due_reminders() -> int:
    """Scheduled: undelivered notices first, then the reminders due today."""
    return retry_undelivered() + _send_due_reminders()


def _send_due_reminders() -> int:
    """Scheduled daily: each reminder due today, once (a notice already sent is not sent again)."""
    return sum(
        bool(send(s, kind, on, details=details)) for s, kind, on, details in due_reminders(clock.now())
    )


def due_reminders(now) -> list[tuple]:
    """The reminders due by `now`: (subscription, kind, renewal date, details for the notice).

    Back-office engine only (Digital River's service sends its own reminder events): 30, 7 and 1
    days before renewal for auto-renewing terms over 30 days, and before a free trial ends, what
    will be charged and when. Only the latest due one per subscription: never a stale pile-up.
    """
    today = now.date()
    candidates = BillingSubscription.objects.filter(
        plan__engine=RenewalEngine.BACK_OFFICE,
        ends_at_period_end=False,
        state__in=RENEWING_STATES,
        auto_renewal=True,
        current_period_end_date__lte=now + timedelta(days=max(REMINDER_DAYS) + 1),
        current_period_end_date__gte=now,
    ).select_related("plan", "product", "customer", "partner")
    due = []
    for subscription in candidates:
        renewal_on = subscription.current_period_end_date.date()
        if subscription.free_trial:  # a trial gets no "renews on" reminder
            if trial_reminder_date(renewal_on) <= today:
                amount = {"amount": str(subscription.price * subscription.quantity)}
                due.append((subscription, NoticeKind.TRIAL_ENDING, renewal_on, amount))
            continue
        kinds = [
            kind
            for kind, send_on in reminder_dates(
                renewal_on, subscription.plan.interval, subscription.plan.interval_count
            )
            if send_on <= today
        ]
        if kinds:
            due.append((subscription, kinds[-1], renewal_on, None))
    return due


def unsent(due: list[tuple]) -> list[tuple]:
    """Of the reminders due, those no notice was sent for yet (what a run would send now)."""
    sent = set(
        Notice.objects.filter(subscription__in=[d[0] for d in due]).values_list(
            "subscription", "kind", "renewal_date"
        )
    )
    return [d for d in due if (d[0].pk, d[1], d[2]) not in sent]


def payment_failed(subscription: BillingSubscription, renewal_on: date) -> None:
    """First failure of a payment: the customer and the reseller are told, staff alerted, once."""
    if send(subscription, NoticeKind.PAYMENT_FAILED, renewal_on):
        alert_staff(subscription, f"Payment failed for the renewal on {renewal_on:%Y-%m-%d}.")


def alert_staff(subscription: BillingSubscription, message: str) -> None:
    """Support staff hear of billing trouble by e-mail (ADMINS) and see it in the admin."""
    mail_admins(
        f"Billing: {subscription}",
        f"{message}\n\n{settings.SITE_URL}/admin/billing/billingsubscription/{subscription.pk}/change/"
        f"\n\n{contacts_text(subscription.customer)}",
        fail_silently=True,
    )
    logger.warning("billing alert for subscription %s: %s", subscription.pk, message)


def resend_notice(actor: Actor, notice: Notice) -> Notice:
    """Send a notice again (e.g. after a delivery failure); recorded in the audit trail."""
    subscription = notice.subscription
    require(actor, Can.MANAGE_BILLING, partner=subscription.partner, customer=subscription.customer)
    if notice.kind not in NoticeKind.values:
        raise RuleViolation("Unknown notice.", code=BillingErrorCode.UNKNOWN_NOTICE)
    audit.record(
        actor,
        "billing.notice_resent",
        subscription,
        partner_id=subscription.partner_id,
        changes={"notice": [None, notice.kind]},
    )
    return send(subscription, notice.kind, notice.renewal_date, resend=True)
