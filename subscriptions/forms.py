"""Dashboard forms for ACME subscriptions and Cloudflare plans; the services decide, the forms only parse."""

from __future__ import annotations

import json

from django import forms

from subscriptions import not_billed
from subscriptions.models import AcmeProduct, Frequency

# EV orders need verified contacts, which the ordering service does not take yet: offered by support.
DASHBOARD_PRODUCTS = [
    (AcmeProduct.DV_RAPIDSSL, AcmeProduct.DV_RAPIDSSL.label),
    (AcmeProduct.OV_BASIC, AcmeProduct.OV_BASIC.label),
]
PRODUCT_HELP = {
    AcmeProduct.DV_RAPIDSSL: "Domain validated: issued as soon as the ACME client proves control of the domain.",
    AcmeProduct.OV_BASIC: "Organization validated: DigiCert checks the organization named below first.",
}
RENEWAL_CHOICES = [
    ("on", "Renew automatically at the end of each term"),
    ("off", "Do not renew: the subscription ends with its term"),
    ("account", "Leave it to the DigiCert account setting"),
]


def not_billed_reason_field() -> forms.CharField:
    """The "Not billed because" field, asked where a paid vendor change is made directly. The
    service says when it is needed and refuses without it (subscriptions.not_billed); the form only
    carries it, shown as required (`shown_required`) where it applies."""
    field = forms.CharField(
        label=not_billed.LABEL,
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "Free for the partner's own use"}),
        help_text=not_billed.HELP_TEXT,
    )
    field.shown_required = True
    return field


def reason_of(form: forms.Form) -> dict:
    """The not-billed reason as the service's argument, when the form asks for one."""
    if not_billed.FIELD not in form.fields:
        return {}
    return {not_billed.FIELD: form.cleaned_data.get(not_billed.FIELD) or ""}


class OrderForm(forms.Form):
    product = forms.ChoiceField(
        choices=DASHBOARD_PRODUCTS, widget=forms.RadioSelect, initial=AcmeProduct.DV_RAPIDSSL
    )
    sans = forms.CharField(
        label="Domain names",
        widget=forms.Textarea(
            attrs={"rows": 4, "placeholder": "example.com\nwww.example.com", "spellcheck": "false"}
        ),
        help_text="One per line (or separated by commas). A wildcard only as the first label: *.example.com.",
    )
    renewal = forms.ChoiceField(
        choices=RENEWAL_CHOICES, widget=forms.RadioSelect, initial="on", label="Renewal"
    )
    organization_name = forms.CharField(
        max_length=200, required=False, label="Organization name", help_text="As registered (OV only)."
    )
    organization_city = forms.CharField(max_length=100, required=False, label="City")
    organization_country = forms.CharField(
        max_length=2, required=False, label="Country (ISO code)", widget=forms.TextInput(attrs={"size": 2})
    )
    not_billed_reason = not_billed_reason_field()

    def __init__(self, *args, account_setting: bool | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        resolved = {None: "not set, so renewal is off", True: "on", False: "off"}[account_setting]
        self.fields["renewal"].choices = [
            *RENEWAL_CHOICES[:2],
            ("account", f"Leave it to the DigiCert account setting (currently {resolved})"),
        ]

    def auto_renew(self) -> bool | None:
        return {"on": True, "off": False}.get(self.cleaned_data["renewal"])

    def organization(self) -> dict | None:
        data = self.cleaned_data
        if not data.get("organization_name"):
            return None
        organization = {"name": data["organization_name"].strip()}
        if data.get("organization_city"):
            organization["city"] = data["organization_city"].strip()
        if data.get("organization_country"):
            organization["country"] = data["organization_country"].strip().upper()
        return organization


class SansForm(forms.Form):
    sans = forms.CharField(
        label="Domain names to add",
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "api.example.com", "spellcheck": "false"}),
        help_text="One per line or separated by commas.",
    )


class RegenerateForm(forms.Form):
    revoke_existing = forms.TypedChoiceField(
        choices=[
            ("true", "Revoke the current credentials now (clients using them stop working)"),
            ("false", "Keep the current credentials valid too, for a switch without downtime"),
        ],
        coerce=lambda v: v == "true",
        widget=forms.RadioSelect,
        initial="true",
        label="The current credentials",
    )


# --- Cloudflare -------------------------------------------------------------------------------


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
