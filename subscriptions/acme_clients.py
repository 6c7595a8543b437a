"""Ready-to-paste ACME client configuration for a contract's directory URL and EAB pair."""

from __future__ import annotations

from django.template.loader import render_to_string

CLIENTS = [
    ("certbot", "certbot", "sh"),
    ("acme.sh", "acme_sh", "sh"),
    ("cert-manager", "cert_manager", "yaml"),
    ("Caddy", "caddy", "caddyfile"),
]


def client_configs(
    *, directory_url: str, key_id: str, hmac_key: str, sans: list[str], email: str = ""
) -> list[dict]:
    """One snippet per client, from templates/subscriptions/acme_clients/."""
    context = {
        "directory_url": directory_url,
        "key_id": key_id,
        "hmac_key": hmac_key,
        "sans": sans,
        "email": email or "admin@" + sans[0].lstrip("*."),
        "secret_name": "digicert-eab",
    }
    return [
        {
            "client": label,
            "language": language,
            "text": render_to_string(f"subscriptions/acme_clients/{name}.txt", context).strip() + "\n",
        }
        for label, name, language in CLIENTS
    ]
