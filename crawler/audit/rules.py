"""The rule types a policy can use, each a few Arrow kernels over whole columns. Pure.

One frozen dataclass per policy ``type``: its fields are the rule's options, ``match`` says
which images it flags and ``evidence`` what it shows for each (``column=value`` pairs,
``null`` for a missing value, unless the rule says otherwise).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import ClassVar, Final

import pyarrow as pa
import pyarrow.compute as pc

_SEP: Final = "\x1f"  # joins key parts; never inside a distro id or release


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
    """``os_eol``: the OS is past its end of standard support on ``snapshot_date +
    within_days`` (``within_days`` 0 by default: past it on the snapshot date).

    ``only_upcoming: true`` keeps only images still supported on the snapshot date. Support
    ends at the end of the EOL day (``crawler.normalize.lifecycle``). Images whose EOL is
    unknown are not flagged.
    """

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
    """``os_allowlist``: the OS is none of ``allow``.

    Entries are ``"distro"`` (any release), ``"distro release"`` (exact, ``"ubuntu 22.04"``,
    ``"windows-server 2012 R2"``) or ``"distro major"`` (any release of that major: ``"rhel
    9"`` takes every 9.x, ``"windows-server 2012"`` takes 2012 R2 too). Distro ids compare in
    lower case.
    """

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
    """``disk_bus``: ``disk_bus`` is set and not in ``allowed`` (case-insensitive); a missing
    one is flagged only with ``require: true``."""

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
    """``required_metadata``: one of ``keys`` is absent from the image's metadata (an empty
    value counts as present); the evidence lists the missing keys."""

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
    """``status``: ``status`` (case-insensitive) is not in ``allowed``; a missing status is
    flagged."""

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
    """``max_age``: created more than ``days`` days before the snapshot date (UTC dates);
    images without ``created_at`` are not flagged."""

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
    """``min_disk_vs_size``: ``min_disk_gb * 2**30 < size_bytes``, both known; ``min_disk_gb:
    0`` means "no minimum" to Nova, and is flagged unless ``ignore_zero: true``."""

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
