"""One factory per model of partner, subscriptions, billing, reconciliation and core, with traits
for the states tests need (`AcmeContractFactory(active=True)`, `SubaccountFactory(failed=True)`,
`RenewalFactory(held=True)`), and the few helpers tests call by name (`operation_on`,
`subscription`, `providing`...). Rows are written directly: no vendor round trip."""

import json
import uuid
from datetime import timedelta
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from billing.models import (
    BillingAgreement,
    BillingSubscription,
    Checkout,
    CheckoutItem,
    CheckoutKind,
    CheckoutState,
    EventState,
    Notice,
    NoticeKind,
    Plan,
    PlanState,
    Product,
    ProvisioningState,
    RejectedWebhook,
    RejectionReason,
    Renewal,
    RenewalEngine,
    RenewalState,
    SubscriptionState,
    WebhookEvent,
)
from core.actor import Face
from core.models import ApiToken, AuditEvent, Operation, OperationState
from partner.models import (
    BillingModel,
    Customer,
    Membership,
    Partner,
    Role,
    Subaccount,
    SubaccountState,
    Vendor,
)
from reconciliation.models import Finding, FindingKind, FindingState, NotBilled, Resolution, Run, RunState
from subscriptions.acme.models import AcmeContract, Certificate, ContractState
from subscriptions.cloudflare.models import (
    AddonState,
    CatalogComponent,
    CatalogPlan,
    CloudflareAddon,
    CloudflareZone,
    PlanScope,
    ZoneState,
)

User = get_user_model()

