"""Reading the end-of-life table: the packaged CSV, optionally overlaid with a user's file.

The rules (which support phase, how releases match) live in ``crawler.normalize.lifecycle``;
this module only reads files. A user file has the packaged file's columns
(``distro,release,eol,source,note``; ``note`` may be left out) and its rows replace packaged
rows of the same ``(distro, release)`` or add new ones.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Final

from crawler.errors import ConfigError
from crawler.normalize.lifecycle import COLUMNS, REQUIRED, Lifecycle

#: When the packaged table was last checked against the vendors' pages: its age.
LIFECYCLE_COMPILED: Final = date(2026, 11, 27)
PACKAGED_NAME: Final = "crawler/data/lifecycle.csv"


def parse_lifecycle_csv(text: str, origin: str) -> Lifecycle:
    """Parse CSV text with a header line; errors name ``origin:line``.

    Raises:
        ConfigError: no header, a missing required column, or a bad row (see
            ``Lifecycle.from_rows``).
    """
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = reader.fieldnames
    if not header:
        raise ConfigError(f"{origin}:1: empty file: expected the header distro,release,eol,...")
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        raise ConfigError(f"{origin}:1: the header has no column {missing[0]!r}")
    unknown = [name for name in header if name not in COLUMNS]
    if unknown:
        raise ConfigError(
            f"{origin}:1: unknown column {unknown[0]!r} (columns: {', '.join(COLUMNS)})"
        )
    rows, lines = [], []
    try:
        for row in reader:
            rows.append(row)
            lines.append(reader.line_num)  # the record's last line: right unless it spans lines
    except csv.Error as exc:
        raise ConfigError(f"{origin}:{reader.line_num}: {exc}") from exc
    return Lifecycle.from_rows(rows, origin, lines=lines)


@cache
def packaged_lifecycle() -> Lifecycle:
    """The table shipped with the package (read once per process)."""
    text = (files("crawler") / "data" / "lifecycle.csv").read_text(encoding="utf-8")
    return parse_lifecycle_csv(text, PACKAGED_NAME)


def read_lifecycle_csv(path: Path) -> Lifecycle:
    """A user's lifecycle CSV.

    Raises:
        ConfigError: the file cannot be read, is not UTF-8, or has a bad row.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")  # a spreadsheet's BOM is not a column
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason})") from exc
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    return parse_lifecycle_csv(text, str(path))


def load_lifecycle(extra: Path | None = None) -> Lifecycle:
    """The packaged table, overlaid with ``extra``'s rows when given.

    Raises:
        ConfigError: ``extra`` cannot be read or has a bad row (``file:line: field ...``).
    """
    table = packaged_lifecycle()
    return table if extra is None else table.overlaid(read_lifecycle_csv(extra))
