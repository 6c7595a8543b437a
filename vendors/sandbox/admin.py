"""The sandbox in the admin ("Sandbox vendors"): vendor keys, the request log, faults and the
clock here; what each emulated vendor holds in its folder's admin.py (imported below)."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError

from vendors.sandbox.clock import advance_clock, reset_clock
from vendors.sandbox.cloudflare import admin as cloudflare_admin  # noqa: F401 - registers its pages
from vendors.sandbox.cloudflare.catalog import PLANS
from vendors.sandbox.digicert import admin as digicert_admin  # noqa: F401 - registers its pages
from vendors.sandbox.digitalriver import admin as digitalriver_admin  # noqa: F401 - registers its pages
from vendors.sandbox.services import check_registrable, clear_faults, entitlements_of, register_key
from vendors.sandbox.state import Clock, Fault, RequestLogEntry, Vendor, VendorKey


class RegisterKeyForm(forms.ModelForm):
    """Adding a key takes the plaintext once and keeps only its digest."""

    key = forms.CharField(widget=forms.PasswordInput, help_text="Stored as a SHA-256 digest only.")
    vendor = forms.ChoiceField(choices=Vendor.choices)

    class Meta:
        model = VendorKey
        fields = ["vendor", "key", "label", "unit_id"]

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("vendor") and cleaned.get("key"):
            try:
                check_registrable(cleaned["vendor"], cleaned["key"], cleaned.get("unit_id", ""))
            except ValidationError as exc:
                raise forms.ValidationError(exc.messages) from exc
        return cleaned


class VendorKeyChangeForm(forms.ModelForm):
    """Changing a key: its label and unit, and for a Cloudflare token the plans it may buy."""

    entitlements = forms.MultipleChoiceField(
        choices=[(plan_id, f"{plan_id} ({plan.scope})") for plan_id, plan in PLANS.items()],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="The rate plans this token may buy; any other fails with Cloudflare's code 1225.",
    )

    class Meta:
        model = VendorKey
        fields = ["label", "unit_id", "entitlements"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.vendor == Vendor.CLOUDFLARE:
            self.initial["entitlements"] = entitlements_of(self.instance)
        else:
            del self.fields["entitlements"]


@admin.register(VendorKey)
class VendorKeyAdmin(admin.ModelAdmin):
    list_display = ["__str__", "vendor", "role", "unit_id", "subaccount", "short_digest", "created_at"]
    list_select_related = ["subaccount"]
    list_filter = ["vendor", "role"]
    search_fields = ["label", "unit_id", "digest"]
    readonly_fields = ["vendor", "role", "digest", "subaccount", "created_at"]
    fields = ["vendor", "role", "label", "unit_id", "subaccount", "digest", "created_at"]

    @admin.display(description="digest")
    def short_digest(self, obj):
        return f"{obj.digest[:12]}..."

    def get_form(self, request, obj=None, **kwargs):
        kwargs["form"] = RegisterKeyForm if obj is None else VendorKeyChangeForm
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["vendor", "key", "label", "unit_id"]
        return self.fields + (["entitlements"] if obj.vendor == Vendor.CLOUDFLARE else [])

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.readonly_fields

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        key, _ = register_key(
            form.cleaned_data["vendor"],
            form.cleaned_data["key"],
            label=form.cleaned_data["label"],
            unit_id=form.cleaned_data["unit_id"],
        )
        # The admin logs and links the object it saved: point it at the registered key.
        obj.pk, obj.vendor, obj.role, obj.digest = key.pk, key.vendor, key.role, key.digest
        return None


@admin.register(RequestLogEntry)
class RequestLogEntryAdmin(admin.ModelAdmin):
    list_display = ["created_at", "vendor", "method", "path", "status", "fault"]
    list_filter = ["vendor", "method", "status", "fault"]
    search_fields = ["path"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Fault)
class FaultAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "vendor",
        "method",
        "path_regex",
        "kind",
        "status",
        "retry_after",
        "remaining",
        "rate",
        "fired",
    ]
    list_filter = ["vendor", "kind"]
    readonly_fields = ["fired", "created_at"]
    actions = ["clear_all"]

    @admin.action(description="Remove every fault (not only the selected ones)")
    def clear_all(self, request, queryset):
        removed = clear_faults()
        self.message_user(request, f"Removed {removed} fault(s).")


@admin.register(Clock)
class ClockAdmin(admin.ModelAdmin):
    """The offset only: the time itself is the business clock every admin page shows in its header."""

    list_display = ["__str__", "moved_at"]
    fields = ["offset_seconds", "moved_at"]
    readonly_fields = ["moved_at"]
    actions = ["advance_one_day", "advance_seven_days", "advance_thirty_one_days", "reset"]

    @admin.display(description="moved at (real time)")
    def moved_at(self, obj):
        return obj.updated_at

    def changelist_view(self, request, extra_context=None):
        Clock.objects.get_or_create(pk=Clock.SINGLETON)  # one row to act on, from the first visit
        return super().changelist_view(request, extra_context)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def _advance(self, request, days: int):
        advance_clock(timedelta(days=days))
        self.message_user(
            request, f"Sandbox clock moved forward {days} day(s); business time (top of the page) follows it."
        )

    @admin.action(description="Advance 1 day")
    def advance_one_day(self, request, queryset):
        self._advance(request, 1)

    @admin.action(description="Advance 7 days")
    def advance_seven_days(self, request, queryset):
        self._advance(request, 7)

    @admin.action(description="Advance 31 days (past DigiCert's 30-day cancel window)")
    def advance_thirty_one_days(self, request, queryset):
        self._advance(request, 31)

    @admin.action(description="Reset to real time")
    def reset(self, request, queryset):
        reset_clock()
        self.message_user(request, "Sandbox clock is back on real time.")
