"""One factory per model, with traits for the states tests need."""

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission

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

    customer = factory.SubFactory(CustomerFactory)
    partner = factory.SelfAttribute("customer.partner")
    vendor = Vendor.DIGICERT
    name = factory.LazyAttribute(lambda s: f"{s.customer.partner.slug}-{s.customer.reference}")
    state = SubaccountState.PENDING

    class Params:
        active = factory.Trait(
            state=SubaccountState.ACTIVE, vendor_id="1001", api_key="sub-key-abcdef0123456789"
        )
        failed = factory.Trait(
            state=SubaccountState.FAILED,
            attempts=5,
            last_error_code="http_503",
            last_error_message="Service unavailable",
        )