DIGICERT_PARTNER_KEY = "dc-partner-key-0123456789abcdef"
CLOUDFLARE_TOKEN = "cf-tenant-token-0123456789abcdef"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ["username"]
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.test")
    password = factory.PostGenerationMethodCall("set_password", "pass-1234-word")

    @factory.post_generation
    def save_password(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class StaffFactory(UserFactory):
    """Support staff with every permission of the back office apps (unless told otherwise)."""

    is_staff = True

    @factory.post_generation
    def permissions(obj, create, extracted, **kwargs):
        if not create:
            return
        codenames = extracted
        qs = Permission.objects.filter(
            content_type__app_label__in=["partner", "subscriptions", "billing", "core", "sandbox"]
        )
        if codenames is not None:
            qs = qs.filter(codename__in=codenames)
        obj.user_permissions.set(qs)


class PartnerFactory(factory.django.DjangoModelFactory):
    """An onboarded partner (checklist complete apart from customers) with vendor credentials."""

    class Meta:
        model = Partner

    name = factory.Sequence(lambda n: f"Reseller {n}")
    slug = factory.Sequence(lambda n: f"reseller{n}")
    legal_name = factory.LazyAttribute(lambda p: f"{p.name} Ltd")
    address_line1 = "1 Main Street"
    city = "Springfield"
    postal_code = "12345"
    country = "US"
    org_contact_name = "Olivia Org"
    org_contact_email = "org@example.test"
    org_contact_phone = "+1 555 0100"
    verification_contact_name = "Victor Verify"
    verification_contact_email = "verify@example.test"
    billing_model = BillingModel.CENTRALIZED
    subaccount_naming_pattern = "{partner}-{customer}"
    digicert_api_key = DIGICERT_PARTNER_KEY
    cloudflare_api_token = CLOUDFLARE_TOKEN

    class Params:
        not_onboarded = factory.Trait(
            legal_name="",
            subaccount_naming_pattern="",
            billing_model="",
            verification_contact_name="",
        )
        without_credentials = factory.Trait(digicert_api_key="", cloudflare_api_token="")


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    partner = factory.SubFactory(PartnerFactory)
    name = factory.Sequence(lambda n: f"Customer {n}")
    reference = factory.Sequence(lambda n: f"cust{n}")
    contact_email = factory.LazyAttribute(lambda c: f"it@{c.reference}.example.test")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    partner = factory.SubFactory(PartnerFactory)
    role = Role.OWNER


class SubaccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Subaccount
        skip_postgeneration_save = True

    customer = factory.SubFactory(CustomerFactory)
    partner = factory.SelfAttribute("customer.partner")
    vendor = Vendor.DIGICERT
    name = factory.LazyAttribute(lambda s: f"{s.customer.partner.slug}-{s.customer.reference}")
    state = SubaccountState.PENDING

    class Params:
        active = factory.Trait(
            state=SubaccountState.ACTIVE, vendor_id="1001", api_key="sub-key-abcdef0123456789"
        )
        failed = factory.Trait(state=SubaccountState.FAILED)

    @factory.post_generation
    def create_operation(obj, create, extracted, **kwargs):
        """A failed subaccount's create operation gave up after five attempts (partner.handlers)."""
        from partner.models import CREATE_SUBACCOUNT

        if create and obj.state == SubaccountState.FAILED:
            Operation.objects.create(
                kind=CREATE_SUBACCOUNT,
                partner_id=obj.partner_id,
                content_type=ContentType.objects.get_for_model(obj),
                object_id=str(obj.pk),
                state=OperationState.FAILED,
                attempts=5,
                last_error_code="http_503",
                last_error_message="Service unavailable",
                last_error_at=timezone.now(),
                finished_at=timezone.now(),
                face=Face.TASK,
            )


# --- subscriptions: DigiCert ACME --------------------------------------------------------------


class AcmeContractFactory(factory.django.DjangoModelFactory):
    """An ACME contract in any state without a vendor round trip (pending unless a trait says)."""

    class Meta:
        model = AcmeContract

    subaccount = factory.SubFactory(SubaccountFactory, active=True)
    customer = factory.SelfAttribute("subaccount.customer")
    partner = factory.SelfAttribute("subaccount.partner")
    product = "ssl_dv_rapidssl"
    sans = factory.Sequence(lambda n: [f"site{n}.example.com", f"www.site{n}.example.com"])
    state = ContractState.PENDING

    class Params:
        active = factory.Trait(
            state=ContractState.ACTIVE,
            vendor_id=factory.Sequence(lambda n: str(5000 + n)),
            auto_renew=True,
            auto_renew_source="order",
            auto_renew_requested=True,
            directory_url="https://acme.digicert.test/v2/acme/directory/abc",
            eab_key_id=factory.Sequence(lambda n: f"kid-{n}"),
            eab_hmac_key="hmac-secret-0123456789abcdefghij",
            credentials_issued_at=factory.LazyFunction(timezone.now),
            term_started_at=factory.LazyFunction(lambda: timezone.now() - timedelta(days=3)),
            valid_till=factory.LazyFunction(lambda: timezone.now() + timedelta(days=362)),
        )
        renewal_stopped = factory.Trait(active=True, state=ContractState.RENEWAL_STOPPED, auto_renew=False)
        cancel_pending = factory.Trait(active=True, state=ContractState.CANCEL_PENDING)
        cancelled = factory.Trait(
            active=True, state=ContractState.CANCELLED, cancelled_at=factory.LazyFunction(timezone.now)
        )
        expired = factory.Trait(
            active=True,
            state=ContractState.EXPIRED,
            term_started_at=factory.LazyFunction(lambda: timezone.now() - timedelta(days=400)),
            valid_till=factory.LazyFunction(lambda: timezone.now() - timedelta(days=35)),
        )
        failed = factory.Trait(state=ContractState.FAILED)


class CertificateFactory(factory.django.DjangoModelFactory):
    """A certificate listed under an active contract, issued and valid for 90 days."""

    class Meta:
        model = Certificate

    contract = factory.SubFactory(AcmeContractFactory, active=True)
    partner = factory.SelfAttribute("contract.partner")
    customer = factory.SelfAttribute("contract.customer")
    serial_number = factory.Sequence(lambda n: f"{n:032x}")
    domain = factory.LazyAttribute(lambda c: c.contract.sans[0])
    sans = factory.LazyAttribute(lambda c: list(c.contract.sans))
    status = "issued"
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=90))

    class Params:
        expired = factory.Trait(expires_at=factory.LazyFunction(lambda: timezone.now() - timedelta(days=1)))
        gone = factory.Trait(gone_at=factory.LazyFunction(timezone.now))


