"""The one error every vendor client raises: classified, so the caller knows what to do next."""

from __future__ import annotations

from typing import Any


class VendorError(Exception):
    """A vendor call that did not succeed: the vendor's code and message, plus what it means for us.

    - `retryable`: worth trying again later (429, 5xx, timeouts, connection errors).
    - `outcome_unknown`: the vendor may have executed the request although we got no usable
      answer; reconcile by lookup before any second create.
    - `retry_after`: seconds the vendor asked us to wait (Retry-After), if it said so.
    - `raw`: the parsed error body, with our own credentials scrubbed out.
    """

    def __init__(
        self,
        vendor: str,
        code: str,
        message: str,
        *,
        status: int | None = None,
        retryable: bool = False,
        outcome_unknown: bool = False,
        retry_after: float | None = None,
        raw: Any = None,
    ):
        super().__init__(f"{code}: {message}")
        self.vendor = vendor
        self.code = code
        self.message = message
        self.status = status
        self.retryable = retryable
        self.outcome_unknown = outcome_unknown
        self.retry_after = retry_after
        self.raw = raw

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"

    def __repr__(self) -> str:
        return (
            f"VendorError(vendor={self.vendor!r}, status={self.status!r}, code={self.code!r}, "
            f"retryable={self.retryable}, outcome_unknown={self.outcome_unknown})"
        )

    def __reduce__(self):
        # Keyword-only arguments do not survive the default exception pickling (task results).
        return (self.__class__, (self.vendor, self.code, self.message), self.__dict__)
