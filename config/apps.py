from django.apps import AppConfig


class ProjectConfig(AppConfig):
    """The composition root: project-wide commands that span every app (demo data)."""

    name = "config"
    label = "project"
    verbose_name = "Project"
