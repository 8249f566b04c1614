"""``crawler simulate`` and ``crawler demo``: the simulated cloud, served or crawled in-process."""

from __future__ import annotations

import sys
from pathlib import Path

import anyio
import click

from crawler.cliutil import concurrency_option, output_option, reports_errors
from crawler.demo import run_demo
from crawler.runner import serve_until_signal
from crawler.simulator import (
    Inventory,
    InventorySpec,
    SimulatorConfig,
    parse_faults,
    write_id_list,
)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Loopback address only.")
@click.option("--port", type=click.IntRange(0, 65535), default=8774, show_default=True)
@click.option("--images", type=click.IntRange(1), default=2000, show_default=True)
@click.option("--projects", type=click.IntRange(1), default=20, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option(
    "--revision",
    type=click.IntRange(0),
    default=0,
    show_default=True,
    help="Serve the same cloud this many nights later: images changed, deleted and added.",
)
@click.option("--latency-ms", type=click.FloatRange(min=0), default=0.0, show_default=True)
@click.option("--token", default=None, help="Accept this static X-Auth-Token for every project.")
@click.option(
    "--faults",
    default="none",
    show_default=True,
    help="Fault profile and overrides, e.g. chaos, throttle, 'chaos,error_rate=0.1,seed=3'.",
)
@click.option(
    "--user",
    "users",
    multiple=True,
    metavar="NAME:PASSWORD",
    help="A Keystone user of domain Default (repeatable); enables POST /v3/auth/tokens.",
)
@click.option(
    "--aksk", "access_keys", multiple=True, metavar="AK:SK", help="Accept this AK/SK pair."
)
@click.option("--huawei-errors", is_flag=True, help="Answer bad tokens like Huawei's API gateway.")
@click.option(
    "--proxy-removed", is_flag=True, help="Answer every image 404, as a cloud without the proxy."
)
@click.option(
    "--write-ids",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the inventory's project_id,image_id list to this file.",
)
@click.option(
    "--unknown", type=click.IntRange(0), default=0, help="Unknown IDs to add to the list."
)
@click.option("--ids-format", type=click.Choice(["csv", "jsonl"]), default="csv", show_default=True)
@click.option("--no-serve", is_flag=True, help="Only write the ID list, do not serve.")
@reports_errors
def simulate(
    host: str,
    port: int,
    images: int,
    projects: int,
    seed: int,
    revision: int,
    latency_ms: float,
    token: str | None,
    faults: str,
    users: tuple[str, ...],
    access_keys: tuple[str, ...],
    huawei_errors: bool,
    proxy_removed: bool,
    write_ids: Path | None,
    unknown: int,
    ids_format: str,
    no_serve: bool,
) -> None:
    """Serve a simulated Nova images API from a generated inventory (Ctrl-C stops it).

    The credentials given here are the simulator's own test accounts, not real secrets.
    """
    try:
        config = SimulatorConfig(
            inventory=InventorySpec(images=images, projects=projects, seed=seed, revision=revision),
            latency_ms=latency_ms,
            token=token,
            faults=parse_faults(faults),
            users=_pairs("--user", users),
            aksk=_pairs("--aksk", access_keys),
            huawei_errors=huawei_errors,
            proxy_removed=proxy_removed,
        )
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    if write_ids is not None:
        rows = write_id_list(
            Inventory(config.inventory),
            write_ids,
            unknown=unknown,
            fmt=ids_format,  # type: ignore[arg-type]  # click.Choice guarantees it
        )
        click.echo(f"wrote {rows} ids to {write_ids}")
    if not no_serve:
        anyio.run(serve_until_signal, config, host, port)


def _pairs(flag: str, values: tuple[str, ...]) -> dict[str, str]:
    pairs = dict(value.partition(":")[::2] for value in values)
    if any(not key or not secret for key, secret in pairs.items()):
        raise click.BadParameter(f"{flag} expects NAME:SECRET")
    return pairs


@click.command()
@output_option
@click.option("--images", type=click.IntRange(1), default=3000, show_default=True)
@click.option("--projects", type=click.IntRange(1), default=30, show_default=True)
@click.option("--unknown", type=click.IntRange(0), default=120, show_default=True)
@concurrency_option
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@reports_errors
def demo(
    output_dir: Path,
    images: int,
    projects: int,
    unknown: int,
    concurrency: int,
    seed: int,
    quiet: bool,
) -> None:
    """Crawl a simulated cloud started in-process on loopback and summarise the snapshot."""
    spec = InventorySpec(images=images, projects=projects, seed=seed)
    code = run_demo(spec, output_dir, unknown=unknown, concurrency=concurrency, quiet=quiet)
    sys.exit(code)
