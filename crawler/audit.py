"""Policy audit of a snapshot's images: rules in YAML, evaluated column-wise, findings out.

A policy is a list of rules; each rule flags images, one finding per (rule, image), with the
rule's severity and message and the values that matched as ``evidence``
(``column=value`` pairs, ``null`` for a missing value). Rule types:

``os_eol``
    the OS is past its end of standard support on ``snapshot_date + within_days``
    (``within_days`` 0 by default: past it on the snapshot date). ``only_upcoming: true``
    keeps only images still supported on the snapshot date. Support ends at the end of the
    EOL day (``crawler.normalize.lifecycle``). Images whose EOL is unknown are not flagged.
``os_allowlist``
    the OS is none of ``allow``: entries ``"distro"`` (any release), ``"distro release"``
    (exact, ``"ubuntu 22.04"``, ``"windows-server 2012 R2"``) or ``"distro major"`` (any
    release of that major: ``"rhel 9"`` takes every 9.x, ``"windows-server 2012"`` takes
    2012 R2 too). Distro ids compare in lower case.
``disk_bus``
    ``disk_bus`` is set and not in ``allowed`` (case-insensitive); a missing one is flagged
    only with ``require: true``.
``required_metadata``
    one of ``keys`` is absent from the image's metadata (an empty value counts as present);
    the evidence lists the missing keys.
``status``
    ``status`` (case-insensitive) is not in ``allowed``; a missing status is flagged.
``max_age``
    created more than ``days`` days before the snapshot date (UTC dates); images without
    ``created_at`` are not flagged.
``min_disk_vs_size``
    ``min_disk_gb * 2**30 < size_bytes``, both known; ``min_disk_gb: 0`` means "no minimum"
    to Nova, and is flagged unless ``ignore_zero: true``.

**EOL dates**, per image, first known wins: a ``--lifecycle`` override file's row, the
snapshot's own ``os_eol_date``, the packaged table's row (which fills snapshots written
before the table, or with releases it has since learnt).

Every rule is a few Arrow kernels over whole columns; Python runs once per rule and once per
distinct (distro, release, major), never per image.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar, Final

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import yaml

from crawler.errors import ConfigError, SnapshotError
from crawler.lifecycle_data import LIFECYCLE_COMPILED, packaged_lifecycle, read_lifecycle_csv
from crawler.normalize.lifecycle import Lifecycle
from crawler.normalize.schema import FINDINGS_SCHEMA, IMAGES_SCHEMA
from crawler.snapshot import MANIFEST, write_json_atomically, write_side_table

SEVERITIES: Final = ("low", "medium", "high", "critical")
FINDINGS: Final = "findings"
AUDIT_JSON: Final = "audit.json"
_KEY: Final = ("project_id", "image_id")
_RULE_ID: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_SEP: Final = "\x1f"  # joins key parts; never inside a distro id or release


# --- rules -------------------------------------------------------------------------------


def _false_for_null(mask: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    return pc.fill_null(mask, False)


def _as_text(values: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    return pc.fill_null(pc.cast(values, pa.string()), "null")


def _pairs(hits: pa.Table, names: tuple[str, ...]) -> pa.ChunkedArray | pa.Array:
    """``name=value`` for each column, space separated: the evidence of most rules."""
    parts = [pc.binary_join_element_wise(f"{n}=", _as_text(hits[n]), "") for n in names]
    return pc.binary_join_element_wise(*parts, " ")


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    """A rule's common fields; subclasses add their options and the test itself."""

    TYPE: ClassVar[str]
    MESSAGE: ClassVar[str]
    COLUMNS: ClassVar[tuple[str, ...]]
    REQUIRED: ClassVar[tuple[str, ...]] = ()

    id: str
    severity: str
    message: str

    def match(self, images: pa.Table, as_of: date) -> pa.ChunkedArray | pa.Array:
        """A null-free boolean mask of the images this rule flags."""
        raise NotImplementedError

    def evidence(self, hits: pa.Table, as_of: date) -> pa.ChunkedArray | pa.Array:
        """The evidence text of each flagged image (``hits`` holds only those)."""
        return _pairs(hits, self.COLUMNS)


