from rest_framework.routers import DefaultRouter

from partner import api

router = DefaultRouter()
router.register("partners", api.PartnerViewSet, basename="partner")
router.register("customers", api.CustomerViewSet, basename="customer")
router.register("subaccounts", api.SubaccountViewSet, basename="subaccount")

urlpatterns = router.urls
