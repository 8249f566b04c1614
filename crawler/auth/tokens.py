"""One Keystone v3 token request (API.md 5.1) and the parsing of its answer.

Every failure becomes an ``AuthError`` here, at the layer boundary, with a message that
names the endpoint, project, HTTP status and Keystone's own text, and never a secret.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final

import aiohttp

from crawler.auth.errors import AuthError

if TYPE_CHECKING:
    from crawler.auth.keystone import KeystoneCredentials

SUBJECT_TOKEN: Final = "X-Subject-Token"
_MESSAGE_LIMIT: Final = 300


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A project-scoped token; times are on the provider's clock, ``value`` is hidden."""

    value: str = field(repr=False)
    expires_at: float
    refresh_at: float
    catalog: list[dict[str, object]]


def _timestamp(value: object) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    # Keystone always writes UTC ("...Z"); a zone-less time is read as UTC, not local time.
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _error_text(body: bytes, status: int) -> str:
    """Keystone's ``{"error": {"message"}}`` or IAM's ``{"error_msg"}``, else the raw text."""
    try:
        decoded = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        decoded = None
    if isinstance(decoded, Mapping):
        error = decoded.get("error")
        if isinstance(error, Mapping) and isinstance(error.get("message"), str):
            return str(error["message"])
        if isinstance(decoded.get("error_msg"), str):
            return f"{decoded.get('error_code', '')}: {decoded['error_msg']}".lstrip(": ")
    return body.decode("utf-8", "replace").strip() or f"HTTP {status}"


def request_body(credentials: KeystoneCredentials, project_id: str) -> dict[str, object]:
    """The password-method request scoped to one project by id (so no project domain)."""
    return {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {"user": credentials.user_identity()},
            },
            "scope": {"project": {"id": project_id}},
        }
    }


def parse_token(
    header: str | None, body: bytes, started: float, margin: float
) -> IssuedToken | str:
    """Build the token from a 201 answer, or return why the answer is unusable.

    Expiry is taken as ``started + (expires_at - issued_at)`` when both are present, so a
    skewed local clock neither expires tokens early nor keeps them too long.
    """
    if not header:
        return f"no {SUBJECT_TOKEN} header in the answer"
    try:
        token = json.loads(body)["token"]
        expires = _timestamp(token["expires_at"])
    except (ValueError, UnicodeDecodeError, KeyError, TypeError):
        return "answer body has no token.expires_at"
    if expires is None:
        return "token.expires_at is not an ISO 8601 time"
    issued = _timestamp(token.get("issued_at"))
    lifetime = expires - issued if issued is not None else expires - started
    expires_at = started + lifetime
    # A margin longer than the token lives would refresh on every request; cap it at half.
    refresh_at = expires_at - min(margin, max(lifetime, 0.0) / 2)
    raw_catalog = token.get("catalog")
    entries = raw_catalog if isinstance(raw_catalog, list) else []
    catalog = [entry for entry in entries if isinstance(entry, dict)]
    return IssuedToken(header, expires_at, refresh_at, catalog)


async def fetch_token(
    session: aiohttp.ClientSession,
    credentials: KeystoneCredentials,
    project_id: str,
    clock: Callable[[], float],
    margin: float,
) -> IssuedToken:
    """Ask Keystone for a token scoped to ``project_id``.

    Raises:
        AuthError: non-2xx answer, unusable answer, or a network failure.
    """
    url = f"{credentials.auth_url}/v3/auth/tokens"
    where = f"Keystone {url} (project {project_id})"
    started = clock()
    try:
        async with session.post(
            url,
            json=request_body(credentials, project_id),
            headers={"Accept": "application/json"},
            ssl=credentials.verify,  # False skips certificate checks (clouds.yaml verify: false)
            allow_redirects=False,
            raise_for_status=False,  # the status is read below, with Keystone's message
        ) as response:
            body = await response.read()
            status, header = response.status, response.headers.get(SUBJECT_TOKEN)
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise AuthError(f"{where}: {type(exc).__name__}: {exc}") from exc
    if not 200 <= status < 300:
        text = _error_text(body, status).replace(credentials.password, "<hidden>")
        raise AuthError(f"{where}: HTTP {status}: {text[:_MESSAGE_LIMIT]}")
    token = parse_token(header, body, started, margin)
    if isinstance(token, str):
        raise AuthError(f"{where}: HTTP {status}: {token}")
    return token
