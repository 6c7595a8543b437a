import pytest

from partner import services as partner_services
from tests.conftest import system_actor


@pytest.fixture
def digicert_subaccount(sandbox, customer, run_tasks):
    """An active DigiCert subaccount created through the sandbox, with its own key."""
    subaccount = run_tasks(partner_services.request_subaccount, system_actor(), customer, "digicert")
    subaccount.refresh_from_db()
    assert subaccount.state == "active"
    return subaccount


@pytest.fixture
def order(run_tasks, customer, digicert_subaccount):
    """Order a contract and let the task create it at the sandbox."""
    from subscriptions.services import acme

    def make(actor=None, **kwargs):
        kwargs.setdefault("product", "ssl_dv_rapidssl")
        kwargs.setdefault("sans", ["example.com", "www.example.com"])
        contract = run_tasks(acme.order_acme_contract, actor or system_actor(), customer, **kwargs)
        contract.refresh_from_db()
        return contract

    return make
