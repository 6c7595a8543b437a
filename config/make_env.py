"""Write a development .env with freshly generated keys, unless one exists. Needs only the stdlib.

`--port N` (make run PORT=N) also points a local SITE_URL at that port, so manage.py commands run
in another shell (billing_run, sandbox_dr, ...) reach the server this run starts.
"""

import argparse
import base64
import os
import re
import secrets
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Only a loopback SITE_URL follows the port; any other (a tunnel, a host name) is the user's choice.
LOCAL_SITE_URL = re.compile(r"^SITE_URL=(http://(127\.0\.0\.1|localhost)(:\d+)?/?)?\s*$")


def set_port(target: Path, port: int) -> None:
    """Point a local SITE_URL line of `target` at `port`; others are left alone."""
    wanted = f"SITE_URL=http://127.0.0.1:{port}"
    lines = target.read_text().splitlines()
    for index, line in enumerate(lines):
        if line.startswith("SITE_URL="):
            if line.strip() == wanted or not LOCAL_SITE_URL.match(line):
                return
            lines[index] = wanted
            break
    else:
        lines.append(wanted)
    target.write_text("\n".join(lines) + "\n")
    print(f".env: {wanted} (for manage.py commands in another shell).")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, help="Point a local SITE_URL at this port.")
    args = parser.parse_args(argv)
    target = ROOT / ".env"
    if target.exists():
        print(".env exists; left as is." if args.port is None else ".env exists; keys left as is.")
    else:
        write(target)
    if args.port is not None:
        set_port(target, args.port)
    return 0


def write(target: Path) -> None:
    """Write `target` from .env.example, with fresh keys."""
    template = (ROOT / ".env.example").read_text()
    generated = {
        "SECRET_KEY": secrets.token_urlsafe(50),
        # A Fernet key is 32 random bytes, url-safe base64.
        "SECRET_ENCRYPTION_KEYS": base64.urlsafe_b64encode(os.urandom(32)).decode(),
        "DEBUG": "true",
    }
    lines = []
    for line in template.splitlines():
        name = line.split("=", 1)[0].lstrip("# ").strip()
        if name in generated and "=" in line:
            line = f"{name}={generated.pop(name)}"
        lines.append(line)
    target.write_text("\n".join(lines) + "\n")
    print("Wrote .env with fresh development keys.")


if __name__ == "__main__":
    sys.exit(main())
