from django.db import migrations

from core.trigram import trigram_to_prefix


class Migration(migrations.Migration):
    dependencies = [
        ("partner", "0009_scale_indexes"),
    ]

    # The admin's search by field kind (core.admin_lists): an identifier (`^field`) is read by a
    # prefix b-tree, so its trigram index (kept by text fields) goes.
    operations = [
        *trigram_to_prefix(
            ("partner_customer", "reference"),
            ("partner_subaccount", "vendor_id"),
            ("partner_subaccount", "reference"),
        ),
    ]
