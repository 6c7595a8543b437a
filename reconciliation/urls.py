"""Dashboard URLs of the reconciliation (mounted at / in the "dashboard" namespace)."""

from django.urls import path

from reconciliation import views

urlpatterns = [
    path("reconciliation/", views.FindingListView.as_view(), name="reconciliation"),
    path("reconciliation/run/", views.RunNowView.as_view(), name="reconciliation-run"),
    path("reconciliation/<int:pk>/", views.FindingDetailView.as_view(), name="reconciliation-finding"),
    path(
        "reconciliation/<int:pk>/<slug:action>/",
        views.FindingActionView.as_view(),
        name="reconciliation-action",
    ),
    path("reconciliation/marks/<int:pk>/unmark/", views.UnmarkView.as_view(), name="reconciliation-unmark"),
]
