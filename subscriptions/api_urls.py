from django.urls import path
from rest_framework.routers import SimpleRouter

from subscriptions import api

router = SimpleRouter()
router.register("acme-contracts", api.AcmeContractViewSet, basename="acme-contract")

urlpatterns = [
    *router.urls,
    path(
        "subaccounts/<int:pk>/account-settings/", api.AccountSettingsView.as_view(), name="account-settings"
    ),
]
