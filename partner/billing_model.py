"""What a partner's billing model changes (domain.md, partner accounts: billing centralized at the
partner or per subaccount), in one place for billing, ACME orders and every page that shows it.

- Centralized: DigiCert bills the partner; the back office bills the partner's customers for
  DigiCert products through Digital River (checkouts).
- Per subaccount: DigiCert bills each subaccount directly. Billing the customer for a DigiCert
  product as well would bill it twice, so checkouts refuse DigiCert products, and an ACME contract
  ordered directly is billed by DigiCert (it carries that not-billed reason by itself).
Cloudflare is billed by the back office under either model.
"""

from __future__ import annotations

from partner.models import BillingModel, Partner

REFUSED_CODE = "digicert_billed_per_subaccount"
NOT_BILLED_REASON = "Billed per subaccount by DigiCert"

# ASSUMPTION (vendors.md 1.1): the Partner Subscriptions API documents no call that sets billing
# per subaccount; `/finance/account-link` is SILENT beyond its name, so the back office never calls
# it and the arrangement is made with the DigiCert Partner Account Manager. What would confirm or
# replace this: DigiCert documenting account-link's request and effect (or another call that
# chooses who DigiCert invoices); then it becomes a core Operation run when the partner onboards.
AT_DIGICERT = (
    "DigiCert's Partner Subscriptions API has no documented call that chooses who DigiCert "
    "invoices: arrange this billing model with your DigiCert Partner Account Manager."
)
EFFECTS = {
    BillingModel.CENTRALIZED: (
        "DigiCert bills the partner; the back office bills the partner's customers for DigiCert "
        "and Cloudflare products through Digital River checkouts."
    ),
    BillingModel.PER_SUBACCOUNT: (
        "DigiCert bills each customer's subaccount directly: checkouts refuse DigiCert (ACME) "
        "products so nobody is billed twice, and ACME contracts ordered directly are marked "
        f"“{NOT_BILLED_REASON}”. Cloudflare products are still billed through Digital River."
    ),
}
NOT_CHOSEN = "Not chosen yet: decide before the first subaccount (it is fixed afterwards)."
HELP_TEXT = (
    " ".join(f"{label}: {EFFECTS[value]}" for value, label in BillingModel.choices)
    + f" {AT_DIGICERT} Fixed once the first subaccount exists."
)
# The partner's auto-renew default, as the forms explain it (partner.services: applied on creation).
AUTO_RENEW_DEFAULT_HELP = (
    "Set as the DigiCert account setting auto_renew_subscription of each DigiCert subaccount created "
    "from now on (existing subaccounts keep theirs); ACME orders that leave renewal out follow it."
)


def digicert_bills_subaccounts(partner: Partner) -> bool:
    """Per subaccount: DigiCert invoices each subaccount, so the back office bills no DigiCert product."""
    return partner.billing_model == BillingModel.PER_SUBACCOUNT


def effect(partner: Partner) -> str:
    """What the partner's billing model changes in billing, for the partner pages."""
    return EFFECTS.get(partner.billing_model, NOT_CHOSEN)
