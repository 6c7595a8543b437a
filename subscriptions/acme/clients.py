"""Ready-to-paste ACME client configuration for a contract's directory URL and EAB pair.

One place decides the challenge (`challenge_for`): HTTP-01 cannot validate a wildcard name, so as
soon as one SAN is a wildcard every client's configuration uses DNS-01, with a DNS provider
placeholder the user must replace (see ../shared/design/vendors.md section 0 item 9). Values are
quoted for the language they land in: `shlex.quote` in shell commands (so `*.example.com` is never
expanded by a shell), double-quoted scalars in YAML (where a bare `*` starts an alias).
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass

from django.template.loader import render_to_string

CLIENTS = [
    ("certbot", "certbot", "sh"),
    ("acme.sh", "acme_sh", "sh"),
    ("cert-manager", "cert_manager", "yaml"),
    ("Caddy", "caddy", "caddyfile"),
]

HTTP01 = "http-01"
DNS01 = "dns-01"

# The DNS provider placeholders. Plain words, so a pasted snippet stays valid shell/YAML/Caddyfile
# and fails loudly (unknown plugin, unknown solver, unknown module) until the user replaces them.
DNS_PROVIDER = "PROVIDER"
ACME_SH_DNS_API = "dns_PROVIDER"

WILDCARD_REASON = "a wildcard name can only be validated by DNS-01"


def is_wildcard(name: str) -> bool:
    return name.startswith("*")


def needs_dns01(sans) -> bool:
    """True when any SAN is a wildcard: HTTP-01 cannot validate `*.example.com`."""
    return any(is_wildcard(san) for san in sans)


@dataclass(frozen=True)
class Challenge:
    type: str  # HTTP01 or DNS01
    reason: str

    @property
    def dns01(self) -> bool:
        return self.type == DNS01

    @property
    def label(self) -> str:
        return self.type.upper()


def challenge_for(sans) -> Challenge:
    """The ACME challenge every client configuration of these SANs uses, and why."""
    wildcards = [san for san in sans if is_wildcard(san)]
    if wildcards:
        return Challenge(DNS01, f"{', '.join(wildcards)}: {WILDCARD_REASON}")
    return Challenge(HTTP01, "no name is a wildcard, so each name is validated over HTTP on port 80")


def yaml_quote(value: str) -> str:
    """A YAML double-quoted scalar (a JSON string is one)."""
    return json.dumps(str(value))


def k8s_name(san: str) -> str:
    """A Kubernetes object name (DNS-1123) for a certificate of `san`: `*.a.example` -> wildcard-a-example."""
    name = re.sub(r"[^a-z0-9]+", "-", san.lower().replace("*", "wildcard")).strip("-")
    return name[:50].rstrip("-") or "certificate"


def client_configs(
    *, directory_url: str, key_id: str, hmac_key: str, sans: list[str], email: str = ""
) -> list[dict]:
    """One snippet per client, from templates/subscriptions/acme_clients/, all with the same challenge."""
    sans = list(sans)
    email = email or "admin@" + sans[0].lstrip("*.")
    challenge = challenge_for(sans)
    raw = {"directory_url": directory_url, "key_id": key_id, "hmac_key": hmac_key, "email": email}
    context = {
        "challenge": challenge,
        "provider": DNS_PROVIDER,
        "acme_sh_dns_api": ACME_SH_DNS_API,
        "sans": sans,
        "sh": {**{k: shlex.quote(v) for k, v in raw.items()}, "sans": [shlex.quote(s) for s in sans]},
        "yaml": {**{k: yaml_quote(v) for k, v in raw.items()}, "sans": [yaml_quote(s) for s in sans]},
        "raw": raw,
        "secret_name": "digicert-eab",
        "certificate_name": k8s_name(sans[0]),
    }
    return [
        {
            "client": label,
            "language": language,
            "challenge": challenge.type,
            "challenge_reason": challenge.reason,
            "text": render_to_string(f"subscriptions/acme_clients/{name}.txt", context).strip() + "\n",
        }
        for label, name, language in CLIENTS
    ]
