"""Cloudflare zone and plan-change forms; the services decide, the forms only parse."""

from __future__ import annotations

import json

from django import forms

from subscriptions import not_billed
from subscriptions.cloudflare.models import Frequency
from subscriptions.forms import not_billed_reason_field


class ZoneForm(forms.Form):
    name = forms.CharField(
        label="Zone",
        max_length=253,
        help_text="The customer's domain, e.g. example.com. It starts on the free plan.",
        widget=forms.TextInput(
            attrs={"placeholder": "example.com", "spellcheck": "false", "autocomplete": "off"}
        ),
    )


def _money(value) -> str:
    return f"{value:,.2f}"


class PlanChangeForm(forms.Form):
    """A plan (unless the change keeps the plan), a frequency and component units, for a price preview.

    Component fields are one per component of the offered plans; the service says which ones a plan
    may be sold with. `previewed` carries the values the shown price was computed for, so a Confirm
    after an edit shows the new price first instead of sending something else.
    """

    rate_plan_id = forms.ChoiceField(label="Plan", widget=forms.RadioSelect)
    frequency = forms.ChoiceField(label="Billed", required=False)
    previewed = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(
        self,
        *args,
        plans,
        fixed_plan=None,
        keep_label="Keep the current frequency",
        asks_reason=False,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.plans = list(plans)
        if fixed_plan:
            del self.fields["rate_plan_id"]
        else:
            self.fields["rate_plan_id"].choices = [
                (
                    p.rate_plan_id,
                    f"{p.name} ({p.rate_plan_id}) — {_money(p.monthly_price)} {p.currency} a month",
                )
                for p in self.plans
            ]
        self.fields["frequency"].choices = [("", keep_label), *Frequency.choices]
        self.component_names = list(dict.fromkeys(c.name for p in self.plans for c in p.components))
        for name in self.component_names:
            terms = [(p, p.component(name)) for p in self.plans if p.component(name)]
            self.fields[f"component_{name}"] = forms.IntegerField(
                label=name.replace("_", " ").capitalize(),
                min_value=0,
                max_value=max(c.maximum for _, c in terms),  # each plan's own limit: the service
                required=False,
                help_text="Leave empty for the plan's default. "
                + "; ".join(
                    f"{p.rate_plan_id}: {c.default} included, up to {c.maximum}, {_money(c.unit_price)} {p.currency} "
                    "a month per extra unit"
                    for p, c in terms
                )
                + ".",
            )
        self.order_fields(["rate_plan_id", "frequency", *(f"component_{n}" for n in self.component_names)])
        if asks_reason:  # shown with the price preview when the change costs more and nothing bills it
            self.fields[not_billed.FIELD] = not_billed_reason_field()

    def component_fields(self):
        return [self[f"component_{name}"] for name in self.component_names]

    def values(self) -> dict:
        """The service arguments: a value left empty is left out."""
        data = self.cleaned_data
        components = {
            name: data[f"component_{name}"]
            for name in self.component_names
            if data.get(f"component_{name}") is not None
        }
        values = {"frequency": data.get("frequency") or None, "component_values": components or None}
        if "rate_plan_id" in self.fields:
            values["rate_plan_id"] = data["rate_plan_id"]
        return values

    def signature(self) -> str:
        return json.dumps(self.values(), sort_keys=True)

    def confirmed_as_previewed(self) -> bool:
        return self.cleaned_data.get("previewed") == self.signature()

    def mark_previewed(self) -> None:
        """The values just priced: Confirm on this form, unedited, sends exactly them."""
        self.data = self.data.copy()
        self.data["previewed"] = self.signature()
