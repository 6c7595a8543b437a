"""Scheduled django-q2 tasks: (name, dotted function, minutes between runs). Applied on migrate."""

SCHEDULES = [
    ("Sweep due and stuck vendor operations", "core.tasks.sweep_due_operations", 1),
    ("Sync ACME contracts with DigiCert", "subscriptions.acme.tasks.sync_acme_contracts_task", 6 * 60),
    ("Refresh ACME certificate inventories", "subscriptions.acme.tasks.refresh_certificates_task", 6 * 60),
    ("Sync Cloudflare zones and add-ons", "subscriptions.cloudflare.tasks.sync_cloudflare_task", 6 * 60),
    ("Send renewal reminders", "billing.tasks.send_reminders_task", 60),
    ("Run renewals", "billing.tasks.run_renewals_task", 15),
    ("Provision paid subscriptions still waiting", "billing.tasks.provision_pending_task", 5),
    ("Fulfil accepted orders once provisioned", "billing.tasks.fulfil_ready_orders_task", 1),
    ("End subscriptions whose renewal was stopped", "billing.tasks.end_stopped_subscriptions_task", 60),
    ("Cancel add-ons whose billing ended", "billing.tasks.cancel_ended_targets_task", 60),
    ("Reconcile billing with the vendors", "reconciliation.tasks.reconcile_every_partner_task", 24 * 60),
]
