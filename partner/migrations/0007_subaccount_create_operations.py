"""Subaccounts are created by a core.Operation: each subaccount still in progress, failed or
waiting for staff gets its create operation, carrying the retry state its row held until now."""

from django.db import migrations

CREATE_SUBACCOUNT = "partner.create_subaccount"
RETRY_FIELDS = [
    "attempts",
    "next_attempt_at",
    "last_attempt_at",
    "last_error_code",
    "last_error_message",
    "last_error_at",
    "not_before",
    "outcome_unknown",
]


def forwards(apps, schema_editor):
    Subaccount = apps.get_model("partner", "Subaccount")
    Operation = apps.get_model("core", "Operation")
    ContentType = apps.get_model("contenttypes", "ContentType")
    content_type, _ = ContentType.objects.get_or_create(app_label="partner", model="subaccount")
    for sub in Subaccount.objects.filter(state__in=["pending", "unknown", "failed"]).iterator():
        if Operation.objects.filter(
            content_type=content_type, object_id=str(sub.pk), kind=CREATE_SUBACCOUNT
        ).exists():
            continue
        # A DigiCert row waiting for staff (no next attempt) stays waiting; others the sweeper runs.
        state = "pending" if sub.state == "unknown" and sub.next_attempt_at else sub.state
        Operation.objects.create(
            kind=CREATE_SUBACCOUNT,
            partner_id=sub.partner_id,
            content_type=content_type,
            object_id=str(sub.pk),
            state=state,
            face="command",
            created_at=sub.created_at,
            finished_at=sub.last_error_at if state == "failed" else None,
            **{field: getattr(sub, field) for field in RETRY_FIELDS},
        )


class Migration(migrations.Migration):
    dependencies = [
        ("partner", "0006_support_contacts"),
        ("core", "0004_vendor_outcome_unknown"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
