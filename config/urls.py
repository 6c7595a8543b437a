"""URL map: admin, API (+ schema and Swagger UI), health check, and the sandbox when enabled."""

from django.conf import settings
from django.contrib import admin
from django.http import JsonResponse
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from billing import urls as billing_urls
from billing import views as billing_views
from billing.views import digitalriver_webhook
from core.api.errors import api_not_found
from dashboard import urls as dashboard_urls
from partner import urls as partner_urls
from partner import views as partner_views
from reconciliation import urls as reconciliation_urls
from subscriptions import urls as subscriptions_urls


def healthz(request):
    return JsonResponse({"status": "ok"})


admin.site.site_header = "Partner back office"
admin.site.site_title = "Partner back office"
admin.site.index_title = "Support"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("config.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's start script as a file: no inline script under the CSP.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    re_path(r"^api/", api_not_found),  # any rest, even one with a newline (which `.` would not match)
    path("healthz", healthz, name="healthz"),
    path("webhooks/digitalriver/", digitalriver_webhook, name="digitalriver-webhook"),
    path("pay/method/<str:token>/", billing_views.payment_method, name="payment-method"),
    path("pay/method/<str:token>/return/", billing_views.payment_method_return, name="payment-method-return"),
    # Before the account pages, replacing the stock views partner/urls.py lists under the same paths
    # and names: the password reset that limits its e-mails, and the sign-in after a reset (which
    # names its backend now that django-axes' comes first).
    path("accounts/password/reset/", partner_views.PasswordResetView.as_view(), name="password_reset"),
    path(
        "accounts/reset/<uidb64>/<token>/",
        partner_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path("accounts/", include(partner_urls.account_urlpatterns)),
]

if settings.SANDBOX_ENABLED:
    urlpatterns.append(path("sandbox/", include("vendors.sandbox.urls")))

# The reseller dashboard, mounted last at the root: each app brings its pages.
urlpatterns.append(
    path(
        "",
        include(
            (
                [
                    *dashboard_urls.urlpatterns,
                    *partner_urls.urlpatterns,
                    *subscriptions_urls.urlpatterns,
                    *billing_urls.urlpatterns,
                    *reconciliation_urls.urlpatterns,
                ],
                "dashboard",
            )
        ),
    )
)

handler500 = "core.api.errors.server_error"
