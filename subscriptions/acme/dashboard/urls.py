"""Dashboard URLs of the ACME pages."""

from __future__ import annotations

from django.urls import path

from subscriptions.acme.dashboard import views

urlpatterns = [
    path("subscriptions/", views.SubscriptionListView.as_view(), name="subscriptions"),
    path("customers/<int:pk>/acme/new/", views.OrderView.as_view(), name="acme-order"),
    path("acme/<int:pk>/", views.ContractDetailView.as_view(), name="acme"),
    path("acme/<int:pk>/progress/", views.ContractProgressView.as_view(), name="acme-progress"),
    path("acme/<int:pk>/credentials/reveal/", views.RevealView.as_view(), name="acme-reveal"),
    path("acme/<int:pk>/credentials/regenerate/", views.RegenerateView.as_view(), name="acme-regenerate"),
    path("acme/<int:pk>/cancel/", views.EndingView.as_view(action="cancel"), name="acme-cancel"),
    path("acme/<int:pk>/renewal/stop/", views.EndingView.as_view(action="stop_renewal"), name="acme-stop"),
    path(
        "acme/<int:pk>/renewal/resume/", views.EndingView.as_view(action="resume_renewal"), name="acme-resume"
    ),
    path("acme/<int:pk>/sans/add/", views.SansAddView.as_view(), name="acme-sans-add"),
    path("acme/<int:pk>/sans/remove/", views.SansRemoveView.as_view(), name="acme-sans-remove"),
    path("acme/<int:pk>/sync/", views.SyncView.as_view(), name="acme-sync"),
    path("acme/<int:pk>/drift/", views.DriftView.as_view(), name="acme-drift"),
    path("acme/<int:pk>/retry/", views.RetryView.as_view(), name="acme-retry"),
    path(
        "acme/<int:pk>/certificates/refresh/",
        views.CertificatesRefreshView.as_view(),
        name="acme-certificates-refresh",
    ),
    path("certificates/", views.CertificateListView.as_view(), name="certificates"),
]
