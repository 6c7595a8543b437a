"""Dashboard forms for customers, subaccounts, members, API tokens and the organization profile.

Forms only parse input; every rule is the service's (its refusals come back as form errors).
"""

from __future__ import annotations

import logging

from axes.helpers import get_client_ip_address
from django import forms
from django.conf import settings
from django.contrib.auth.forms import PasswordResetForm
from django.core.cache import cache

from partner import billing_model
from partner.access import ROLE_CAPABILITIES, Can
from partner.models import Customer, Partner, Role, Vendor
from partner.services import CUSTOMER_FIELDS, LOCKED_ONCE_SUBACCOUNTS_EXIST, PARTNER_PROFILE_FIELDS

logger = logging.getLogger(__name__)

CAPABILITY_LABELS = {
    Can.VIEW: "see customers and subscriptions",
    Can.MANAGE_PARTNER: "edit the organization",
    Can.MANAGE_MEMBERS: "manage the team",
    Can.MANAGE_CUSTOMERS: "add and edit customers",
    Can.MANAGE_SUBACCOUNTS: "create subaccounts",
    Can.RETRY_SUBACCOUNTS: "retry failed subaccounts",
    Can.MANAGE_SERVICES: "order and change ACME subscriptions",
    Can.MANAGE_CLOUDFLARE: "manage Cloudflare zones and add-ons",
    Can.REVEAL_SECRETS: "reveal ACME credentials",
    Can.MANAGE_BILLING: "manage billing",
}


def role_description(role: str) -> str:
    capabilities = ROLE_CAPABILITIES.get(role, frozenset())
    if capabilities == frozenset(Can):
        return "Everything, including the team."
    allowed = [
        CAPABILITY_LABELS.get(cap, cap.name.lower().replace("_", " ")) for cap in Can if cap in capabilities
    ]
    return allowed[0].capitalize() + ("; " + "; ".join(allowed[1:]) if len(allowed) > 1 else "") + "."


ROLE_CHOICES = [(value, label) for value, label in Role.choices]


class CustomerForm(forms.ModelForm):
    class Meta:
        model = Customer
        fields = CUSTOMER_FIELDS
        widgets = {
            "notes": forms.Textarea(attrs={"rows": 3}),
            "country": forms.TextInput(attrs={"size": 2, "maxlength": 2, "placeholder": "NL"}),
            "contact_email": forms.EmailInput(attrs={"autocomplete": "off"}),
        }
        labels = {
            "reference": "Reference",
            "contact_email": "Contact e-mail",
            "country": "Country (ISO code)",
        }
        help_texts = {
            "reference": "Short id such as “globex”: lower-case letters, digits and hyphens. Used in subaccount "
            "names, so it is fixed once a subaccount exists.",
        }

    def _post_clean(self):
        """Model validation runs in the service, which reports it field by field."""

    def cleaned_values(self) -> dict:
        data = dict(self.cleaned_data)
        data["country"] = (data.get("country") or "").upper()
        return data


