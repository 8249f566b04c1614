"""What a report shows: small frozen values, whatever the snapshot's size.

Shared by both halves, so it imports nothing that does I/O: :mod:`crawler.report.data`
builds these, the pure renderers only read them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ReleaseCount:
    """Images of one OS distro and release (``release`` None: not known)."""

    distro: str
    release: str | None
    images: int


@dataclass(frozen=True, slots=True)
class ProjectEol:
    """One project's images by ``os_is_eol``: true, false and null."""

    project: str
    eol: int
    supported: int
    unknown: int


@dataclass(frozen=True, slots=True)
class FindingCount:
    rule: str
    severity: str
    findings: int


@dataclass(frozen=True, slots=True)
class ChangedField:
    """One ``changed`` row of changes.parquet."""

    project_id: str
    image_id: str
    field: str | None
    old: str | None
    new: str | None


@dataclass(frozen=True, slots=True)
class ChangeSummary:
    """changes.parquet in brief: images per kind (``changed``: distinct images), the number
    of changed fields, the first changed fields, and the snapshot compared with, if known."""

    by_kind: tuple[tuple[str, int], ...]
    changed_fields: int
    first_changed: tuple[ChangedField, ...]
    previous: str | None = None


@dataclass(frozen=True, slots=True)
class ReportData:
    """Everything :func:`render_report` draws; small whatever the snapshot's size.

    ``not_found``, ``failed`` and ``invalid`` come from the manifest (None: not recorded);
    ``findings`` is None when no audit has run, ``changes`` None when no diff has.
    """

    snapshot_date: str
    run_id: str
    images: int
    not_found: int | None
    failed: int | None
    invalid: int | None
    projects: int
    eol: int
    eol_unknown: int
    releases: tuple[ReleaseCount, ...]
    other_releases: tuple[int, int]  # (release groups, images) beyond the top ones
    projects_eol: tuple[ProjectEol, ...]
    other_projects: ProjectEol | None  # the sum over the projects beyond the top ones
    findings: tuple[FindingCount, ...] | None = None
    changes: ChangeSummary | None = None
