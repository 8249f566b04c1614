"""Read and validate ID lists: CSV with a header, or JSON Lines, from a file or stdin.

Every value is checked before any URL is built from it. A line that fails becomes an
``InvalidLine`` carrying ``file:line`` and the reason, so the run goes on and the line ends
as an error record; only a file that cannot be an ID list at all (missing, unreadable,
no ``project_id``/``image_id`` columns) raises ``InputError``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import BinaryIO, Final, Literal

from crawler.errors import InputError
from crawler.keyset import KeySet, digests_array, pair_digest, shard_of

InputFormat = Literal["auto", "csv", "jsonl"]

STDIN: Final = "-"
PROJECT_ID_RE: Final = re.compile(r"[0-9a-f]{32}")
IMAGE_ID_RE: Final = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
REGION_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_REQUIRED: Final = ("project_id", "image_id")
_JSONL_SUFFIXES: Final = frozenset({".jsonl", ".ndjson", ".json"})
_DEDUPE_CHUNK: Final = 1024


@dataclass(frozen=True, slots=True)
class Shard:
    """Shard ``index`` of ``count`` (0-based, as a Kubernetes Indexed Job numbers its pods)."""

    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


@dataclass(frozen=True, slots=True)
class ImageRef:
    """One validated (project, image) pair to fetch."""

    project_id: str
    image_id: str
    region: str | None = None


@dataclass(frozen=True, slots=True)
class InvalidLine:
    """An input line that was rejected; the raw values are kept for the errors table."""

    location: str
    reason: str
    project_id: str | None = None
    image_id: str | None = None
    region: str | None = None

    @property
    def message(self) -> str:
        return f"{self.location}: {self.reason}"


@dataclass(slots=True)
class InputStats:
    """What reading the input saw; complete once the reader is exhausted."""

    source: str
    format: str = "unknown"
    records: int = 0
    invalid: int = 0
    unique: int = 0
    duplicates: int = 0
    resumed: int = 0
    other_shards: int = 0
    bytes_read: int = 0
    sha256: str = ""
    _hash: hashlib._Hash = field(default_factory=hashlib.sha256, repr=False)


class _HashingReader(io.RawIOBase):
    """Raw stream wrapper that hashes and counts every byte as it is read."""

    def __init__(self, raw: BinaryIO, stats: InputStats) -> None:
        self._raw = raw
        self._stats = stats

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self._raw.read(len(buffer))
        size = len(data)
        buffer[:size] = data
        self._stats._hash.update(data)
        self._stats.bytes_read += size
        return size


def _clean(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def validate_pair(
    location: str, project: object, image: object, region: object = None
) -> ImageRef | InvalidLine:
    """Check one pair's values; IDs are lower-cased so that duplicates compare equal."""
    raw = (_clean(project), _clean(image), _clean(region))
    project_id, image_id, region_name = raw
    reason = None
    if any(value is not None and "\ufffd" in value for value in raw):
        reason = "line is not valid UTF-8 text"
    elif project_id is None:
        reason = "project_id is empty"
    elif not PROJECT_ID_RE.fullmatch(project_id.lower()):
        reason = f"project_id {project_id!r} is not 32 hexadecimal characters"
    elif image_id is None:
        reason = "image_id is empty"
    elif not IMAGE_ID_RE.fullmatch(image_id.lower()):
        reason = f"image_id {image_id!r} is not a UUID (8-4-4-4-12 hex digits)"
    elif region_name is not None and not REGION_RE.fullmatch(region_name):
        reason = f"region {region_name!r} is not a region name (letters, digits, . _ -)"
    if reason is not None:
        return InvalidLine(location, reason, *raw)
    assert project_id is not None
    assert image_id is not None
    return ImageRef(project_id.lower(), image_id.lower(), region_name)


def _text_lines(binary: io.BufferedReader[_HashingReader]) -> Iterator[str]:
    """Decode line by line, so a bad byte spoils one line (reported with its number), not
    the file: undecodable bytes become U+FFFD, which no validator accepts."""
    for number, raw in enumerate(binary, start=1):
        line = raw.decode("utf-8", errors="replace")
        yield line.removeprefix("\ufeff") if number == 1 else line


def _csv_records(text: Iterator[str], name: str) -> Iterator[ImageRef | InvalidLine]:
    reader = csv.reader(text)
    header: list[str] | None = None
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue
        if header is None:
            header = [cell.strip().lower() for cell in row]
            missing = [column for column in _REQUIRED if column not in header]
            if missing:
                raise InputError(
                    name,
                    reader.line_num,
                    f"CSV header lacks column {missing[0]!r} "
                    f"(found: {', '.join(header)}; expected: project_id,image_id[,region])",
                )
            positions = [header.index(c) for c in _REQUIRED]
            region_at = header.index("region") if "region" in header else None
            continue
        location = f"{name}:{reader.line_num}"
        if len(row) != len(header):
            yield InvalidLine(location, f"expected {len(header)} fields, found {len(row)}")
            continue
        region = row[region_at] if region_at is not None else None
        yield validate_pair(location, row[positions[0]], row[positions[1]], region)
    if header is None:
        raise InputError(name, 1, "input is empty: expected a header project_id,image_id")


