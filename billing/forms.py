"""Dashboard forms for billing; the services decide (Digital River's rules), the forms only parse."""

from __future__ import annotations

from django import forms

from billing.models import Product, Provisions
from billing.services.acquisition import OrderLine


def _product_label(product: Product) -> str:
    if product.plan_id:
        return f"{product.name} · {product.price} {product.currency} every {product.plan.interval_count} {product.plan.interval}"
    return f"{product.name} · {product.price} {product.currency} once"


def _grouped(products: list[Product], *, blank: str | None = None) -> list:
    subscriptions = [(str(p.pk), _product_label(p)) for p in products if p.plan_id]
    one_off = [(str(p.pk), _product_label(p)) for p in products if not p.plan_id]
    choices: list = [("", blank)] if blank else []
    if subscriptions:
        choices.append(("Subscriptions", subscriptions))
    if one_off:
        choices.append(("One-off items", one_off))
    return choices


class CheckoutForm(forms.Form):
    """One product (and quantity), an optional extra item, and what to provision with them."""

    product = forms.ChoiceField(label="Product")
    quantity = forms.IntegerField(label="Quantity", min_value=1, max_value=1000, initial=1)
    extra = forms.ChoiceField(
        label="Also add",
        required=False,
        help_text="A one-off item such as a setup fee. Digital River takes one subscription plan per checkout.",
    )
    extra_quantity = forms.IntegerField(
        label="Quantity of the extra item", min_value=1, max_value=1000, initial=1, required=False
    )
    sans = forms.CharField(
        label="Domain names (ACME products)",
        required=False,
        widget=forms.Textarea(
            attrs={"rows": 3, "placeholder": "example.com\nwww.example.com", "spellcheck": "false"}
        ),
        help_text="What the ACME subscription will cover once paid: one per line or separated by commas.",
    )
    zone = forms.ChoiceField(
        label="Zone (Cloudflare zone plans)",
        required=False,
        help_text="The customer's zone whose plan is upgraded once paid.",
    )

    def __init__(self, *args, products: list[Product], zones: list, **kwargs):
        super().__init__(*args, **kwargs)
        self.products = {str(p.pk): p for p in products}
        self.fields["product"].choices = _grouped(products, blank="Choose a product")
        self.fields["extra"].choices = _grouped(products, blank="Nothing else")
        self.fields["zone"].choices = [("", "No zone"), *((str(z.pk), z.name) for z in zones)]

    def _options(self, product: Product) -> dict:
        data = self.cleaned_data
        if product.provisions == Provisions.ACME_CONTRACT:
            return {"sans": data.get("sans") or ""}
        if product.provisions == Provisions.ZONE_PLAN:
            return {"zone": data.get("zone") or None}
        return {}

    def lines(self) -> list[OrderLine]:
        data = self.cleaned_data
        product = self.products[data["product"]]
        lines = [OrderLine(product, data["quantity"], self._options(product))]
        if data.get("extra"):
            extra = self.products[data["extra"]]
            lines.append(OrderLine(extra, data.get("extra_quantity") or 1, self._options(extra)))
        return lines


# Where the service's field names (items[i].options.sans...) land in the form.
FIELD_SUFFIXES = {".options.sans": "sans", ".options.zone": "zone"}


def form_field_for(name: str, index_fields: tuple[str, str] = ("quantity", "extra_quantity")) -> str | None:
    for suffix, field in FIELD_SUFFIXES.items():
        if name.endswith(suffix):
            return field
    if name.endswith(".quantity"):
        return index_fields[0] if name.startswith("items[0]") else index_fields[1]
    if name.endswith(".product"):
        return "product" if name.startswith("items[0]") else "extra"
    return None
