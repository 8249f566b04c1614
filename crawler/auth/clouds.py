"""Keystone credentials from ``clouds.yaml`` (+ ``secure.yaml``) or ``OS_*`` variables.

This is the only module of the package that reads credential files. With ``OS_CLOUD`` set,
the first existing ``clouds.yaml`` is read (``OS_CLIENT_CONFIG_FILE`` if set, else
``./clouds.yaml``, ``~/.config/openstack/clouds.yaml``, ``/etc/openstack/clouds.yaml``, as
openstacksdk does), ``secure.yaml`` next to it (or ``OS_CLIENT_SECURE_FILE``) is merged
over it, and ``OS_*`` variables override single values. Without ``OS_CLOUD``,
``OS_AUTH_URL`` selects credentials taken from the environment alone. The project to scope
to is never read here: each token is scoped to the project of the URL it authenticates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final

import yaml

from crawler.auth.keystone import KeystoneCredentials
from crawler.errors import ConfigError

# Credential field -> environment variable that sets or overrides it.
ENV_VARS: Final = {
    "auth_url": "OS_AUTH_URL",
    "username": "OS_USERNAME",
    "user_id": "OS_USER_ID",
    "password": "OS_PASSWORD",
    "user_domain_name": "OS_USER_DOMAIN_NAME",
    "user_domain_id": "OS_USER_DOMAIN_ID",
    "project_domain_name": "OS_PROJECT_DOMAIN_NAME",
    "project_domain_id": "OS_PROJECT_DOMAIN_ID",
    "region_name": "OS_REGION_NAME",
    "interface": "OS_INTERFACE",
}
AUTH_KEYS: Final = tuple(ENV_VARS)[:8]  # the ones that live under clouds.<name>.auth
CLOUD_KEYS: Final = ("region_name", "interface", "verify")
PASSWORD_AUTH_TYPES: Final = ("password", "v3password")


def default_search_paths() -> list[Path]:
    """openstacksdk's clouds.yaml locations, most specific first."""
    return [
        Path.cwd() / "clouds.yaml",
        Path("~/.config/openstack/clouds.yaml").expanduser(),
        Path("/etc/openstack/clouds.yaml"),
    ]


def _set(env: Mapping[str, str], name: str) -> str | None:
    """The variable's value, or None when unset or blank (secrets are not stripped)."""
    value = env.get(name)
    if value is None or not value.strip():
        return None
    return value if name == "OS_PASSWORD" else value.strip()


def _read_yaml(path: Path) -> dict[str, object]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        # str(exc) quotes the offending line, which may hold a password: report the place only.
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}: not valid YAML{where}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return data


def _merge(base: dict[str, object], over: Mapping[str, object]) -> dict[str, object]:
    """Deep merge, ``over`` winning (openstacksdk's secure.yaml rule)."""
    merged = dict(base)
    for key, value in over.items():
        current = merged.get(key)
        if isinstance(current, dict) and isinstance(value, Mapping):
            merged[key] = _merge(current, value)
        else:
            merged[key] = value
    return merged


def _find_clouds_file(env: Mapping[str, str], search_paths: Sequence[Path] | None) -> Path:
    cloud = env["OS_CLOUD"].strip()
    explicit = _set(env, "OS_CLIENT_CONFIG_FILE")
    if explicit:
        candidates = [Path(explicit)]
    else:
        candidates = default_search_paths() if search_paths is None else list(search_paths)
    for path in candidates:
        if path.is_file():
            return path
    looked = ", ".join(str(path) for path in candidates)
    raise ConfigError(f"OS_CLOUD={cloud}: no clouds.yaml found (looked for {looked})")


def _load_clouds(
    env: Mapping[str, str], search_paths: Sequence[Path] | None
) -> tuple[Path, dict[str, object]]:
    """The first clouds.yaml found, with its secure.yaml merged over it."""
    path = _find_clouds_file(env, search_paths)
    data = _read_yaml(path)
    explicit = _set(env, "OS_CLIENT_SECURE_FILE")
    secure = Path(explicit) if explicit else path.with_name("secure.yaml")
    if explicit or secure.is_file():
        data = _merge(data, _read_yaml(secure))
    return path, data


