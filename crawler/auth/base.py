"""What every authentication method offers the client, and the two trivial methods.

The client asks ``headers()`` before each request and calls ``unauthorized()`` after a 401;
everything a method knows about tokens, refreshes and signatures stays behind this protocol.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Protocol

import aiohttp
from yarl import URL

TOKEN_HEADER = "X-Auth-Token"


@dataclass(slots=True)
class AuthStats:
    """Counters for the run manifest."""

    tokens_issued: int = 0  # Keystone tokens obtained
    refreshes: int = 0  # proactive refreshes before expires_at
    reauths: int = 0  # re-authentications after a 401
    signed: int = 0  # AK/SK signatures made

    def as_dict(self) -> dict[str, int]:
        """The counters as a plain dict."""
        return asdict(self)


class AuthProvider(Protocol):
    """One authentication method; ``name`` is one of none, token, keystone, aksk."""

    name: str
    stats: AuthStats

    @property
    def verify_tls(self) -> bool:
        """False when the credentials say so (clouds.yaml ``verify: false``)."""
        ...

    async def headers(
        self, session: aiohttp.ClientSession, method: str, url: URL, project_id: str
    ) -> Mapping[str, str]:
        """Headers that authenticate this one request (may fetch a token first)."""
        ...

    async def unauthorized(self, project_id: str, used: Mapping[str, str]) -> bool:
        """Forget the credential in ``used`` after a 401; True when a retry can help.

        Only the *current* credential is invalidated, so concurrent 401s for one token
        cause one re-authentication.
        """
        ...

    def describe(self) -> dict[str, object]:
        """A secret-free summary for the manifest."""
        ...


class NoAuth:
    """Sends no credentials (simulators, open test clouds)."""

    name = "none"
    verify_tls = True

    def __init__(self) -> None:
        self.stats = AuthStats()

    def __repr__(self) -> str:
        return "NoAuth()"

    async def headers(
        self, session: aiohttp.ClientSession, method: str, url: URL, project_id: str
    ) -> Mapping[str, str]:
        """No headers at all."""
        return {}

    async def unauthorized(self, project_id: str, used: Mapping[str, str]) -> bool:
        """Nothing to refresh: a 401 is final."""
        return False

    def describe(self) -> dict[str, object]:
        """``{"method": "none"}``."""
        return {"method": self.name}


class StaticToken:
    """Sends one pre-issued token (``OS_AUTH_TOKEN``) as ``X-Auth-Token`` on every request."""

    name = "token"
    verify_tls = True

    def __init__(self, token: str) -> None:
        self._headers = {TOKEN_HEADER: token}
        self.stats = AuthStats()

    def __repr__(self) -> str:
        return "StaticToken(token=<hidden>)"

    async def headers(
        self, session: aiohttp.ClientSession, method: str, url: URL, project_id: str
    ) -> Mapping[str, str]:
        """The same token for every project (its scope is the caller's business)."""
        return self._headers

    async def unauthorized(self, project_id: str, used: Mapping[str, str]) -> bool:
        """A static token cannot be renewed, so retrying would fail the same way."""
        return False

    def describe(self) -> dict[str, object]:
        """``{"method": "token"}``; the token itself is never reported."""
        return {"method": self.name}
