"""What the DigiCert emulator holds, in the admin: subaccounts, account settings, ACME contracts."""

from __future__ import annotations

from django.contrib import admin

from vendors.sandbox.digicert.models import (
    AcmeContract,
    AcmeCredential,
    DigiCertAccountSetting,
    DigiCertSubaccount,
)


@admin.register(DigiCertSubaccount)
class DigiCertSubaccountAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "parent_key", "created_at"]
    search_fields = ["name"]
    readonly_fields = ["created_at"]


@admin.register(DigiCertAccountSetting)
class DigiCertAccountSettingAdmin(admin.ModelAdmin):
    list_display = ["name", "value", "subaccount", "partner_key", "updated_at"]
    list_select_related = ["subaccount", "partner_key"]
    list_filter = ["name"]


class AcmeCredentialInline(admin.TabularInline):
    """Credentials are read-only: the HMAC key exists only as a digest and a hint."""

    model = AcmeCredential
    extra = 0
    can_delete = False
    fields = ["id", "kid", "hmac_hint", "status", "created_at", "revoked_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(AcmeContract)
class AcmeContractAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "subaccount",
        "product_name_id",
        "auto_renew",
        "created_at",
        "valid_till",
        "date_canceled",
    ]
    list_filter = ["product_name_id", "auto_renew"]
    search_fields = ["id", "subaccount__name"]
    readonly_fields = ["released_sans"]
    inlines = [AcmeCredentialInline]


@admin.register(AcmeCredential)
class AcmeCredentialAdmin(admin.ModelAdmin):
    list_display = ["id", "contract", "kid", "hmac_hint", "status", "created_at", "revoked_at"]
    list_filter = ["status"]
    search_fields = ["kid"]
    readonly_fields = ["contract", "kid", "hmac_digest", "hmac_hint", "created_at", "revoked_at"]

    def has_add_permission(self, request):
        return False
