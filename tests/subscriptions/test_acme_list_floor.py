"""The ACME contracts list at the floor: the masked key from its stored hint (no decrypting), the
newest operation only, the same answer as a contract's own page."""

from datetime import timedelta

import pytest

from core import secrets
from core.secrets import mask
from subscriptions.acme.models import AcmeContract
from tests.factories import AcmeContractFactory, MembershipFactory, OperationFactory

pytestmark = pytest.mark.django_db


def test_the_hint_is_the_mask_of_the_key_and_follows_a_new_key():
    contract = AcmeContractFactory(active=True)
    assert contract.eab_hmac_key_hint == mask("hmac-secret-0123456789abcdefghij") == "••••••••ghij"
    contract.eab_hmac_key = "another-secret-key-wxyz"
    contract.save(update_fields=["eab_hmac_key"])
    assert AcmeContract.objects.get(pk=contract.pk).eab_hmac_key_hint == "••••••••wxyz"
    contract.eab_hmac_key = None
    contract.save()
    assert AcmeContract.objects.get(pk=contract.pk).eab_hmac_key_hint == ""


def test_the_list_shows_the_mask_and_the_newest_operation_without_decrypting(api, monkeypatch):
    contract = AcmeContractFactory(active=True)
    now = contract.created_at
    OperationFactory(target=contract, succeeded=True, created_at=now - timedelta(minutes=2))
    newest = OperationFactory(target=contract, kind="acme.sync", created_at=now - timedelta(minutes=1))
    client = api.as_user(MembershipFactory(partner=contract.partner, role="viewer").user)
    detail = client.get(f"/api/v1/acme-contracts/{contract.pk}/").json()

    def refuse(token):
        raise AssertionError("the list decrypted a secret")

    monkeypatch.setattr(secrets, "decrypt", refuse)
    (row,) = client.get("/api/v1/acme-contracts/").json()["results"]
    assert row["credentials"]["hmac_key"] == "••••••••ghij"
    assert row["last_operation"]["id"] == newest.pk
    assert row == detail
