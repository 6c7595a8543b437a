"""What tests need to know about the sandbox's state (tests may import it; apps never do)."""

from vendors.sandbox import services as sandbox
from vendors.sandbox.cloudflare.models import CloudflareAccount
from vendors.sandbox.digicert.models import DigiCertSubaccount
from vendors.sandbox.state import RequestLogEntry, VendorKey

CREATE_PATHS = {"digicert": r"/account/subaccount$", "cloudflare": r"/accounts$"}


def inject_fault(vendor, kind, *, times=1, retry_after=None, method="POST", path=None):
    """Arm a sandbox fault for the vendor's create call (or `path`), `times` times."""
    return sandbox.add_fault(
        vendor,
        kind,
        method=method,
        path_regex=path or CREATE_PATHS[vendor],
        retry_after=retry_after,
        count=times,
    )


def vendor_request_count() -> int:
    """Every request any sandbox vendor has received: unchanged means no vendor call was made."""
    return RequestLogEntry.objects.count()


def sandbox_account_count(vendor, name) -> int:
    """How many objects with this name exist at the vendor."""
    model = DigiCertSubaccount if vendor == "digicert" else CloudflareAccount
    return model.objects.filter(name=name).count()


def sandbox_account_key_works(account_id, key) -> bool:
    """The DigiCert sandbox knows this key as one of that subaccount's keys."""
    return VendorKey.objects.filter(digest=sandbox.key_digest(key), subaccount_id=int(account_id)).exists()


def cloudflare_account_unit(account_id) -> str:
    return CloudflareAccount.objects.get(pk=account_id).unit_id


def register_cloudflare_unit(unit_id, token=None):
    from tests.factories import CLOUDFLARE_TOKEN

    sandbox.register_key("cloudflare", token or CLOUDFLARE_TOKEN, unit_id=unit_id)


def advance_vendor_clock(days=0, hours=0):
    """Move the sandbox clock, and with it the business clock of development and tests."""
    from datetime import timedelta

    from vendors.sandbox.clock import advance_clock

    return advance_clock(timedelta(days=days, hours=hours))


def sandbox_acme_contracts(**filters):
    from vendors.sandbox.digicert.models import AcmeContract

    return AcmeContract.objects.filter(**filters)


def sandbox_credentials(contract_id):
    from vendors.sandbox.digicert.models import AcmeCredential

    return AcmeCredential.objects.filter(contract_id=int(contract_id))


def sandbox_hmac_is_active(contract_id, hmac_key) -> bool:
    """The sandbox knows this HMAC key as an active credential of the contract."""
    return (
        sandbox_credentials(contract_id)
        .filter(hmac_digest=sandbox.key_digest(hmac_key), status="active")
        .exists()
    )


def sandbox_zones(**filters):
    """Zones at the Cloudflare sandbox."""
    from vendors.sandbox.cloudflare.models import CloudflareZone

    return CloudflareZone.objects.filter(**filters)


def sandbox_zone_subscriptions(**filters):
    """Zone subscriptions at the Cloudflare sandbox (at most one per zone)."""
    from vendors.sandbox.cloudflare.models import CloudflareSubscription

    return CloudflareSubscription.objects.filter(zone__isnull=False, **filters)


def sandbox_account_subscriptions(**filters):
    """Account (add-on) subscriptions at the Cloudflare sandbox, cancelled ones included."""
    from vendors.sandbox.cloudflare.models import CloudflareSubscription

    return CloudflareSubscription.objects.filter(zone__isnull=True, **filters)


def set_cloudflare_entitlements(plans, token=None):
    """What the Cloudflare token may buy (outside it: error 1225)."""
    from tests.factories import CLOUDFLARE_TOKEN

    key = sandbox.find_key("cloudflare", token or CLOUDFLARE_TOKEN)
    return sandbox.set_entitlements(key, replace=list(plans))


