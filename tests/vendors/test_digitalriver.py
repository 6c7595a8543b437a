"""Digital River sandbox: plans, customers, payment sources and the acquisition rules (003), in its own words."""

import pytest

from tests.vendors import dr as fixtures
from tests.vendors.dr import (
    ANNUAL,
    CUSTOMER_ID,
    DR,
    checkout,
    new_source,
    one_off,
    pay,
    plan_body,
    recurring,
    sandbox_state,
    saved_source,
    session,
)
from vendors.sandbox.digitalriver.models import (
    DRCheckout,
    DRCheckoutSession,
    DRPlan,
    DRSource,
    DRSubscription,
)

api = fixtures.api  # the raw API fixture
pytestmark = pytest.mark.django_db


def _acquire(api, customer_id, items, *, endpoint="session", **fields):
    path = "/drop-in/checkout-sessions" if endpoint == "session" else "/checkouts"
    body = {"customerId": customer_id, "currency": "USD", "chargeType": "customer_initiated", "items": items}
    return api.call("POST", path, {**body, **fields})


ENDPOINTS = pytest.mark.parametrize("endpoint", ["session", "checkout"])


# --- Plans -----------------------------------------------------------------------------------------


def test_create_plan_with_our_id_and_read_it(api):
    created = api.post("/plans", plan_body(ANNUAL), status=201)

    assert created["id"] == "plan-annual" and created["state"] == "active"
    assert api.get("/plans/plan-annual") == created


def test_a_taken_plan_id_is_409_already_exists(api, annual):
    answer = api.refused("POST", "/plans", {**plan_body(ANNUAL), "name": "Another"})

    assert (answer.status, answer.code) == (409, "already_exists")
    assert DRPlan.objects.get().name == "Pro annual"


def test_an_unknown_plan_is_404(api):
    assert api.refused("GET", "/plans/plan-nope").status == 404


@pytest.mark.parametrize(
    "field",
    [
        "terms",
        "contractBindingDays",
        "interval",
        "intervalCount",
        "billingOffsetDays",
        "collectionPeriodDays",
    ],
)
def test_a_plan_needs_its_terms_and_billing_cycle(api, field):
    body = plan_body(ANNUAL)
    del body[field]

    answer = api.refused("POST", "/plans", body)

    assert (answer.status, answer.code, answer.parameter) == (400, "missing_parameter", field)
    assert not DRPlan.objects.exists()


def test_update_plan_changes_the_updatable_fields(api, annual):
    plan = api.post(
        "/plans/plan-annual", {"name": "Pro yearly", "reminderOffsetDays": 45, "state": "discontinued"}
    )

    assert (plan["name"], plan["reminderOffsetDays"], plan["state"]) == ("Pro yearly", 45, "discontinued")
    assert plan["terms"] == ANNUAL["terms"] and plan["stateTransitions"]["discontinued"]


@pytest.mark.parametrize(
    "body,code",
    [
        ({"terms": "new terms"}, "invalid_parameter"),
        ({"interval": "month"}, "invalid_parameter"),
        ({"contractBindingDays": 30}, "invalid_parameter"),
        ({"colour": "blue"}, "unknown_parameter"),
        ({"state": "paused"}, "invalid_parameter"),
    ],
)
def test_the_sandbox_refuses_to_change_what_a_plan_fixes(api, annual, body, code):
    answer = api.refused("POST", "/plans/plan-annual", body)

    assert (answer.status, answer.code) == (400, code)
    assert api.get("/plans/plan-annual") == annual


def test_a_deactivated_plan_stays_deactivated(api, annual):
    api.post("/plans/plan-annual", {"state": "deactivated"})

    assert api.refused("POST", "/plans/plan-annual", {"state": "active"}).code == "invalid_parameter"


def test_plan_list_pages_with_starting_after_and_ending_before(api):
    for number in range(5):
        api.post("/plans", {**plan_body(ANNUAL), "id": f"plan-{number}"}, status=201)

    first = api.get("/plans", {"limit": 2})
    second = api.get("/plans", {"limit": 2, "startingAfter": first["data"][-1]["id"]})
    last = api.get("/plans", {"limit": 2, "startingAfter": second["data"][-1]["id"]})
    back = api.get("/plans", {"limit": 2, "endingBefore": last["data"][0]["id"]})

    assert [p["id"] for p in first["data"]] == ["plan-4", "plan-3"] and first["hasMore"]
    assert [p["id"] for p in second["data"]] == ["plan-2", "plan-1"] and second["hasMore"]
    assert [p["id"] for p in last["data"]] == ["plan-0"] and not last["hasMore"]
    assert [p["id"] for p in back["data"]] == ["plan-2", "plan-1"]
    assert api.refused("GET", "/plans", params={"limit": 101}).status == 400


