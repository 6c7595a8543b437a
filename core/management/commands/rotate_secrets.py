"""Re-encrypt every stored secret with the newest key in SECRET_ENCRYPTION_KEYS."""

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import transaction

from core.fields import EncryptedSecretField
from core.secrets import Secret, rotate


class Command(BaseCommand):
    help = "Re-encrypt every secret with the newest SECRET_ENCRYPTION_KEYS entry (run after adding a key)."

    def handle(self, *args, **options):
        total = 0
        for model in apps.get_models():
            fields = [f for f in model._meta.concrete_fields if isinstance(f, EncryptedSecretField)]
            if not fields:
                continue
            names = [f.attname for f in fields]
            with transaction.atomic():
                rows = model._base_manager.select_for_update().values_list("pk", *names)
                for pk, *tokens in rows.iterator():
                    # Wrapping the new token in Secret stores it as is (a str would be encrypted again).
                    updates = {
                        name: Secret(rotate(secret.token))
                        for name, secret in zip(names, tokens, strict=True)
                        if secret
                    }
                    if updates:
                        model._base_manager.filter(pk=pk).update(**updates)
                        total += len(updates)
            self.stdout.write(f"{model._meta.label}: {', '.join(names)}")
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted {total} secret(s) with the newest key."))
