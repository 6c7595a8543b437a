"""django-q2 entry points of billing. Arguments are primary keys only."""

from billing.services import acquisition, cancellation, events, fulfilment, lifecycle, notices, renewals


def process_event_task(event_id: int) -> None:
    """Apply one verified Digital River event."""
    events.process(event_id)


def provision_task(subscription_id: int) -> None:
    """Provision what one paid subscription bought."""
    acquisition.provision(subscription_id)


def provision_pending_task() -> int:
    """Scheduled: provision every paid subscription still waiting."""
    return acquisition.provision_pending()


def run_renewals_task() -> int:
    """Scheduled: start the renewals whose billing cycle has begun."""
    return renewals.run_renewals()


def send_reminders_task() -> int:
    """Scheduled: send the renewal reminders due today."""
    return notices.send_due_reminders()


def cancel_ended_targets_task() -> int:
    """Scheduled: cancel add-ons whose billing ended, at the end of their term."""
    return lifecycle.cancel_ended_targets()


def fulfil_task(checkout_id: int) -> bool:
    """Report one order's fulfilment once its items are settled."""
    return fulfilment.fulfil_when_ready(checkout_id)


def fulfil_ready_orders_task() -> int:
    """Scheduled: fulfil every accepted order whose items have been settled since."""
    return fulfilment.fulfil_ready_orders()


def end_stopped_subscriptions_task() -> int:
    """Scheduled: subscriptions whose renewal was stopped end with their paid period."""
    return cancellation.end_stopped_subscriptions()
