"""Who acts, and through which face of the product (admin, dashboard, api, task, webhook)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models


class Face(models.TextChoices):
    ADMIN = "admin", "Admin"
    DASHBOARD = "dashboard", "Dashboard"
    API = "api", "API"
    TASK = "task", "Task"
    WEBHOOK = "webhook", "Webhook"
    COMMAND = "command", "Command"


@dataclass(frozen=True)
class Actor:
    """The acting user (None for the system) and the face they act through."""

    user: object | None
    face: Face

    @classmethod
    def system(cls, face: Face = Face.TASK) -> Actor:
        return cls(user=None, face=face)

    @property
    def is_system(self) -> bool:
        return self.user is None

    @property
    def is_staff(self) -> bool:
        return bool(self.user is not None and self.user.is_staff and self.user.is_active)

    @property
    def label(self) -> str:
        if self.user is None:
            return f"system ({self.face})"
        return self.user.get_username()
