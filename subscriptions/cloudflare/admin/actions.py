"""The Cloudflare admin's confirmed actions and add page: preview the price, call the service only on Confirm."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.contrib import admin, messages

from core.admin_confirm import ConfirmRow, confirm_page, confirmed, run_rows
from core.admin_tools import admin_actor
from subscriptions.cloudflare.admin.common import (
    CHANGED_SINCE_PREVIEW,
    ONE_PARTNER,
    PRICE_COLUMNS,
    as_previewed,
    form_values,
    preview_row,
)
from subscriptions.cloudflare.forms import PlanChangeForm
from subscriptions.cloudflare.selectors import catalog_of
from subscriptions.forms import reason_of

# --- Actions ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConfirmedAction:
    """An admin action on core's confirmation page: the plan form when `plans` is given (one partner's
    catalog), each row's price, and the service only on Confirm of the previewed values.

    `when` says whether the action applies to one object (its change page offers it as a button);
    `run_on` turns the selected rows into what the service runs on (default: the rows themselves).
    """

    name: str
    label: str
    title: str
    intro: str
    preview: Callable  # (actor, obj, **values) -> ConfirmRow
    run: Callable
    done: str
    confirm: str = "Confirm"
    plans: Callable | None = None  # (catalog, records) -> the plans offered; None: nothing asked
    fixed_plan: bool = False
    keep_label: str = "Keep the current frequency"
    asks_reason: bool = False
    default_plan: str = ""
    when: Callable = lambda obj, failed: True
    run_on: Callable | None = None

    def form(self, records: list, data=None) -> PlanChangeForm:
        """The dashboard's plan form over the partner's catalog; one row's own components prefilled."""
        if self.fixed_plan and len(records) == 1:
            initial = {f"component_{n}": units for n, units in records[0].component_values.items()}
        else:
            initial = {"rate_plan_id": self.default_plan} if self.default_plan else {}
        return PlanChangeForm(
            data,
            plans=self.plans(catalog_of(records[0].partner), records),
            fixed_plan=self.fixed_plan,
            keep_label=self.keep_label,
            asks_reason=self.asks_reason,
            initial=initial,
        )

    def __call__(self, modeladmin, request, queryset):
        records = list(queryset)
        form = None
        if self.plans is not None:
            if len({record.partner_id for record in records}) > 1:
                modeladmin.message_user(request, ONE_PARTNER, messages.ERROR)
                return None
            asked = "_preview" in request.POST or "_confirm" in request.POST
            form = self.form(records, request.POST if asked else None)
        rows = []
        if form is None or (form.is_bound and form.is_valid()):
            values = form_values(form) if form is not None else {}
            if confirmed(request, form) and as_previewed(form):
                reason = reason_of(form) if form is not None else {}
                targets = self.run_on(queryset) if self.run_on else records
                run_rows(
                    modeladmin,
                    request,
                    [ConfirmRow(target) for target in targets],
                    lambda actor, obj: self.run(actor, obj, **values, **reason),
                    done=self.done,
                )
                return None  # back to the list, with a message per row
            if "_confirm" in request.POST:
                modeladmin.message_user(request, CHANGED_SINCE_PREVIEW, messages.WARNING)
            actor = admin_actor(request)
            rows = [preview_row(self.preview, actor, obj, **values) for obj in records]
            if form is not None:
                form.mark_previewed()
        return confirm_page(
            modeladmin,
            request,
            title=self.title,
            intro=self.intro,
            rows=rows,
            columns=PRICE_COLUMNS,
            confirm=self.confirm,
            form=form,
            preview="Preview price" if form is not None else "",
        )

    def as_admin_action(self):
        """The function Django's admin lists among its actions, behind the manage permission."""

        def action(modeladmin, request, queryset):
            return self(modeladmin, request, queryset)

        action.__name__ = self.name
        return admin.action(description=self.label, permissions=["manage_cloudflare"])(action)


@dataclass(frozen=True)
class AddPage:
    """The add page: a customer that can take it first, then `form(customer, data)`, its preview row
    `preview(actor, customer, **values)`, and `run` only on Confirm of the previewed values."""

    title: str
    intro: str
    form: Callable
    preview: Callable
    run: Callable
    done: str  # formatted with the created object
    confirm: str
    preview_label: str = "Preview price"