@dataclass(frozen=True, slots=True, kw_only=True)
class OsEolRule(Rule):
    TYPE = "os_eol"
    MESSAGE = "OS is past its end of support"
    COLUMNS = ("os_distro", "os_release", "os_eol_date")

    within_days: int = 0
    only_upcoming: bool = False

    def match(self, images: pa.Table, as_of: date) -> pa.ChunkedArray | pa.Array:
        eol = images["os_eol_date"]
        # Past its EOL on day D means D > eol.
        hit = pc.less(eol, pa.scalar(as_of + timedelta(days=self.within_days), pa.date32()))
        if self.only_upcoming:
            hit = pc.and_(hit, pc.greater_equal(eol, pa.scalar(as_of, pa.date32())))
        return _false_for_null(hit)


@dataclass(frozen=True, slots=True, kw_only=True)
class OsAllowlistRule(Rule):
    TYPE = "os_allowlist"
    MESSAGE = "OS is not on the allow list"
    COLUMNS = ("os_distro", "os_release", "os_major")
    REQUIRED = ("allow",)

    allow: tuple[str, ...]

    def match(self, images: pa.Table, as_of: date) -> pa.ChunkedArray | pa.Array:
        distros, releases, majors = set(), set(), set()
        for entry in self.allow:
            distro, _, release = entry.partition(" ")
            if not release:
                distros.add(distro)
                continue
            releases.add(f"{distro}{_SEP}{release}")
            if release.isdigit():
                majors.add(f"{distro}{_SEP}{int(release)}")
        distro = pc.utf8_lower(images["os_distro"])
        release_key = pc.binary_join_element_wise(distro, images["os_release"], _SEP)
        major_text = pc.cast(images["os_major"], pa.string())
        major_key = pc.binary_join_element_wise(distro, major_text, _SEP)
        # is_in answers false (never null) for a null key: a null release matches no entry.
        allowed = pc.or_(
            pc.is_in(distro, pa.array(sorted(distros), pa.string())),
            pc.or_(
                pc.is_in(release_key, pa.array(sorted(releases), pa.string())),
                pc.is_in(major_key, pa.array(sorted(majors), pa.string())),
            ),
        )
        return pc.invert(_false_for_null(allowed))


@dataclass(frozen=True, slots=True, kw_only=True)
class DiskBusRule(Rule):
    TYPE = "disk_bus"
    MESSAGE = "disk bus is not an allowed one"
    COLUMNS = ("disk_bus",)
    REQUIRED = ("allowed",)

    allowed: tuple[str, ...]
    require: bool = False

    def match(self, images: pa.Table, as_of: date) -> pa.ChunkedArray | pa.Array:
        bus = images["disk_bus"]
        wanted = pa.array(sorted({value.lower() for value in self.allowed}), pa.string())
        other = pc.invert(pc.is_in(pc.utf8_lower(bus), wanted))  # is_in says false for null
        return pc.if_else(pc.is_null(bus), self.require, other)


@dataclass(frozen=True, slots=True, kw_only=True)
class RequiredMetadataRule(Rule):
    TYPE = "required_metadata"
    MESSAGE = "required metadata keys are missing"
    COLUMNS = ("metadata_json",)
    REQUIRED = ("keys",)

    keys: tuple[str, ...]

    def _missing(self, images: pa.Table) -> list[pa.ChunkedArray | pa.Array]:
        # A key of a JSON object follows "{" or ",": inside a string value every quote is
        # escaped, so a value that spells a key cannot match.
        metadata = images["metadata_json"]
        masks = []
        for key in self.keys:
            quoted = json.dumps(key, ensure_ascii=False)
            pattern = rf"[{{,]\s*{re.escape(quoted)}\s*:"
            masks.append(pc.invert(_false_for_null(pc.match_substring_regex(metadata, pattern))))
        return masks

    def match(self, images: pa.Table, as_of: date) -> pa.ChunkedArray | pa.Array:
        masks = self._missing(images)
        hit = masks[0]
        for mask in masks[1:]:
            hit = pc.or_(hit, mask)
        return hit

    def evidence(self, hits: pa.Table, as_of: date) -> pa.ChunkedArray | pa.Array:
        names = [
            pc.if_else(mask, key, pa.scalar(None, pa.string()))
            for key, mask in zip(self.keys, self._missing(hits), strict=True)
        ]
        joined = pc.binary_join_element_wise(*names, ",", null_handling="skip")
        return pc.binary_join_element_wise("missing=", joined, "")


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusRule(Rule):
    TYPE = "status"
    MESSAGE = "image status is not an allowed one"
    COLUMNS = ("status",)
    REQUIRED = ("allowed",)

    allowed: tuple[str, ...]

    def match(self, images: pa.Table, as_of: date) -> pa.ChunkedArray | pa.Array:
        wanted = pa.array(sorted({value.upper() for value in self.allowed}), pa.string())
        return pc.invert(pc.is_in(pc.utf8_upper(images["status"]), wanted))  # null: not in


