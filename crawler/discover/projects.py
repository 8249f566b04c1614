"""Read the projects file of ``crawler discover``.

Two forms, told apart by the first line that is neither blank nor a ``#`` comment:

* CSV whose header names ``project_id`` (and optionally ``region``; other columns are
  ignored), one project per row;
* plain text, one project id per line.

Comments and blank lines are allowed in both. Project ids are checked (and lower-cased) like
those of an ID list; any bad line stops the command with ``file:line``. A (project, region)
pair given twice is listed once.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from crawler.errors import InputError
from crawler.inputs import PROJECT_ID_RE, REGION_RE

_FORMS: Final = "expected one project id per line, or CSV with a header project_id[,region]"


@dataclass(frozen=True, slots=True)
class ProjectTarget:
    """One project to list, in a region (None: the default region)."""

    project_id: str
    region: str | None = None


def _project(name: str, number: int, text: str) -> str:
    value = text.strip().lower()
    if not value:
        raise InputError(name, number, "project_id is empty")
    if not PROJECT_ID_RE.fullmatch(value):
        raise InputError(
            name, number, f"project_id {text.strip()!r} is not 32 hexadecimal characters"
        )
    return value


def _region(name: str, number: int, text: str) -> str | None:
    value = text.strip()
    if value and not REGION_RE.fullmatch(value):
        raise InputError(
            name, number, f"region {value!r} is not a region name (letters, digits, . _ -)"
        )
    return value or None


def _lines(path: Path) -> list[tuple[int, str]]:
    """Numbered lines that carry content; undecodable bytes become U+FFFD (then rejected)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(str(path), None, f"cannot read projects file: {exc.strerror}") from exc
    text = data.decode("utf-8", errors="replace").removeprefix("\ufeff")
    return [
        (number, line)
        for number, line in enumerate(text.splitlines(), start=1)
        if line.strip() and not line.lstrip().startswith("#")
    ]


def read_projects(path: Path) -> list[ProjectTarget]:
    """The distinct projects of ``path``, in file order.

    Raises:
        InputError: the file is unreadable, empty, or a line is invalid (``file:line``).
    """
    name = str(path)
    lines = _lines(path)
    if not lines:
        raise InputError(name, None, f"no project ids ({_FORMS})")
    first_number, first = lines[0]
    header = [cell.strip().lower() for cell in next(csv.reader([first]))]
    targets: dict[ProjectTarget, None] = {}
    if "project_id" not in header:
        for number, line in lines:
            if "," in line:
                raise InputError(name, number, f"a comma in a list of project ids ({_FORMS})")
            targets[ProjectTarget(_project(name, number, line))] = None
        return list(targets)
    project_at = header.index("project_id")
    region_at = header.index("region") if "region" in header else None
    for number, line in lines[1:]:
        row = next(csv.reader([line]))
        if len(row) != len(header):
            raise InputError(name, number, f"expected {len(header)} fields, found {len(row)}")
        project = _project(name, number, row[project_at])
        region = None if region_at is None else _region(name, number, row[region_at])
        targets[ProjectTarget(project, region)] = None
    if not targets:
        raise InputError(name, first_number, "CSV header but no projects")
    return list(targets)
