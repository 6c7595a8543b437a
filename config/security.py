"""Response hardening that holds for every view, whichever app it lives in."""

from __future__ import annotations

import logging

from django.core.exceptions import ObjectDoesNotExist
from django.core.handlers.exception import response_for_exception
from django.http import Http404
from django.utils.cache import patch_cache_control

logger = logging.getLogger(__name__)


class SecurityHeadersMiddleware:
    """
    - Every API answer is `Cache-Control: no-store`: it carries a partner's data, and some carry a
      secret shown once (a new token's key, revealed EAB credentials); no browser or proxy keeps it.
    - In the admin, a custom page given the id of a row that does not exist is a 404, not a 500.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.path.startswith("/api/"):
            patch_cache_control(response, no_store=True)
        return response

    def process_exception(self, request, exception):
        if isinstance(exception, ObjectDoesNotExist) and request.path.startswith("/admin/"):
            logger.info("Admin page for a missing row: %s (%s)", request.path, exception)
            return response_for_exception(request, Http404(str(exception)))
        return None
