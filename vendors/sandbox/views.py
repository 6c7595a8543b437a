"""What every sandbox endpoint does around the vendor logic: faults, the request log, JSON."""

from __future__ import annotations

import contextlib
import json
import socket
import time
from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.utils.http import http_date
from django.views.decorators.csrf import csrf_exempt

from vendors.sandbox.protocol import FAULT_HEADER, IN_PROCESS, TRANSPORT_HEADER
from vendors.sandbox.services import pick_fault, record_request
from vendors.sandbox.state import Fault

# Builds a vendor-shaped error answer: (HTTP status, message) -> response.
ErrorResponse = Callable[[int, str], HttpResponse]


class Refusal(Exception):
    """Raised by a view to answer with a vendor error; nothing it wrote is kept."""

    def __init__(self, response: HttpResponse):
        super().__init__(response.status_code)
        self.response = response


def sandbox_endpoint(vendor: str, base_path: str, error_response: ErrorResponse):
    """Wrap a vendor view: apply injected faults, process in one transaction, log the request.

    `base_path` is the vendor's prefix inside /sandbox/ ("/digicert/v1"); faults and the log
    see paths relative to it, as the vendor's documentation writes them.
    """

    def decorator(view):
        @csrf_exempt
        @wraps(view)
        def endpoint(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            path = _vendor_path(request, base_path)
            # Sandbox-only control (SANDBOX_LATENCY_SECONDS): a vendor that takes this long to answer.
            latency = getattr(settings, "SANDBOX_LATENCY_SECONDS", 0.0)
            if latency > 0:
                time.sleep(latency)
            fault = pick_fault(vendor, request.method, path)
            response: HttpResponse | None = None
            if fault is None or fault.after_work:
                try:
                    response = _process(view, request, *args, **kwargs)
                except Exception:
                    record_request(vendor, request.method, path, 500, fault)
                    raise
            elif fault.http_status:
                response = error_response(fault.http_status, f"sandbox fault: {fault.kind}")
                if fault.kind == "rate_limit" or fault.retry_after is not None:
                    response["Retry-After"] = f"{fault.retry_after if fault.retry_after is not None else 1:g}"
            if response is not None and not response.has_header("Date"):
                # As every real server does (in-process answers have none): the clock-skew check reads it.
                response["Date"] = http_date()
            # The log is written before any interruption so that it is there when the client gives up.
            record_request(vendor, request.method, path, response.status_code if response else None, fault)
            if fault and fault.interruption:
                return _interrupt(request, fault, response, error_response)
            return response

        return endpoint

    return decorator


def _process(view, request, *args, **kwargs) -> HttpResponse:
    try:
        with transaction.atomic():
            return view(request, *args, **kwargs)
    except Refusal as refusal:
        return refusal.response


def _vendor_path(request: HttpRequest, base_path: str) -> str:
    path = request.path_info
    index = path.find(base_path)
    return (path[index + len(base_path) :] if index >= 0 else path) or "/"


def json_body(request: HttpRequest, invalid: Callable[[str], HttpResponse]) -> dict:
    """The request's JSON object, or a Refusal built by `invalid(message)`."""
    try:
        body = json.loads(request.body or b"null")
    except ValueError:
        raise Refusal(invalid("The request body is not valid JSON.")) from None
    if not isinstance(body, dict):
        raise Refusal(invalid("The request body must be a JSON object."))
    return body


def _interrupt(
    request: HttpRequest, fault: Fault, response: HttpResponse | None, error_response: ErrorResponse
) -> HttpResponse:
    """Cut the answer off as the fault says: the client sees a timeout or a dropped connection."""
    if request.headers.get(TRANSPORT_HEADER) == IN_PROCESS:
        # In-process, the transport raises the matching requests exception at once: no sleeping.
        signal = response or HttpResponse(status=504)
        signal[FAULT_HEADER] = fault.interruption
        return signal
    if fault.interruption == "timeout":
        time.sleep(getattr(settings, "SANDBOX_FAULT_SLEEP_SECONDS", settings.VENDOR_TIMEOUT_SECONDS + 2))
        return response or error_response(504, "sandbox fault: the vendor did not answer in time")
    return _dropped(request, response or error_response(502, "sandbox fault: connection dropped"))


def _dropped(request: HttpRequest, response: HttpResponse) -> StreamingHttpResponse:
    """An answer that breaks off: it promises more bytes than it sends, then the connection ends.

    The client reads a short body and raises (requests: ChunkedEncodingError). Servers close
    the connection when the application fails mid-answer (gunicorn does); Django's runserver
    keeps HTTP/1.1 connections open even then, so the socket is also shut down directly.
    """
    body = response.content

    def chunks():
        yield body[: len(body) // 2]
        _shut_down_client_socket(request)
        raise ConnectionAbortedError("sandbox fault: connection dropped")

    broken = StreamingHttpResponse(chunks(), status=response.status_code)
    broken["Content-Type"] = response.get("Content-Type", "application/json")
    broken["Content-Length"] = str(len(body))
    return broken


def _shut_down_client_socket(request: HttpRequest) -> None:
    # Under runserver, wsgi.input wraps the socket's file (LimitedStream -> BufferedReader ->
    # SocketIO). Other servers expose nothing of the kind; they close on the exception instead.
    stream = request.environ.get("wsgi.input")
    reader = getattr(getattr(stream, "_read", None), "__self__", None)
    sock = getattr(getattr(reader, "raw", None), "_sock", None)
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):  # already gone: the client sees the drop either way
            sock.shutdown(socket.SHUT_RDWR)