class SubaccountForm(forms.Form):
    vendor = forms.ChoiceField(choices=Vendor.choices, widget=forms.RadioSelect)
    name = forms.CharField(
        max_length=100,
        required=False,
        help_text="Leave empty to use your naming convention.",
    )

    def __init__(self, *args, vendors: list[str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if vendors is not None:
            self.fields["vendor"].choices = [(v, label) for v, label in Vendor.choices if v in vendors]
            if len(vendors) == 1:
                self.fields["vendor"].initial = vendors[0]


ACCESS_CHOICES = [("all", "Every customer"), ("some", "Only the customers ticked below")]


class MemberForm(forms.Form):
    """Role and customer limits. `cleaned_data["customers"]` is None for "every customer", else the
    customers ticked (possibly none: a limited member with no customers sees none)."""

    role = forms.ChoiceField(choices=ROLE_CHOICES, widget=forms.RadioSelect)
    access = forms.ChoiceField(
        choices=ACCESS_CHOICES,
        required=False,
        widget=forms.RadioSelect,
        label="Customers",
        help_text="Left out: every customer if none is ticked, else only those ticked.",
    )
    customers = forms.ModelMultipleChoiceField(
        queryset=Customer.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Limit to these customers",
        help_text="With “only the customers ticked”: ticking none gives access to no customer.",
    )

    def __init__(self, *args, partner: Partner, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["customers"].queryset = Customer.objects.filter(partner=partner).order_by("name")
        self.fields["role"].choices = [
            (value, f"{label} — {role_description(value)}") for value, label in ROLE_CHOICES
        ]
        if "access" not in self.initial:
            limited = self.initial.get("limited_to_customers")
            if limited is None:
                limited = bool(self.initial.get("customers"))
            self.initial["access"] = "some" if limited else "all"

    def clean(self):
        data = super().clean()
        ticked = list(data.get("customers") or ())
        access = data.get("access") or ("some" if ticked else "all")
        if access == "all" and ticked:
            self.add_error("customers", "Untick these, or choose “Only the customers ticked below”.")
        data["access"] = access
        data["customers"] = None if access == "all" else ticked
        return data


class InviteForm(MemberForm):
    email = forms.EmailField(label="E-mail", widget=forms.EmailInput(attrs={"autocomplete": "off"}))
    first_name = forms.CharField(max_length=150, required=False)
    last_name = forms.CharField(max_length=150, required=False)
    field_order = ["email", "first_name", "last_name", "role", "access", "customers"]


EXPIRY_CHOICES = [("", "Never"), ("30", "In 30 days"), ("90", "In 90 days"), ("365", "In a year")]


class TokenForm(forms.Form):
    name = forms.CharField(
        max_length=100, help_text="What the token is for, e.g. “billing sync script”.", label="Name"
    )
    expires_in = forms.ChoiceField(choices=EXPIRY_CHOICES, required=False, label="Expires")


class PartnerProfileForm(forms.ModelForm):
    auto_renew_default = forms.NullBooleanField(
        required=False,
        label="Account-level auto-renew default",
        widget=forms.NullBooleanSelect,
        help_text=billing_model.AUTO_RENEW_DEFAULT_HELP,
    )

    class Meta:
        model = Partner
        fields = PARTNER_PROFILE_FIELDS
        widgets = {"country": forms.TextInput(attrs={"size": 2, "maxlength": 2})}

    def __init__(self, *args, locked: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["auto_renew_default"].widget.choices = [
            ("unknown", "Not set (DigiCert's default: off)"),
            ("true", "On"),
            ("false", "Off"),
        ]
        self.fields["billing_model"].help_text = billing_model.HELP_TEXT
        if locked:
            for name in LOCKED_ONCE_SUBACCOUNTS_EXIST:
                self.fields[name].disabled = True
                self.fields[name].help_text = "Fixed: subaccounts were created under it."

    def _post_clean(self):
        """Model validation runs in the service, which reports it field by field."""

    def changes(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.changed_data if name in PARTNER_PROFILE_FIELDS}


class VendorCredentialsForm(forms.Form):
    digicert_api_key = forms.CharField(
        required=False,
        label="DigiCert Partner Subscriptions API key",
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}),
        help_text="Leave empty to keep the current key.",
    )
    cloudflare_api_token = forms.CharField(
        required=False,
        label="Cloudflare tenant API token",
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}),
        help_text="Leave empty to keep the current token.",
    )

    def clean(self):
        data = super().clean()
        if not (data.get("digicert_api_key") or data.get("cloudflare_api_token")):
            raise forms.ValidationError("Enter at least one key to replace.")
        return data


# --- Password reset -------------------------------------------------------------------------------


def _within_limit(key: str, limit: int) -> bool:
    """Count one more use of `key` in the current window (the default cache); False past `limit`."""
    window = settings.PASSWORD_RESET_LIMIT_WINDOW_SECONDS
    cache.add(key, 0, timeout=window)
    try:
        count = cache.incr(key)
    except ValueError:  # the window ended between add and incr
        cache.set(key, 1, timeout=window)
        count = 1
    return count <= limit


class LimitedPasswordResetForm(PasswordResetForm):
    """Django's reset form, sending at most PASSWORD_RESET_LIMIT_PER_ADDRESS e-mails per client
    address and PASSWORD_RESET_LIMIT_PER_USER per account in each window. Past a limit nothing is
    sent and the page is the usual "if an account uses that address" one: it tells nobody whether
    the account exists or was limited."""

    _address_allowed = True

    def save(self, *args, request=None, **kwargs):
        if request is not None:
            address = get_client_ip_address(request) or "unknown"
            self._address_allowed = _within_limit(
                f"password-reset:address:{address}", settings.PASSWORD_RESET_LIMIT_PER_ADDRESS
            )
            if not self._address_allowed:
                logger.warning("Password reset e-mails limited for address %s", address)
        return super().save(*args, request=request, **kwargs)

    def get_users(self, email):
        if not self._address_allowed:
            return
        for user in super().get_users(email):
            if _within_limit(f"password-reset:user:{user.pk}", settings.PASSWORD_RESET_LIMIT_PER_USER):
                yield user
            else:
                logger.warning("Password reset e-mails limited for user %s", user.pk)
