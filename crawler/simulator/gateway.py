"""Huawei Cloud / OTC API Gateway answers (API.md section 6.1).

Requests to ECS and IMS pass the gateway first; its own failures (auth, throttling,
backend timeouts) use ``{"error_msg", "error_code", "request_id"}`` instead of Nova faults.
"""

from __future__ import annotations

import json
import os

from aiohttp import web

__all__ = [
    "AKSK_INVALID",
    "BACKEND_TIMEOUT",
    "TOKEN_MISSING",
    "TOKEN_OUTDATED",
    "apig_response",
    "throttle_message",
]

#: (HTTP status, error_code, error_msg) of the gateway errors the simulator produces.
AKSK_INVALID = (401, "APIGW.0301", "Incorrect IAM authentication information.")
TOKEN_MISSING = (
    401,
    "APIGW.0301",
    "Incorrect IAM authentication information: x-auth-token not found",
)
TOKEN_OUTDATED = (401, "APIGW.0307", "The token must be updated.")
BACKEND_TIMEOUT = (504, "APIGW.0201", "Backend timeout.")


def throttle_message(limit: float) -> str:
    """The message of a 429 ``APIG.0308``, with the policy detail real gateways add."""
    shown = int(limit) if float(limit).is_integer() else limit
    return (
        "The throttling threshold has been reached: "
        f"policy user over ratelimit,limit:{shown},time:1 second"
    )


def apig_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    """Return a gateway error; ``request_id`` is fresh and echoed in ``X-Request-Id``."""
    request_id = os.urandom(16).hex()
    body = {"error_msg": message, "error_code": code, "request_id": request_id}
    all_headers = {"Content-Type": "application/json", "X-Request-Id": request_id}
    all_headers.update(headers or {})
    return web.Response(status=status, body=json.dumps(body).encode(), headers=all_headers)
