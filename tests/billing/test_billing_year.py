"""A full year of a monthly and an annual subscription on the sandbox clock, one day at a time:
every reminder, renewal order and notice exactly when the rules say."""

from collections import defaultdict
from datetime import timedelta

import pytest
from dateutil.relativedelta import relativedelta

from billing.models import BillingSubscription, Notice, Renewal, RenewalState
from billing.services.acquisition import OrderLine
from billing.tasks import run_renewals_task, send_reminders_task
from core import clock
from tests.sandbox_helpers import advance_vendor_clock

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def test_a_year_of_a_monthly_and_an_annual_subscription(
    checkout, pay, acme_product, support_product, digicert_subaccount, run_tasks
):
    pay(checkout(OrderLine(acme_product, options={"sans": ["year.example.com"]})))
    pay(checkout(OrderLine(support_product)))
    annual = BillingSubscription.objects.get(product=acme_product)
    monthly = BillingSubscription.objects.get(product=support_product)
    start = clock.now()
    annual_renewal = annual.current_period_end_date.date()
    seen = defaultdict(list)  # date -> what happened that day
    for _ in range(366):
        advance_vendor_clock(days=1)
        today = clock.now().date()
        before = (
            set(Notice.objects.values_list("pk", flat=True)),
            set(Renewal.objects.values_list("pk", flat=True)),
        )
        run_tasks(send_reminders_task)
        run_tasks(run_renewals_task)
        for notice in Notice.objects.exclude(pk__in=before[0]).select_related("subscription"):
            seen[today].append((notice.subscription_id, notice.kind))
        for renewal in Renewal.objects.exclude(pk__in=before[1]):
            seen[today].append((renewal.subscription_id, "renewal_ordered"))

    def days_of(subscription, what):
        return sorted(day for day, events in seen.items() if (subscription.pk, what) in events)

    monthly_days = [(start + relativedelta(months=m)).date() for m in range(1, 13)]
    assert days_of(monthly, "renewal_ordered") == monthly_days
    assert days_of(monthly, "renewed") == monthly_days  # the notice the same day the capture completes
    assert not [k for d in seen.values() for s, k in d if s == monthly.pk and k.startswith("reminder")]
    assert days_of(annual, "reminder_30") == [annual_renewal - timedelta(days=30)]
    assert days_of(annual, "reminder_7") == [annual_renewal - timedelta(days=7)]
    assert days_of(annual, "reminder_1") == [annual_renewal - timedelta(days=1)]
    assert days_of(annual, "renewal_ordered") == [annual_renewal]
    assert days_of(annual, "renewed") == [annual_renewal]
    assert set(Renewal.objects.values_list("state", flat=True)) == {RenewalState.CAPTURED}
    annual.refresh_from_db()
    assert annual.current_period_end_date.date() == (start + relativedelta(years=2)).date()
    agreements = set(BillingSubscription.objects.values_list("billing_agreement_id", flat=True))
    renewal_agreements = set(Renewal.objects.values_list("checkout__billing_agreement_id", flat=True))
    assert renewal_agreements <= agreements  # every renewal charged on the agreement it was sold with
