"""Admin registrations of the kernel live in core.admin_tools, beside the shared helpers."""

from core import admin_tools  # noqa: F401
