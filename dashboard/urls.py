"""Dashboard URLs of the kernel: the home page and the CSV exports (mounted at / in the "dashboard"
namespace, before each app's pages)."""

from django.urls import path

from dashboard import views

urlpatterns = [
    path("", views.HomeView.as_view(), name="home"),
    path("export/<slug:key>.csv", views.ExportView.as_view(), name="export"),
]
