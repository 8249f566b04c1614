"""Option defaults from a YAML file, and one environment variable per option.

``crawler --config FILE <command>`` (or ``IMAGECRAWLER_CONFIG=FILE``) reads one section per
command, keyed by option names, and the group callback hands it to click as ``default_map``.
``ConfigGroup`` gives every option the variable ``IMAGECRAWLER_<COMMAND>_<OPTION>``. Click then
takes each value from the command line, else that variable, else the file, else the default.

File values reach click as the text a flag would carry, so the same types and callbacks check
them. Errors name the file, the line and the key, never a value: values may be secrets
interpolated from the environment (``${VAR}``, ``${VAR:-default}``).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Final

import click
import yaml

from crawler.errors import ConfigError

ENV_PREFIX: Final = "IMAGECRAWLER"
CONFIG_ENVVAR: Final = f"{ENV_PREFIX}_CONFIG"
ENV_SECTION: Final = "env"

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# "$${" is a literal "${"; a "${" that is not a well-formed reference is an error.
_REFERENCE = re.compile(
    r"\$\$\{|\$\{(?:(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\})?"
)


def _envvar_part(name: str) -> str:
    return name.upper().replace("-", "_")


def _name_envvars(command: click.Command, prefix: str) -> None:
    """Name ``prefix_<OPTION>`` after the long flag (``--input``), not the Python name."""
    for param in command.params:
        flags = [opt for opt in param.opts if opt.startswith("--")]
        if isinstance(param, click.Option) and flags and param.envvar is None:
            param.envvar = f"{prefix}_{_envvar_part(max(flags, key=len)[2:])}"
            param.show_envvar = True
    if isinstance(command, ConfigGroup):
        command.envvar_prefix = prefix
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            _name_envvars(sub, f"{prefix}_{_envvar_part(name)}")


class ConfigGroup(click.Group):
    """A group that names its commands' option variables as they are registered.

    Click's ``auto_envvar_prefix`` derives a name from each parameter's Python name
    (``IMAGECRAWLER_CRAWL_INPUT_PATH`` for ``--input``); the explicit name follows the flag.
    """

    group_class = type  # subgroups (``crawler snapshots``) name their commands' variables too
    envvar_prefix: str = ENV_PREFIX

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        super().add_command(cmd, name)
        _name_envvars(cmd, f"{self.envvar_prefix}_{_envvar_part(name or cmd.name or '')}")


@dataclass(frozen=True, slots=True)
class ConfigFile:
    """A checked configuration file: click's ``default_map`` and the ``env:`` section."""

    path: Path
    defaults: dict[str, Any]
    env: dict[str, str]


def load_config(path: Path, group: click.Group, environ: Mapping[str, str]) -> ConfigFile:
    """Read, interpolate and check ``path`` against the commands of ``group``.

    Raises:
        ConfigError: unreadable YAML, an unknown section or key, a value its option rejects,
            or a ``${VAR}`` whose variable is not set.
    """
    reader = _Reader(path, environ)
    root = reader.compose()
    defaults: dict[str, Any] = {}
    env: dict[str, str] = {}
    for name, at, node in reader.items(root, ""):
        if name == ENV_SECTION:
            env = reader.env_section(node)
        else:
            defaults[name] = reader.section(group, name, at, node, (name,))
    return ConfigFile(path, defaults, env)


def apply_env(env: Mapping[str, str], environ: MutableMapping[str, str]) -> None:
    """Set the ``env:`` variables that ``environ`` lacks or has empty: the real ones win."""
    for name, value in env.items():
        if not environ.get(name):
            environ[name] = value


