"""The emulated vendor APIs, each under its real base path: /sandbox/<vendor>/<vendor's base>/."""

from django.urls import include, path

from vendors.sandbox.cloudflare import billing_views as cloudflare_billing
from vendors.sandbox.cloudflare import views as cloudflare
from vendors.sandbox.digicert import acme_views as digicert_acme
from vendors.sandbox.digicert import views as digicert
from vendors.sandbox.digitalriver import pay_views as digitalriver_pay
from vendors.sandbox.digitalriver import views as digitalriver

urlpatterns = [
    # The ACME contract routes come first: the DigiCert module ends with its catch-all.
    path("digicert/v1/", include(digicert_acme.urlpatterns + digicert.urlpatterns)),
    # Where a contract's ACME directory URL points (the ACME server, outside the Partner API).
    path(
        "digicert/acme/<int:contract_id>/directory",
        digicert_acme.directory,
        name="sandbox-digicert-acme-directory",
    ),
    path("cloudflare/client/v4/", include(cloudflare_billing.urlpatterns + cloudflare.urlpatterns)),
    # The customer's pay page first: the API module ends with its catch-all.
    path("digitalriver/", include(digitalriver_pay.urlpatterns + digitalriver.urlpatterns)),
]
