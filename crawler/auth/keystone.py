"""Keystone v3 password authentication with one project-scoped token per project.

Nova rejects a token scoped to another project (API.md 10), so a crawl over N projects needs
N tokens. Each is fetched lazily on first use (``POST {auth_url}/v3/auth/tokens``, API.md
5.1), shared by all concurrent callers, refreshed shortly before ``expires_at`` and dropped
when a 401 shows it was revoked.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

import aiohttp
import anyio
from yarl import URL

from crawler.auth.base import TOKEN_HEADER, AuthStats
from crawler.auth.errors import AuthError
from crawler.auth.tokens import IssuedToken, fetch_token
from crawler.errors import ConfigError

INTERFACES = ("public", "internal", "admin")
REFRESH_RETRY_S = 30.0  # pause after a failed proactive refresh


def normalize_auth_url(value: str) -> str:
    """Strip whitespace, trailing ``/`` and a trailing ``/v3`` (the provider appends it).

    Raises:
        ConfigError: the value is not an absolute http(s) URL.
    """
    text = value.strip().rstrip("/")
    if text.endswith("/v3"):
        text = text[: -len("/v3")].rstrip("/")
    url = URL(text)
    if url.scheme not in ("http", "https") or not url.host:
        raise ConfigError(f"auth_url {value!r}: expected an http(s) URL of the identity service")
    return text


@dataclass(frozen=True, slots=True)
class KeystoneCredentials:
    """Who logs in where; ``password`` never appears in repr."""

    auth_url: str
    username: str | None
    user_id: str | None
    password: str = field(repr=False)
    user_domain_name: str | None = None
    user_domain_id: str | None = None
    project_domain_name: str | None = None
    project_domain_id: str | None = None
    region_name: str | None = None
    interface: str = "public"
    verify: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "auth_url", normalize_auth_url(self.auth_url))
        if not (self.username or self.user_id):
            raise ConfigError("Keystone credentials need a username or a user_id")
        if not self.password:
            raise ConfigError("Keystone credentials need a password")
        if self.interface not in INTERFACES:
            raise ConfigError(f"interface {self.interface!r}: choose one of {INTERFACES}")

    def user_identity(self) -> dict[str, object]:
        """The ``auth.identity.password.user`` object: by id, or by name plus domain."""
        user: dict[str, object]
        if self.user_id:
            user = {"id": self.user_id}
        else:
            domain = (
                {"id": self.user_domain_id}
                if self.user_domain_id
                else {"name": self.user_domain_name}
            )
            user = {"name": self.username, "domain": domain}
        user["password"] = self.password
        return user


@dataclass(slots=True)
class _Project:
    """Per-project state; the lock makes concurrent callers share one token request."""

    lock: anyio.Lock = field(default_factory=anyio.Lock)
    token: IssuedToken | None = None
    catalog: list[dict[str, object]] | None = None
    attempts: int = 0  # token requests finished, so waiters can tell one happened
    error: AuthError | None = None  # failure of the latest request, shared with its waiters
    revoked: bool = False  # the last token was dropped after a 401


class KeystonePasswordAuth:
    """An ``AuthProvider`` that logs in with a password, per project, on demand."""

    name = "keystone"

    def __init__(
        self,
        credentials: KeystoneCredentials,
        *,
        refresh_margin_s: float = 300.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._credentials = credentials
        self._margin = refresh_margin_s
        self._clock = clock
        self._projects: dict[str, _Project] = {}
        self._authenticated: set[str] = set()
        self.stats = AuthStats()

    def __repr__(self) -> str:
        return f"KeystonePasswordAuth({self._credentials!r})"

    @property
    def region_name(self) -> str | None:
        """The region the credentials name (``OS_REGION_NAME``, clouds.yaml ``region_name``)."""
        return self._credentials.region_name

    @property
    def interface(self) -> str:
        """Which catalog interface to use: public, internal or admin."""
        return self._credentials.interface

    @property
    def verify_tls(self) -> bool:
        """Whether TLS certificates are checked, for Keystone and for the compute API alike."""
        return self._credentials.verify

    async def headers(
        self, session: aiohttp.ClientSession, method: str, url: URL, project_id: str
    ) -> Mapping[str, str]:
        """``X-Auth-Token`` with a token scoped to ``project_id``.

        Raises:
            AuthError: the token request failed.
        """
        token = await self._token(session, project_id)
        return {TOKEN_HEADER: token.value}

    async def _token(self, session: aiohttp.ClientSession, project_id: str) -> IssuedToken:
        project = self._projects.setdefault(project_id, _Project())
        token, now = project.token, self._clock()
        if token is not None:
            if now < token.refresh_at:
                return token
            # Someone is already refreshing; the old token is still good until it expires.
            if now < token.expires_at and project.lock.locked():
                return token
        seen = project.attempts
        async with project.lock:
            if project.attempts != seen and project.error is not None:
                # The request this caller waited for failed; do not repeat it at once.
                raise AuthError(str(project.error))
            token = project.token
            if token is None or self._clock() >= token.refresh_at:
                token = await self._issue(session, project_id, project)
            return token

    async def _issue(
        self, session: aiohttp.ClientSession, project_id: str, project: _Project
    ) -> IssuedToken:
        try:
            token = await fetch_token(
                session, self._credentials, project_id, self._clock, self._margin
            )
        except AuthError as exc:
            previous, now = project.token, self._clock()
            if previous is not None and now < previous.expires_at:
                # A failed proactive refresh must not fail requests while the old token is
                # valid; try again a little later rather than on every request.
                retry_at = now + min(REFRESH_RETRY_S, (previous.expires_at - now) / 2)
                project.token = replace(previous, refresh_at=retry_at)
                return project.token
            project.error = exc
            raise
        finally:
            project.attempts += 1
        self.stats.tokens_issued += 1
        if project.revoked:
            self.stats.reauths += 1
        elif project.token is not None:
            self.stats.refreshes += 1
        project.token, project.catalog = token, token.catalog
        self._authenticated.add(project_id)
        project.error, project.revoked = None, False
        return token

    async def unauthorized(self, project_id: str, used: Mapping[str, str]) -> bool:
        """Drop the project's token if ``used`` carried it; a retry will fetch a new one.

        A stale ``used`` token (already replaced) changes nothing, so twenty concurrent 401s
        for one token lead to one new token request. Always True: a fresh token may help.
        """
        project = self._projects.get(project_id)
        token = None if project is None else project.token
        if project is not None and token is not None and token.value == used.get(TOKEN_HEADER):
            project.token, project.revoked = None, True
        return True

    async def service_catalog(
        self, session: aiohttp.ClientSession, project_id: str
    ) -> list[dict[str, object]] | None:
        """The project's service catalog, logging in first when no token was issued yet.

        Raises:
            AuthError: the token request failed.
        """
        await self._token(session, project_id)
        return self.catalog(project_id)

    def catalog(self, project_id: str) -> list[dict[str, object]] | None:
        """The service catalog that came with the project's latest token, if any."""
        project = self._projects.get(project_id)
        return None if project is None else project.catalog

    def describe(self) -> dict[str, object]:
        """Identity endpoint, user and how many projects got a token; no secrets."""
        creds = self._credentials
        return {
            "method": self.name,
            "auth_url": creds.auth_url,
            "user": creds.username or creds.user_id,
            "user_domain": creds.user_domain_name or creds.user_domain_id,
            "region_name": creds.region_name,
            "interface": creds.interface,
            "verify": creds.verify,
            "projects_authenticated": len(self._authenticated),
        }