def _jsonl_records(text: Iterator[str], name: str) -> Iterator[ImageRef | InvalidLine]:
    for number, line in enumerate(text, start=1):
        if not line.strip():
            continue
        location = f"{name}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            yield InvalidLine(location, f"not valid JSON ({exc.msg} at column {exc.colno})")
            continue
        if not isinstance(record, dict):
            yield InvalidLine(location, "expected a JSON object with project_id and image_id")
            continue
        values = [record.get(key) for key in (*_REQUIRED, "region")]
        if any(v is not None and not isinstance(v, str) for v in values):
            yield InvalidLine(location, "project_id, image_id and region must be strings")
            continue
        yield validate_pair(location, *values)


def _detect_format(
    binary: io.BufferedReader[_HashingReader], name: str, requested: InputFormat
) -> str:
    if requested != "auto":
        return requested
    if Path(name).suffix.lower() in _JSONL_SUFFIXES:
        return "jsonl"
    if name != STDIN and Path(name).suffix.lower() == ".csv":
        return "csv"
    head = binary.peek(256).lstrip()
    return "jsonl" if head.startswith((b"{", b"\xef\xbb\xbf{")) else "csv"


class InputReader:
    """Stream validated, de-duplicated items from an ID list.

    Yields each distinct ``ImageRef`` once and every ``InvalidLine``; duplicates are only
    counted. With a ``shard``, only the pairs of that shard are yielded (invalid lines belong
    to shard 0); with ``done`` keys (from a resumed run's journal), those pairs are counted
    as unique but not yielded again. ``stats`` is complete (including the SHA-256 of the
    bytes) once exhausted.

    Seen pairs are kept as 16-byte digests in a ``KeySet`` (about 32 bytes a pair), not as
    Python objects: a million IDs cost tens of megabytes, not hundreds.
    """

    def __init__(
        self, source: str, input_format: InputFormat = "auto", *, shard: Shard | None = None
    ) -> None:
        self.source = source
        self.stats = InputStats(source=source)
        self.shard = shard
        self.done: KeySet | None = None  # set before iterating, when resuming
        self._format = input_format
        self._seen = KeySet()

    def _open(self) -> BinaryIO:
        if self.source == STDIN:
            return sys.stdin.buffer
        try:
            return Path(self.source).open("rb")
        except OSError as exc:
            raise InputError(self.source, None, f"cannot open input: {exc.strerror}") from exc

    def __iter__(self) -> Iterator[ImageRef | InvalidLine]:
        raw = self._open()
        buffered = io.BufferedReader(_HashingReader(raw, self.stats), buffer_size=1 << 16)
        name = "<stdin>" if self.source == STDIN else self.source
        try:
            fmt = _detect_format(buffered, name, self._format)
            self.stats.format = fmt
            lines = _text_lines(buffered)
            records = _csv_records(lines, name) if fmt == "csv" else _jsonl_records(lines, name)
            while chunk := list(islice(records, _DEDUPE_CHUNK)):
                yield from self._select(chunk)
        finally:
            if raw is not sys.stdin.buffer:
                raw.close()
        self.stats.sha256 = self.stats._hash.hexdigest()

    def _select(self, chunk: list[ImageRef | InvalidLine]) -> Iterator[ImageRef | InvalidLine]:
        """Count one chunk of records and yield the ones to act on, in input order."""
        stats, shard = self.stats, self.shard
        stats.records += len(chunk)
        refs = [item for item in chunk if isinstance(item, ImageRef)]
        digests = [pair_digest(ref.project_id, ref.image_id) for ref in refs]
        if shard is not None:
            mine = [shard_of(digest, shard.count) == shard.index for digest in digests]
            stats.other_shards += len(refs) - sum(mine)
            refs = [ref for ref, keep in zip(refs, mine, strict=True) if keep]
            digests = [digest for digest, keep in zip(digests, mine, strict=True) if keep]
        keys = digests_array(digests)
        first = self._seen.add(keys)
        done = self.done.contains(keys) if self.done is not None else None
        act_on: set[int] = set()  # id() of the refs seen for the first time and not done yet
        for position, ref in enumerate(refs):
            if not first[position]:
                stats.duplicates += 1
                continue
            stats.unique += 1
            if done is not None and done[position]:
                stats.resumed += 1
                continue
            act_on.add(id(ref))
        for item in chunk:
            if isinstance(item, InvalidLine):
                if shard is None or shard.index == 0:
                    stats.invalid += 1
                    yield item
                else:
                    stats.other_shards += 1
            elif id(item) in act_on:
                yield item
