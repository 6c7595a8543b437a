"""django-q2 entry points of the partner app. Arguments are primary keys only."""

from partner import services


def provision_subaccount_task(subaccount_id: int) -> None:
    """Create one subaccount at its vendor (safe to run twice)."""
    services.provision_subaccount(subaccount_id)
