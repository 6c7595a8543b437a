"""The ACME contract admin's columns and panels: state, renewal decision, term, credentials, drift, certificates."""

from __future__ import annotations

import json

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from core import clock
from core.admin_tools import operations_table, state_badge
from subscriptions.acme import rules as acme_rules
from subscriptions.acme.rules import end_options
from subscriptions.acme.selectors import expiry_warning_until
from subscriptions.selectors import operations_of


class ContractPanels:
    """The contract admin's read-only columns and panels (mixed into AcmeContractAdmin)."""

    @admin.display(description="State", ordering="state")
    def state_badge(self, obj):
        return state_badge(obj.state, obj.get_state_display())

    @admin.display(description="Renewal")
    def renewal(self, obj):
        if obj.auto_renew is None:
            return "—"
        return f"{'on' if obj.auto_renew else 'off'} ({obj.get_auto_renew_source_display() or '?'})"

    @admin.display(description="Cancel until")
    def cancel_until(self, obj):
        closes = obj.cancel_window_closes_at
        if not closes:
            return "—"
        return format_html(
            "{}{}", closes.strftime("%Y-%m-%d"), " (closed)" if obj.business_now > closes else ""
        )

    @admin.display(description="Drift", boolean=True)
    def has_drift(self, obj):
        return bool(obj.drift)

    @admin.display(description="Renewal decision")
    def renewal_decision(self, obj):
        requested = {None: "left out", True: "on", False: "off"}[obj.auto_renew_requested]
        if obj.auto_renew is None:
            return f"Order: {requested}; decided when the contract is created."
        return format_html(
            "Renewal is <strong>{}</strong>, decided by: {} (order: {}; account setting: {}).",
            "on" if obj.auto_renew else "off",
            obj.get_auto_renew_source_display(),
            requested,
            {None: "not set", True: "1", False: "0"}[obj.subaccount.auto_renew_setting],
        )

    @admin.display(description="What applies today")
    def ending_today(self, obj):
        options = end_options(obj, clock.now())
        if not options:
            return f"Nothing: the contract is {obj.get_state_display().lower()}."
        return format_html(
            "<ul style='margin:0'>{}</ul>",
            format_html_join("", "<li>{}</li>", ((o.message,) for o in options)),
        )

    @admin.display(description="Term")
    def term(self, obj):
        if not obj.term_started_at:
            return "Starts when DigiCert creates the contract."
        return format_html(
            "{} → {} (cancel window closes {})",
            obj.term_started_at.strftime("%Y-%m-%d"),
            obj.valid_till.strftime("%Y-%m-%d") if obj.valid_till else "?",
            obj.cancel_window_closes_at.strftime("%Y-%m-%d"),
        )

    @admin.display(description="EAB credentials")
    def credentials(self, obj):
        if not obj.eab_hmac_key:
            return "Issued when DigiCert creates the contract."
        reveal = reverse("admin:subscriptions_acmecontract_reveal", args=[obj.pk])
        status = (
            f"shown once on {obj.credentials_revealed_at:%Y-%m-%d %H:%M:%S} UTC; regenerate for a new pair"
            if obj.credentials_revealed_at
            else format_html('<a class="button" href="{}">Reveal once</a>', reveal)
        )
        return format_html(
            "Directory URL: <code>{}</code><br>Key id: <code>{}</code><br>HMAC key: <code>{}</code> {}",
            obj.directory_url,
            obj.eab_key_id,
            obj.eab_hmac_key.masked,
            status,
        )

    @admin.display(description="Drift with DigiCert")
    def drift_table(self, obj):
        if not obj.drift:
            return (
                f"None at the last sync ({obj.synced_at:%Y-%m-%d %H:%M:%S})."
                if obj.synced_at
                else "Not synced yet."
            )
        url = reverse("admin:subscriptions_acmecontract_drift", args=[obj.pk])
        return format_html(
            "<table><tr><th>Field</th><th>Ours</th><th>DigiCert</th><th></th></tr>{}</table>",
            format_html_join(
                "",
                "<tr><td>{}</td><td><code>{}</code></td><td><code>{}</code></td><td>"
                "<a href='{}?field={}&keep=vendor'>accept DigiCert's</a>{}</td></tr>",
                (
                    (
                        f,
                        json.dumps(v["ours"]),
                        json.dumps(v["vendor"]),
                        url,
                        f,
                        format_html(" · <a href='{}?field={}&keep=ours'>push ours</a>", url, f)
                        if f in acme_rules.PUSHABLE_FIELDS
                        else "",
                    )
                    for f, v in obj.drift.items()
                ),
            ),
        )

    @admin.display(description="Certificates")
    def certificates_panel(self, obj):
        listed = obj.certificates.filter(gone_at__isnull=True)
        soon = listed.filter(expires_at__lte=expiry_warning_until(clock.now())).count()
        url = reverse("admin:subscriptions_certificate_changelist") + f"?contract__id__exact={obj.pk}"
        read = (
            f"last read {obj.certificates_synced_at:%Y-%m-%d %H:%M:%S} UTC"
            if obj.certificates_synced_at
            else "never read yet"
        )
        # The change form is the page's one <form>: the button posts it (with its CSRF token) elsewhere.
        refresh = (
            format_html(
                ' <button type="submit" class="button" formaction="{}">Refresh now</button>',
                reverse("admin:subscriptions_acmecontract_do", args=[obj.pk, "refresh_certificates"]),
            )
            if obj.vendor_id
            else ""
        )
        return format_html(
            '<a href="{}">{} listed</a> ({} expiring soon), {} removed from the list; DigiCert\'s list {}.{}',
            url,
            listed.count(),
            soon,
            obj.certificates.filter(gone_at__isnull=False).count(),
            read,
            refresh,
        )

    @admin.display(description="Vendor operations")
    def operations(self, obj):
        return operations_table(operations_of(obj)[:20])
