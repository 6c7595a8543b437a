"""ACME subscriptions in the dashboard: order, progress, reveal once, cancel or stop renewal with
what applies today, SANs, regenerate, sync and drift, retry; refusals shown with their message."""

import pytest
from django.urls import reverse

from core.models import AuditEvent, Operation
from subscriptions.acme.models import AcmeContract, ContractState
from tests.factories import AcmeContractFactory, operation_on
from tests.sandbox_helpers import advance_vendor_clock, sandbox_hmac_is_active, vendor_request_count
from tests.subscriptions.conftest import NOT_BILLED_REASON

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}


def _post(client, name, contract, data=None, capture=None):
    """POST an action (running the queued vendor call when `capture` is given), then open the page
    it leads to, as the browser would."""
    url = reverse(name, args=[contract.pk])
    if capture is None:
        return client.post(url, data or {}, follow=True)
    with capture(execute=True):
        response = client.post(url, data or {})
    return client.get(response["Location"]) if response.status_code == 302 else response


# --- Order ----------------------------------------------------------------------------------


def _order(client, customer, follow=False, **fields):
    """POST the customer's ACME order form with `fields`."""
    return client.post(reverse("dashboard:acme-order", args=[customer.pk]), fields, follow=follow)


def test_ordering_creates_the_contract_at_digicert_and_shows_it_active(
    owner_client, customer, digicert_subaccount, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = _order(
            owner_client,
            customer,
            product="ssl_dv_rapidssl",
            sans="shop.example.com\nwww.shop.example.com",
            renewal="on",
            not_billed_reason=NOT_BILLED_REASON,
        )

    contract = AcmeContract.objects.get()
    assert response["Location"] == reverse("dashboard:acme", args=[contract.pk])
    assert contract.state == ContractState.ACTIVE and contract.auto_renew is True
    assert contract.sans == ["shop.example.com", "www.shop.example.com"]
    page = owner_client.get(response["Location"]).content.decode()
    assert "Active" in page and "Cancel is available until" in page and "Reveal once" in page


def test_an_order_shows_its_progress_until_the_task_has_run(owner_client, customer, digicert_subaccount):
    response = _order(
        owner_client,
        customer,
        follow=True,
        product="ssl_dv_rapidssl",
        sans="shop.example.com",
        renewal="account",
        not_billed_reason=NOT_BILLED_REASON,
    )

    contract = AcmeContract.objects.get()
    page = response.content.decode()
    assert contract.state == "pending" and contract.auto_renew_requested is None
    assert "Create ACME contract…" in page and "Queued for DigiCert" in page and "every 2s" in page
    assert '<meta http-equiv="refresh"' in page  # without JavaScript the page reloads itself


def test_leaving_renewal_to_the_account_setting_says_what_it_currently_is(
    owner_client, customer, digicert_subaccount
):
    form = owner_client.get(reverse("dashboard:acme-order", args=[customer.pk])).context["form"]

    assert "currently not set, so renewal is off" in dict(form.fields["renewal"].choices)["account"]


def test_ordering_without_a_digicert_subaccount_is_refused_with_the_reason(owner_client, customer):
    page = owner_client.get(reverse("dashboard:acme-order", args=[customer.pk])).content.decode()
    response = _order(
        owner_client, customer, product="ssl_dv_rapidssl", sans="shop.example.com", renewal="on"
    )

    assert "has no DigiCert subaccount yet" in page and "Create the DigiCert subaccount" in page
    assert "has no active DigiCert subaccount yet; create it first" in response.content.decode()
    assert not AcmeContract.objects.exists()


def test_invalid_domain_names_are_a_field_error(owner_client, customer, digicert_subaccount):
    before = vendor_request_count()

    response = _order(
        owner_client, customer, product="ssl_dv_rapidssl", sans="not a domain, ok.example.com", renewal="on"
    )

    form = response.context["form"]
    assert "Not valid domain names: not, a, domain." in form.non_field_errors()
    assert form.errors["sans"] == ["Invalid: not, a, domain."]
    assert not AcmeContract.objects.exists() and vendor_request_count() == before


def test_an_ov_order_without_the_organization_is_refused(owner_client, customer, digicert_subaccount):
    response = _order(owner_client, customer, product="ssl_basic", sans="shop.example.com", renewal="on")

    assert "organization-validated: give the organization" in response.content.decode()
    assert not AcmeContract.objects.exists()


def test_an_ov_order_sends_the_organization(
    owner_client, customer, digicert_subaccount, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        _order(
            owner_client,
            customer,
            product="ssl_basic",
            sans="shop.example.com",
            renewal="off",
            organization_name="Acme Corp",
            organization_country="nl",
            not_billed_reason=NOT_BILLED_REASON,
        )

    contract = AcmeContract.objects.get()
    assert contract.organization == {"name": "Acme Corp", "country": "NL"}
    assert contract.state == "active" and contract.auto_renew is False


# --- The contract page, progress and retry -------------------------------------------------------


def test_the_contract_page_shows_term_renewal_decision_and_masked_key(owner_client, contract):
    hmac_key = contract.eab_hmac_key.reveal()

    page = owner_client.get(reverse("dashboard:acme", args=[contract.pk])).content.decode()

    assert hmac_key not in page and contract.eab_hmac_key.masked in page
    assert contract.directory_url in page and contract.eab_key_id in page
    assert "decided by: set on the order" in page
    assert "Cancel is available until" in page and "Stop renewal: the contract stays active until" in page


def test_the_progress_part_polls_while_pending_then_reloads(owner_client, contract):
    operation = operation_on(contract, kind="acme.sync")
    url = reverse("dashboard:acme-progress", args=[contract.pk])

    pending = owner_client.get(url, **HX)
    assert "Sync with DigiCert…" in pending.content.decode() and "HX-Refresh" not in pending

    Operation.objects.filter(pk=operation.pk).update(state="succeeded")
    done = owner_client.get(url, **HX)
    assert done["HX-Refresh"] == "true"
    assert owner_client.get(url)["Location"] == reverse("dashboard:acme", args=[contract.pk])


def test_a_failed_operation_shows_digicerts_error_and_a_retry_that_works(
    owner_client, contract, django_capture_on_commit_callbacks
):
    operation_on(
        contract,
        kind="acme.sync",
        state="failed",
        attempts=5,
        last_error_code="http_503",
        last_error_message="Down",
    )

    page = owner_client.get(reverse("dashboard:acme", args=[contract.pk])).content.decode()
    assert "Sync with DigiCert failed after 5 attempts." in page and "DigiCert: Down" in page
    assert reverse("dashboard:acme-retry", args=[contract.pk]) in page

    response = _post(
        owner_client, "dashboard:acme-retry", contract, capture=django_capture_on_commit_callbacks
    )

    assert "Sync with DigiCert is queued again." in response.content.decode()
    assert Operation.objects.filter(kind="acme.sync").get().state == "succeeded"


def test_retry_with_nothing_failed_is_refused_with_the_reason(owner_client, contract):
    response = _post(owner_client, "dashboard:acme-retry", contract)

    assert "Nothing to retry: no operation of this contract failed." in response.content.decode()


# --- Credentials ----------------------------------------------------------------------------


def test_reveal_shows_the_key_once_with_client_configuration(owner_client, contract):
    hmac_key = contract.eab_hmac_key.reveal()

    response = owner_client.post(reverse("dashboard:acme-reveal", args=[contract.pk]))

    page = response.content.decode()
    assert response["Cache-Control"] == "no-store"
    assert hmac_key in page and "certbot" in page and "cert-manager" in page and "Caddy" in page
    assert "This page will not show the HMAC key again." in page
    event = AuditEvent.objects.get(action="acme.credentials_revealed")
    assert event.face == "dashboard" and hmac_key not in str(event.changes)


def test_reveal_of_a_wildcard_contract_gives_dns01_configuration_and_says_why(owner_client, order):
    contract = order(sans=["initech.example", "*.initech.example"])

    page = owner_client.post(reverse("dashboard:acme-reveal", args=[contract.pk])).content.decode()

    assert "Challenge: <strong>DNS-01</strong>" in page
    assert "a wildcard name can only be validated by DNS-01" in page
    assert "--preferred-challenges dns" in page and "--dns dns_PROVIDER" in page and "dns01:" in page
    assert "&#x27;*.initech.example&#x27;" in page and "--standalone" not in page


def test_a_second_reveal_is_refused_and_the_key_stays_masked(owner_client, contract):
    hmac_key = contract.eab_hmac_key.reveal()
    owner_client.post(reverse("dashboard:acme-reveal", args=[contract.pk]))

    again = owner_client.post(reverse("dashboard:acme-reveal", args=[contract.pk]), follow=True)

    page = again.content.decode()
    assert "are never shown twice. Regenerate credentials to get a new pair." in page
    assert hmac_key not in page and contract.eab_hmac_key.masked in page and "Shown once on" in page
    assert AuditEvent.objects.filter(action="acme.credentials_revealed").count() == 1


def test_regenerating_gives_a_new_pair_that_can_be_revealed_once(
    owner_client, contract, django_capture_on_commit_callbacks
):
    old = contract.eab_hmac_key.reveal()
    owner_client.post(reverse("dashboard:acme-reveal", args=[contract.pk]))

    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(
            reverse("dashboard:acme-regenerate", args=[contract.pk]), {"revoke_existing": "true"}, follow=True
        )

    assert "New credentials requested from DigiCert" in response.content.decode()
    contract.refresh_from_db()
    new = contract.eab_hmac_key.reveal()
    assert new != old and not sandbox_hmac_is_active(contract.vendor_id, old)
    assert new in owner_client.post(reverse("dashboard:acme-reveal", args=[contract.pk])).content.decode()


def test_regenerating_can_keep_the_old_credentials_valid(
    owner_client, contract, django_capture_on_commit_callbacks
):
    old = contract.eab_hmac_key.reveal()

    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(
            reverse("dashboard:acme-regenerate", args=[contract.pk]), {"revoke_existing": "false"}
        )

    assert sandbox_hmac_is_active(contract.vendor_id, old)


# --- Cancel, stop or resume renewal -------------------------------------------------------------


def test_the_cancel_page_says_until_when_cancel_applies(owner_client, contract):
    page = owner_client.get(reverse("dashboard:acme-cancel", args=[contract.pk])).content.decode()

    assert f"Cancel is available until {contract.cancel_window_closes_at:%Y-%m-%d %H:%M:%S} UTC" in page
    assert "Cancel the subscription" in page


def test_cancel_within_30_days_cancels_at_digicert(
    owner_client, contract, django_capture_on_commit_callbacks
):
    response = _post(
        owner_client, "dashboard:acme-cancel", contract, capture=django_capture_on_commit_callbacks
    )

    contract.refresh_from_db()
    assert contract.state == ContractState.CANCELLED
    page = response.content.decode()
    assert (
        "Cancellation sent to DigiCert." in page
        and "Nothing can be changed: the subscription is cancelled" in page
    )


def test_past_day_30_the_page_offers_stop_renewal_instead_of_cancel(owner_client, contract):
    advance_vendor_clock(days=31)

    detail = owner_client.get(reverse("dashboard:acme", args=[contract.pk])).content.decode()
    cancel = owner_client.get(reverse("dashboard:acme-cancel", args=[contract.pk])).content.decode()

    assert "Cancel is available" not in detail and "Cancellation closed on" in detail
    assert reverse("dashboard:acme-stop", args=[contract.pk]) in detail
    assert "Cancellation is no longer possible: it closed on" in cancel and "Stop renewal…" in cancel


def test_cancel_after_day_30_is_refused_with_the_message_and_no_vendor_call(owner_client, contract):
    advance_vendor_clock(days=31)
    before = vendor_request_count()

    response = owner_client.post(reverse("dashboard:acme-cancel", args=[contract.pk]))

    assert response.status_code == 409
    page = response.content.decode()
    assert "Cancellation is only possible within 30 days of creation (it closed on" in page
    assert "Stop the renewal instead" in page
    contract.refresh_from_db()
    assert contract.state == ContractState.ACTIVE and vendor_request_count() == before


def test_stop_renewal_after_day_30_keeps_the_contract_until_the_end_of_its_term(
    owner_client, contract, django_capture_on_commit_callbacks
):
    advance_vendor_clock(days=31)

    page = owner_client.get(reverse("dashboard:acme-stop", args=[contract.pk])).content.decode()
    response = _post(
        owner_client, "dashboard:acme-stop", contract, capture=django_capture_on_commit_callbacks
    )

    assert f"stays active until {contract.valid_till:%Y-%m-%d}" in page
    contract.refresh_from_db()
    assert contract.state == ContractState.RENEWAL_STOPPED and contract.auto_renew is False
    assert "Resume renewal: possible until the term ends" in response.content.decode()


def test_resume_renewal_turns_it_back_on(owner_client, order, django_capture_on_commit_callbacks):
    contract = order(auto_renew=False)

    _post(owner_client, "dashboard:acme-resume", contract, capture=django_capture_on_commit_callbacks)

    contract.refresh_from_db()
    assert contract.auto_renew is True and contract.state == ContractState.ACTIVE


def test_stopping_a_renewal_already_stopped_is_refused_with_the_reason(owner_client, order):
    contract = order(auto_renew=False)

    page = owner_client.get(reverse("dashboard:acme-stop", args=[contract.pk])).content.decode()
    response = owner_client.post(reverse("dashboard:acme-stop", args=[contract.pk]))

    assert "This does not apply to the subscription today." in page
    assert "Renewal is already stopped for this contract." in response.content.decode()


# --- SANs -------------------------------------------------------------------------------------


def test_adding_and_removing_domains_goes_through_digicert(
    owner_client, contract, django_capture_on_commit_callbacks
):
    _post(
        owner_client,
        "dashboard:acme-sans-add",
        contract,
        {"sans": "api.example.com"},
        django_capture_on_commit_callbacks,
    )
    contract.refresh_from_db()
    assert "api.example.com" in contract.sans

    _post(
        owner_client,
        "dashboard:acme-sans-remove",
        contract,
        {"san": "www.example.com"},
        django_capture_on_commit_callbacks,
    )
    contract.refresh_from_db()
    assert sorted(contract.sans) == ["api.example.com", "example.com"]


def test_adding_a_domain_already_there_is_refused_with_the_reason(owner_client, contract):
    response = _post(owner_client, "dashboard:acme-sans-add", contract, {"sans": "example.com"})

    assert "Those domain names are already on the contract." in response.content.decode()


def test_removing_the_last_domain_is_refused(owner_client, order):
    contract = order(sans=["only.example.com"])

    response = _post(owner_client, "dashboard:acme-sans-remove", contract, {"san": "only.example.com"})

    assert "A contract keeps at least one domain name." in response.content.decode()


def test_changing_domains_while_an_operation_runs_is_refused(owner_client, contract):
    operation_on(contract, kind="acme.sync")

    response = _post(owner_client, "dashboard:acme-sans-add", contract, {"sans": "new.example.com"})

    assert "is still in progress" in response.content.decode()


def test_domains_of_a_cancelled_contract_cannot_change(owner_client, partner):
    contract = AcmeContractFactory(
        subaccount__customer__partner=partner, state="cancelled", sans=["a.example", "b.example"]
    )

    page = owner_client.get(reverse("dashboard:acme", args=[contract.pk])).content.decode()
    response = _post(owner_client, "dashboard:acme-sans-add", contract, {"sans": "c.example"})

    assert reverse("dashboard:acme-sans-add", args=[contract.pk]) not in page
    assert "This contract is cancelled; cancellation is irreversible." in response.content.decode()


# --- Sync and drift ---------------------------------------------------------------------------


def test_sync_then_drift_can_be_accepted_from_digicert(
    owner_client, contract, django_capture_on_commit_callbacks
):
    AcmeContract.objects.filter(pk=contract.pk).update(sans=["example.com"])

    _post(owner_client, "dashboard:acme-sync", contract, capture=django_capture_on_commit_callbacks)
    page = owner_client.get(reverse("dashboard:acme", args=[contract.pk])).content.decode()
    assert "Our record and DigiCert's disagree" in page and "Push ours" in page

    response = _post(owner_client, "dashboard:acme-drift", contract, {"field": "sans", "keep": "vendor"})

    assert "Accepted DigiCert&#x27;s sans." in response.content.decode()
    contract.refresh_from_db()
    assert contract.drift == {} and sorted(contract.sans) == ["example.com", "www.example.com"]


def test_drift_can_be_pushed_to_digicert(owner_client, contract, django_capture_on_commit_callbacks):
    AcmeContract.objects.filter(pk=contract.pk).update(sans=["example.com"])
    _post(owner_client, "dashboard:acme-sync", contract, capture=django_capture_on_commit_callbacks)

    _post(
        owner_client,
        "dashboard:acme-drift",
        contract,
        {"field": "sans", "keep": "ours"},
        django_capture_on_commit_callbacks,
    )

    contract.refresh_from_db()
    assert contract.drift == {} and contract.vendor_view["sans"] == ["example.com"]


def test_resolving_drift_that_is_not_there_is_refused_with_the_reason(owner_client, contract):
    response = _post(owner_client, "dashboard:acme-drift", contract, {"field": "sans", "keep": "vendor"})

    assert "There is no drift on sans." in response.content.decode()


# --- The subscriptions list -------------------------------------------------------------------


def test_the_list_filters_by_state_renewal_and_term_end(owner_client, partner):
    from datetime import timedelta

    from django.utils import timezone

    soon = AcmeContractFactory(
        subaccount__customer__partner=partner, active=True, valid_till=timezone.now() + timedelta(days=20)
    )
    off = AcmeContractFactory(subaccount__customer__partner=partner, active=True, auto_renew=False)
    cancelled = AcmeContractFactory(subaccount__customer__partner=partner, state="cancelled")
    url = reverse("dashboard:subscriptions")

    def ids(**params):
        return {c.pk for c, _ in owner_client.get(url, params).context["rows"]}

    assert ids() == {soon.pk, off.pk, cancelled.pk}
    assert ids(ends="30") == {soon.pk}
    assert ids(renewal="off") == {off.pk}
    assert ids(state="cancelled") == {cancelled.pk}
    assert ids(q=soon.sans[0]) == {soon.pk}
    assert ids(q=off.customer.name) == {off.pk}
