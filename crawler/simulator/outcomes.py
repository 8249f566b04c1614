"""Answering a decided :class:`~crawler.simulator.injector.Fault` over HTTP.

Each fault looks like what a real endpoint sends: Nova faults for backend errors, API
Gateway bodies for Huawei throttling and backend timeouts, and cut connections or late
answers below HTTP. Faults that need the normal answer (a cut or corrupted body, a late
reply) get it from the ``answer`` callable, so the route logic lives in one place.
"""

from __future__ import annotations

import asyncio
import json
import math
import socket
import struct
import time
from collections.abc import Callable
from email.utils import formatdate

from aiohttp import web
from multidict import CIMultiDict

from crawler.simulator.faults import FaultConfig
from crawler.simulator.gateway import BACKEND_TIMEOUT, apig_response, throttle_message
from crawler.simulator.injector import Fault
from crawler.simulator.nova import fault_body

__all__ = ["Answer", "LostResponse", "answer_fault"]

#: Produces the normal ``(status, body)`` of the request and completes its headers.
Answer = Callable[[], tuple[int, bytes]]

_ERROR_MESSAGES = {
    500: "Unexpected API Error. Please report this at http://bugs.launchpad.net/nova/ and "
    "attach the Nova API log if possible.\n<class 'glanceclient.exc.HTTPInternalServerError'>",
    502: "Bad Gateway",
    503: "Image service is unavailable. Please try again later.",
}
_NOVA_THROTTLE = "This request was rate-limited."
_DEFAULT_LIMIT = 200.0  # API Gateway's documented default per API
_POLL_S = 0.05


class LostResponse(web.StreamResponse):
    """A response the client never fully got; counted by ``outcome``, not by status."""

    def __init__(
        self, outcome: str, *, status: int = 200, headers: CIMultiDict[str] | None = None
    ) -> None:
        super().__init__(status=status, headers=headers)
        self.outcome = outcome


def _retry_after(config: FaultConfig) -> str | None:
    delay = config.retry_after
    if delay is None:
        return None
    seconds = math.ceil(delay)
    if config.retry_after_http_date:
        # Rounded up so the date is never earlier than now + the delay.
        return formatdate(math.ceil(time.time()) + seconds, usegmt=True)
    return str(seconds)


def _throttled(config: FaultConfig, headers: CIMultiDict[str]) -> web.Response:
    retry_after = _retry_after(config)
    if config.throttle_style == "huawei":
        extra = {} if retry_after is None else {"Retry-After": retry_after}
        limit = config.rate_limit or _DEFAULT_LIMIT
        return apig_response(429, "APIG.0308", throttle_message(limit), extra)
    status = 413 if config.throttle_style == "nova413" else 429
    fault: dict[str, object] = {"code": status, "message": _NOVA_THROTTLE}
    if retry_after is not None:
        fault["retryAfter"] = retry_after
        headers["Retry-After"] = retry_after
    body = json.dumps({"overLimit": fault}).encode()
    return web.Response(status=status, body=body, headers=headers)


def _error(status: int, headers: CIMultiDict[str]) -> web.Response:
    if status == 504:
        return apig_response(*BACKEND_TIMEOUT)
    body = fault_body(status, _ERROR_MESSAGES[status])
    return web.Response(status=status, body=body, headers=headers)


def _bad_json(variant: int, headers: CIMultiDict[str], answer: Answer) -> web.Response:
    _, body = answer()
    # Truncated (a proxy cut the body short) or malformed (a trailing comma).
    broken = body[: len(body) * 2 // 3] if variant == 0 else body[:-1] + b",}"
    return web.Response(status=200, body=broken, headers=headers)


async def _reset(
    request: web.Request, variant: int, headers: CIMultiDict[str], answer: Answer
) -> LostResponse:
    status, body = answer()
    response = LostResponse("reset", status=status, headers=headers)
    response.content_length = len(body)
    await response.prepare(request)
    transport = request.transport
    if variant == 0:
        await response.write(body[: len(body) // 2])
        if transport is not None:
            transport.close()  # flushes what was written, then FIN: a short body
        return response
    await response.write(b"")  # sends the buffered headers
    if transport is not None:
        sock = transport.get_extra_info("socket")
        if sock is not None:  # linger 0: close() sends RST, a real "connection reset"
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
    return response


async def _hang(
    request: web.Request, hang_s: float, headers: CIMultiDict[str], answer: Answer
) -> web.StreamResponse:
    # aiohttp keeps running a handler whose client left; watching the transport ends the
    # wait early, so an abandoned hang does not hold the server up on shutdown.
    deadline = time.monotonic() + hang_s
    while (left := deadline - time.monotonic()) > 0:
        transport = request.transport
        if transport is None or transport.is_closing():
            return LostResponse("timeout")
        await asyncio.sleep(min(left, _POLL_S))
    status, body = answer()
    return web.Response(status=status, body=body, headers=headers)


async def answer_fault(
    request: web.Request,
    fault: Fault,
    config: FaultConfig,
    headers: CIMultiDict[str],
    answer: Answer,
) -> web.StreamResponse:
    """Return the response that carries out ``fault``.

    Args:
        request: The request being answered.
        fault: What to do to it.
        config: Throttle style, ``Retry-After`` and hang settings.
        headers: Nova response headers so far (request ids, content type).
        answer: The normal answer, for faults that deliver it late or damaged.
    """
    kind = fault.kind
    if kind in ("throttle", "rate_limit"):
        return _throttled(config, headers)
    if kind == "error":
        return _error(fault.status, headers)
    if kind == "bad_json":
        return _bad_json(fault.variant, headers, answer)
    if kind == "reset":
        return await _reset(request, fault.variant, headers, answer)
    return await _hang(request, config.hang_s, headers, answer)
