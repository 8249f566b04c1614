"""The policy file: YAML with a ``rules`` list, validated into a :class:`Policy`.

Each rule has an ``id``, a ``type`` (a key of ``RULE_TYPES``), a ``severity`` (one of
``SEVERITIES``), an optional ``message`` and its type's options.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Final

import yaml

from crawler.audit.rules import RULE_TYPES, Rule
from crawler.errors import ConfigError

SEVERITIES: Final = ("low", "medium", "high", "critical")
_RULE_ID: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def _days(value: object, where: str) -> int:
    if type(value) is not int or value < 0:
        raise ConfigError(f"{where} must be a whole number of days, 0 or more, not {value!r}")
    return value


def _flag(value: object, where: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{where} must be true or false, not {value!r}")
    return value


def _texts(value: object, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise ConfigError(f"{where} must be a non-empty list of strings")
    texts = []
    for item in value:
        if not isinstance(item, str) or not item.strip():
            raise ConfigError(f"{where} must be a non-empty list of strings, not {item!r}")
        texts.append(" ".join(item.split()))
    return tuple(texts)


def _allow(value: object, where: str) -> tuple[str, ...]:
    # Distro ids are lower case; a release keeps its spelling ("2012 R2", "15 SP1").
    return tuple(
        f"{distro.lower()} {release}".rstrip()
        for distro, _, release in (entry.partition(" ") for entry in _texts(value, where))
    )


_OPTIONS: Final[Mapping[str, Callable[[object, str], object]]] = {
    "within_days": _days,
    "only_upcoming": _flag,
    "allow": _allow,
    "allowed": _texts,
    "require": _flag,
    "keys": _texts,
    "days": _days,
    "ignore_zero": _flag,
}
_COMMON: Final = ("id", "type", "severity", "message")


@dataclass(frozen=True, slots=True)
class Policy:
    """A validated policy; ``path`` and ``sha256`` name the file it came from, if any."""

    rules: tuple[Rule, ...]
    path: Path | None = None
    sha256: str | None = None


def _rule(raw: object, where: str, seen: set[str]) -> Rule:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: a rule must be a mapping of keys")
    rule_id = raw.get("id")
    if not isinstance(rule_id, str) or not _RULE_ID.fullmatch(rule_id):
        raise ConfigError(f"{where}: 'id' is required: letters, digits, '_', '.', '-'")
    where = f"{where} ({rule_id})"
    if rule_id in seen:
        raise ConfigError(f"{where}: duplicate rule id {rule_id!r}")
    seen.add(rule_id)
    kind = raw.get("type")
    if not isinstance(kind, str) or kind not in RULE_TYPES:
        raise ConfigError(f"{where}: unknown rule type {kind!r} (types: {', '.join(RULE_TYPES)})")
    cls = RULE_TYPES[kind]
    options = {f.name for f in fields(cls)} - set(_COMMON)
    for key in raw:
        if key not in options and key not in _COMMON:
            known = ", ".join(sorted(options | set(_COMMON)))
            raise ConfigError(f"{where}: unknown key {key!r} for type {kind} (keys: {known})")
    for key in cls.REQUIRED:
        if key not in raw:
            raise ConfigError(f"{where}: {kind} needs {key!r}")
    severity = raw.get("severity")
    if severity not in SEVERITIES:
        raise ConfigError(f"{where}: severity must be one of {', '.join(SEVERITIES)}")
    message = raw.get("message", cls.MESSAGE)
    if not isinstance(message, str) or not message.strip():
        raise ConfigError(f"{where}: message must be text")
    values: dict[str, Any] = {
        key: _OPTIONS[key](raw[key], f"{where}: {key}") for key in options if key in raw
    }
    return cls(id=rule_id, severity=severity, message=message.strip(), **values)


def parse_policy(document: object, origin: str) -> Policy:
    """Validate a parsed policy document; every error names ``origin`` and the key.

    Raises:
        ConfigError: an unknown key or rule type, a missing or invalid value.
    """
    if not isinstance(document, dict):
        raise ConfigError(f"{origin}: a policy is a mapping with a 'rules' list")
    for key in document:
        if key != "rules":
            raise ConfigError(f"{origin}: unknown key {key!r} (the policy has only 'rules')")
    rules = document.get("rules")
    if not isinstance(rules, list) or not rules:
        raise ConfigError(f"{origin}: 'rules' must be a non-empty list")
    seen: set[str] = set()
    parsed = tuple(_rule(raw, f"{origin}: rules[{i}]", seen) for i, raw in enumerate(rules))
    return Policy(parsed)


class _StrictLoader(yaml.SafeLoader):
    """Safe YAML that rejects a key given twice, which PyYAML would silently overwrite."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        keys = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, Hashable) and key in keys:  # unhashable: super() reports it
                mark = key_node.start_mark
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (line {mark.line + 1})", mark
                )
            keys.add(key)
        return super().construct_mapping(node, deep=deep)


def load_policy(path: Path) -> Policy:
    """Read and validate a policy file.

    Raises:
        ConfigError: the file cannot be read, is not YAML, or is not a valid policy.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the policy: {exc.strerror or exc}") from exc
    try:
        document = yaml.load(data, Loader=_StrictLoader)  # _StrictLoader is a SafeLoader
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    policy = parse_policy(document, str(path))
    return Policy(policy.rules, path, hashlib.sha256(data).hexdigest())
