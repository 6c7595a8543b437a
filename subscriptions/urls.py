"""Dashboard URLs of the subscriptions app (mounted at / in the "dashboard" namespace)."""

from subscriptions.acme.dashboard import urls as acme_urls
from subscriptions.cloudflare.dashboard import urls as cloudflare_urls

urlpatterns = [*acme_urls.urlpatterns, *cloudflare_urls.urlpatterns]
