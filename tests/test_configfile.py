"""``crawler --config FILE``: precedence, interpolation, the env section, errors, the examples."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path
from typing import Any

import click
import pytest

from crawler.cli import main
from crawler.config import CrawlSettings
from crawler.configfile import CONFIG_ENVVAR, apply_env, load_config
from crawler.errors import ConfigError
from crawler.simulator import RunningSimulator
from tests.conftest import id_list
from tests.test_cli import run_cli, snapshots

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
EXAMPLES = ("openstack.yaml", "huaweicloud.yaml", "otc.yaml")
SECRET = "s3cr3t-v4lue-never-printed"
ENDPOINT = "https://ecs.eu-de.otc.t-systems.com"
# Variables the tests set or the env: sections write; CliRunner restores only those it was given.
CLEAN: dict[str, str | None] = dict.fromkeys(
    (CONFIG_ENVVAR, "IMAGECRAWLER_SNAPSHOTS_LIST_OUTPUT", "IMAGECRAWLER_CRAWL_RATE", "FROM_FILE")
)


def write(tmp_path: Path, text: str, name: str = "config.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def cli(*args: str, env: dict[str, str | None] | None = None) -> tuple[int, str, str]:
    return run_cli(*args, env=CLEAN | (env or {}))


def crawl_params(
    args: list[str], config: Path | None = None, environ: dict[str, str] | None = None
) -> dict[str, Any]:
    """The values ``crawl`` would run with, from click's own resolution (no crawl)."""
    defaults = None if config is None else load_config(config, main, environ or {}).defaults
    parent = click.Context(main, info_name="crawler", default_map=defaults, **main.context_settings)
    return main.commands["crawl"].make_context("crawl", args, parent=parent).params


def load(path: Path, **environ: str) -> dict[str, Any]:
    return load_config(path, main, environ).defaults


# --- precedence: flag > environment variable > file > default -----------------------------------


@pytest.mark.parametrize(
    ("flag", "env", "in_file", "expected"),
    [
        (None, None, False, None),  # the option's default: no limit
        (None, None, True, 150.0),
        (None, "100", True, 100.0),
        ("50", "100", True, 50.0),
        ("50", None, False, 50.0),
    ],
)
def test_rate_resolves_flag_then_env_then_file_then_default(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    flag: str | None,
    env: str | None,
    in_file: bool,
    expected: float | None,
) -> None:
    monkeypatch.delenv("IMAGECRAWLER_CRAWL_RATE", raising=False)
    if env is not None:
        monkeypatch.setenv("IMAGECRAWLER_CRAWL_RATE", env)
    config = write(tmp_path, f"crawl:\n  rate: 150\n  endpoint: {ENDPOINT}\n")
    args = ["--input", "ids.csv", "--endpoint", ENDPOINT] + (["--rate", flag] if flag else [])
    assert crawl_params(args, config if in_file else None)["rate"] == expected


def test_the_group_callback_feeds_the_file_to_subcommands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `snapshots list` names the output root it resolved when there are no runs under it;
    # the default root is relative, so run where it is surely empty.
    monkeypatch.chdir(tmp_path)
    config = write(tmp_path, f"snapshots:\n  list:\n    output: {tmp_path / 'file'}\n")
    variable = {"IMAGECRAWLER_SNAPSHOTS_LIST_OUTPUT": str(tmp_path / "env")}
    from_file = ["--config", str(config), "snapshots", "list"]
    cases = [
        (["snapshots", "list"], {}, Path("output")),  # the option's default
        (from_file, {}, tmp_path / "file"),
        (from_file, variable, tmp_path / "env"),
        ([*from_file, "--output", str(tmp_path / "flag")], variable, tmp_path / "flag"),
    ]
    for args, env, expected in cases:
        code, _, stderr = cli(*args, env=env)
        assert (code, stderr) == (0, f"no runs under {expected}\n")


def test_config_env_variable_names_the_file(tmp_path: Path) -> None:
    config = write(tmp_path, f"snapshots:\n  list:\n    output: {tmp_path / 'from-env'}\n")
    code, _, stderr = cli("snapshots", "list", env={CONFIG_ENVVAR: str(config)})
    assert code == 0, stderr
    assert str(tmp_path / "from-env") in stderr


def test_every_option_has_a_variable_named_after_its_flag_shown_in_help() -> None:
    def commands(group: click.Group, path: str) -> list[tuple[str, click.Command]]:
        found = []
        for name, command in group.commands.items():
            found.append((f"{path}_{name.upper()}", command))
            if isinstance(command, click.Group):
                found += commands(command, f"{path}_{name.upper()}")
        return found

    for prefix, command in commands(main, "IMAGECRAWLER"):
        for option in (p for p in command.params if isinstance(p, click.Option)):
            flag = max(option.opts, key=len)[2:].upper().replace("-", "_")
            assert option.envvar == f"{prefix}_{flag}", (prefix, option.name)
    _, stdout, _ = cli("crawl", "--help")
    for name in (
        "IMAGECRAWLER_CRAWL_RATE",
        "IMAGECRAWLER_CRAWL_INPUT",
        "IMAGECRAWLER_CRAWL_OUTPUT",
    ):
        assert name in stdout.replace("\n", " ").replace("  ", ""), name
    _, stdout, _ = cli("--help")
    assert CONFIG_ENVVAR in stdout


