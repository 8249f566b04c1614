"""Authentication: which credentials a run uses, chosen once from the environment.

``auth_from_env`` picks the first method whose variables are set (blank counts as unset):

1. AK/SK signing: ``HUAWEICLOUD_SDK_AK`` and ``HUAWEICLOUD_SDK_SK`` (one without the other
   is a ``ConfigError``);
2. Keystone password login, one token per project: ``OS_CLOUD`` (clouds.yaml) or
   ``OS_AUTH_URL`` with ``OS_USERNAME``/``OS_USER_ID``, ``OS_PASSWORD`` and the domain
   variables (see ``crawler.auth.clouds``);
3. a static token: ``OS_AUTH_TOKEN``;
4. no authentication.

Signing outranks a password because it needs no identity round trip and cannot expire;
a password outranks a static token because it can renew itself mid-run.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from crawler.auth.aksk import AkSkAuth
from crawler.auth.base import AuthProvider, AuthStats, NoAuth, StaticToken
from crawler.auth.clouds import load_keystone_credentials
from crawler.auth.errors import AuthError
from crawler.auth.keystone import KeystoneCredentials, KeystonePasswordAuth
from crawler.errors import ConfigError

AK_ENV: Final = "HUAWEICLOUD_SDK_AK"
SK_ENV: Final = "HUAWEICLOUD_SDK_SK"
TOKEN_ENV: Final = "OS_AUTH_TOKEN"

__all__ = [
    "AK_ENV",
    "SK_ENV",
    "TOKEN_ENV",
    "AkSkAuth",
    "AuthError",
    "AuthProvider",
    "AuthStats",
    "KeystoneCredentials",
    "KeystonePasswordAuth",
    "NoAuth",
    "StaticToken",
    "auth_from_env",
    "load_keystone_credentials",
]


def _value(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


def auth_from_env(env: Mapping[str, str]) -> AuthProvider:
    """The authentication method the environment asks for (precedence in the module doc).

    Raises:
        ConfigError: a method's variables are incomplete or its clouds.yaml is unusable.
    """
    ak, sk = _value(env, AK_ENV), _value(env, SK_ENV)
    if ak and sk:
        return AkSkAuth(ak, sk)
    if ak or sk:
        missing = SK_ENV if ak else AK_ENV
        raise ConfigError(f"AK/SK signing needs both {AK_ENV} and {SK_ENV}; {missing} is not set")
    credentials = load_keystone_credentials(env)
    if credentials is not None:
        return KeystonePasswordAuth(credentials)
    token = _value(env, TOKEN_ENV)
    return StaticToken(token) if token else NoAuth()
