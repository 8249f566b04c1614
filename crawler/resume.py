"""Finding the interrupted run to resume, and refusing one that is not the same run.

A run can be resumed when its work directory (``.run_id=<id>.partial``) holds a ``run.json``
and no process holds its lock. Resuming is only sound for the same input bytes, endpoint,
input format, shard and schema: anything else would mix two different crawls in one
snapshot, so it is refused with the differences spelled out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from crawler.config import RESUME_AUTO, RESUME_LATEST, CrawlSettings
from crawler.errors import ConfigError
from crawler.normalize import SCHEMA_VERSION
from crawler.runlock import is_locked
from crawler.snapshot import PARTIAL_SUFFIX, RUN_STATE, read_run_state


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
        settings.endpoint,
        None if settings.shard is None else str(settings.shard),
        SCHEMA_VERSION,
    )


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
    ):
        if old != new:
            problems.append(f"{label} differs: the run used {old}, now {new}")
    return problems


def _partials(output_dir: Path) -> list[Path]:
    return sorted(
        output_dir.glob(f"snapshot_date=*/.run_id=*{PARTIAL_SUFFIX}"),
        key=lambda path: path.name,  # run ids sort by start time
    )


def _resumable(work_dir: Path) -> bool:
    return (work_dir / RUN_STATE).is_file() and not is_locked(work_dir)


def find_run(output_dir: Path, wanted: str, now: Identity, today: date) -> Path | None:
    """The work directory to resume for ``--resume wanted``; None means start a new run.

    Raises:
        ConfigError: the run does not exist, is committed, is running, or is another run.
    """
    if wanted == RESUME_AUTO:
        for work_dir in reversed(_partials(output_dir)):
            if work_dir.parent.name != f"snapshot_date={today.isoformat()}":
                continue
            if _resumable(work_dir):
                state = read_run_state(work_dir)
                if not differences(Identity.from_state(state), now):
                    return work_dir
        return None
    if wanted == RESUME_LATEST:
        candidates = [path for path in _partials(output_dir) if _resumable(path)]
        if not candidates:
            raise ConfigError(f"--resume latest: no interrupted run to resume under {output_dir}")
        work_dir = candidates[-1]
    else:
        found = list(output_dir.glob(f"snapshot_date=*/.run_id={wanted}{PARTIAL_SUFFIX}"))
        if not found:
            committed = list(output_dir.glob(f"snapshot_date=*/run_id={wanted}"))
            if committed:
                raise ConfigError(
                    f"--resume {wanted}: that run is already committed at {committed[0]}"
                )
            raise ConfigError(f"--resume {wanted}: no such run under {output_dir}")
        work_dir = found[0]
        if is_locked(work_dir):
            raise ConfigError(f"--resume {wanted}: the run is in progress in another process")
    problems = differences(Identity.from_state(read_run_state(work_dir)), now)
    if problems:
        run_id = work_dir.name.removeprefix(".run_id=").removesuffix(PARTIAL_SUFFIX)
        raise ConfigError(f"cannot resume run {run_id}: " + "; ".join(problems))
    return work_dir
