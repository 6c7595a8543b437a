"""Dashboard URLs of the subscriptions app (mounted at / in the "dashboard" namespace)."""

from django.urls import path, re_path

from subscriptions import cloudflare_views, views

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

urlpatterns += [
    path("subscriptions/zones/", cloudflare_views.ZoneListView.as_view(), name="zones"),
    path("subscriptions/addons/", cloudflare_views.AddonListView.as_view(), name="addons"),
    path("customers/<int:pk>/zones/new/", cloudflare_views.ZoneAddView.as_view(), name="zone-add"),
    path("customers/<int:pk>/addons/new/", cloudflare_views.AddonBuyView.as_view(), name="addon-add"),
    path("customers/<int:pk>/addons/sync/", cloudflare_views.AddonsSyncView.as_view(), name="addons-sync"),
    path("zones/<int:pk>/", cloudflare_views.RecordDetailView.as_view(kind="zone"), name="zone"),
    path(
        "zones/<int:pk>/progress/",
        cloudflare_views.RecordProgressView.as_view(kind="zone"),
        name="zone-progress",
    ),
    re_path(
        r"^zones/(?P<pk>[0-9]+)/plan/(?P<action>upgrade|change|downgrade)/$",
        cloudflare_views.ZonePlanView.as_view(),
        name="zone-plan",
    ),
    path("zones/<int:pk>/sync/", cloudflare_views.ZoneSyncView.as_view(), name="zone-sync"),
    path("zones/<int:pk>/retry/", cloudflare_views.RecordRetryView.as_view(kind="zone"), name="zone-retry"),
    path("addons/<int:pk>/", cloudflare_views.RecordDetailView.as_view(kind="addon"), name="addon"),
    path(
        "addons/<int:pk>/progress/",
        cloudflare_views.RecordProgressView.as_view(kind="addon"),
        name="addon-progress",
    ),
    path("addons/<int:pk>/change/", cloudflare_views.AddonChangeView.as_view(), name="addon-change"),
    path("addons/<int:pk>/cancel/", cloudflare_views.AddonCancelView.as_view(), name="addon-cancel"),
    path(
        "addons/<int:pk>/retry/", cloudflare_views.RecordRetryView.as_view(kind="addon"), name="addon-retry"
    ),
]
