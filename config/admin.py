"""Staff unlock locked-out sign-ins: django-axes' access attempts with an explicit "Unlock" action."""

from __future__ import annotations

from axes.admin import AccessAttemptAdmin
from axes.models import AccessAttempt
from django.contrib import admin, messages


class SignInAttemptAdmin(AccessAttemptAdmin):
    """Failed sign-ins counted per user and address; unlocking deletes the counter."""

    actions = ["unlock", *AccessAttemptAdmin.actions]

    @admin.action(
        description="Unlock: clear the failed sign-ins of the selected user and address",
        permissions=["delete"],
    )
    def unlock(self, request, queryset):
        # One row per (user, address): deleting it unlocks that pair (its expiration row goes with it).
        unlocked = queryset.delete()[1].get(AccessAttempt._meta.label, 0)
        self.message_user(
            request,
            f"Unlocked {unlocked} sign-in{'s' if unlocked != 1 else ''}: the right password works again.",
            messages.SUCCESS,
        )


if admin.site.is_registered(AccessAttempt):
    admin.site.unregister(AccessAttempt)
admin.site.register(AccessAttempt, SignInAttemptAdmin)
