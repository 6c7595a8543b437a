"""Constants and small helpers for the vendor tests."""

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

PARTNER_KEY = "dc-partner-key-for-vendor-tests-0001"
OTHER_PARTNER_KEY = "dc-partner-key-for-vendor-tests-0002"
TENANT_TOKEN = "cf-tenant-token-for-vendor-tests-0001"
UNIT_ID = "unit-tag-0001"


def new_subaccount(client, name="acme-customer"):
    return client.create_subaccount(
        name=name, api_key_name=f"{name}-key", emergency_contact_emails=["ops@example.com"]
    )


class CannedTransport(BaseAdapter):
    """Answers every request with one canned response, or raises one exception."""

    def __init__(self, *, status=200, body=b"", headers=None, raises=None):
        super().__init__()
        self.status, self.body, self.headers, self.raises = status, body, headers or {}, raises
        self.sent = []

    def send(self, request, **kwargs):
        self.sent.append(request)
        if self.raises is not None:
            raise self.raises
        response = requests.Response()
        response.status_code = self.status
        response.headers = CaseInsensitiveDict({"Content-Type": "application/json", **self.headers})
        response._content = self.body if isinstance(self.body, bytes) else self.body.encode()
        response.url, response.request, response.reason = request.url, request, "Canned"
        return response

    def close(self):
        pass


def canned(client, **answer) -> CannedTransport:
    """Replace the client's transport by a canned answer (for shapes the sandbox never sends)."""
    transport = CannedTransport(**answer)
    client.session.mount("http://", transport)
    client.session.mount("http://testserver/", transport)
    return transport