# --- file format ---------------------------------------------------------------------------------


def test_keys_take_dashes_or_underscores_and_values_become_flag_text(tmp_path: Path) -> None:
    config = write(
        tmp_path,
        """\
        crawl:
          rate-per-project: 5
          max_failure_ratio: 0.25
          quiet: true
          format: csv
        simulate:
          user: alice:pw
          aksk: [AK1:SK1, AK2:SK2]
        merge:
          date: 2024-05-01
        snapshots:
          prune:
            keep: 3
        """,
    )
    defaults = load(config)
    assert defaults["crawl"] == {
        "rate_per_project": "5", "max_failure_ratio": "0.25", "quiet": "true", "formats": "csv",
    }  # fmt: skip
    assert defaults["simulate"] == {"users": ["alice:pw"], "access_keys": ["AK1:SK1", "AK2:SK2"]}
    assert defaults["merge"] == {"day": "2024-05-01"}
    assert defaults["snapshots"] == {"prune": {"keep_days": "3"}}
    params = crawl_params(["--input", "x", "--endpoint", ENDPOINT], config)
    assert (params["rate_per_project"], params["max_failure_ratio"]) == (5.0, 0.25)
    assert params["quiet"] is True
    assert params["formats"] == ("csv",)


def test_interpolation_with_and_without_default(tmp_path: Path) -> None:
    config = write(
        tmp_path,
        """\
        crawl:
          endpoint: https://${HOST}/v2.1
          input: ${DATA:-/data}/ids.csv
          output: ${EMPTY:-fallback}
          resume: ${EMPTY}
          lifecycle: literal-$${NOT_A_VARIABLE}.csv
        env:
          OS_PASSWORD: ${SECRET_STORE_PASSWORD}
        """,
    )
    loaded = load_config(
        config, main, {"HOST": "ecs.example.com", "EMPTY": "", "SECRET_STORE_PASSWORD": SECRET}
    )
    assert loaded.defaults["crawl"] == {
        "endpoint": ["https://ecs.example.com/v2.1"],
        "input_path": "/data/ids.csv",
        "output_dir": "fallback",  # like the shell, an empty variable takes the default
        "resume": "",
        "lifecycle_path": "literal-${NOT_A_VARIABLE}.csv",
    }
    assert loaded.env == {"OS_PASSWORD": SECRET}


def test_env_section_only_fills_variables_the_environment_lacks() -> None:
    environ = {"OS_CLOUD": "real", "OS_REGION_NAME": ""}
    apply_env({"OS_CLOUD": "file", "OS_REGION_NAME": "eu-de", "OS_INTERFACE": "public"}, environ)
    assert environ == {"OS_CLOUD": "real", "OS_REGION_NAME": "eu-de", "OS_INTERFACE": "public"}


def test_env_section_reaches_the_process_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write(tmp_path, "env:\n  FROM_FILE: ${SOURCE}\n")
    seen: list[str | None] = []
    monkeypatch.setattr(
        "crawler.commands.snapshots.list_runs", lambda _: seen.append(os.environ.get("FROM_FILE"))
    )
    cli("--config", str(config), "snapshots", "list", env={"SOURCE": "from-source"})
    cli("--config", str(config), "snapshots", "list", env={"SOURCE": "x", "FROM_FILE": "real"})
    assert seen == ["from-source", "real"]


# --- errors: file, line and key, never a value ---------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("crawll:\n  rate: 1\n", ["config.yaml:1:", "unknown section 'crawll'", "'crawl'?"]),
        ("crawl:\n  rate: 1\n  ratee: 2\n", ["config.yaml:3:", "unknown key 'crawl.ratee'"]),
        ("snapshots:\n  prune:\n    kep: 1\n", ["config.yaml:3:", "'snapshots.prune.kep'"]),
        ("crawl:\n  rate: fast\n", ["config.yaml:2:", "crawl.rate", "--rate", "a number > 0"]),
        ("crawl:\n  concurrency: 0\n", ["crawl.concurrency", "integer >= 1 and <= 4096"]),
        ("audit:\n  fail-on: sometimes\n", ["audit.fail-on", "one of low, medium"]),
        ("crawl:\n  format: xml\n", ["config.yaml:2:", "crawl.format", "--format"]),
        ("crawl:\n  rate: [1, 2]\n", ["crawl.rate", "one value, not a list"]),
        ("crawl:\n  rate:\n", ["crawl.rate has no value"]),
        ("crawl:\n  rate: 1\n  rate: 2\n", ["config.yaml:3:", "'crawl.rate' appears twice"]),
        ("crawl:\n  rate-per-project: 1\n  rate_per_project: 2\n", ["--rate-per-project twice"]),
        ("crawl: [rate]\n", ["config.yaml:1:", "'crawl' must be a mapping"]),
        ("crawl:\n  input: ${OTC_PASSWORD}\n", ["config.yaml:2:", "crawl.input", "OTC_PASSWORD"]),
        ("crawl:\n  input: ${oops\n", ["config.yaml:2:", "crawl.input", "malformed"]),
        ("env:\n  IMAGECRAWLER_CRAWL_RATE: 1\n", ["env.IMAGECRAWLER_CRAWL_RATE", "section"]),
        ("crawl:\n  rate: 1\n   bad: [\n", ["config.yaml:3:", "not valid YAML"]),
    ],
)
def test_errors_name_file_line_and_key(tmp_path: Path, text: str, expected: list[str]) -> None:
    config = write(tmp_path, text)
    code, stdout, stderr = cli("--config", str(config), "snapshots", "list")
    assert (code, stdout) == (2, ""), stderr
    assert stderr.startswith(f"error: {config}"), stderr
    for part in expected:
        assert part in stderr, (part, stderr)


