from django.apps import AppConfig
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class SandboxConfig(AppConfig):
    name = "vendors.sandbox"
    label = "sandbox"
    verbose_name = "Sandbox vendors"
    admin_section = "sandbox"  # its own section of the admin, apart from the business (core.templatetags)
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        refuse_outside_sandbox_settings()


def refuse_outside_sandbox_settings() -> None:
    """The sandbox answers as the vendors: it must never run where real vendors are meant."""
    if not getattr(settings, "SANDBOX_ENABLED", False):
        raise ImproperlyConfigured(
            "vendors.sandbox is installed but SANDBOX_ENABLED is false: remove the app or enable "
            "the sandbox (development and test settings only)."
        )
    # Production settings refuse SANDBOX_ENABLED already; this catches a hand-edited install.
    module = getattr(settings, "SETTINGS_MODULE", "") or ""
    if module.rsplit(".", 1)[-1] == "production":
        raise ImproperlyConfigured(f"vendors.sandbox refuses to run under production settings ({module}).")
