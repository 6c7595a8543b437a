"""Scheduled django-q2 tasks: (name, dotted function, minutes between runs). Applied on migrate."""

SCHEDULES = [
    ("Sweep due and stuck vendor operations", "core.tasks.sweep_due_operations", 1),
    ("Sync ACME contracts with DigiCert", "subscriptions.tasks.sync_acme_contracts_task", 6 * 60),
]
