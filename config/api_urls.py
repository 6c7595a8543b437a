"""Every API endpoint, version 1."""

from django.urls import include, path

urlpatterns = [
    path("", include("partner.api_urls")),
]