@dataclass(frozen=True, slots=True, kw_only=True)
class MaxAgeRule(Rule):
    TYPE = "max_age"
    MESSAGE = "image is older than the policy allows"
    COLUMNS = ("created_at",)
    REQUIRED = ("days",)

    days: int

    @staticmethod
    def _age(images: pa.Table, as_of: date) -> pa.ChunkedArray | pa.Array:
        created = pc.cast(images["created_at"], pa.date32())  # the UTC date
        return pc.days_between(created, pa.scalar(as_of, pa.date32()))

    def match(self, images: pa.Table, as_of: date) -> pa.ChunkedArray | pa.Array:
        return _false_for_null(pc.greater(self._age(images, as_of), self.days))

    def evidence(self, hits: pa.Table, as_of: date) -> pa.ChunkedArray | pa.Array:
        created = _as_text(pc.cast(hits["created_at"], pa.date32()))
        age = _as_text(self._age(hits, as_of))
        return pc.binary_join_element_wise("created_at=", created, " age_days=", age, "")


@dataclass(frozen=True, slots=True, kw_only=True)
class MinDiskRule(Rule):
    TYPE = "min_disk_vs_size"
    MESSAGE = "min_disk is smaller than the image"
    COLUMNS = ("min_disk_gb", "size_bytes")

    ignore_zero: bool = False

    def match(self, images: pa.Table, as_of: date) -> pa.ChunkedArray | pa.Array:
        min_disk = pc.cast(images["min_disk_gb"], pa.int64())
        hit = pc.less(pc.multiply(min_disk, 1 << 30), images["size_bytes"])
        if self.ignore_zero:
            hit = pc.and_(hit, pc.greater(min_disk, 0))
        return _false_for_null(hit)


RULE_TYPES: Final[Mapping[str, type[Rule]]] = {
    rule.TYPE: rule
    for rule in (
        OsEolRule,
        OsAllowlistRule,
        DiskBusRule,
        RequiredMetadataRule,
        StatusRule,
        MaxAgeRule,
        MinDiskRule,
    )
}


# --- the policy file ---------------------------------------------------------------------


def _days(value: object, where: str) -> int:
    if type(value) is not int or value < 0:
        raise ConfigError(f"{where} must be a whole number of days, 0 or more, not {value!r}")
    return value