# --- Customers and sources -------------------------------------------------------------------------


def test_a_customer_is_created_once_with_our_id(api):
    api.post("/customers", {"id": CUSTOMER_ID, "email": "buyer@example.com"}, status=201)

    answer = api.refused("POST", "/customers", {"id": CUSTOMER_ID})

    assert (answer.status, answer.code) == (409, "already_exists")


def test_get_source_shows_the_card_and_the_customer_once_saved(api, customer_id):
    loose = new_source()
    saved = saved_source(customer_id, brand="MasterCard", lastFourDigits="0008")

    unsaved = api.get(f"/sources/{loose}")
    body = api.get(f"/sources/{saved}")

    assert "customerId" not in unsaved and unsaved["reusable"] is True and unsaved["state"] == "chargeable"
    assert body["customerId"] == customer_id and body["type"] == "creditCard"
    assert (body["creditCard"]["brand"], body["creditCard"]["lastFourDigits"]) == ("MasterCard", "0008")
    assert api.refused("GET", "/sources/nope").status == 404


def test_saving_a_source_to_a_customer_lists_it_and_makes_it_the_default(api, customer_id):
    first, second = new_source(), new_source()

    saved = api.post(f"/customers/{customer_id}/sources/{first}")
    api.post(f"/customers/{customer_id}/sources/{second}")

    customer = api.get(f"/customers/{customer_id}")
    assert saved["customerId"] == customer_id and saved["reusable"] is True
    assert customer["defaultSourceId"] == first
    assert {source["id"] for source in customer["sources"]} == {first, second}


def test_saving_a_non_reusable_source_is_409_nonreusable_source(api, customer_id):
    single_use = new_source(reusable=False)
    before = sandbox_state()

    answer = api.refused("POST", f"/customers/{customer_id}/sources/{single_use}")

    assert answer.status == 409 and answer.body == {
        "type": "conflict",
        "errors": [
            {"code": "nonreusable_source", "message": "Only a reusable source may be attached to a customer."}
        ],
    }
    assert DRSource.objects.get(pk=single_use).customer_id is None and sandbox_state() == before


def test_saving_a_source_of_another_customer_is_409_source_in_use(api, customer_id):
    api.post("/customers", {"id": "other-customer"}, status=201)
    theirs = saved_source("other-customer")

    answer = api.refused("POST", f"/customers/{customer_id}/sources/{theirs}")

    assert (answer.status, answer.code, answer.parameter) == (409, "source_in_use", "sourceId")
    assert DRSource.objects.get(pk=theirs).customer_id == "other-customer"
    assert "sources" not in api.get(f"/customers/{customer_id}")


def test_removing_a_source_cancels_it_for_good(api, customer_id):
    source = saved_source(customer_id)
    other = saved_source(customer_id)

    api.delete(f"/customers/{customer_id}/sources/{source}")

    customer = api.get(f"/customers/{customer_id}")
    assert [s["id"] for s in customer["sources"]] == [other] and customer["defaultSourceId"] == other
    assert api.get(f"/sources/{source}")["state"] == "cancelled"
    again = api.refused("POST", f"/customers/{customer_id}/sources/{source}")
    assert (again.status, again.code, again.parameter) == (409, "source_not_chargeable", "sourceId")
    made = checkout(api, customer_id, [one_off()])
    attach = api.refused("POST", f"/checkouts/{made['id']}/sources/{source}")
    assert (attach.status, attach.code) == (409, "source_status_invalid_for_session")


def test_the_default_source_can_be_changed_to_another_saved_source(api, customer_id):
    first, second = saved_source(customer_id), saved_source(customer_id)
    stranger = new_source()

    changed = api.post(f"/customers/{customer_id}", {"defaultSourceId": second})
    refused = api.refused("POST", f"/customers/{customer_id}", {"defaultSourceId": stranger})

    assert changed["defaultSourceId"] == second != first
    assert (refused.status, refused.code) == (400, "invalid_parameter")
    assert api.get(f"/customers/{customer_id}")["defaultSourceId"] == second


