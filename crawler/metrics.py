"""A run's figures in Prometheus text format, for node_exporter's textfile collector.

The collector reads every ``*.prom`` file in its directory on each scrape, so the file is
replaced atomically (written beside it under a hidden name, then renamed) and always holds one
whole run. ``imagecrawler_last_success_timestamp_seconds`` survives failed runs: it is carried
over from the previous file, which is what an alert such as "no successful crawl for 26 h"
needs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Final

from crawler.snapshot import write_text_atomically

PREFIX: Final = "imagecrawler"
_LAST_SUCCESS: Final = f"{PREFIX}_last_success_timestamp_seconds"
_LAST_SUCCESS_RE: Final = re.compile(rf"^{_LAST_SUCCESS} ([0-9.eE+]+)$", re.MULTILINE)


def _escape(value: str) -> str:
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def _family(
    name: str, kind: str, help_text: str, samples: Iterable[tuple[Mapping[str, str], float]]
) -> list[str]:
    lines = [f"# HELP {PREFIX}_{name} {help_text}", f"# TYPE {PREFIX}_{name} {kind}"]
    for labels, value in samples:
        rendered = ",".join(f'{key}="{_escape(text)}"' for key, text in labels.items())
        selector = f"{PREFIX}_{name}{{{rendered}}}" if rendered else f"{PREFIX}_{name}"
        lines.append(f"{selector} {_number(value)}")
    return lines


def _number(value: float) -> str:
    """Integers as integers, other values with every digit (a Unix time needs them all)."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def render_metrics(
    manifest: Mapping[str, Any] | None,
    *,
    status: str,
    exit_code: int,
    finished_at: float,
    last_success: float | None,
) -> str:
    """The text of the metrics file. ``manifest`` is None when the run failed before having one.

    Counters of one run are exposed as gauges: each file describes one run, and a counter
    that restarts every night would only confuse ``rate()``.
    """
    lines: list[str] = []
    lines += _family("run_status", "gauge", "1 for the status the last run ended with.", [
        ({"status": status}, 1.0)
    ])  # fmt: skip
    lines += _family("run_exit_code", "gauge", "Exit code of the last run.", [({}, exit_code)])
    lines += _family(
        "last_run_timestamp_seconds", "gauge", "When the last run ended (Unix time).",
        [({}, finished_at)],
    )  # fmt: skip
    if status == "complete":
        last_success = finished_at
    if last_success is not None:
        lines += _family(
            "last_success_timestamp_seconds", "gauge",
            "When a run last committed a snapshot (Unix time).", [({}, last_success)],
        )  # fmt: skip
    if manifest is not None:
        lines += _run_figures(manifest)
    return "\n".join(lines) + "\n"


def _run_figures(manifest: Mapping[str, Any]) -> list[str]:
    counts = manifest.get("counts", {})
    requests = manifest.get("requests", {})
    rate = manifest.get("rate_limit", {})
    outcomes = ("ok", "not_found", "failed", "invalid", "duplicates", "resumed", "other_shards")
    lines = _family(
        "items", "gauge", "Input items of the last run by outcome.",
        [({"outcome": key}, float(counts.get(key, 0))) for key in outcomes],
    )  # fmt: skip
    lines += _family(
        "errors", "gauge", "Error records of the last run by kind.",
        [({"kind": kind}, float(n)) for kind, n in sorted(counts.get("by_kind", {}).items())],
    )  # fmt: skip
    lines += _family(
        "requests", "gauge", "HTTP requests of the last run (last session) by status.",
        [({"status": str(code)}, float(n)) for code, n in requests.get("by_status", {}).items()],
    )  # fmt: skip
    lines += _family(
        "retries", "gauge", "Retries of the last run by reason.",
        [({"reason": kind}, float(n)) for kind, n in requests.get("retries", {}).items()],
    )  # fmt: skip
    lines += _family(
        "throttle_waits", "gauge", "Waits of the last run forced by throttling, by source.",
        [
            ({"source": "retry_after"}, float(requests.get("retry_after_waits", 0))),
            ({"source": "cooldown"}, float(rate.get("cooldown_waits", 0))),
            ({"source": "rate_limit"}, float(rate.get("rate_waits", 0))),
        ],
    )  # fmt: skip
    routing = manifest.get("routing", {})
    lines += _family(
        "requests_by_api", "gauge", "Image requests of the last run by API (nova, glance).",
        [({"api": api}, float(n)) for api, n in routing.get("requests_by_api", {}).items()],
    )  # fmt: skip
    lines += _family(
        "endpoints_switched_to_glance", "gauge",
        "Compute endpoints whose Nova proxy was gone, so Glance answered instead.",
        [({}, float(len(routing.get("switched_to_glance", []))))],
    )  # fmt: skip
    lines += _family(
        "run_duration_seconds", "gauge", "Duration of the last run (last session).",
        [({}, float(manifest.get("duration_s", 0.0)))],
    )  # fmt: skip
    return lines


def previous_success(path: Path) -> float | None:
    """The last-success time recorded in an existing metrics file, if any."""
    try:
        match = _LAST_SUCCESS_RE.search(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return None
    return float(match.group(1)) if match else None


def write_metrics(path: Path, text: str) -> None:
    """Replace the metrics file atomically (the collector may read it at any moment)."""
    write_text_atomically(path, text)
