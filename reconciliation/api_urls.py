from rest_framework.routers import SimpleRouter

from reconciliation import api

router = SimpleRouter()
router.register("reconciliation/findings", api.FindingViewSet, basename="reconciliation-finding")
router.register("reconciliation/runs", api.RunViewSet, basename="reconciliation-run")
router.register("reconciliation/not-billed", api.NotBilledViewSet, basename="reconciliation-not-billed")

urlpatterns = router.urls