# --- subscriptions: Cloudflare ------------------------------------------------------------------


class CatalogPlanFactory(factory.django.DjangoModelFactory):
    """A zone plan of a partner's Cloudflare catalog (`account=True`: an account add-on)."""

    class Meta:
        model = CatalogPlan
        django_get_or_create = ["partner", "rate_plan_id"]

    partner = factory.SubFactory(PartnerFactory)
    rate_plan_id = "PARTNERS_PRO"
    name = factory.LazyAttribute(lambda p: p.rate_plan_id.replace("_", " ").title())
    scope = PlanScope.ZONE
    monthly_price = Decimal("20")
    currency = "USD"
    frequencies = factory.LazyFunction(lambda: ["monthly", "yearly"])

    class Params:
        account = factory.Trait(
            scope=PlanScope.ACCOUNT, rate_plan_id="PARTNERS_LOAD_BALANCING", monthly_price=Decimal("5")
        )
        inactive = factory.Trait(active=False)


class CatalogComponentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CatalogComponent
        django_get_or_create = ["plan", "name"]

    plan = factory.SubFactory(CatalogPlanFactory)
    name = "page_rules"
    default = 20
    maximum = 50
    unit_price = Decimal("5")


def _cloudflare_account(prefix: str) -> factory.SubFactory:
    """Zones and add-ons live on an active Cloudflare subaccount of their customer."""
    return factory.SubFactory(
        SubaccountFactory,
        vendor=Vendor.CLOUDFLARE,
        active=True,
        name=factory.Sequence(lambda n: f"{prefix}-{n}"),
    )


class CloudflareZoneFactory(factory.django.DjangoModelFactory):
    """A zone record (not at the sandbox) on the customer's Cloudflare account; pending unless a trait says."""

    class Meta:
        model = CloudflareZone

    subaccount = _cloudflare_account("cf-acct")
    customer = factory.SelfAttribute("subaccount.customer")
    partner = factory.SelfAttribute("subaccount.partner")
    name = factory.Sequence(lambda n: f"zone{n}.example")
    state = ZoneState.PENDING

    class Params:
        active = factory.Trait(
            state=ZoneState.ACTIVE,
            vendor_id=factory.LazyFunction(lambda: uuid.uuid4().hex),
            rate_plan_id="PARTNERS_FREE",
            zone_status="active",
        )
        failed = factory.Trait(state=ZoneState.FAILED)


class CloudflareAddonFactory(factory.django.DjangoModelFactory):
    """An account add-on record (not at the sandbox); pending unless a trait says."""

    class Meta:
        model = CloudflareAddon

    subaccount = _cloudflare_account("cf-addon")
    customer = factory.SelfAttribute("subaccount.customer")
    partner = factory.SelfAttribute("subaccount.partner")
    rate_plan_id = "PARTNERS_LOAD_BALANCING"
    frequency = "monthly"
    state = AddonState.PENDING

    class Params:
        active = factory.Trait(
            state=AddonState.ACTIVE, vendor_id=factory.LazyFunction(lambda: uuid.uuid4().hex)
        )
        cancel_pending = factory.Trait(active=True, state=AddonState.CANCEL_PENDING)
        cancelled = factory.Trait(
            active=True, state=AddonState.CANCELLED, cancelled_at=factory.LazyFunction(timezone.now)
        )
        failed = factory.Trait(state=AddonState.FAILED)


# --- billing (Digital River), written directly (no Digital River round trip) --------------------


class PlanFactory(factory.django.DjangoModelFactory):
    """An active yearly plan, created at Digital River."""

    class Meta:
        model = Plan

    plan_id = factory.LazyFunction(lambda: f"plan-{uuid.uuid4().hex[:8]}")
    name = factory.LazyAttribute(lambda p: f"Plan {p.interval}")
    terms = "Renews until cancelled."
    interval = "year"
    interval_count = 1
    state = PlanState.ACTIVE
    at_vendor = True

    class Params:
        draft = factory.Trait(state=PlanState.DRAFT, at_vendor=False)
        discontinued = factory.Trait(state=PlanState.DISCONTINUED)
        back_office = factory.Trait(engine=RenewalEngine.BACK_OFFICE)


