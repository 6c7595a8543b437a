"""Write a development .env with freshly generated keys, unless one exists. Needs only the stdlib."""

import base64
import os
import secrets
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    target = ROOT / ".env"
    if target.exists():
        print(".env exists; left as is.")
        return 0
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
