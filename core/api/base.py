"""Base pieces for API views: the acting user, the access gate, the 202 answer of vendor calls."""

from rest_framework import permissions

from core.actor import Actor, Face


def api_actor(request) -> Actor:
    return Actor(request.user, Face.API)


class IsMemberOrStaff(permissions.BasePermission):
    """Only reseller members and active staff use the API; roles are checked by the services."""

    message = "This account belongs to no partner."

    def has_permission(self, request, view):
        user = request.user
        if not (user and user.is_authenticated):
            return False
        return user.is_staff or hasattr(user, "membership")
