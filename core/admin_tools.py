"""Admin building blocks shared by every app: service-backed actions, state badges, audit trail."""

from __future__ import annotations

from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from core.actor import Actor, Face
from core.admin_lists import BigTableAdmin
from core.audit import action_label, change_lines, events_for
from core.errors import DomainError
from core.models import ApiToken, AuditEvent, Operation

BADGE_COLOURS = {
    "active": "#1a7f37",
    "pending": "#9a6700",
    "unknown": "#bc4c00",
    "failed": "#cf222e",
    "cancelled": "#57606a",
    "expired": "#57606a",
}


class ReadOnlyAdmin(BigTableAdmin):
    """Rows written only by services and vendors: staff read them here and act through actions."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def admin_actor(request) -> Actor:
    return Actor(request.user, Face.ADMIN)


def state_badge(state: str, label: str | None = None) -> str:
    colour = BADGE_COLOURS.get(state, "#57606a")
    return format_html(
        '<span style="background:{};color:#fff;border-radius:10px;padding:2px 8px;font-size:11px;'
        'white-space:nowrap">{}</span>',
        colour,
        label or state,
    )


def run_per_row(modeladmin, request, queryset, operation, *, success: str) -> None:
    """Call one service per selected row; each refusal becomes that row's own error message."""
    done = 0
    for obj in queryset:
        try:
            operation(admin_actor(request), obj)
            done += 1
        except DomainError as error:
            modeladmin.message_user(request, f"{obj}: {error.message} [{error.code}]", messages.ERROR)
    if done:
        modeladmin.message_user(request, success.format(count=done), messages.SUCCESS)


class ServiceSaveMixin:
    """Admin saves go through the subclass's `save_via_service`; a refusal is shown, nothing saved."""

    def save_model(self, request, obj, form, change):
        try:
            self.save_via_service(request, obj, form, change)
        except DomainError as error:
            request._service_refusal = error
            self.message_user(request, f"Not saved: {error.message} [{error.code}]", messages.ERROR)

    def save_related(self, request, form, formsets, change):
        if not getattr(request, "_service_refusal", None):
            super().save_related(request, form, formsets, change)

    def construct_change_message(self, request, form, formsets, add=False):
        # Refused: the inlines were never saved, so there is nothing to describe (nor to log).
        if getattr(request, "_service_refusal", None):
            return []
        return super().construct_change_message(request, form, formsets, add)

    def log_addition(self, request, obj, message):
        if not getattr(request, "_service_refusal", None):
            return super().log_addition(request, obj, message)

    def log_change(self, request, obj, message):
        if not getattr(request, "_service_refusal", None):
            return super().log_change(request, obj, message)

    def response_add(self, request, obj, post_url_continue=None):
        if getattr(request, "_service_refusal", None):
            return HttpResponseRedirect(request.get_full_path())
        return super().response_add(request, obj, post_url_continue)

    def response_change(self, request, obj):
        if getattr(request, "_service_refusal", None):
            return HttpResponseRedirect(request.get_full_path())
        return super().response_change(request, obj)


def change_lines_html(event: AuditEvent) -> str:
    """An audit event's changes, one "field: before → after" line per field."""
    return format_html_join(mark_safe("<br>"), "{}", ((line,) for line in change_lines(event))) or "—"


class AuditTrailMixin:
    """Shows an object's audit trail (newest first) on its change page."""

    def audit_trail(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        events = list(events_for(obj)[:50])
        if not events:
            return "No changes recorded yet."
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    e.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                    e.actor_label,
                    e.get_face_display(),
                    action_label(e.action),
                    change_lines_html(e),
                    e.note,
                )
                for e in events
            ),
        )
        return format_html(
            "<table><thead><tr><th>When (UTC)</th><th>Who</th><th>Face</th><th>Action</th>"
            "<th>Changes</th><th>Note</th></tr></thead><tbody>{}</tbody></table>",
            rows,
        )

    audit_trail.short_description = "Audit trail"


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "actor_label",
        "face",
        "action",
        "object_repr",
        "changes_in_words",
        "partner_id",
    ]
    list_filter = ["face", "action", "content_type"]
    search_fields = ["object_repr", "actor_label", "action", "^object_id"]
    date_hierarchy = "created_at"
    list_select_related = ["content_type"]
    exclude = ["changes"]
    readonly_fields = ["changes_in_words"]

    @admin.display(description="Changes")
    def changes_in_words(self, obj):
        return change_lines_html(obj)