def _cloud_entry(
    env: Mapping[str, str], search_paths: Sequence[Path] | None
) -> tuple[dict[str, object], str]:
    """The ``clouds.<OS_CLOUD>`` entry flattened to credential fields, and where it is."""
    cloud = env["OS_CLOUD"].strip()
    path, data = _load_clouds(env, search_paths)
    clouds = data.get("clouds")
    entry = clouds.get(cloud) if isinstance(clouds, dict) else None
    if not isinstance(entry, dict):
        known = ", ".join(sorted(map(str, clouds))) if isinstance(clouds, dict) else ""
        raise ConfigError(f"{path}: cloud {cloud!r} not found (clouds: {known or 'none'})")
    where = f"{path}: cloud {cloud!r}"
    if entry.get("auth_type", "password") not in PASSWORD_AUTH_TYPES:
        raise ConfigError(f"{where}: only auth_type password is supported")
    auth = entry.get("auth") or {}
    if not isinstance(auth, dict):
        raise ConfigError(f"{where}: 'auth' must be a mapping")
    values = {key: auth[key] for key in AUTH_KEYS if auth.get(key) not in (None, "")}
    values.update({key: entry[key] for key in CLOUD_KEYS if entry.get(key) not in (None, "")})
    return values, where


def _text(values: Mapping[str, object], key: str, where: str) -> str | None:
    value = values.get(key)
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)  # YAML reads an all-digit password as a number
    raise ConfigError(f"{where}: {key} must be a string")


def _missing(text: Mapping[str, str | None]) -> tuple[str, ...]:
    """The fields of the first missing piece (alternatives), or ``()`` if complete."""
    if not text["auth_url"]:
        return ("auth_url",)
    if not (text["username"] or text["user_id"]):
        return ("username", "user_id")
    if not (text["user_id"] or text["user_domain_name"] or text["user_domain_id"]):
        return ("user_domain_name", "user_domain_id")  # a user name is unique per domain only
    if not text["password"]:
        return ("password",)
    return ()


def _build(values: Mapping[str, object], where: str, *, from_file: bool) -> KeystoneCredentials:
    """Check completeness (naming what is missing, never a value) and build credentials."""
    text = {key: _text(values, key, where) for key in ENV_VARS}
    missing = _missing(text)
    if missing:
        names = " or ".join(ENV_VARS[key] for key in missing)
        if from_file:
            names += " (or auth." + " / auth.".join(missing) + ")"
        raise ConfigError(f"{where}: Keystone credentials incomplete: set {names}")
    verify = values.get("verify", True)
    if not isinstance(verify, bool):
        raise ConfigError(f"{where}: verify must be true or false")
    try:
        return KeystoneCredentials(
            auth_url=text["auth_url"] or "",
            username=text["username"],
            user_id=text["user_id"],
            password=text["password"] or "",
            user_domain_name=text["user_domain_name"],
            user_domain_id=text["user_domain_id"],
            project_domain_name=text["project_domain_name"],
            project_domain_id=text["project_domain_id"],
            region_name=text["region_name"],
            interface=text["interface"] or "public",
            verify=verify,
        )
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def load_keystone_credentials(
    env: Mapping[str, str], *, search_paths: Sequence[Path] | None = None
) -> KeystoneCredentials | None:
    """Keystone credentials from ``OS_CLOUD`` or ``OS_AUTH_URL``, or None if neither is set.

    Args:
        env: The environment (blank values count as unset).
        search_paths: clouds.yaml files to try instead of openstacksdk's standard ones.

    Raises:
        ConfigError: file or cloud missing, or the credentials are incomplete.
    """
    overrides: dict[str, object] = {
        key: value for key, var in ENV_VARS.items() if (value := _set(env, var)) is not None
    }
    if _set(env, "OS_CLOUD"):
        values, where = _cloud_entry(env, search_paths)
        return _build({**values, **overrides}, where, from_file=True)
    if "auth_url" not in overrides:
        return None
    return _build(overrides, "OS_AUTH_URL is set", from_file=False)
