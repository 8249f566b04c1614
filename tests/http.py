"""A tiny blocking HTTP client for tests that check raw responses of the simulator."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from email.message import Message
from typing import Any

Response = tuple[int, Message, Any]  # JSON bodies: Any keeps the asserts readable


def call(
    url: str, headers: dict[str, str] | None = None, body: object = None, method: str = "GET"
) -> Response:
    """Send one request; return status, headers and the decoded JSON body."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=5) as resp:
            return resp.status, resp.headers, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        with err:
            return err.code, err.headers, json.loads(err.read())
