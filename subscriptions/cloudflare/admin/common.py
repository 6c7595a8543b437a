"""What the Cloudflare admin pages share: the confirmation page's columns and rows, the forms' answers, the plans offered."""

from __future__ import annotations

from collections.abc import Callable

from django import forms

from core.admin_confirm import ConfirmRow
from core.errors import DomainError
from partner.models import Customer, Subaccount, SubaccountState, Vendor
from subscriptions.cloudflare import services as cloudflare
from subscriptions.cloudflare.forms import PlanChangeForm
from subscriptions.cloudflare.models import PlanScope
from subscriptions.cloudflare.rules import Catalog, PlannedChange, PlanTerms, Price

PRICE_COLUMNS = ["Now", "After", "Difference"]
NEEDS_REASON = "Nothing bills this: give the reason it is not billed above."
CHANGED_SINCE_PREVIEW = "The values changed since the preview: check the new price, then confirm."
ONE_PARTNER = (
    "Select rows of one partner at a time: the plans offered are that partner's catalog. Nothing was done."
)
MANAGE_PERMISSION = "subscriptions.manage_cloudflare"


def cloudflare_customers():
    """Customers that can take a zone or an add-on: those with an active Cloudflare account."""
    accounts = Subaccount.objects.filter(vendor=Vendor.CLOUDFLARE, state=SubaccountState.ACTIVE)
    return Customer.objects.filter(pk__in=accounts.values("customer")).select_related("partner")


class CustomerForm(forms.Form):
    customer = forms.ModelChoiceField(
        queryset=cloudflare_customers(),
        help_text="Customers with an active Cloudflare account; their partner's catalog is offered next.",
    )


def form_values(form: forms.Form) -> dict:
    """The form's answers as service arguments (the not-billed reason apart: see reason_of)."""
    if isinstance(form, PlanChangeForm):
        return form.values()
    return dict(form.cleaned_data)


def as_previewed(form: forms.Form | None) -> bool:
    """Confirm sends what the preview priced: a plan form carries the previewed values to compare."""
    return not isinstance(form, PlanChangeForm) or form.confirmed_as_previewed()


# --- Rows of the confirmation page --------------------------------------------------------------


def _difference(planned: PlannedChange) -> str:
    difference = planned.monthly_difference
    priced = planned.new or planned.current
    return f"{difference:+} {priced.currency} a month" if difference is not None and priced else ""


def _what(planned: PlannedChange) -> str:
    components = ", ".join(f"{n} {v}" for n, v in sorted((planned.component_values or {}).items()))
    plan = " ".join(filter(None, [planned.rate_plan_id, planned.frequency, components]))
    notes = [planned.takes_effect, NEEDS_REASON if planned.needs_not_billed_reason else ""]
    return " ".join(filter(None, [f"{planned.action.capitalize()}: {plan}.", *notes]))


def priced_row(obj, planned: PlannedChange) -> ConfirmRow:
    """A priced change's row: the price per period now and after, the monthly difference, what is sent."""
    return ConfirmRow(
        obj, change=_what(planned), cells=(planned.current, planned.new, _difference(planned)), data=planned
    )


def preview_row(preview: Callable, actor, obj, shown=None, **values) -> ConfirmRow:
    """The row `preview` works out, or the service's refusal with its code."""
    try:
        return preview(actor, obj, **values)
    except DomainError as error:
        return ConfirmRow.refused(shown or obj, error, columns=len(PRICE_COLUMNS))


def sync_row(actor, record, **values) -> ConfirmRow:
    when = f"last synced {record.synced_at:%Y-%m-%d %H:%M:%S} UTC" if record.synced_at else "never synced"
    return ConfirmRow(
        record,
        change=f"Cloudflare's view replaces ours where they differ ({when}).",
        cells=(cloudflare.current_of(record).vendor_price, "", ""),
    )


def retry_row(actor, record, **values) -> ConfirmRow:
    failed = cloudflare.failed_operation_of(actor, record)
    preview = failed.params.get("preview") or {}
    return ConfirmRow(
        record,
        change=f"{failed.label} again; it failed with {failed.last_error}",
        cells=(Price.from_dict(preview.get("current")), Price.from_dict(preview.get("new")), ""),
    )


# --- Plans offered ------------------------------------------------------------------------------


def zone_plans(action: str) -> Callable[[Catalog, list], list[PlanTerms]]:
    """The partner's sellable zone plans that are an `action` for at least one selected zone, by the
    dashboard's rule: another plan, costing no less (upgrade) or less (downgrade) than the zone's."""

    def fits(plan: PlanTerms, zone, current: PlanTerms | None) -> bool:
        if plan.rate_plan_id == zone.rate_plan_id:
            return False
        if current is None:
            return True
        cheaper = plan.monthly_price < current.monthly_price
        return cheaper if action == "downgrade" else not cheaper

    def plans(catalog: Catalog, zones: list) -> list[PlanTerms]:
        return [
            plan
            for plan in catalog.sellable(PlanScope.ZONE)
            if any(fits(plan, zone, catalog.plans.get(zone.rate_plan_id)) for zone in zones)
        ]

    return plans


def current_plans(catalog: Catalog, records: list) -> list[PlanTerms]:
    """The selected rows' own plans: a change keeps the plan, its components are asked for."""
    plans = {r.rate_plan_id: catalog.plans.get(r.rate_plan_id) for r in records}
    return [plan for plan in plans.values() if plan is not None]
