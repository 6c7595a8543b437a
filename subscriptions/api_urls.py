from django.urls import path
from rest_framework.routers import SimpleRouter

from subscriptions.acme import api
from subscriptions.cloudflare import api as cloudflare_api

router = SimpleRouter()
router.register("acme-contracts", api.AcmeContractViewSet, basename="acme-contract")
router.register("certificates", api.CertificateViewSet, basename="certificate")
router.register("cloudflare-zones", cloudflare_api.CloudflareZoneViewSet, basename="cloudflare-zone")
router.register("cloudflare-addons", cloudflare_api.CloudflareAddonViewSet, basename="cloudflare-addon")
router.register("cloudflare-catalog", cloudflare_api.CatalogPlanViewSet, basename="cloudflare-catalog")

urlpatterns = [
    *router.urls,
    path(
        "subaccounts/<int:pk>/account-settings/", api.AccountSettingsView.as_view(), name="account-settings"
    ),
]