class ProductFactory(factory.django.DjangoModelFactory):
    """A partner's SKU at 120.00 USD; a one-off item unless given a plan (`subscription=True`)."""

    class Meta:
        model = Product

    partner = factory.SubFactory(PartnerFactory)
    sku_id = factory.LazyFunction(lambda: f"sku-{uuid.uuid4().hex[:8]}")
    name = factory.LazyAttribute(lambda p: f"Product {p.sku_id}")
    price = Decimal("120.00")
    currency = "USD"
    plan = None

    class Params:
        subscription = factory.Trait(plan=factory.SubFactory(PlanFactory))
        inactive = factory.Trait(active=False)


class CheckoutFactory(factory.django.DjangoModelFactory):
    """A pending acquisition checkout (`paid`, `open`, `failed`, `renewal` for the other states)."""

    class Meta:
        model = Checkout

    customer = factory.SubFactory(CustomerFactory)
    partner = factory.SelfAttribute("customer.partner")
    currency = "USD"
    total = Decimal("0")
    state = CheckoutState.PENDING

    class Params:
        open = factory.Trait(
            state=CheckoutState.OPEN,
            session_id=factory.LazyFunction(lambda: f"cs-{uuid.uuid4().hex[:12]}"),
            payment_link="https://pay.digitalriver.test/session",
        )
        paid = factory.Trait(state=CheckoutState.PAID)
        failed = factory.Trait(state=CheckoutState.FAILED)
        cancelled = factory.Trait(state=CheckoutState.CANCELLED)
        renewal = factory.Trait(kind=CheckoutKind.RENEWAL, charge_type="merchant_initiated")


class CheckoutItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CheckoutItem

    checkout = factory.SubFactory(CheckoutFactory)
    product = factory.SubFactory(ProductFactory, partner=factory.SelfAttribute("..checkout.partner"))
    price = factory.SelfAttribute("product.price")


class BillingAgreementFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BillingAgreement
        django_get_or_create = ["agreement_id"]

    agreement_id = factory.LazyFunction(lambda: f"ba-{uuid.uuid4().hex[:10]}")
    customer = factory.SubFactory(CustomerFactory)

    class Params:
        superseded = factory.Trait(superseded_at=factory.LazyFunction(timezone.now))


class BillingSubscriptionFactory(factory.django.DjangoModelFactory):
    """An active, paid subscription renewing in 20 days on a billing agreement (the row only: use
    `subscription()` for one with its acquisition item and agreement row)."""

    class Meta:
        model = BillingSubscription

    customer = factory.SubFactory(CustomerFactory)
    partner = factory.SelfAttribute("customer.partner")
    product = factory.SubFactory(
        ProductFactory, partner=factory.SelfAttribute("..customer.partner"), subscription=True
    )
    plan = factory.SelfAttribute("product.plan")
    acquisition = factory.SubFactory(
        CheckoutFactory,
        paid=True,
        customer=factory.SelfAttribute("..customer"),
        total=factory.SelfAttribute("..product.price"),
    )
    price = factory.SelfAttribute("product.price")
    state = SubscriptionState.ACTIVE
    billing_agreement_id = factory.LazyFunction(lambda: f"ba-{uuid.uuid4().hex[:10]}")
    current_period_end_date = factory.LazyFunction(lambda: timezone.now() + timedelta(days=20))
    next_invoice_date = factory.SelfAttribute("current_period_end_date")
    activated_at = factory.LazyFunction(timezone.now)
    provisioning_state = ProvisioningState.NOT_NEEDED

    class Params:
        draft = factory.Trait(state=SubscriptionState.DRAFT, activated_at=None)
        cancelled = factory.Trait(
            state=SubscriptionState.CANCELLED, ended_at=factory.LazyFunction(timezone.now)
        )
        failed = factory.Trait(
            state=SubscriptionState.FAILED,
            payment_failed_at=factory.LazyFunction(timezone.now),
            ended_at=factory.LazyFunction(timezone.now),
        )
        lapsed = factory.Trait(state=SubscriptionState.LAPSED, ended_at=factory.LazyFunction(timezone.now))
        manual = factory.Trait(auto_renewal=False)


