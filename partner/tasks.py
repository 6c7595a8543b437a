"""django-q2 entry points of the partner app. Arguments are primary keys only."""

from partner import services


def provision_subaccount_task(subaccount_id: int) -> None:
    """Create one subaccount at its vendor (safe to run twice)."""
    services.provision_subaccount(subaccount_id)


def send_invitation_task(membership_id: int) -> None:
    """E-mail an invited member their set-password link."""
    services.send_invitation(membership_id)