@pytest.mark.parametrize(
    "text",
    [
        "crawl:\n  rate: ${SECRET}\n",  # a type error
        "crawl:\n  format: ${SECRET}\n",  # a callback's error
        "crawl:\n  endpoint: ${SECRET}\n  input: ${MISSING}\n",  # a missing variable
        "audit:\n  fail-on: ${SECRET}\n",  # a choice
        "crawl:\n  rate: 1\n  bad: '${SECRET}' [\n",  # broken YAML on a line with a value
    ],
)
def test_errors_never_print_a_value(tmp_path: Path, text: str) -> None:
    config = write(tmp_path, text)
    code, stdout, stderr = cli("--config", str(config), "snapshots", "list", env={"SECRET": SECRET})
    assert code == 2
    assert SECRET not in stdout + stderr
    assert "${SECRET}" not in stdout + stderr


def test_a_missing_config_file_is_a_usage_error(tmp_path: Path) -> None:
    code, _, stderr = cli("--config", str(tmp_path / "nope.yaml"), "snapshots", "list")
    assert code == 2
    assert "nope.yaml" in stderr


def test_an_empty_file_changes_nothing(tmp_path: Path) -> None:
    assert load(write(tmp_path, "# nothing yet\n")) == {}


# --- the shipped examples ------------------------------------------------------------------------


@pytest.mark.parametrize("name", EXAMPLES)
def test_examples_load_against_the_real_commands(name: str) -> None:
    dummies = {"HUAWEICLOUD_SDK_AK": "dummy-ak", "HUAWEICLOUD_SDK_SK": "dummy-sk"}
    loaded = load_config(CONFIGS / name, main, dummies)
    assert set(loaded.defaults) >= {"crawl", "audit"}
    assert loaded.env
    params = crawl_params([], CONFIGS / name, dummies)  # required --input: from the file
    settings = CrawlSettings(
        endpoint=params["endpoint"],
        image_endpoint=params["image_endpoint"],
        api=params["api"],
        region=params["region"],
        input_path=params["input_path"],
    )
    # Each example names usable endpoints, or leaves them to the Keystone catalog (OTC).
    assert settings.compute.configured or name == "otc.yaml"
    if settings.compute.configured:
        assert settings.compute.root_for(settings.region or "eu-de")
    assert params["rate"] is not None


def test_huaweicloud_example_routes_each_region() -> None:
    dummies = {"HUAWEICLOUD_SDK_AK": "dummy-ak", "HUAWEICLOUD_SDK_SK": "dummy-sk"}
    params = crawl_params([], CONFIGS / "huaweicloud.yaml", dummies)
    settings = CrawlSettings(
        endpoint=params["endpoint"], image_endpoint=params["image_endpoint"], input_path="x"
    )
    assert settings.image.root_for("cn-north-4") == "https://ims.cn-north-4.myhuaweicloud.com"
    assert (
        settings.compute.root_for("ap-southeast-1")
        == "https://ecs.ap-southeast-1.myhuaweicloud.com"
    )


def test_huaweicloud_example_requires_its_keys() -> None:
    with pytest.raises(ConfigError, match="HUAWEICLOUD_SDK_AK is not set") as caught:
        load_config(CONFIGS / "huaweicloud.yaml", main, {})
    assert "huaweicloud.yaml:" in str(caught.value)


# --- end to end ----------------------------------------------------------------------------------


def test_crawl_from_a_config_file_alone(simulator: RunningSimulator, tmp_path: Path) -> None:
    ids = id_list(simulator, tmp_path / "ids.csv")
    out = tmp_path / "out"
    config = write(
        tmp_path,
        f"""\
        crawl:
          input: ${{DATA}}/ids.csv
          endpoint: {simulator.base_url}
          output: {out}
          rate-per-project: 5000
          format: parquet
          quiet: true
        """,
    )
    code, stdout, stderr = cli("--config", str(config), "crawl", env={"DATA": str(ids.parent)})
    assert code == 0, stderr
    assert stdout == ""  # quiet came from the file
    (snapshot,) = snapshots(out)
    manifest = json.loads((snapshot / "manifest.json").read_text())
    assert manifest["counts"]["ok"] > 0
    assert manifest["settings"]["rate_per_project"] == 5000.0
    assert manifest["settings"]["formats"] == ["parquet"]
