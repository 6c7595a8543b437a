from django.db import migrations

from core.trigram import prefix_indexes, trigram_indexes, trigram_to_prefix


class Migration(migrations.Migration):
    dependencies = [
        ("reconciliation", "0002_scale_indexes"),
    ]

    # The admin's search by field kind (core.admin_lists): an identifier (`^field`) is read by a
    # prefix b-tree, so its trigram index (kept by text fields) goes.
    operations = [
        *trigram_to_prefix(
            ("reconciliation_finding", "key"),
            ("reconciliation_finding", "vendor_ref"),
        ),
        prefix_indexes(
            ("reconciliation_notbilled", "target_id"),
        ),
        trigram_indexes(
            ("reconciliation_notbilled", "reason"),
        ),
    ]
