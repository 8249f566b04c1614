"""End-of-life dates of OS releases: the table's rows, their validation, and the lookup.

Pure: no file I/O (``crawler.lifecycle_data`` reads the CSV files and hands the rows here).

**Which date.** ``eol`` is the end of the vendor's *standard* support: the last day on which
the release still gets security updates under its ordinary product lifecycle, with no paid
add-on. That is RHEL's end of Maintenance Support (not ELS), SUSE's General Support (not
LTSS), Oracle's Premier Support (not Extended Support), Ubuntu's standard support (not ESM /
Ubuntu Pro), Microsoft's end of Extended Support (the last phase included in the licence, not
the paid ESU), Debian's regular security support (not the community LTS), and the end of life
of community releases (Fedora, openSUSE Leap, CentOS). When a vendor states only a month, the
last day of that month is used; each row's ``note`` names the phase.

**Boundary.** Support ends at the end of the ``eol`` day: a release is past its end of life
on a date ``as_of`` when ``as_of > eol``; on the ``eol`` day itself it is still supported.

**Lookup** (``Lifecycle.eol_for``), first hit wins:

1. the exact ``(distro, release)``: ``("ubuntu", "16.04")``, ``("sles", "15 SP1")``;
2. the major as a release: ``"7.6"`` and ``"7"`` fall to the row ``("rhel", "7")``,
   ``"15 SP1"`` without its own row to ``("sles", "15")``, ``"2012 R2"`` to ``"2012"``;
3. the distro-wide row ``(distro, "*")``, for distros whose releases share one end (CoreOS
   Container Linux, whose release is its whole build number).

A major-level row therefore stands for every minor release or service pack without a row of
its own: for RHEL, CentOS and Oracle Linux that is exact (their lifecycle is per major), for
SLES it is the end of the whole line, which is later than an old service pack's.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Final

from crawler.errors import ConfigError

COLUMNS: Final = ("distro", "release", "eol", "source", "note")
REQUIRED: Final = ("distro", "release", "eol", "source")
ANY_RELEASE: Final = "*"

_DISTRO: Final = re.compile(r"[a-z0-9][a-z0-9._-]*")
_DATE: Final = re.compile(r"\d{4}-\d{2}-\d{2}")

Key = tuple[str, str]


@dataclass(frozen=True, slots=True)
class LifecycleEntry:
    """One row of the table: the end of standard support of one release of one distro."""

    distro: str
    release: str
    eol: date
    source: str
    note: str = ""


def _entry(row: Mapping[str, object], where: str) -> LifecycleEntry:
    """Validate one CSV row; raise ConfigError naming ``where`` (``origin:line``) and field."""
    if None in row:  # csv.DictReader files the cells beyond the header under None
        raise ConfigError(f"{where}: more cells than the header has columns")
    unknown = sorted(str(key) for key in row if key not in COLUMNS)
    if unknown:
        raise ConfigError(f"{where}: unknown column {unknown[0]!r} (columns: {', '.join(COLUMNS)})")
    # A short row gives None for its missing cells (csv.DictReader's restval).
    values = {name: v.strip() if isinstance(v := row.get(name), str) else "" for name in COLUMNS}
    for name in REQUIRED:
        if not values[name]:
            raise ConfigError(f"{where}: {name} is missing")
    if not _DISTRO.fullmatch(values["distro"]):
        raise ConfigError(
            f"{where}: distro {values['distro']!r} is not a lower-case distro id (e.g. rhel)"
        )
    if " ".join(values["release"].split()) != values["release"]:
        raise ConfigError(f"{where}: release {values['release']!r} is not spaced like '15 SP1'")
    try:
        if not _DATE.fullmatch(values["eol"]):
            raise ValueError(values["eol"])
        eol = date.fromisoformat(values["eol"])
    except ValueError:
        raise ConfigError(f"{where}: eol {values['eol']!r} is not a date (YYYY-MM-DD)") from None
    if not values["source"].startswith("https://"):
        raise ConfigError(f"{where}: source {values['source']!r} is not an https:// URL")
    return LifecycleEntry(
        values["distro"], values["release"], eol, values["source"], values["note"]
    )


class Lifecycle:
    """An immutable table of ``LifecycleEntry``, one per ``(distro, release)``."""

    __slots__ = ("_entries",)

    def __init__(self, entries: Iterable[LifecycleEntry] = ()) -> None:
        self._entries: dict[Key, LifecycleEntry] = {(e.distro, e.release): e for e in entries}

    @classmethod
    def from_rows(
        cls,
        rows: Iterable[Mapping[str, str]],
        origin: str,
        *,
        lines: Iterable[int] | None = None,
    ) -> Lifecycle:
        """Validate CSV rows (as ``csv.DictReader`` gives them) into a table.

        Args:
            rows: one mapping per record, keyed by the header's column names.
            origin: the file's name, for error messages.
            lines: each row's line number; by default row ``i`` is line ``i + 2`` (after the
                header line).

        Raises:
            ConfigError: ``origin:line: ...`` naming the bad field, or a duplicate
                ``(distro, release)`` with the line of its first occurrence.
        """
        numbers: Iterator[int] = iter(lines) if lines is not None else itertools.count(2)
        seen: dict[Key, int] = {}
        entries = []
        for row, line in zip(rows, numbers, strict=False):
            entry = _entry(row, f"{origin}:{line}")
            key = (entry.distro, entry.release)
            if key in seen:
                raise ConfigError(
                    f"{origin}:{line}: duplicate row for {entry.distro} {entry.release}"
                    f" (first on line {seen[key]})"
                )
            seen[key] = line
            entries.append(entry)
        return cls(entries)

    def overlaid(self, other: Lifecycle) -> Lifecycle:
        """This table with ``other``'s rows added, replacing rows of the same key."""
        return Lifecycle([*self._entries.values(), *other._entries.values()])

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[LifecycleEntry]:
        return iter(self._entries.values())

    def get(self, distro: str, release: str) -> LifecycleEntry | None:
        """The row of exactly ``(distro, release)``, if any."""
        return self._entries.get((distro, release))

    def eol_for(
        self, distro: str | None, release: str | None, major: int | None
    ) -> LifecycleEntry | None:
        """The row that applies to a release (order in the module docstring), or None."""
        if distro is None:
            return None
        candidates = (release, None if major is None else str(major), ANY_RELEASE)
        for candidate in candidates:
            if candidate is not None and (entry := self._entries.get((distro, candidate))):
                return entry
        return None

    def status(
        self, distro: str | None, release: str | None, major: int | None, as_of: date
    ) -> tuple[date | None, bool | None]:
        """``(eol, as_of > eol)``, or ``(None, None)`` when the release is not in the table.

        The EOL day itself still counts as supported: support ends at the end of that day.
        """
        entry = self.eol_for(distro, release, major)
        if entry is None:
            return None, None
        return entry.eol, as_of > entry.eol
