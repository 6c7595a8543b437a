"""Last line of defence: log records never carry a secret's plaintext."""

import logging
import re

# Authorization headers, X-PARTNER-APIKEY values, Fernet tokens, our API tokens, EAB HMAC keys.
_PATTERNS = [
    re.compile(
        r"(?i)(authorization|x-partner-apikey|api[_-]?key|hmac[_-]?key|token|secret)"
        r"([\"']?\s*[:=]\s*[\"']?)(bearer\s+|token\s+)?[^\s\"',}]+"
    ),
    re.compile(r"gAAAAA[0-9A-Za-z_\-=]{20,}"),
]


class RedactSecretsFilter(logging.Filter):
    """Replace anything shaped like a credential in the formatted message."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = _PATTERNS[1].sub("[redacted]", _PATTERNS[0].sub(r"\1\2[redacted]", message))
        if redacted != message:
            record.msg, record.args = redacted, None
        return True