class _Reader:
    """One file's YAML nodes: line numbers for errors, values as flag text."""

    def __init__(self, path: Path, environ: Mapping[str, str]) -> None:
        self.path = path
        self.environ = environ
        self.loader: yaml.SafeLoader | None = None

    def compose(self) -> yaml.Node | None:
        try:
            text = self.path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{self.path}: cannot read: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise ConfigError(f"{self.path}: not UTF-8 text") from None
        self.loader = yaml.SafeLoader(text)
        try:
            return self.loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            # Only the problem and its line: str(exc) quotes the offending line, a value maybe.
            raise ConfigError(
                f"{self._at(exc.problem_mark)}: not valid YAML: {exc.problem}"
            ) from None
        except yaml.YAMLError:
            raise ConfigError(f"{self.path}: not valid YAML") from None

    def _at(self, mark: yaml.Mark | None) -> str:
        return f"{self.path}:{mark.line + 1}" if mark is not None else str(self.path)

    def items(self, node: yaml.Node | None, key: str) -> Iterator[tuple[str, str, yaml.Node]]:
        """``(key, "file:line", value node)`` of a mapping; duplicate keys are errors."""
        if node is None:  # an empty file
            return
        if not isinstance(node, yaml.MappingNode):
            what = f"{key!r}" if key else "the top level"
            raise ConfigError(f"{self._at(node.start_mark)}: {what} must be a mapping of keys")
        seen: set[str] = set()
        for key_node, value_node in node.value:
            at = self._at(key_node.start_mark)
            if not isinstance(key_node, yaml.ScalarNode):
                raise ConfigError(f"{at}: a key under {key or 'the top level'} is not a name")
            name = str(key_node.value)
            if name in seen:
                raise ConfigError(f"{at}: key {_join(key, name)!r} appears twice")
            seen.add(name)
            yield name, at, value_node

    def section(
        self, group: click.Group, name: str, at: str, node: yaml.Node, path: tuple[str, ...]
    ) -> dict[str, Any]:
        """One command's ``default_map`` (a subgroup's holds its commands' maps)."""
        key = ".".join(path)
        command = group.commands.get(name)
        if command is None:
            known = [*group.commands, *([ENV_SECTION] if len(path) == 1 else [])]
            raise ConfigError(f"{at}: unknown section {key!r}{_hint(name, known)}")
        if isinstance(command, click.Group):
            return {
                sub: self.section(command, sub, sub_at, sub_node, (*path, sub))
                for sub, sub_at, sub_node in self.items(node, key)
            }
        options = _options(command)
        ctx = click.Context(command, info_name=name)
        defaults: dict[str, Any] = {}
        for option_key, option_at, value_node in self.items(node, key):
            param = options.get(option_key)
            if param is None:
                hint = _hint(option_key, {spelling.replace("_", "-") for spelling in options})
                raise ConfigError(f"{option_at}: unknown key {_join(key, option_key)!r}{hint}")
            if param.name in defaults:
                raise ConfigError(f"{option_at}: {key} sets {_flag(param)} twice")
            value = self.option_value(value_node, param, _join(key, option_key), option_at)
            _check(ctx, param, value, _join(key, option_key), option_at, " ".join(path))
            defaults[str(param.name)] = value
        return defaults

    def option_value(self, node: yaml.Node, param: click.Option, key: str, at: str) -> Any:
        raw = self.construct(node, at)
        if isinstance(raw, list) and not param.multiple:
            raise ConfigError(f"{at}: {key}: {_flag(param)} takes one value, not a list")
        values = [_text(item, key, at, self.environ) for item in _as_list(raw)]
        return values if param.multiple else values[0]

    def env_section(self, node: yaml.Node) -> dict[str, str]:
        env: dict[str, str] = {}
        for name, at, value_node in self.items(node, ENV_SECTION):
            key = _join(ENV_SECTION, name)
            if not _ENV_NAME.fullmatch(name):
                raise ConfigError(f"{at}: {key!r} is not an environment variable name")
            if name.startswith(f"{ENV_PREFIX}_"):
                raise ConfigError(f"{at}: {key}: set options in their command's section instead")
            env[name] = _text(self.construct(value_node, at), key, at, self.environ)
        return env

    def construct(self, node: yaml.Node, at: str) -> Any:
        assert self.loader is not None  # compose() came first
        try:
            return self.loader.construct_object(node, deep=True)
        except yaml.YAMLError:
            raise ConfigError(f"{at}: a value is not valid YAML") from None


def _text(value: object, key: str, at: str, environ: Mapping[str, str]) -> str:
    """A scalar as the text a flag would carry, ``${...}`` interpolated."""
    if isinstance(value, str):
        return _interpolate(value, key, at, environ)
    if isinstance(value, bool):  # before int: bool is an int
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    what = "has no value" if value is None else "must be a single value (text, number, boolean)"
    raise ConfigError(f"{at}: {key} {what}")


def _interpolate(text: str, key: str, at: str, environ: Mapping[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        if match[0] == "$${":
            return "${"
        name, default = match["name"], match["default"]
        if name is None:
            raise ConfigError(f"{at}: {key}: malformed '${{': write ${{VAR}} or ${{VAR:-default}}")
        value = environ.get(name)
        if default is not None and not value:  # as in the shell: empty takes the default too
            return default
        if value is not None:
            return value
        raise ConfigError(
            f"{at}: {key}: environment variable {name} is not set"
            f" (write ${{{name}:-default}} for a default)"
        )

    return _REFERENCE.sub(replace, text)


def _check(
    ctx: click.Context, param: click.Option, value: Any, key: str, at: str, command: str
) -> None:
    """Run ``value`` through the option's type and callback, as parsing will, but say why
    without the value (click's messages quote it)."""
    try:
        param.type_cast_value(ctx, value)
    except click.BadParameter:
        expected = _expected(param)
        raise ConfigError(
            f"{at}: {key}: invalid value for {_flag(param)}: expected {expected}"
        ) from None
    try:
        param.process_value(ctx, value)
    except click.ClickException:
        raise ConfigError(
            f"{at}: {key}: invalid value for {_flag(param)} (see `crawler {command} --help`)"
        ) from None


def _expected(param: click.Option) -> str:
    kind = param.type
    if isinstance(kind, click.Choice):
        return "one of " + ", ".join(map(str, kind.choices))
    if isinstance(kind, click.IntRange | click.FloatRange):
        bounds = [
            f"{op}{'' if is_open else '='} {limit}"
            for op, limit, is_open in (
                (">", kind.min, kind.min_open),
                ("<", kind.max, kind.max_open),
            )
            if limit is not None
        ]
        number = "an integer" if isinstance(kind, click.IntRange) else "a number"
        return " ".join([number, " and ".join(bounds)]).strip()
    if isinstance(kind, click.DateTime):
        return "a date as " + " or ".join(kind.formats)
    names = {"integer": "an integer", "float": "a number", "boolean": "true or false"}
    return names.get(kind.name, f"a {kind.name}")


def _options(command: click.Command) -> dict[str, click.Option]:
    """Config keys of a command's options: each long flag with dashes or underscores."""
    return {
        spelling: param
        for param in command.params
        if isinstance(param, click.Option) and param.expose_value
        for flag in param.opts
        if flag.startswith("--")
        for spelling in (flag[2:], flag[2:].replace("-", "_"))
    }


def _as_list(value: object) -> list[object]:
    return value if isinstance(value, list) else [value]


def _flag(param: click.Parameter) -> str:
    return max(param.opts, key=len)


def _join(key: str, name: str) -> str:
    return f"{key}.{name}" if key else name


def _hint(name: str, known: Iterable[str]) -> str:
    names = sorted(set(known))
    close = difflib.get_close_matches(name, names, n=1)
    suggestion = f"; did you mean {close[0]!r}?" if close else ""
    return f"{suggestion} (known: {', '.join(names)})"
