"""The emulated vendor APIs, each under its real base path: /sandbox/<vendor>/<vendor's base>/."""

from django.urls import include, path

from vendors.sandbox.views import cloudflare, digicert

urlpatterns = [
    path("digicert/v1/", include(digicert.urlpatterns)),
    path("cloudflare/client/v4/", include(cloudflare.urlpatterns)),
]