def test_attaching_a_source_to_a_checkout_makes_it_the_primary_source(api, customer_id):
    made = checkout(api, customer_id, [one_off(price=30.0)])
    first, second = saved_source(customer_id), saved_source(customer_id)

    answer = api.post(f"/checkouts/{made['id']}/sources/{first}")
    api.post(f"/checkouts/{made['id']}/sources/{second}")

    assert answer["id"] == first and answer["amount"] == 30  # the Source, as the schema answers
    assert [s["id"] for s in api.get(f"/checkouts/{made['id']}")["payment"]["sources"]] == [second]


def test_source_id_in_the_checkout_request_attaches_it(api, customer_id):
    source = saved_source(customer_id)

    made = checkout(api, customer_id, [one_off()], sourceId=source)

    assert made["payment"]["sources"][0]["id"] == source
    unknown = api.refused(
        "POST",
        "/checkouts",
        {"customerId": customer_id, "currency": "USD", "items": [one_off()], "sourceId": "nope"},
    )
    assert (unknown.status, unknown.code, unknown.parameter) == (400, "invalid_parameter", "sourceId")


def test_detaching_a_single_use_source_cancels_it(api, customer_id):
    made = checkout(api, customer_id, [one_off()])
    source = new_source(reusable=False)
    api.post(f"/checkouts/{made['id']}/sources/{source}")

    api.delete(f"/checkouts/{made['id']}/sources/{source}")

    assert "payment" not in api.get(f"/checkouts/{made['id']}")
    assert api.get(f"/sources/{source}")["state"] == "cancelled"


# --- Acquisition rules (003) -------------------------------------------------------------------------


def test_checkout_session_answers_its_id_and_pay_link(api, annual, customer_id):
    made = session(
        api, customer_id, [recurring(annual), one_off()], upstreamId="ours-1", email="b@example.com"
    )

    assert made["link"] == f"http://testserver{DR}/pay/{made['id']}/"
    stored = DRCheckoutSession.objects.get(pk=made["id"])
    assert (stored.state, stored.upstream_id, stored.customer_id) == ("open", "ours-1", customer_id)
    assert not DRSubscription.objects.exists()  # subscriptions come with payment


@ENDPOINTS
def test_missing_terms_is_400_missing_parameter(api, annual, customer_id, endpoint):
    item = recurring(annual)
    del item["subscriptionInfo"]["terms"]
    before = sandbox_state()

    answer = _acquire(api, customer_id, [item], endpoint=endpoint)

    assert (answer.status, answer.code, answer.parameter) == (400, "missing_parameter", "terms")
    assert answer.body["type"] == "bad_request" and sandbox_state() == before


@ENDPOINTS
def test_auto_renewal_false_is_400_invalid_request(api, annual, customer_id, endpoint):
    before = sandbox_state()

    answer = _acquire(api, customer_id, [recurring(annual, autoRenewal=False)], endpoint=endpoint)

    assert (answer.status, answer.code) == (400, "invalid_request")
    assert sandbox_state() == before


def test_auto_renewal_left_out_is_accepted_for_the_subscription_service(api, annual, customer_id):
    item = recurring(annual)
    del item["subscriptionInfo"]["autoRenewal"]

    assert _acquire(api, customer_id, [item]).status == 201


@ENDPOINTS
def test_two_plans_in_one_checkout_is_409_plan_limit_reached(api, annual, monthly, customer_id, endpoint):
    before = sandbox_state()

    answer = _acquire(
        api, customer_id, [recurring(annual), recurring(monthly, price=10.0)], endpoint=endpoint
    )

    assert answer.status == 409 and answer.body == {
        "type": "conflict",
        "errors": [
            {
                "code": "plan_limit_reached",
                "parameter": "planId",
                "message": "Only one unique subscription plan can be supported in a checkout",
            }
        ],
    }
    assert sandbox_state() == before


@ENDPOINTS
def test_two_given_subscription_ids_of_a_plan_in_one_checkout_is_409_plan_limit_reached(
    api, annual, customer_id, endpoint
):
    items = [recurring(annual, subscription_id="sub-a"), recurring(annual, subscription_id="sub-b")]

    answer = _acquire(api, customer_id, items, endpoint=endpoint)

    assert (answer.status, answer.code, answer.parameter) == (409, "plan_limit_reached", "planId")


def test_several_items_of_one_plan_and_one_subscription_id_are_accepted(api, annual, customer_id):
    items = [
        recurring(annual, subscription_id="sub-a"),
        recurring(annual, subscription_id="sub-a", sku="seat"),
    ]

    assert _acquire(api, customer_id, items).status == 201


