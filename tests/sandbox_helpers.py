"""What tests need to know about the sandbox's state (tests may import it; apps never do)."""

from vendors.sandbox import services as sandbox
from vendors.sandbox.models import CloudflareAccount, DigiCertSubaccount, RequestLogEntry, VendorKey

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
    from vendors.sandbox.models import AcmeContract

    return AcmeContract.objects.filter(**filters)


def sandbox_credentials(contract_id):
    from vendors.sandbox.models import AcmeCredential

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
    from vendors.sandbox.models import CloudflareZone

    return CloudflareZone.objects.filter(**filters)


def sandbox_zone_subscriptions(**filters):
    """Zone subscriptions at the Cloudflare sandbox (at most one per zone)."""
    from vendors.sandbox.models import CloudflareSubscription

    return CloudflareSubscription.objects.filter(zone__isnull=False, **filters)


def sandbox_account_subscriptions(**filters):
    """Account (add-on) subscriptions at the Cloudflare sandbox, cancelled ones included."""
    from vendors.sandbox.models import CloudflareSubscription

    return CloudflareSubscription.objects.filter(zone__isnull=True, **filters)


def set_cloudflare_entitlements(plans, token=None):
    """What the Cloudflare token may buy (outside it: error 1225)."""
    from tests.factories import CLOUDFLARE_TOKEN

    key = sandbox.find_key("cloudflare", token or CLOUDFLARE_TOKEN)
    return sandbox.set_entitlements(key, replace=list(plans))


def sandbox_checkout_session(session_id) -> dict:
    """The checkout-session request as Digital River received it."""
    from vendors.sandbox.digitalriver.render import session_request
    from vendors.sandbox.models import DRCheckoutSession

    return session_request(DRCheckoutSession.objects.get(pk=session_id))


def sandbox_dr_checkouts(checkout_id) -> dict:
    """A Digital River checkout as its API shows it."""
    from vendors.sandbox.digitalriver.render import checkout_json
    from vendors.sandbox.models import DRCheckout

    return checkout_json(DRCheckout.objects.get(pk=checkout_id))


def sandbox_dr_subscriptions(**filters):
    from vendors.sandbox.models import DRSubscription

    return DRSubscription.objects.filter(**filters)


def advance_vendor_clock_to(when, *, plus_hours=1):
    """Move the sandbox (and business) clock to `when`, plus a margin, never backwards."""
    from datetime import timedelta

    from core import clock
    from vendors.sandbox.clock import advance_clock

    delta = when - clock.now() + timedelta(hours=plus_hours)
    return advance_clock(max(delta, timedelta(0)))
