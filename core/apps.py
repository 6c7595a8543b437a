from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Platform"

    def ready(self):
        import core.api.schema  # noqa: F401  (its drf-spectacular field extension registers itself)
        from core.error_codes import registered_enums
        from core.schedules import ensure_schedules
        from core.tasks import register_sweepable

        post_migrate.connect(ensure_schedules, sender=self)
        register_sweepable("core.Operation", ("pending", "unknown"), "core.tasks.run_operation_task")
        # Each app's error_codes.py registers its enum of error codes (see core.error_codes).
        registered_enums()
