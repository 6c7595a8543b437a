from rest_framework.routers import SimpleRouter

from billing import api

router = SimpleRouter()
router.register("billing/plans", api.PlanViewSet, basename="billing-plan")
router.register("billing/products", api.ProductViewSet, basename="billing-product")
router.register("billing/checkouts", api.CheckoutViewSet, basename="billing-checkout")
router.register("billing/subscriptions", api.SubscriptionViewSet, basename="billing-subscription")
router.register("billing/agreements", api.AgreementViewSet, basename="billing-agreement")
router.register("billing/notices", api.NoticeViewSet, basename="billing-notice")
router.register("billing/customers", api.BillingCustomerViewSet, basename="billing-customer")

urlpatterns = router.urls
