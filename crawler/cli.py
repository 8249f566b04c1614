"""Command line: parse flags, build settings, call the library, map errors to exit codes.

The ``main`` group reads ``--config``; each command lives in ``crawler.commands`` and is
registered here, where ``ConfigGroup`` names its ``IMAGECRAWLER_<COMMAND>_<OPTION>`` variables.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from crawler import __version__
from crawler.cliutil import reports_errors
from crawler.commands.audit import audit
from crawler.commands.crawl import crawl
from crawler.commands.diff import diff
from crawler.commands.discover import discover
from crawler.commands.publish import publish
from crawler.commands.report import report
from crawler.commands.simulate import demo, simulate
from crawler.commands.snapshots import merge, snapshots
from crawler.configfile import CONFIG_ENVVAR, ENV_PREFIX, ConfigGroup, apply_env, load_config


@click.group(
    cls=ConfigGroup,
    # Every option also reads IMAGECRAWLER_<COMMAND>_<OPTION>: flag > variable > file > default.
    context_settings={"help_option_names": ["-h", "--help"], "auto_envvar_prefix": ENV_PREFIX},
)
@click.version_option(__version__, prog_name="imagecrawler")
@click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    envvar=CONFIG_ENVVAR,
    show_envvar=True,
    metavar="FILE",
    help="YAML file with option values per command; flags and environment variables win.",
)
@click.pass_context
@reports_errors
def main(ctx: click.Context, config_path: Path | None) -> None:
    """imagecrawler: VM image inventory from OpenStack-based clouds into Parquet/CSV snapshots."""
    if config_path is not None:
        # Runs before the subcommand parses its options, so they see the file's values.
        config = load_config(config_path, main, os.environ)
        ctx.default_map = config.defaults
        apply_env(config.env, os.environ)


main.add_command(crawl)
main.add_command(simulate)
main.add_command(demo)
main.add_command(merge)
main.add_command(snapshots)
main.add_command(audit)
main.add_command(diff)
main.add_command(report)
main.add_command(publish)
main.add_command(discover)