def sandbox_checkout_session(session_id) -> dict:
    """The checkout-session request as Digital River received it."""
    from vendors.sandbox.digitalriver.models import DRCheckoutSession
    from vendors.sandbox.digitalriver.render import session_request

    return session_request(DRCheckoutSession.objects.get(pk=session_id))


def sandbox_dr_checkouts(checkout_id) -> dict:
    """A Digital River checkout as its API shows it."""
    from vendors.sandbox.digitalriver.models import DRCheckout
    from vendors.sandbox.digitalriver.render import checkout_json

    return checkout_json(DRCheckout.objects.get(pk=checkout_id))


def sandbox_dr_subscriptions(**filters):
    from vendors.sandbox.digitalriver.models import DRSubscription

    return DRSubscription.objects.filter(**filters)


def advance_vendor_clock_to(when, *, plus_hours=1):
    """Move the sandbox (and business) clock to `when`, plus a margin, never backwards.

    The margin stays within `when`'s UTC day: reminders and renewals are due by the day, so a
    margin past midnight would make "30 days before" the 29th (and the suite fail after 23:00).
    """
    from datetime import datetime, time, timedelta

    from core import clock
    from vendors.sandbox.clock import advance_clock

    midnight = datetime.combine(when.date() + timedelta(days=1), time(0), tzinfo=when.tzinfo)
    margin = min(timedelta(hours=plus_hours), (midnight - when) / 2)  # the clock keeps running
    delta = when + margin - clock.now()
    return advance_clock(max(delta, timedelta(0)))


# --- Digital River: the ledger and the bank's controls ---------------------------------------------


def dr_ledger(**filters):
    """The Digital River sandbox's ledger (DRLedgerEntry), oldest first: one row per item per movement.

    kind is authorization, capture, capture_failed, cancel, refund or invoice_charge_failed; a
    subscription-service invoice payment is a capture with invoice_id and period_end set.
    """
    from vendors.sandbox.digitalriver.models import DRLedgerEntry

    return DRLedgerEntry.objects.filter(**filters).order_by("seq")


def dr_captures_by_subscription() -> dict:
    """{subscription_id: [(period_end or order_id, amount), ...]}: what each subscription was charged.

    Captures for the same invoice period (subscription service) or the same order add up into one
    entry, in the order they happened: a subscription with an invoice entry and an order entry for
    the same period was charged twice.
    """
    from vendors.sandbox.digitalriver.ledger import captures_by_subscription

    return captures_by_subscription()


def dr_fail_charges(source_id, times=1, stage="authorization"):
    """The source's next `times` charges fail at "authorization" (POST /orders 409, invoice declined)
    or "capture" (the fulfilment's capture fails); times=0 clears it."""
    from vendors.sandbox.digitalriver.models import DRSource
    from vendors.sandbox.digitalriver.sources import fail_charges

    return fail_charges(DRSource.objects.get(pk=source_id), times=times, stage=stage)


def dr_expire_card(source_id):
    """The source's card expired last month (sandbox time)."""
    from vendors.sandbox.digitalriver.models import DRSource
    from vendors.sandbox.digitalriver.sources import expire_card

    return expire_card(DRSource.objects.get(pk=source_id))


def dr_new_source(customer_id=None, *, reusable=True, **card):
    """A card source as the Drop-in makes it (saved to the customer when given); returns its id.

    card: brand, lastFourDigits, expirationMonth, expirationYear (default Visa 1111, three years).
    """
    from vendors.sandbox.digitalriver import sources
    from vendors.sandbox.digitalriver.models import DRCustomer

    customer = DRCustomer.objects.get(pk=customer_id) if customer_id else None
    return sources.create_source({**sources.default_card(), **card}, reusable=reusable, customer=customer).pk


def dr_new_card(customer_id=None, **card):
    """A reusable card source as Drop-in's "manage payment methods" makes it: NOT saved to anyone
    (the merchant's server saves it). `customer_id` is accepted for symmetry and not used."""
    return dr_new_source(None, **card)
