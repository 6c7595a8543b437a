from django.db import migrations

from core.trigram import trigram_to_prefix


class Migration(migrations.Migration):
    dependencies = [
        ("subscriptions", "0006_scale_indexes"),
    ]

    # The admin's search by field kind (core.admin_lists): an identifier (`^field`) is read by a
    # prefix b-tree, so its trigram index (kept by text fields) goes.
    operations = [
        *trigram_to_prefix(
            ("subscriptions_certificate", "serial_number"),
            ("subscriptions_acmecontract", "vendor_id"),
            ("subscriptions_acmecontract", "reference"),
            ("subscriptions_cloudflarezone", "vendor_id"),
            ("subscriptions_cloudflarezone", "reference"),
            ("subscriptions_cloudflareaddon", "rate_plan_id"),
            ("subscriptions_cloudflareaddon", "vendor_id"),
            ("subscriptions_cloudflareaddon", "reference"),
        ),
    ]
