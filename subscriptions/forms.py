"""Form pieces shared by the ACME and Cloudflare faces: the "not billed because" field."""

from __future__ import annotations

from django import forms

from subscriptions import not_billed


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
