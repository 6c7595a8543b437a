"""Helpers the dashboard page tests share."""

from django.db import connection
from django.test.utils import CaptureQueriesContext


def count_queries(client, url, **extra) -> int:
    """How many queries one GET of `url` runs, a streamed body (CSV) read to its end; it must answer 200."""
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, **extra)
        if hasattr(response, "streaming_content"):
            b"".join(response.streaming_content)
    assert response.status_code == 200
    return len(queries)
