"""Keystone tokens issued by the simulator: who they belong to and until when.

Safe to use from any thread: tests expire tokens from outside the server's event loop.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass

from crawler.simulator.ratelimit import Clock

__all__ = ["TokenInfo", "TokenStore"]


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """A project-scoped token.

    Attributes:
        project_id: The project it is scoped to.
        user: Name of the user it was issued to.
        issued_at: Wall-clock time of issue (seconds since the epoch).
        expires_at: Wall-clock time it stops being valid.
    """

    project_id: str
    user: str
    issued_at: float
    expires_at: float


class TokenStore:
    """Issues opaque tokens and answers which project a presented token is scoped to."""

    def __init__(self, ttl_s: float, clock: Clock = time.time) -> None:
        self._ttl = ttl_s
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens: dict[str, TokenInfo] = {}

    def issue(self, project_id: str, user: str) -> tuple[str, TokenInfo]:
        """Return a new token for ``user`` scoped to ``project_id``, and its record."""
        # Fernet tokens start "gAAAAA" and run to ~200 characters; clients must not care.
        token = "gAAAAAB" + secrets.token_urlsafe(150)
        now = self._clock()
        info = TokenInfo(project_id, user, now, now + self._ttl)
        with self._lock:
            self._tokens[token] = info
        return token, info

    def project_of(self, token: str) -> str | None:
        """Return the project ``token`` is scoped to, or None if unknown or expired."""
        with self._lock:
            info = self._tokens.get(token)
        if info is None or self._clock() >= info.expires_at:
            return None
        return info.project_id

    def expire_all(self) -> int:
        """Invalidate every token issued so far; return how many there were."""
        with self._lock:
            count = len(self._tokens)
            self._tokens = {}
        return count
