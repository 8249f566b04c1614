"""Who may call the Nova route: static token, Keystone tokens or AK/SK signatures.

Mirrors where real failures come from: keystonemiddleware answers 401 for missing,
unknown or expired tokens (or, on Huawei Cloud, the API Gateway with ``APIGW.0307``);
Nova itself answers 400 when a valid token is scoped to another project than the URL's;
the gateway answers 401 ``APIGW.0301`` for a bad AK/SK signature.
"""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web
from multidict import CIMultiDict

from crawler.simulator import aksk
from crawler.simulator.config import SimulatorConfig
from crawler.simulator.gateway import AKSK_INVALID, TOKEN_MISSING, TOKEN_OUTDATED, apig_response
from crawler.simulator.nova import UNAUTHORIZED, fault_body, origin_on_port
from crawler.simulator.tokens import TokenStore

__all__ = ["Guard", "credential_of"]


def credential_of(headers: Mapping[str, str]) -> str:
    """Return what identifies the caller for per-credential throttling: token or AK."""
    token = headers.get("X-Auth-Token")
    if token:
        return token
    signed = aksk.parse_authorization(headers.get("Authorization", ""))
    return "" if signed is None else signed.access


def _scope_mismatch(
    url_project: str, context_project: str, headers: CIMultiDict[str]
) -> web.Response:
    message = (
        f"Malformed request URL: URL's project_id '{url_project}' doesn't match "
        f"Context's project_id '{context_project}'"
    )
    return web.Response(status=400, body=fault_body(400, message), headers=headers)


class Guard:
    """Checks the credentials of one Nova request."""

    def __init__(self, config: SimulatorConfig, tokens: TokenStore) -> None:
        self._static = config.token
        self._secrets = config.aksk
        self._tokens = tokens
        self._huawei = config.huawei_errors
        self._keystone_url = config.keystone_url
        self._keystone_here = bool(config.users)

    async def check(
        self, request: web.Request, project_id: str, headers: CIMultiDict[str]
    ) -> web.Response | None:
        """Return the refusal of ``request`` for ``project_id``, or None to let it through.

        Args:
            request: The Nova request.
            project_id: Project in its path.
            headers: Nova response headers so far, for Nova-style refusals.
        """
        authorization = request.headers.get("Authorization", "")
        if self._secrets and authorization.startswith(aksk.ALGORITHM):
            return await self._check_signature(request, project_id, headers)
        token = request.headers.get("X-Auth-Token")
        if token is not None:
            if token == self._static:
                return None  # the static token is valid for every project
            scoped = self._tokens.project_of(token)
            if scoped is not None:
                return (
                    None if scoped == project_id else _scope_mismatch(project_id, scoped, headers)
                )
        return self._unauthorized(request, headers, token_sent=token is not None)

    async def _check_signature(
        self, request: web.Request, project_id: str, headers: CIMultiDict[str]
    ) -> web.Response | None:
        body = await request.read()
        valid = aksk.verify(request.method, request.raw_path, request.headers, body, self._secrets)
        if valid is None:
            return apig_response(*AKSK_INVALID)
        claimed = request.headers.get("X-Project-Id")
        if claimed is not None and claimed != project_id:
            return _scope_mismatch(project_id, claimed, headers)
        return None

    def _unauthorized(
        self, request: web.Request, headers: CIMultiDict[str], *, token_sent: bool
    ) -> web.Response:
        if self._huawei:
            return apig_response(*(TOKEN_OUTDATED if token_sent else TOKEN_MISSING))
        origin = f"{request.scheme}://{request.host}"
        keystone = self._keystone_url or (
            f"{origin}/v3" if self._keystone_here else origin_on_port(origin, 5000)
        )
        headers["WWW-Authenticate"] = f'Keystone uri="{keystone}"'
        return web.Response(status=401, body=UNAUTHORIZED, headers=headers)
