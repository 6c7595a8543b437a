"""django-q2 entry points of the partner app. Arguments are primary keys only.

Subaccounts are created by a core.Operation (partner.handlers), run by core.tasks.run_operation_task.
"""

from partner import services


def send_invitation_task(membership_id: int) -> None:
    """E-mail an invited member their set-password link."""
    services.send_invitation(membership_id)
