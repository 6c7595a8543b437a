"""Every date and time the API shows is in UTC (`Z`), whatever zone the process has active."""

from datetime import UTC, datetime

import pytest
from django.utils import timezone

from tests.factories import AcmeContractFactory, MembershipFactory, OperationFactory

pytestmark = pytest.mark.django_db


def test_api_times_are_utc_even_when_another_zone_is_active(api):
    created = datetime(2026, 6, 1, 23, 30, tzinfo=UTC)  # already 2 June in Paris
    contract = AcmeContractFactory(active=True, created_at=created, cancelled_at=created)
    OperationFactory(target=contract, failed=True, created_at=created)
    client = api.as_user(MembershipFactory(partner=contract.partner, role="owner").user)
    with timezone.override("Europe/Paris"):
        listed = client.get("/api/v1/acme-contracts/").json()["results"][0]
        shown = client.get(f"/api/v1/acme-contracts/{contract.pk}/").json()
    for row in (listed, shown):
        assert row["created_at"] == row["cancelled_at"] == "2026-06-01T23:30:00Z"
        assert row["last_operation"]["created_at"] == "2026-06-01T23:30:00Z"


def test_the_options_of_today_are_shown_as_their_schema_serializer_shows_them(api):
    from subscriptions.acme.api import EndOptionSerializer
    from subscriptions.acme.rules import end_options

    contract = AcmeContractFactory(active=True, auto_renew=True)
    client = api.as_user(MembershipFactory(partner=contract.partner, role="owner").user)
    shown = client.get(f"/api/v1/acme-contracts/{contract.pk}/").json()["options_today"]
    contract.refresh_from_db()
    expected = EndOptionSerializer(end_options(contract, timezone.now()), many=True).data
    assert [o["action"] for o in shown] == ["cancel", "stop_renewal"]
    assert shown == [dict(o) for o in expected]
