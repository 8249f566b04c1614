"""Keystone v3 password authentication: ``POST /v3/auth/tokens`` (API.md 5.1, 8.1).

Users live in domain ``Default``; projects are the inventory's, named ``project-<index>``
in domain ``Default``. Only project-scoped tokens are issued: the image APIs are
project-level services, and OTC/Huawei IAM require ``scope.project`` for them too, so an
unscoped or domain-scoped request is answered 400 rather than with a token no Nova route
would accept.
"""

from __future__ import annotations

import base64
import hmac
import json
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cached_property
from hashlib import blake2b

from aiohttp import web

from crawler.simulator.records import uuid4_text
from crawler.simulator.stats import SimulatorStats
from crawler.simulator.tokens import TokenInfo, TokenStore

__all__ = ["KeystoneError", "KeystoneService", "keystone_error", "user_id"]

_DOMAIN = {"id": "default", "name": "Default"}
_ROLES = ("member", "reader")
_SERVICES = (("compute", "nova"), ("image", "glance"), ("identity", "keystone"))
_TITLES = {400: "Bad Request", 401: "Unauthorized"}
_UNAUTHORIZED = "The request you have made requires authentication."
_MALFORMED = (
    "Expecting to find {0} in {1}. The server could not comply with the request since it "
    "is either malformed or otherwise incorrect. The client is assumed to be in error."
)


def _hex_id(label: str) -> str:
    return blake2b(label.encode(), digest_size=16, person=b"sim-keystone").hexdigest()


def user_id(name: str) -> str:
    """Return the (stable) id of user ``name``."""
    return _hex_id(f"user:{name}")


def keystone_error(status: int, message: str = _UNAUTHORIZED) -> bytes:
    """Return a Keystone error body (``keystone.exception`` shape)."""
    return json.dumps(
        {"error": {"code": status, "message": message, "title": _TITLES[status]}}
    ).encode()


class KeystoneError(Exception):
    """A request Keystone rejects with ``status`` (400 malformed, 401 not authenticated)."""

    def __init__(self, status: int, message: str = _UNAUTHORIZED) -> None:
        super().__init__(message)
        self.status = status
        self.body = keystone_error(status, message)


def _field(parent: Mapping[str, object], key: str, where: str) -> dict[str, object]:
    """Return ``parent[key]`` when it is an object, else raise the 400 Keystone sends."""
    value = parent.get(key)
    if not isinstance(value, dict):
        raise KeystoneError(400, _MALFORMED.format(key, where))
    return value


def _check_domain(owner: Mapping[str, object], where: str) -> None:
    domain = _field(owner, "domain", where)
    if domain.get("id") != _DOMAIN["id"] and domain.get("name") != _DOMAIN["name"]:
        raise KeystoneError(401)  # no such user or project in that domain


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class KeystoneService:
    """The ``/v3/auth/tokens`` handler over a user table, the projects and a token store."""

    def __init__(
        self,
        *,
        users: Mapping[str, str],
        projects: tuple[str, ...],
        region: str,
        tokens: TokenStore,
        stats: SimulatorStats,
    ) -> None:
        self._users = users
        self._user_names = {user_id(name): name for name in users}
        self._projects = projects
        self._region = region
        self.tokens = tokens
        self._stats = stats

    @cached_property
    def _project_index(self) -> dict[str, int]:
        # Built on first use: a simulator that never issues tokens never pays for it.
        return {project_id: index for index, project_id in enumerate(self._projects)}

    async def issue(self, request: web.Request) -> web.Response:
        """``POST /v3/auth/tokens``: 201 with ``X-Subject-Token``, or a Keystone error."""
        headers = {"Content-Type": "application/json", "Vary": "X-Auth-Token"}
        headers["X-OpenStack-Request-Id"] = "req-" + uuid4_text(os.urandom(16))
        try:
            auth = _field(await self._json(request), "auth", "request")
            user = self._authenticate(_field(auth, "identity", "auth"))
            project_id = self._scope(auth)
        except KeystoneError as exc:
            return web.Response(status=exc.status, body=exc.body, headers=headers)
        token, info = self.tokens.issue(project_id, user)
        self._stats.event("tokens_issued")
        headers["X-Subject-Token"] = token
        origin = f"{request.scheme}://{request.host}"
        body = self._token_body(info, origin, with_catalog="nocatalog" not in request.query)
        return web.Response(status=201, body=json.dumps(body).encode(), headers=headers)

    @staticmethod
    async def _json(request: web.Request) -> dict[str, object]:
        try:
            body = json.loads(await request.read())
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise KeystoneError(400, _MALFORMED.format("auth", "request"))
        return body

    def _authenticate(self, identity: dict[str, object]) -> str:
        """Return the user name of a valid password identity, else raise 401."""
        methods = identity.get("methods")
        if not isinstance(methods, list):
            raise KeystoneError(400, _MALFORMED.format("methods", "identity"))
        if "password" not in methods:
            raise KeystoneError(401)
        user = _field(_field(identity, "password", "identity"), "user", "password")
        if "id" in user:
            name = self._user_names.get(str(user["id"]), "")
        else:
            name = str(user.get("name") or "")
            _check_domain(user, "user")
        expected = self._users.get(name)
        password = user.get("password")
        if expected is None or not isinstance(password, str):
            raise KeystoneError(401)
        if not hmac.compare_digest(expected.encode(), password.encode()):
            raise KeystoneError(401)
        return name

    def _scope(self, auth: dict[str, object]) -> str:
        """Return the project id of the request's project scope."""
        project = _field(_field(auth, "scope", "auth"), "project", "scope")
        if "id" in project:
            project_id = str(project["id"])
            if project_id not in self._project_index:
                raise KeystoneError(401)
            return project_id
        _check_domain(project, "project")
        name = str(project.get("name") or "")
        prefix, _, number = name.partition("-")
        if prefix != "project" or not number.isdigit() or int(number) >= len(self._projects):
            raise KeystoneError(401)
        return self._projects[int(number)]

    def _token_body(self, info: TokenInfo, origin: str, *, with_catalog: bool) -> object:
        index = self._project_index[info.project_id]
        token: dict[str, object] = {
            "methods": ["password"],
            "user": {"domain": _DOMAIN, "id": user_id(info.user), "name": info.user,
                     "password_expires_at": None},
            "audit_ids": [base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=")],
            "expires_at": _iso(info.expires_at),
            "issued_at": _iso(info.issued_at),
            "project": {"domain": _DOMAIN, "id": info.project_id, "name": f"project-{index}"},
            "is_domain": False,
            "roles": [{"id": _hex_id(f"role:{name}"), "name": name} for name in _ROLES],
        }  # fmt: skip
        if with_catalog:
            token["catalog"] = self._catalog(origin, info.project_id)
        return {"token": token}

    def _catalog(self, origin: str, project_id: str) -> list[dict[str, object]]:
        urls = {
            "compute": f"{origin}/v2.1/{project_id}",
            "image": origin,
            "identity": f"{origin}/v3",
        }
        return [
            {
                "type": kind,
                "id": _hex_id(f"service:{kind}"),
                "name": name,
                "endpoints": [
                    {
                        "id": _hex_id(f"endpoint:{kind}:{self._region}"),
                        "interface": "public",
                        "region": self._region,
                        "region_id": self._region,
                        "url": urls[kind],
                    }
                ],
            }
            for kind, name in _SERVICES
        ]
