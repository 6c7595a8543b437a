"""Every API endpoint, version 1."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from core.api.tokens import ApiTokenViewSet

router = SimpleRouter()
router.register("tokens", ApiTokenViewSet, basename="apitoken")

urlpatterns = [
    path("", include(router.urls)),
    path("", include("partner.api_urls")),
    path("", include("subscriptions.api_urls")),
    path("", include("billing.api_urls")),
    path("", include("reconciliation.api_urls")),
]
