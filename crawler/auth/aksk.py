"""Huawei Cloud AK/SK request signing ("SDK-HMAC-SHA256", API.md 5.3).

``canonical_request`` and ``sign`` are pure and reproduce the Huawei SDK's signer byte for
byte (its published test vector is in the tests); ``AkSkAuth`` wraps them as a provider.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Mapping
from typing import Final
from urllib.parse import quote, unquote

import aiohttp
from yarl import URL

from crawler.auth.base import AuthStats

ALGORITHM: Final = "SDK-HMAC-SHA256"
DATE_HEADER: Final = "X-Sdk-Date"
DATE_FORMAT: Final = "%Y%m%dT%H%M%SZ"
# A header the SDK uses to sign without hashing the body (e.g. "UNSIGNED-PAYLOAD").
_CONTENT_SHA256: Final = "x-sdk-content-sha256"


def _encode(text: str) -> str:
    # RFC 3986 unreserved characters stay, everything else (including "/") is escaped.
    return quote(text, safe="~")


def _canonical_uri(url: URL) -> str:
    # Decode the path as sent on the wire (raw_path), as the gateway does before splitting.
    uri = "/".join(_encode(segment) for segment in unquote(url.raw_path).split("/"))
    return uri if uri.endswith("/") else uri + "/"


def _canonical_query(url: URL) -> str:
    # The raw query is decoded with plain unquote ("+" stays "+", unlike form decoding).
    # Sorting the (key, value) pairs puts repeated keys in value order, like the SDK.
    pairs = sorted(
        (unquote(key), unquote(value))
        for key, _, value in (part.partition("=") for part in url.raw_query_string.split("&"))
        if key
    )
    return "&".join(f"{_encode(key)}={_encode(value)}" for key, value in pairs)


def canonical_request(
    method: str, url: URL, headers: Mapping[str, str], body: bytes
) -> tuple[str, str]:
    """Build the canonical request that gets signed.

    Args:
        method: HTTP method.
        url: Request URL; its path and query are canonicalised.
        headers: Every header to sign (all of them are signed).
        body: Request body (``b""`` for GET).

    Returns:
        The canonical request text and the ``SignedHeaders`` value.
    """
    lowered = {name.lower(): value.strip() for name, value in headers.items()}
    names = sorted(lowered)
    signed_headers = ";".join(names)
    canonical_headers = "".join(f"{name}:{lowered[name]}\n" for name in names)
    payload_hash = lowered.get(_CONTENT_SHA256) or hashlib.sha256(body).hexdigest()
    text = "\n".join(
        [
            method.upper(),
            _canonical_uri(url),
            _canonical_query(url),
            canonical_headers,
            signed_headers,
            payload_hash,
        ]
    )
    return text, signed_headers


def string_to_sign(canonical: str, date: str) -> str:
    """``SDK-HMAC-SHA256\\n<date>\\n<hex sha256 of the canonical request>``."""
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    return f"{ALGORITHM}\n{date}\n{digest}"


def sign(
    method: str, url: URL, headers: Mapping[str, str], body: bytes, *, ak: str, sk: str
) -> str:
    """Return the ``Authorization`` header value for a request.

    Raises:
        ValueError: ``headers`` lacks ``X-Sdk-Date`` or ``Host`` (both must be signed).
    """
    lowered = {name.lower(): value for name, value in headers.items()}
    if DATE_HEADER.lower() not in lowered or "host" not in lowered:
        raise ValueError("headers to sign must contain X-Sdk-Date and Host")
    canonical, signed_headers = canonical_request(method, url, headers, body)
    to_sign = string_to_sign(canonical, lowered[DATE_HEADER.lower()].strip())
    signature = hmac.new(sk.encode("utf-8"), to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    return f"{ALGORITHM} Access={ak}, SignedHeaders={signed_headers}, Signature={signature}"


def host_header(url: URL) -> str:
    """``host[:port]`` as sent in ``Host``: IPv6 bracketed, default ports omitted."""
    host = url.raw_host or ""
    if ":" in host:
        host = f"[{host}]"
    if url.explicit_port is not None and not url.is_default_port():
        host = f"{host}:{url.explicit_port}"
    return host


class AkSkAuth:
    """Signs every request with an access key / secret key pair (Huawei Cloud, OTC).

    Only the headers this provider sets (``Host``, ``X-Sdk-Date``, ``X-Project-Id``) are
    signed, which the gateway accepts because ``SignedHeaders`` lists them; the body is
    taken as empty, which holds for the crawler's GET requests.
    """

    name = "aksk"
    verify_tls = True

    def __init__(self, ak: str, sk: str, *, clock: Callable[[], float] = time.time) -> None:
        self._ak = ak
        self._sk = sk
        self._clock = clock
        self.stats = AuthStats()

    def __repr__(self) -> str:
        return "AkSkAuth(ak=<hidden>, sk=<hidden>)"

    async def headers(
        self, session: aiohttp.ClientSession, method: str, url: URL, project_id: str
    ) -> Mapping[str, str]:
        """Date, Host, project and the signature for this one request."""
        headers = {
            DATE_HEADER: time.strftime(DATE_FORMAT, time.gmtime(self._clock())),
            "Host": host_header(url),
            "X-Project-Id": project_id,
        }
        headers["Authorization"] = sign(method, url, headers, b"", ak=self._ak, sk=self._sk)
        self.stats.signed += 1
        return headers

    async def unauthorized(self, project_id: str, used: Mapping[str, str]) -> bool:
        """A rejected signature will not improve by signing again."""
        return False

    def describe(self) -> dict[str, object]:
        """Method and algorithm only: the access key is treated as a secret too."""
        return {"method": self.name, "algorithm": ALGORITHM}