class RenewalFactory(factory.django.DjangoModelFactory):
    """A due renewal of its subscription's current period (`held`, `ordering`, `captured`, `failed`)."""

    class Meta:
        model = Renewal

    subscription = factory.SubFactory(BillingSubscriptionFactory)
    renewal_date = factory.SelfAttribute("subscription.current_period_end_date")
    state = RenewalState.DUE

    class Params:
        held = factory.Trait(state=RenewalState.HELD, reminder_missing=True)
        ordering = factory.Trait(state=RenewalState.ORDERING, attempted_at=factory.LazyFunction(timezone.now))
        captured = factory.Trait(state=RenewalState.CAPTURED, attempted_at=factory.LazyFunction(timezone.now))
        failed = factory.Trait(state=RenewalState.FAILED, attempted_at=factory.LazyFunction(timezone.now))


class NoticeFactory(factory.django.DjangoModelFactory):
    """A delivered notice about its subscription's next renewal (`undelivered` for a failed send,
    `dr_reminder` for Digital River's renewal reminder with its details)."""

    class Meta:
        model = Notice

    subscription = factory.SubFactory(BillingSubscriptionFactory)
    kind = NoticeKind.REMINDER_30
    renewal_date = factory.LazyAttribute(lambda n: n.subscription.current_period_end_date.date())
    to = "billing@example.com"
    subject = factory.LazyAttribute(lambda n: f"{n.kind} for {n.subscription.product.name}")
    sent_at = factory.LazyFunction(timezone.now)
    delivered = True
    error = ""

    class Params:
        undelivered = factory.Trait(delivered=False, error="SMTP refused the message")
        # Digital River's reminder: 120.00 USD on 2027-01-05, on a Visa that expires before the charge.
        dr_reminder = factory.Trait(
            kind=NoticeKind.RENEWAL_REMINDER,
            details=factory.LazyFunction(
                lambda: {
                    "amount": "120.00",
                    "currency": "USD",
                    "invoice_date": "2027-01-05",
                    "card_brand": "Visa",
                    "card_last_four": "4242",
                    "card_expiry": "12/2026",
                    "card_expires_first": True,
                }
            ),
        )


class WebhookEventFactory(factory.django.DjangoModelFactory):
    """A received Digital River event (`processed`, `rejected`, `ignored`)."""

    class Meta:
        model = WebhookEvent

    event_id = factory.LazyFunction(lambda: uuid.uuid4().hex)
    type = "order.accepted"
    body = factory.LazyAttribute(
        lambda e: json.dumps({"id": e.event_id, "type": e.type, "data": {"object": {}}})
    )
    state = EventState.RECEIVED

    class Params:
        processed = factory.Trait(state=EventState.PROCESSED, processed_at=factory.LazyFunction(timezone.now))
        rejected = factory.Trait(state=EventState.REJECTED, error="Signature does not match.")
        ignored = factory.Trait(state=EventState.IGNORED)


class RejectedWebhookFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RejectedWebhook

    reason = RejectionReason.BAD_SIGNATURE
    source_address = "192.0.2.10"


# --- reconciliation -----------------------------------------------------------------------------


class RunFactory(factory.django.DjangoModelFactory):
    """A finished reconciliation run (`queued`, `running`, `failed` for the others)."""

    class Meta:
        model = Run

    partner = factory.SubFactory(PartnerFactory)
    state = RunState.FINISHED
    started_at = factory.LazyFunction(timezone.now)
    finished_at = factory.LazyFunction(timezone.now)

    class Params:
        queued = factory.Trait(state=RunState.QUEUED, started_at=None, finished_at=None)
        running = factory.Trait(state=RunState.RUNNING, finished_at=None)
        failed = factory.Trait(state=RunState.FAILED)