def _flag(value: object, where: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{where} must be true or false, not {value!r}")
    return value


def _texts(value: object, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise ConfigError(f"{where} must be a non-empty list of strings")
    texts = []
    for item in value:
        if not isinstance(item, str) or not item.strip():
            raise ConfigError(f"{where} must be a non-empty list of strings, not {item!r}")
        texts.append(" ".join(item.split()))
    return tuple(texts)


def _allow(value: object, where: str) -> tuple[str, ...]:
    # Distro ids are lower case; a release keeps its spelling ("2012 R2", "15 SP1").
    return tuple(
        f"{distro.lower()} {release}".rstrip()
        for distro, _, release in (entry.partition(" ") for entry in _texts(value, where))
    )


_OPTIONS: Final[Mapping[str, Callable[[object, str], object]]] = {
    "within_days": _days,
    "only_upcoming": _flag,
    "allow": _allow,
    "allowed": _texts,
    "require": _flag,
    "keys": _texts,
    "days": _days,
    "ignore_zero": _flag,
}
_COMMON: Final = ("id", "type", "severity", "message")


@dataclass(frozen=True, slots=True)
class Policy:
    """A validated policy; ``path`` and ``sha256`` name the file it came from, if any."""

    rules: tuple[Rule, ...]
    path: Path | None = None
    sha256: str | None = None


def _rule(raw: object, where: str, seen: set[str]) -> Rule:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: a rule must be a mapping of keys")
    rule_id = raw.get("id")
    if not isinstance(rule_id, str) or not _RULE_ID.fullmatch(rule_id):
        raise ConfigError(f"{where}: 'id' is required: letters, digits, '_', '.', '-'")
    where = f"{where} ({rule_id})"
    if rule_id in seen:
        raise ConfigError(f"{where}: duplicate rule id {rule_id!r}")
    seen.add(rule_id)
    kind = raw.get("type")
    if not isinstance(kind, str) or kind not in RULE_TYPES:
        raise ConfigError(f"{where}: unknown rule type {kind!r} (types: {', '.join(RULE_TYPES)})")
    cls = RULE_TYPES[kind]
    options = {f.name for f in fields(cls)} - set(_COMMON)
    for key in raw:
        if key not in options and key not in _COMMON:
            known = ", ".join(sorted(options | set(_COMMON)))
            raise ConfigError(f"{where}: unknown key {key!r} for type {kind} (keys: {known})")
    for key in cls.REQUIRED:
        if key not in raw:
            raise ConfigError(f"{where}: {kind} needs {key!r}")
    severity = raw.get("severity")
    if severity not in SEVERITIES:
        raise ConfigError(f"{where}: severity must be one of {', '.join(SEVERITIES)}")
    message = raw.get("message", cls.MESSAGE)
    if not isinstance(message, str) or not message.strip():
        raise ConfigError(f"{where}: message must be text")
    values: dict[str, Any] = {
        key: _OPTIONS[key](raw[key], f"{where}: {key}") for key in options if key in raw
    }
    return cls(id=rule_id, severity=severity, message=message.strip(), **values)


def parse_policy(document: object, origin: str) -> Policy:
    """Validate a parsed policy document; every error names ``origin`` and the key.

    Raises:
        ConfigError: an unknown key or rule type, a missing or invalid value.
    """
    if not isinstance(document, dict):
        raise ConfigError(f"{origin}: a policy is a mapping with a 'rules' list")
    for key in document:
        if key != "rules":
            raise ConfigError(f"{origin}: unknown key {key!r} (the policy has only 'rules')")
    rules = document.get("rules")
    if not isinstance(rules, list) or not rules:
        raise ConfigError(f"{origin}: 'rules' must be a non-empty list")
    seen: set[str] = set()
    parsed = tuple(_rule(raw, f"{origin}: rules[{i}]", seen) for i, raw in enumerate(rules))
    return Policy(parsed)


class _StrictLoader(yaml.SafeLoader):
    """Safe YAML that rejects a key given twice, which PyYAML would silently overwrite."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        keys = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, Hashable) and key in keys:  # unhashable: super() reports it
                mark = key_node.start_mark
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (line {mark.line + 1})", mark
                )
            keys.add(key)
        return super().construct_mapping(node, deep=deep)


def load_policy(path: Path) -> Policy:
    """Read and validate a policy file.

    Raises:
        ConfigError: the file cannot be read, is not YAML, or is not a valid policy.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the policy: {exc.strerror or exc}") from exc
    try:
        document = yaml.load(data, Loader=_StrictLoader)  # _StrictLoader is a SafeLoader
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    policy = parse_policy(document, str(path))
    return Policy(policy.rules, path, hashlib.sha256(data).hexdigest())


# --- evaluation --------------------------------------------------------------------------


def _lookup(images: pa.Table, lifecycle: Lifecycle) -> pa.Array:
    """Each image's EOL date from ``lifecycle`` (null where it has no row)."""
    missing = "\x00"  # a null release or major, kept apart from any real value
    key = pc.binary_join_element_wise(
        images["os_distro"],
        pc.fill_null(images["os_release"], missing),
        pc.fill_null(pc.cast(images["os_major"], pa.string()), missing),
        _SEP,
    )
    encoded = pc.dictionary_encode(key.combine_chunks())
    eols = []
    for text in encoded.dictionary.to_pylist():
        distro, release, major = (None if part == missing else part for part in text.split(_SEP))
        entry = lifecycle.eol_for(distro, release, None if major is None else int(major))
        eols.append(None if entry is None else entry.eol)
    return pc.take(pa.array(eols, pa.date32()), encoded.indices)


def resolve_eol(
    images: pa.Table, lifecycle: Lifecycle | None = None, override: Lifecycle | None = None
) -> pa.Array | pa.ChunkedArray:
    """The EOL date the audit uses for each image: ``override``'s, else the snapshot's
    ``os_eol_date``, else ``lifecycle``'s."""
    dates = [images["os_eol_date"]]
    if override is not None and len(override) and images.num_rows:
        dates.insert(0, _lookup(images, override))
    if lifecycle is not None and len(lifecycle) and images.num_rows:
        dates.append(_lookup(images, lifecycle))
    return dates[0] if len(dates) == 1 else pc.coalesce(*dates)


def columns_for(policy: Policy) -> list[str]:
    """The images columns a policy reads (the key first)."""
    wanted = set(_KEY)
    for rule in policy.rules:
        wanted.update(rule.COLUMNS)
        if isinstance(rule, OsEolRule):
            wanted.update(("os_major", "os_release"))  # for the lifecycle lookup
    return [name for name in IMAGES_SCHEMA.names if name in wanted]


def evaluate(images: pa.Table, policy: Policy, as_of: date) -> pa.Table:
    """The findings of ``policy`` over ``images``, ordered by rule (policy order), project
    and image; in ``FINDINGS_SCHEMA``.

    ``images`` needs the columns ``columns_for(policy)``, with ``os_eol_date`` already the
    dates the audit should use (``resolve_eol``).
    """
    parts = []
    # Sorted once, so each rule's hits come out in order without a sort (or a random-access
    # take, which costs more than the rules themselves) of their own.
    images = images.take(pc.sort_indices(images, [(name, "ascending") for name in _KEY]))
    for rule in policy.rules:
        mask = rule.match(images, as_of)
        hits = images.select([*_KEY, *rule.COLUMNS]).filter(mask)
        if not hits.num_rows:
            continue
        n = hits.num_rows
        columns = {
            "rule": pa.repeat(rule.id, n),
            "severity": pa.repeat(rule.severity, n),
            "project_id": hits["project_id"],
            "image_id": hits["image_id"],
            "message": pa.repeat(rule.message, n),
            "evidence": rule.evidence(hits, as_of),
        }
        parts.append(pa.table(columns, schema=FINDINGS_SCHEMA))
    if not parts:
        return FINDINGS_SCHEMA.empty_table()
    return pa.concat_tables(parts)


# --- a snapshot's audit ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AuditResult:
    """The findings of one audit, their counts, and the files written."""

    findings: pa.Table
    as_of: date
    images: int
    by_rule: dict[str, int]  # every rule, in policy order
    by_project: dict[str, dict[str, int]]  # project -> severity -> count (all four)
    files: list[Path] = field(default_factory=list)  # findings.parquet, .csv, audit.json

    @property
    def by_severity(self) -> dict[str, int]:
        return {s: sum(c[s] for c in self.by_project.values()) for s in SEVERITIES}

    def at_or_above(self, threshold: str) -> int:
        """How many findings have ``threshold``'s severity or a higher one."""
        wanted = SEVERITIES[SEVERITIES.index(threshold) :]
        return sum(count for severity, count in self.by_severity.items() if severity in wanted)


def _counts(findings: pa.Table, policy: Policy) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
    by_rule = dict.fromkeys((rule.id for rule in policy.rules), 0)
    for row in findings.group_by("rule").aggregate([("rule", "count")]).to_pylist():
        by_rule[row["rule"]] = row["rule_count"]
    by_project: dict[str, dict[str, int]] = {}
    grouped = findings.group_by(["project_id", "severity"]).aggregate([("rule", "count")])
    for row in sorted(grouped.to_pylist(), key=lambda r: r["project_id"]):
        counts = by_project.setdefault(row["project_id"], dict.fromkeys(SEVERITIES, 0))
        counts[row["severity"]] = row["rule_count"]
    return by_rule, by_project


def _snapshot_date(directory: Path) -> tuple[date, dict[str, Any]]:
    path = directory / MANIFEST
    try:
        manifest = json.loads(path.read_bytes())
        return date.fromisoformat(manifest["snapshot_date"]), manifest
    except (OSError, ValueError, KeyError, TypeError) as exc:  # TypeError: not an object
        raise SnapshotError(f"{path}: no readable snapshot_date ({exc!r})") from exc


def _read_images(directory: Path, columns: list[str]) -> pa.Table:
    schema = pa.schema([IMAGES_SCHEMA.field(name) for name in columns])
    parquet = directory / "images.parquet"
    try:
        if parquet.is_file():
            names = pq.read_schema(parquet).names
            if missing := [name for name in columns if name not in names]:
                raise SnapshotError(
                    f"{parquet} has no column {missing[0]!r}: written before schema version 2?"
                )
            return pq.read_table(parquet, columns=columns).select(columns).cast(schema)
        if (directory / "images.csv").is_file():
            from crawler.read import read_arrow  # pulls in pandas: only for CSV snapshots

            return read_arrow(directory, "images", "csv").select(columns)
    except (OSError, pa.ArrowException, KeyError) as exc:
        raise SnapshotError(f"{directory}: images unreadable ({exc})") from exc
    raise SnapshotError(f"{directory} has no images.parquet or images.csv")


def _file_ref(path: Path | None, sha256: str | None) -> dict[str, str | None] | None:
    return None if path is None else {"path": str(path), "sha256": sha256}


def _sha256(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from exc


def audit_snapshot(
    directory: Path, policy: Policy, *, lifecycle_override: Path | None = None
) -> AuditResult:
    """Audit one committed snapshot and write ``findings.parquet``, ``findings.csv`` and
    ``audit.json`` into its directory (each atomically: temporary name, then rename).

    The snapshot date (the manifest's ``snapshot_date``) is the audit's "today".

    Raises:
        ConfigError: the override file is unreadable or invalid.
        SnapshotError: the snapshot cannot be read, or the results cannot be written.
    """
    override, override_ref = None, None
    if lifecycle_override is not None:
        override = read_lifecycle_csv(lifecycle_override)
        override_ref = _file_ref(lifecycle_override, _sha256(lifecycle_override))
    as_of, manifest = _snapshot_date(directory)
    images = _read_images(directory, columns_for(policy))
    if "os_eol_date" in images.column_names:
        eol = resolve_eol(images, packaged_lifecycle(), override)
        images = images.set_column(images.column_names.index("os_eol_date"), "os_eol_date", eol)
    findings = evaluate(images, policy, as_of)
    by_rule, by_project = _counts(findings, policy)
    try:
        files = write_side_table(directory, FINDINGS, findings)
    except OSError as exc:
        raise SnapshotError(f"cannot write the findings to {directory}: {exc}") from exc
    written = [*files, directory / AUDIT_JSON]
    result = AuditResult(findings, as_of, images.num_rows, by_rule, by_project, written)
    document = {
        "snapshot": {"path": str(directory), "run_id": manifest.get("run_id")},
        "as_of": as_of.isoformat(),
        "audited_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "policy": _file_ref(policy.path, policy.sha256),
        "lifecycle": {
            "compiled": LIFECYCLE_COMPILED.isoformat(),
            "override": override_ref,
        },
        "counts": {
            "images": result.images,
            "findings": findings.num_rows,
            "by_rule": by_rule,
            "by_severity": result.by_severity,
            "by_project": by_project,
        },
        "files": [path.name for path in files],
    }
    try:
        write_json_atomically(directory / AUDIT_JSON, document)
    except OSError as exc:
        raise SnapshotError(f"cannot write the audit to {directory}: {exc}") from exc
    return result
