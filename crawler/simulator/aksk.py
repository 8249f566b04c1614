"""Verifying Huawei Cloud AK/SK signatures (``SDK-HMAC-SHA256``, API.md section 5.3).

Written from the algorithm's description, independently of the crawler's signer, so the
two only meet on the SDK's published test vector and on real requests. The server
recomputes the canonical request from what arrived: the raw path and query, the headers
named in ``SignedHeaders`` and the body.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote, unquote

__all__ = [
    "ALGORITHM",
    "EMPTY_SHA256",
    "SignedAuthorization",
    "canonical_query",
    "canonical_request",
    "canonical_uri",
    "parse_authorization",
    "signature",
    "string_to_sign",
    "verify",
]

ALGORITHM = "SDK-HMAC-SHA256"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_DATE_FORMAT = "%Y%m%dT%H%M%SZ"


def _encode(text: str) -> str:
    # RFC 3986 unreserved characters stay, everything else (even "/") is escaped.
    return quote(text, safe="~")


def canonical_uri(path: str) -> str:
    """Return the canonical form of a raw (percent-encoded) request path."""
    uri = "/".join(_encode(segment) for segment in unquote(path).split("/"))
    return uri if uri.endswith("/") else uri + "/"


def canonical_query(query: str) -> str:
    """Return the canonical form of a raw query string: decoded, sorted, re-encoded."""
    pairs = []
    for part in query.split("&"):
        if part:
            key, _, value = part.partition("=")
            pairs.append((unquote(key), unquote(value)))
    return "&".join(f"{_encode(k)}={_encode(v)}" for k, v in sorted(pairs))


def canonical_request(
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    signed_headers: Sequence[str],
    payload_hash: str,
) -> str:
    """Return the canonical request the signature covers.

    Args:
        method: HTTP method.
        path: Raw request path, without the query.
        query: Raw query string, without ``?``.
        headers: Request headers, looked up by the lower-cased names in ``signed_headers``.
        signed_headers: Lower-case header names, in the order they were signed.
        payload_hash: Lower-case hex SHA-256 of the body (or ``X-Sdk-Content-Sha256``).

    Raises:
        KeyError: A signed header is missing from ``headers``.
    """
    lowered = {name.lower(): value for name, value in headers.items()}
    block = "".join(f"{name}:{lowered[name].strip()}\n" for name in signed_headers)
    return "\n".join(
        [
            method.upper(),
            canonical_uri(path),
            canonical_query(query),
            block,
            ";".join(signed_headers),
            payload_hash,
        ]
    )


def string_to_sign(canonical: str, sdk_date: str) -> str:
    """Return the string the secret key signs."""
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    return f"{ALGORITHM}\n{sdk_date}\n{digest}"


def signature(secret_key: str, to_sign: str) -> str:
    """Return the lower-case hex HMAC-SHA256 of ``to_sign`` under ``secret_key``."""
    return hmac.new(secret_key.encode(), to_sign.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class SignedAuthorization:
    """The parts of an ``Authorization: SDK-HMAC-SHA256 ...`` header."""

    access: str
    signed_headers: tuple[str, ...]
    signature: str


def parse_authorization(value: str) -> SignedAuthorization | None:
    """Parse ``SDK-HMAC-SHA256 Access=<AK>, SignedHeaders=<a;b>, Signature=<hex>``.

    Returns None for another scheme or a malformed header. Access keys may contain
    spaces (the SDK's test key is ``my ak``), so parts are split on ``", "`` only.
    """
    scheme, _, rest = value.partition(" ")
    if scheme != ALGORITHM:
        return None
    parts = dict(part.partition("=")[::2] for part in rest.split(", "))
    access, signed, sig = (parts.get(k) for k in ("Access", "SignedHeaders", "Signature"))
    if not access or not signed or not sig:
        return None
    return SignedAuthorization(access, tuple(signed.split(";")), sig)


def verify(
    method: str,
    target: str,
    headers: Mapping[str, str],
    body: bytes,
    secrets: Mapping[str, str],
) -> str | None:
    """Return the access key when the request's signature is valid, else None.

    A valid request uses a known AK, signs ``x-sdk-date`` (a well-formed
    ``YYYYMMDDTHHMMSSZ``) and every header it names, and matches the recomputed signature.

    Args:
        method: HTTP method.
        target: Raw request target, path plus ``?query``.
        headers: Request headers (case-insensitive lookups not required).
        body: Request body.
        secrets: AK -> SK.
    """
    lowered = {name.lower(): value for name, value in headers.items()}
    auth = parse_authorization(lowered.get("authorization", ""))
    if auth is None or auth.access not in secrets or "x-sdk-date" not in auth.signed_headers:
        return None
    sdk_date = lowered.get("x-sdk-date", "")
    try:
        datetime.strptime(sdk_date, _DATE_FORMAT)
    except ValueError:
        return None
    payload_hash = lowered.get("x-sdk-content-sha256") or hashlib.sha256(body).hexdigest()
    path, _, query = target.partition("?")
    try:
        canonical = canonical_request(
            method, path, query, lowered, auth.signed_headers, payload_hash
        )
    except KeyError:  # a header named in SignedHeaders was not sent
        return None
    expected = signature(secrets[auth.access], string_to_sign(canonical, sdk_date))
    return auth.access if hmac.compare_digest(expected, auth.signature) else None