class _AboutTarget(factory.django.DjangoModelFactory):
    """Rows about one object (`target`, an active ACME contract unless given): its partner and customer."""

    class Meta:
        abstract = True

    class Params:
        target = factory.SubFactory(AcmeContractFactory, active=True)

    partner = factory.SelfAttribute("target.partner")
    customer = factory.SelfAttribute("target.customer")
    target_type = factory.LazyAttribute(lambda o: ContentType.objects.get_for_model(o.target))
    target_id = factory.LazyAttribute(lambda o: str(o.target.pk))


class FindingFactory(_AboutTarget):
    """An open finding about `target`, with a small evidence table (`resolved` once staff settled it)."""

    class Meta:
        model = Finding

    kind = FindingKind.PROVIDED_NOT_BILLED
    rule = "provided_not_billed"
    key = factory.LazyAttribute(lambda f: f"{f.kind}|{uuid.uuid4().hex}")
    summary = factory.LazyAttribute(lambda f: f"{f.target} is provided, but nothing bills it.")
    evidence = factory.LazyFunction(
        lambda: {
            "rule": "Provided but not billed.",
            "vendor": "Cloudflare",
            "sides": {"billing": {"billed": False}, "ours": {"state": "active"}},
            "differs": ["billed"],
        }
    )

    class Params:
        resolved = factory.Trait(
            state=FindingState.RESOLVED,
            resolution=Resolution.DISMISSED,
            resolution_note="Fixed.",
            resolved_at=factory.LazyFunction(timezone.now),
        )


class NotBilledFactory(_AboutTarget):
    """A not-billed mark on `target` (`unmarked`: billed again from now on)."""

    class Meta:
        model = NotBilled

    reason = "Internal test domain."

    class Params:
        unmarked = factory.Trait(unmarked_at=factory.LazyFunction(timezone.now))


# --- core ---------------------------------------------------------------------------------------


class OperationFactory(factory.django.DjangoModelFactory):
    """A vendor operation row on `target` (the task is not run): pending unless a trait says."""

    class Meta:
        model = Operation

    class Params:
        target = factory.SubFactory(AcmeContractFactory)
        failed = factory.Trait(
            state=OperationState.FAILED,
            attempts=5,
            last_error_code="http_503",
            last_error_message="Service unavailable",
            last_error_at=factory.LazyFunction(timezone.now),
            finished_at=factory.LazyFunction(timezone.now),
        )
        succeeded = factory.Trait(
            state=OperationState.SUCCEEDED, attempts=1, finished_at=factory.LazyFunction(timezone.now)
        )
        unknown = factory.Trait(state=OperationState.UNKNOWN, attempts=5, outcome_unknown=True)

    kind = "acme.create"
    partner_id = factory.LazyAttribute(lambda o: o.target.partner_id)
    content_type = factory.LazyAttribute(lambda o: ContentType.objects.get_for_model(o.target))
    object_id = factory.LazyAttribute(lambda o: str(o.target.pk))
    state = OperationState.PENDING
    face = Face.DASHBOARD


class AuditEventFactory(factory.django.DjangoModelFactory):
    """An audit line about `target` (a partner unless given), by the system unless given an actor."""

    class Meta:
        model = AuditEvent

    class Params:
        target = factory.SubFactory(PartnerFactory)

    actor = None
    actor_label = factory.LazyAttribute(lambda e: e.actor.username if e.actor else "system")
    face = Face.TASK
    partner_id = factory.LazyAttribute(lambda e: getattr(e.target, "partner_id", None) or e.target.pk)
    content_type = factory.LazyAttribute(lambda e: ContentType.objects.get_for_model(e.target))
    object_id = factory.LazyAttribute(lambda e: str(e.target.pk))
    object_repr = factory.LazyAttribute(lambda e: str(e.target)[:200])
    action = "test.recorded"


