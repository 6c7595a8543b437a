"""Dashboard URLs of the billing app (mounted at / in the "dashboard" namespace)."""

from django.urls import path

from billing import views
from billing.services.cancellation import CANCEL_WITH_REFUND, RESUME_RENEWAL, STOP_RENEWAL

urlpatterns = [
    path("renewals/", views.RenewalsView.as_view(), name="renewals"),
    path("billing/agreements/", views.AgreementsView.as_view(), name="billing-agreements"),
    path("billing/checkouts/", views.CheckoutsView.as_view(), name="checkouts"),
    path("billing/checkouts/new/", views.CheckoutPickView.as_view(), name="checkout-pick"),
    path("billing/checkouts/<int:pk>/", views.CheckoutDetailView.as_view(), name="checkout"),
    path(
        "billing/checkouts/<int:pk>/progress/", views.CheckoutProgressView.as_view(), name="checkout-progress"
    ),
    path("billing/checkouts/<int:pk>/retry/", views.CheckoutRetryView.as_view(), name="checkout-retry"),
    path(
        "billing/subscriptions/<int:pk>/", views.SubscriptionDetailView.as_view(), name="billing-subscription"
    ),
    path(
        "billing/subscriptions/<int:pk>/provision/",
        views.ProvisioningRetryView.as_view(),
        name="billing-subscription-provision",
    ),
    path(
        "billing/subscriptions/<int:pk>/cancel/",
        views.SubscriptionEndingView.as_view(action=CANCEL_WITH_REFUND),
        name="billing-subscription-cancel",
    ),
    path(
        "billing/subscriptions/<int:pk>/renewal/stop/",
        views.SubscriptionEndingView.as_view(action=STOP_RENEWAL),
        name="billing-subscription-stop",
    ),
    path(
        "billing/subscriptions/<int:pk>/renewal/resume/",
        views.SubscriptionEndingView.as_view(action=RESUME_RENEWAL),
        name="billing-subscription-resume",
    ),
    path(
        "billing/subscriptions/<int:pk>/downgrade/",
        views.SubscriptionDowngradeView.as_view(),
        name="billing-subscription-downgrade",
    ),
    path(
        "billing/subscriptions/<int:pk>/downgrade/cancel/",
        views.SubscriptionCancelDowngradeView.as_view(),
        name="billing-subscription-cancel-downgrade",
    ),
    path("customers/<int:pk>/checkout/new/", views.CheckoutStartView.as_view(), name="checkout-start"),
    path(
        "customers/<int:pk>/payment-method/",
        views.PaymentMethodStartView.as_view(),
        name="billing-payment-method",
    ),
    path(
        "customers/<int:pk>/payment-method/return/<str:token>/",
        views.PaymentMethodReturnView.as_view(),
        name="billing-payment-method-return",
    ),
]
