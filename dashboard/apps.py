from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "dashboard"
    verbose_name = "Reseller dashboard"

    def ready(self):
        from dashboard.registry import autodiscover

        # Each app's dashboard.py registers its pages' parts (see dashboard.registry).
        autodiscover()
