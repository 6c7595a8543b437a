"""Lists that show each object's newest operation read it in one query, and only the columns shown."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core import clock, operations
from core.api.operations import OperationSerializer
from tests.factories import AcmeContractFactory, OperationFactory

pytestmark = pytest.mark.django_db


def _contracts_with_history(count):
    now = clock.now()
    contracts = AcmeContractFactory.create_batch(count)
    newest = {}
    for contract in contracts:
        OperationFactory(target=contract, succeeded=True, created_at=now - timedelta(minutes=2))
        newest[contract.pk] = OperationFactory(
            target=contract, failed=True, created_at=now - timedelta(minutes=1)
        )
    return contracts, newest


def test_latest_by_target_is_the_newest_operation_of_each_object_in_one_query():
    contracts, newest = _contracts_with_history(3)
    untouched = AcmeContractFactory()
    with CaptureQueriesContext(connection) as queries:
        latest = operations.latest_by_target([*contracts, untouched])
    assert len(queries) == 1
    assert {pk: op.pk for pk, op in latest.items() if op} == {pk: op.pk for pk, op in newest.items()}
    assert latest[untouched.pk] is None


def test_a_list_reads_only_the_operation_columns_it_shows():
    contracts, _ = _contracts_with_history(2)
    with CaptureQueriesContext(connection) as queries:
        latest = operations.latest_by_target(contracts, only=OperationSerializer.COLUMNS)
        shown = [OperationSerializer(op).data for op in latest.values()]  # no deferred column loaded
    assert len(queries) == 1
    sql = queries[0]["sql"]
    assert '"params"' not in sql and '"result"' not in sql
    assert [row["last_error"]["code"] for row in shown] == ["http_503", "http_503"]
