"""Dashboard URLs of the Cloudflare pages."""

from __future__ import annotations

from django.urls import path, re_path

from subscriptions.cloudflare.dashboard import views as cloudflare_views

urlpatterns = [
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
