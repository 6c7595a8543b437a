"""Factories for dashboard tests: ACME contracts in any state without a vendor round trip."""

from datetime import timedelta

import factory
from django.utils import timezone

from core.models import Operation, OperationState
from subscriptions.models import AcmeContract, ContractState
from tests.factories import SubaccountFactory


class AcmeContractFactory(factory.django.DjangoModelFactory):
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


def operation_on(target, kind="acme.create", state=OperationState.PENDING, **fields):
    """A vendor operation row on `target` (the task is not run)."""
    from django.contrib.contenttypes.models import ContentType

    return Operation.objects.create(
        kind=kind,
        partner_id=target.partner_id,
        content_type=ContentType.objects.get_for_model(target),
        object_id=str(target.pk),
        state=state,
        face="dashboard",
        **fields,
    )
