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
