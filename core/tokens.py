"""Issuing and revoking API tokens (stored hashed, the key shown once)."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from core import audit
from core.actor import Actor
from core.error_codes import CoreErrorCode
from core.errors import NotFound, PermissionDenied, RuleViolation
from core.models import ApiToken


def _partner_id(user) -> int | None:
    membership = getattr(user, "membership", None)
    return getattr(membership, "partner_id", None)


def issue_api_token(actor: Actor, user, name: str, *, expires_at=None) -> tuple[ApiToken, str]:
    """A user creates a token for themselves (staff: for anyone); the key is returned only here."""
    if not actor.is_system and actor.user != user and not actor.is_staff:
        raise PermissionDenied("You may only create tokens for yourself.")
    key, key_id, digest = ApiToken.generate()
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user, name=name or "API token", key_id=key_id, digest=digest, expires_at=expires_at
        )
        audit.record(
            actor,
            "api_token.created",
            token,
            partner_id=_partner_id(user),
            changes={"name": [None, token.name], "key_id": [None, key_id]},
        )
    return token, key


def revoke_api_token(actor: Actor, token: ApiToken) -> ApiToken:
    """Revoke a token at once; the owner or staff may."""
    if not actor.is_system and actor.user != token.user and not actor.is_staff:
        raise NotFound("Not found.")
    with transaction.atomic():
        token = ApiToken.objects.select_for_update().get(pk=token.pk)
        if token.revoked_at:
            raise RuleViolation("This token is already revoked.", code=CoreErrorCode.ALREADY_REVOKED)
        _revoke(actor, token)
    return token


def _revoke(actor: Actor, token: ApiToken, note: str = "") -> None:
    """Mark a locked live token revoked and audit it; inside the caller's transaction."""
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    audit.record(
        actor,
        "api_token.revoked",
        token,
        partner_id=_partner_id(token.user),
        changes={"revoked_at": [None, token.revoked_at.isoformat()]},
        note=note,
    )


def revoke_all_api_tokens(actor: Actor, user, *, note: str = "") -> int:
    """Revoke every live token of `user` (each audited like a single revocation); returns how many."""
    if user.pk is None:
        return 0
    with transaction.atomic():
        tokens = list(ApiToken.objects.select_for_update().filter(user=user, revoked_at__isnull=True))
        for token in tokens:
            token.user = user  # the caller's instance: its membership is looked up once
            _revoke(actor, token, note)
    return len(tokens)


class RevokeApiTokensOnPasswordChange:
    """Listed in AUTH_PASSWORD_VALIDATORS for Django's `password_changed` hook, which runs whenever
    a user's new password is saved (dashboard change or reset, admin, `changepassword`): a password
    reset must lock out whoever held the old one, API scripts included. It refuses no password."""

    def validate(self, password, user=None):
        return None

    def password_changed(self, password, user=None):
        if user is not None:
            revoke_all_api_tokens(Actor.system(), user, note="Revoked: the user's password was changed.")

    def get_help_text(self):
        return "Changing the password revokes your API tokens."