@ENDPOINTS
@pytest.mark.parametrize("price,free_trial", [(0.0, False), (120.0, True), (0.0, None)])
def test_free_trial_flag_inconsistent_with_price_is_400_invalid_parameter(
    api, annual, customer_id, endpoint, price, free_trial
):
    info = {} if free_trial is None else {"freeTrial": free_trial}
    before = sandbox_state()

    answer = _acquire(api, customer_id, [recurring(annual, price=price, **info)], endpoint=endpoint)

    assert (answer.status, answer.code, answer.parameter) == (400, "invalid_parameter", "items")
    assert "Free Trial flag is not consistent" in answer.message and sandbox_state() == before


def test_a_free_trial_at_price_zero_is_accepted(api, annual, customer_id):
    assert _acquire(api, customer_id, [recurring(annual, price=0.0, freeTrial=True)]).status == 201


@ENDPOINTS
def test_customer_id_is_required(api, annual, endpoint):
    path = "/drop-in/checkout-sessions" if endpoint == "session" else "/checkouts"

    answer = api.refused("POST", path, {"currency": "USD", "items": [recurring(annual)]})

    assert (answer.status, answer.code, answer.parameter) == (400, "missing_parameter", "customerId")


def test_an_unknown_customer_is_refused(api, annual):
    answer = _acquire(api, "nobody", [recurring(annual)])

    assert (answer.status, answer.code) == (400, "invalid_parameter")


@pytest.mark.parametrize("state", ["draft", "discontinued", "deactivated"])
def test_a_checkout_on_a_plan_that_is_not_active_is_plan_not_active(api, annual, customer_id, state):
    DRPlan.objects.filter(pk=annual["id"]).update(state=state)

    answer = _acquire(api, customer_id, [recurring(annual)])

    assert (answer.status, answer.code) == (409, "plan_not_active")


def test_an_unknown_plan_or_other_terms_are_refused(api, annual, customer_id):
    unknown = recurring(annual)
    unknown["subscriptionInfo"]["planId"] = "plan-nope"
    other_terms = recurring(annual)
    other_terms["subscriptionInfo"]["terms"] = "Something else."

    assert _acquire(api, customer_id, [unknown]).parameter == "planId"
    assert _acquire(api, customer_id, [other_terms]).parameter == "terms"


def test_the_charge_type_must_be_one_of_the_enum(api, customer_id):
    body = {"customerId": customer_id, "currency": "USD", "chargeType": "recurring", "items": [one_off()]}

    answer = api.refused("POST", "/checkouts", body)

    assert (answer.status, answer.code, answer.parameter) == (400, "invalid_parameter", "chargeType")


def test_unknown_parameters_are_refused(api, customer_id):
    body = {"customerId": customer_id, "currency": "USD", "items": [one_off()], "colour": "blue"}

    assert api.refused("POST", "/checkouts", body).code == "unknown_parameter"


def test_subscription_and_one_off_items_mix_in_one_checkout(api, annual, customer_id):
    made = checkout(api, customer_id, [recurring(annual), one_off()], upstreamId="u-1")

    assert made["totalAmount"] == 170 and made["chargeType"] == "customer_initiated"
    assert [item["skuId"] for item in made["items"]] == ["sku-pro", "sku-setup"]
    assert made["items"][0]["subscriptionInfo"]["terms"] == annual["terms"]
    assert "subscriptionInfo" not in made["items"][1] and all(item["id"] for item in made["items"])


def test_find_checkouts_by_upstream_id(api, customer_id):
    first = checkout(api, customer_id, [one_off()], upstreamId="ours-1")
    checkout(api, customer_id, [one_off()], upstreamId="ours-2")

    assert [c["id"] for c in api.get("/checkouts", {"upstreamIds": "ours-1"})["data"]] == [first["id"]]
    assert api.get("/checkouts", {"upstreamIds": "ours-3"})["data"] == []


def test_a_given_subscription_id_that_exists_is_409_already_exists(api, annual, customer_id):
    pay(session(api, customer_id, [recurring(annual, subscription_id="sub-taken")])["id"])

    answer = _acquire(api, customer_id, [recurring(annual, subscription_id="sub-taken")])

    assert (answer.status, answer.code) == (409, "already_exists")


def test_a_checkout_can_be_deleted_until_it_is_an_order(api, customer_id):
    made = checkout(api, customer_id, [one_off()])

    api.delete(f"/checkouts/{made['id']}")

    assert not DRCheckout.objects.exists()