@admin.register(ApiToken)
class ApiTokenAdmin(ServiceSaveMixin, BigTableAdmin):
    list_display = [
        "name",
        "user",
        "key_id",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
    ]
    list_filter = ["revoked_at"]
    search_fields = ["name", "user__username", "^key_id"]
    fields = ["user", "name", "expires_at"]
    readonly_fields = ["key_id", "created_at", "last_used_at", "revoked_at"]
    autocomplete_fields = ["user"]
    actions = ["revoke"]

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, "user", "name"] if obj else self.readonly_fields

    def get_fields(self, request, obj=None):
        return [*self.fields, *self.readonly_fields] if obj else self.fields

    def has_change_permission(self, request, obj=None):
        return False

    def save_via_service(self, request, obj, form, change):
        from core.tokens import issue_api_token

        token, key = issue_api_token(admin_actor(request), obj.user, obj.name, expires_at=obj.expires_at)
        obj.pk = token.pk
        messages.warning(request, f"Copy this token now; it will not be shown again: {key}")

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request, queryset):
        from core.tokens import revoke_api_token

        run_per_row(self, request, queryset, revoke_api_token, success="{count} token(s) revoked.")


def operations_table(operations) -> str:
    """Vendor operations of an object with their progress and last error, for a change page."""
    rows = format_html_join(
        "",
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        (
            (
                o.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                o.label,
                state_badge(o.state, o.get_state_display()),
                o.attempts,
                o.next_attempt_at.strftime("%H:%M:%S") if o.state == "pending" and o.next_attempt_at else "",
                o.last_error or "",
            )
            for o in operations
        ),
    )
    if not rows:
        return "No vendor operations yet."
    return format_html(
        "<table><thead><tr><th>Requested (UTC)</th><th>Operation</th><th>State</th><th>Attempts</th>"
        "<th>Next attempt</th><th>Last error</th></tr></thead><tbody>{}</tbody></table>",
        rows,
    )


@admin.register(Operation)
class OperationAdmin(ReadOnlyAdmin):
    """Every vendor operation of every object: what is pending, stuck or failed."""

    list_display = [
        "created_at",
        "kind",
        "target_link",
        "state_badge",
        "attempts",
        "next_attempt_at",
        "last_error_code",
        "face",
        "requested_by",
    ]
    list_filter = ["state", "is_change", "kind", "face"]
    search_fields = ["kind", "^object_id", "last_error_code", "last_error_message"]
    list_select_related = ["requested_by", "content_type"]
    readonly_fields = ["steps_of_change", *(f.name for f in Operation._meta.concrete_fields)]
    actions = ["retry_failed", "resolve_unknown"]

    @admin.display(description="Steps")
    def steps_of_change(self, obj):
        from core import operations

        if obj.parent_id:
            return format_html('A step of <a href="../../{}/change/">{}</a>.', obj.parent_id, obj.parent)
        if not obj.is_change:
            return "—"
        return format_html_join("", "<p>{}</p>", ((line,) for line in operations.describe_steps(obj)))

    @admin.display(description="State", ordering="state")
    def state_badge(self, obj):
        return state_badge(obj.state, obj.get_state_display())

    @admin.display(description="Object")
    def target_link(self, obj):
        url = f"../../{obj.content_type.app_label}/{obj.content_type.model}/{obj.object_id}/change/"
        return format_html('<a href="{}">{} #{}</a>', url, obj.content_type.name, obj.object_id)

    @admin.action(description="Retry selected failed operations", permissions=["retry"])
    def retry_failed(self, request, queryset):
        from core import operations

        run_per_row(self, request, queryset, operations.retry, success="{count} operation(s) queued again.")

    @admin.action(description="Ask the vendor now about selected unknown outcomes", permissions=["retry"])
    def resolve_unknown(self, request, queryset):
        from core import operations

        run_per_row(
            self, request, queryset, operations.resolve_now, success="{count} operation(s) asked about again."
        )

    def has_retry_permission(self, request):
        return request.user.has_perm("core.retry_operation")
