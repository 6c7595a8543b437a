"""ACME ordering, SAN and credential forms; the services decide, the forms only parse."""

from __future__ import annotations

from django import forms

from subscriptions.acme.models import AcmeProduct
from subscriptions.forms import not_billed_reason_field

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
