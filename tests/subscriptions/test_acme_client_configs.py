"""Ready-to-paste ACME client configurations: the challenge follows the names (a wildcard needs DNS-01,
vendors.md section 0 item 9), a DNS provider placeholder to replace, and names quoted for the shell and YAML."""

import shlex
import shutil
import subprocess

import pytest
from django.urls import reverse

from subscriptions.acme.clients import (
    ACME_SH_DNS_API,
    DNS_PROVIDER,
    WILDCARD_REASON,
    challenge_for,
    client_configs,
    needs_dns01,
)

DIRECTORY = "https://acme.digicert.com/v2/acme/directory/abc"
KEY_ID = "kid-123"
HMAC = "hmac_KEY-abc="

NAME_KINDS = {
    "plain": ["example.com", "www.example.com"],
    "wildcard": ["*.example.com"],
    "mixed": ["example.com", "*.example.com"],
}
DNS01_KINDS = {"wildcard", "mixed"}


def _configs(sans) -> dict[str, str]:
    configs = client_configs(directory_url=DIRECTORY, key_id=KEY_ID, hmac_key=HMAC, sans=sans)
    return {c["client"]: c for c in configs}


def _commands(text: str) -> list[list[str]]:
    """The shell commands of a snippet, split as a POSIX shell would (continuations joined, comments dropped)."""
    joined = text.replace("\\\n", " ")
    return [
        shlex.split(line)
        for line in joined.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]


def _values(argv: list[str], option: str) -> list[str]:
    return [argv[i + 1] for i, arg in enumerate(argv) if arg == option]


# --- The one decision -------------------------------------------------------------------------


@pytest.mark.parametrize("kind", NAME_KINDS)
def test_the_challenge_is_dns01_exactly_when_a_name_is_a_wildcard(kind):
    sans = NAME_KINDS[kind]
    challenge = challenge_for(sans)
    assert needs_dns01(sans) is (kind in DNS01_KINDS)
    assert challenge.type == ("dns-01" if kind in DNS01_KINDS else "http-01")
    assert (WILDCARD_REASON in challenge.reason) is (kind in DNS01_KINDS)
    configs = _configs(sans)
    assert {c["challenge"] for c in configs.values()} == {challenge.type}
    for config in configs.values():
        assert config["text"].startswith(f"# Challenge: {challenge.type.upper()} ({challenge.reason}).")


# --- certbot ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", NAME_KINDS)
def test_certbot(kind):
    sans = NAME_KINDS[kind]
    [argv] = _commands(_configs(sans)["certbot"]["text"])
    assert argv[:2] == ["certbot", "certonly"]
    assert _values(argv, "-d") == sans
    assert _values(argv, "--server") == [DIRECTORY] and _values(argv, "--eab-hmac-key") == [HMAC]
    if kind in DNS01_KINDS:
        assert "--standalone" not in argv
        assert _values(argv, "--preferred-challenges") == ["dns"]
        assert _values(argv, "--authenticator") == [f"dns-{DNS_PROVIDER}"]
        assert _values(argv, f"--dns-{DNS_PROVIDER}-credentials") == [f"/etc/letsencrypt/{DNS_PROVIDER}.ini"]
        assert "'*.example.com'" in _configs(sans)["certbot"]["text"]
    else:
        assert "--standalone" in argv and DNS_PROVIDER not in " ".join(argv)


# --- acme.sh ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", NAME_KINDS)
def test_acme_sh(kind):
    sans = NAME_KINDS[kind]
    register, issue = _commands(_configs(sans)["acme.sh"]["text"])
    assert register[:2] == ["acme.sh", "--register-account"] and _values(register, "--eab-kid") == [KEY_ID]
    assert issue[:2] == ["acme.sh", "--issue"] and _values(issue, "-d") == sans
    if kind in DNS01_KINDS:
        assert _values(issue, "--dns") == [ACME_SH_DNS_API] and "--standalone" not in issue
    else:
        assert "--standalone" in issue and "--dns" not in issue


@pytest.mark.skipif(not shutil.which("bash"), reason="needs bash")
@pytest.mark.parametrize("client", ["certbot", "acme.sh"])
@pytest.mark.parametrize("kind", NAME_KINDS)
def test_a_real_shell_passes_every_name_unexpanded(client, kind, tmp_path):
    """Run the snippet in bash, in a folder where an unquoted `*.example.com` would glob to files."""
    sans = NAME_KINDS[kind]
    (tmp_path / "a.example.com").touch()
    (tmp_path / "b.example.com").touch()
    script = 'certbot() { printf "%s\\n" "$@"; }\nacme.sh() { printf "%s\\n" "$@"; }\n'
    script += _configs(sans)[client]["text"]
    result = subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True, check=True)
    args = result.stdout.splitlines()
    assert _values(args, "-d") == sans
    assert "a.example.com" not in args


# --- cert-manager -----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", NAME_KINDS)
def test_cert_manager(kind):
    yaml = pytest.importorskip("yaml")
    sans = NAME_KINDS[kind]
    text = _configs(sans)["cert-manager"]["text"]
    secret, issuer, certificate = yaml.safe_load_all(text)
    assert secret["stringData"]["secret"] == HMAC
    acme = issuer["spec"]["acme"]
    assert acme["server"] == DIRECTORY and acme["externalAccountBinding"]["keyID"] == KEY_ID
    [solver] = acme["solvers"]
    assert certificate["kind"] == "Certificate" and certificate["spec"]["dnsNames"] == sans
    assert certificate["spec"]["issuerRef"]["name"] == issuer["metadata"]["name"]
    for san in sans:
        assert f'- "{san}"' in text
    if kind in DNS01_KINDS:
        assert solver == {"dns01": {DNS_PROVIDER: {}}}
        assert certificate["metadata"]["name"].startswith(
            "wildcard-example-com" if kind == "wildcard" else "example"
        )
    else:
        assert set(solver) == {"http01"}


# --- Caddy ------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", NAME_KINDS)
def test_caddy(kind):
    sans = NAME_KINDS[kind]
    text = _configs(sans)["Caddy"]["text"]
    assert f"acme_ca {DIRECTORY}" in text and f"mac_key {HMAC}" in text
    assert f"\n{', '.join(sans)} {{\n" in text
    assert text.count("{") == text.count("}")
    if kind in DNS01_KINDS:
        assert f"\ttls {{\n\t\tdns {DNS_PROVIDER} {{env.DNS_API_TOKEN}}\n\t}}" in text
        assert "caddy-dns" in text
    else:
        assert "tls {" not in text and DNS_PROVIDER not in text


# --- The pages --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_admin_reveal_page_says_dns01_and_why_for_a_wildcard_contract(client, staff, order):
    client.force_login(staff)
    contract = order(sans=["initech.example", "*.initech.example"])
    page = client.post(
        reverse("admin:subscriptions_acmecontract_reveal", args=[contract.pk])
    ).content.decode()
    assert "Challenge: <strong>DNS-01</strong>" in page and WILDCARD_REASON in page
    assert "--preferred-challenges dns" in page and "&#x27;*.initech.example&#x27;" in page
    assert "dns01:" in page and f"dns {DNS_PROVIDER}" in page


@pytest.mark.django_db
def test_the_admin_reveal_page_says_http01_without_wildcards(client, staff, order):
    client.force_login(staff)
    contract = order()
    page = client.post(
        reverse("admin:subscriptions_acmecontract_reveal", args=[contract.pk])
    ).content.decode()
    assert "Challenge: <strong>HTTP-01</strong>" in page and "--standalone" in page