class ApiTokenFactory(factory.django.DjangoModelFactory):
    """An API token of `user`; the full key is on `token.key` (`revoked`, `expired` for dead ones)."""

    class Meta:
        model = ApiToken

    class Params:
        revoked = factory.Trait(revoked_at=factory.LazyFunction(timezone.now))
        expired = factory.Trait(expires_at=factory.LazyFunction(lambda: timezone.now() - timedelta(days=1)))

    user = factory.SubFactory(UserFactory)
    name = factory.Sequence(lambda n: f"token {n}")
    key_id = factory.Sequence(lambda n: f"{n:012x}")
    secret = factory.LazyFunction(lambda: uuid.uuid4().hex)
    digest = factory.LazyAttribute(lambda t: ApiToken.hash_secret(t.secret))

    @classmethod
    def _create(cls, model_class, *args, secret, **kwargs):
        token = super()._create(model_class, *args, **kwargs)
        token.key = f"{ApiToken.PREFIX}_{token.key_id}_{secret}"
        return token


# --- helpers the tests call by these names ------------------------------------------------------


def operation_on(target, kind="acme.create", state=OperationState.PENDING, **fields) -> Operation:
    """A vendor operation row on `target` (the task is not run)."""
    return OperationFactory(target=target, kind=kind, state=state, **fields)


def plan(interval="year", count=1, **fields) -> Plan:
    return PlanFactory(interval=interval, interval_count=count, **fields)


def product(partner, plan=None, price="120.00", currency="USD", **fields) -> Product:
    return ProductFactory(partner=partner, plan=plan, price=Decimal(price), currency=currency, **fields)


def subscription(customer, product, *, renews_in_days=20, **fields) -> BillingSubscription:
    """An active, paid subscription renewing in `renews_in_days` days on a billing agreement, with
    its paid acquisition checkout, the item, and the agreement's row."""
    checkout = CheckoutFactory(customer=customer, currency=product.currency, total=product.price, paid=True)
    agreement = fields.pop("billing_agreement_id", f"ba-{uuid.uuid4().hex[:10]}")
    BillingAgreement.objects.get_or_create(agreement_id=agreement, defaults={"customer": customer})
    end = timezone.now() + timedelta(days=renews_in_days)
    sub = BillingSubscriptionFactory(
        customer=customer,
        product=product,
        plan=product.plan,
        acquisition=checkout,
        billing_agreement_id=agreement,
        current_period_end_date=end,
        next_invoice_date=end,
        **fields,
    )
    CheckoutItemFactory(checkout=checkout, product=product, price=product.price, subscription=sub)
    return sub


def providing(target, product, **fields) -> BillingSubscription:
    """An active, paid subscription (see `subscription`) that provides `target` (a contract, zone or add-on)."""
    return subscription(
        target.customer,
        product,
        provisioned_type=ContentType.objects.get_for_model(target),
        provisioned_id=str(target.pk),
        provisioning_state=ProvisioningState.DONE,
        **fields,
    )


def fulfilled_acquisition(sub) -> Checkout:
    """The subscription's acquisition as Digital River leaves it after fulfilment: 170.00 authorised,
    the subscription's item delivered and a 50.00 setup fee cancelled, 120.00 captured."""
    checkout = sub.acquisition
    checkout.order_id = "ord_1001"
    checkout.source_id = "src_order_98765zyxwv"
    checkout.authorized_amount = Decimal("170.00")
    checkout.captured_amount = Decimal("120.00")
    checkout.cancelled_amount = Decimal("50.00")
    checkout.refunded_amount = Decimal("0.00")
    checkout.fulfillment_id = "ful_777"
    checkout.fulfilled_at = timezone.now()
    checkout.save()
    checkout.items.update(order_item_id="itm_1", fulfilled_quantity=1)
    fee = product(sub.partner, None, price="50.00", name="Setup fee")
    CheckoutItemFactory(
        checkout=checkout, product=fee, price=fee.price, order_item_id="itm_2", cancelled_quantity=1
    )
    return checkout


def notice(sub, kind, *, delivered=True, error="") -> Notice:
    return NoticeFactory(subscription=sub, kind=kind, delivered=delivered, error=error)


def held_renewal(sub) -> Renewal:
    return RenewalFactory(subscription=sub, held=True)
