"""Finding the interrupted run to resume, and refusing one that is not the same run.

A run can be resumed when its work directory (``.run_id=<id>.partial``) holds a ``run.json``
and no process holds its lock. Resuming is only sound for the same input bytes, endpoint,
input format, shard, schema and end-of-life table: anything else would mix two different
crawls in one snapshot, so it is refused with the differences spelled out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Final

from crawler.catalog import list_runs
from crawler.config import RESUME_AUTO, RESUME_LATEST, CrawlSettings
from crawler.errors import ConfigError
from crawler.normalize import SCHEMA_VERSION
from crawler.snapshot import read_run_state, sha256_file


@dataclass(frozen=True, slots=True)
class Identity:
    """What makes two sessions the same run."""

    input_sha256: str | None
    input_bytes: int | None
    input_path: str
    input_format: str
    endpoint: str
    shard: str | None
    schema_version: int
    lifecycle: str | None = None  # "<path> sha256 <hex>" of --lifecycle; None: packaged table

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Identity:
        source = state.get("input") or {}
        return cls(
            source.get("sha256"),
            source.get("bytes"),
            str(source.get("path")),
            str(source.get("format")),
            str(state.get("endpoint")),
            state.get("shard"),
            int(state.get("schema_version", -1)),
            state.get("lifecycle"),
        )

    def state(self) -> dict[str, Any]:
        return {
            "input": {
                "path": self.input_path,
                "format": self.input_format,
                "sha256": self.input_sha256,
                "bytes": self.input_bytes,
            },
            "endpoint": self.endpoint,
            "shard": self.shard,
            "schema_version": self.schema_version,
            "lifecycle": self.lifecycle,
        }


def identity_of(
    settings: CrawlSettings, input_sha256: str | None, input_bytes: int | None, input_path: str
) -> Identity:
    """This session's identity, to record in a new run or to compare with a resumed one."""
    return Identity(
        input_sha256,
        input_bytes,
        input_path,
        settings.input_format,
        settings.compute.text(),
        None if settings.shard is None else str(settings.shard),
        SCHEMA_VERSION,
        _lifecycle_of(settings.lifecycle_path),
    )


def _lifecycle_of(path: Path | None) -> str | None:
    """Which end-of-life table fills the rows: the packaged one (None) or a file's bytes.

    Raises:
        ConfigError: the file cannot be read.
    """
    if path is None:
        return None
    try:
        return f"{path} sha256 {sha256_file(path)}"
    except OSError as exc:
        raise ConfigError(f"--lifecycle {path}: cannot read it: {exc.strerror}") from exc


def differences(was: Identity, now: Identity) -> list[str]:
    """Why ``now`` cannot continue the run described by ``was`` (empty: it can)."""
    problems = []
    if was.input_sha256 is None:
        problems.append("the run read its input from stdin, which cannot be read again")
    elif was.input_sha256 != now.input_sha256:
        problems.append(
            f"the input differs: the run read {was.input_path} ({was.input_bytes} bytes,"
            f" sha256 {was.input_sha256[:12]}...), now {now.input_path}"
            + (
                f" ({now.input_bytes} bytes, sha256 {now.input_sha256[:12]}...)"
                if now.input_sha256
                else " (stdin)"
            )
        )
    for label, old, new in (
        ("--endpoint", was.endpoint, now.endpoint),
        ("--input-format", was.input_format, now.input_format),
        ("--shard", was.shard, now.shard),
        ("schema version", was.schema_version, now.schema_version),
        (
            "--lifecycle",
            was.lifecycle or "the packaged table",
            now.lifecycle or "the packaged table",
        ),
    ):
        if old != new:
            problems.append(f"{label} differs: the run used {old}, now {new}")
    return problems


_RESUMABLE: Final = ("resumable", "committing")


def find_run(output_dir: Path, wanted: str, now: Identity, today: date) -> Path | None:
    """The work directory to resume for ``--resume wanted``; None means start a new run.

    Raises:
        ConfigError: the run does not exist, is committed, is running, or is another run.
    """
    runs = list_runs(output_dir)  # oldest first
    resumable = [run for run in runs if run.status in _RESUMABLE]
    if wanted == RESUME_AUTO:
        for run in reversed(resumable):
            if run.snapshot_date == today and not differences(
                Identity.from_state(read_run_state(run.path)), now
            ):
                return run.path
        return None
    if wanted == RESUME_LATEST:
        if not resumable:
            raise ConfigError(f"--resume latest: no interrupted run to resume under {output_dir}")
        run = resumable[-1]
    else:
        named = [run for run in runs if run.run_id == wanted]
        if not named:
            raise ConfigError(f"--resume {wanted}: no such run under {output_dir}")
        run = next((r for r in named if r.status != "complete"), named[0])
        if run.status == "complete":
            raise ConfigError(f"--resume {wanted}: that run is already committed at {run.path}")
        if run.status == "running":
            raise ConfigError(f"--resume {wanted}: the run is in progress in another process")
    problems = differences(Identity.from_state(read_run_state(run.path)), now)
    if problems:
        raise ConfigError(f"cannot resume run {run.run_id}: " + "; ".join(problems))
    return run.path
