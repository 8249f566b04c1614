"""Which run a session works on, decided before anything is written.

``plan_run`` hashes the input and picks the run: a new one, or the one ``--resume`` names;
``run_state`` is what a new run records about itself in its work directory; ``finish_commit``
publishes a resumed run that had already written its manifest when a crash cut its rename short.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from crawler import __version__
from crawler.config import CrawlSettings
from crawler.errors import InputError
from crawler.inputs import STDIN
from crawler.resume import Identity, find_run, identity_of
from crawler.runreport import CrawlReport, report_from_manifest
from crawler.snapshot import MANIFEST, new_run_id, publish, read_run_state, run_dirs, sha256_file

__all__ = ["RunPlan", "finish_commit", "plan_run", "run_state"]


@dataclass(frozen=True, slots=True)
class RunPlan:
    """Which run this session works on, decided before anything is written."""

    run_id: str
    started_at: datetime
    snapshot_date: date
    work_dir: Path
    final_dir: Path
    identity: Identity
    fresh: bool


def plan_run(settings: CrawlSettings, started_at: datetime) -> RunPlan:
    """Hash the input, then pick the run: a new one, or the one ``--resume`` names."""
    source = settings.input_path
    if source == STDIN:
        sha256, size, shown = None, None, "<stdin>"
    else:
        path = Path(source)
        try:
            sha256, size, shown = sha256_file(path), path.stat().st_size, str(path.resolve())
        except OSError as exc:
            raise InputError(source, None, f"cannot open input: {exc.strerror}") from exc
    identity = identity_of(settings, sha256, size, shown)
    work_dir = None
    if settings.resume is not None:
        work_dir = find_run(
            settings.output_dir, settings.resume, identity, datetime.now(UTC).date()
        )
    if work_dir is None:
        run_id = new_run_id(started_at)
        work, final = run_dirs(settings.output_dir, run_id, started_at.date())
        return RunPlan(run_id, started_at, started_at.date(), work, final, identity, True)
    state = read_run_state(work_dir)
    started = datetime.fromisoformat(state["started_at"])
    snapshot_date = date.fromisoformat(state["snapshot_date"])
    work, final = run_dirs(settings.output_dir, state["run_id"], snapshot_date)
    return RunPlan(state["run_id"], started, snapshot_date, work, final, identity, False)


def run_state(plan: RunPlan) -> dict[str, Any]:
    """What a new run records about itself: resuming it must match this."""
    return {
        "run_id": plan.run_id,
        "snapshot_date": plan.snapshot_date.isoformat(),
        "started_at": plan.started_at.isoformat(),
        "tool": {"name": "imagecrawler", "version": __version__},
        **plan.identity.state(),
    }


def finish_commit(plan: RunPlan, source: str) -> CrawlReport:
    """Publish a run whose manifest was written before a crash cut its rename short."""
    manifest = json.loads((plan.work_dir / MANIFEST).read_text(encoding="utf-8"))
    directory = publish(plan.work_dir, plan.final_dir)
    return report_from_manifest(manifest, plan.run_id, directory, source)
