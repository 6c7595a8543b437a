from django.db import migrations

from core.trigram import prefix_indexes, trigram_indexes, trigram_to_prefix


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0009_scale_indexes"),
    ]

    # The admin's search by field kind (core.admin_lists): an identifier (`^field`) is read by a
    # prefix b-tree, so its trigram index (kept by text fields) goes.
    operations = [
        *trigram_to_prefix(
            ("billing_billingsubscription", "subscription_id"),
            ("billing_billingsubscription", "billing_agreement_id"),
            ("billing_billingsubscription", "payment_source_id"),
            ("billing_checkout", "reference"),
            ("billing_checkout", "order_id"),
            ("billing_checkout", "session_id"),
            ("billing_checkout", "checkout_id"),
            ("billing_checkout", "billing_agreement_id"),
            ("billing_billingagreement", "agreement_id"),
            ("billing_billingagreement", "first_order_id"),
            ("billing_renewal", "invoice_id"),
            ("billing_webhookevent", "event_id"),
        ),
        prefix_indexes(
            ("billing_rejectedwebhook", "source_address"),
        ),
        trigram_indexes(
            ("billing_rejectedwebhook", "event_type"),
        ),
    ]
