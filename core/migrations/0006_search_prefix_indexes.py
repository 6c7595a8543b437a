from django.db import migrations

from core.trigram import trigram_to_prefix


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0005_scale_indexes"),
    ]

    # The admin's search by field kind (core.admin_lists): an identifier (`^field`) is read by a
    # prefix b-tree, so its trigram index (kept by text fields) goes.
    operations = [
        *trigram_to_prefix(
            ("core_auditevent", "object_id"),
            ("core_operation", "object_id"),
        ),
    ]
