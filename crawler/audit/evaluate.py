"""A policy over an images table: the EOL dates the audit uses, then the findings. Pure.

**EOL dates**, per image, first known wins: a ``--lifecycle`` override file's row, the
snapshot's own ``os_eol_date``, the packaged table's row (which fills snapshots written
before the table, or with releases it has since learnt).

Every rule is a few Arrow kernels over whole columns; Python runs once per rule and once per
distinct (distro, release, major), never per image.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Final

import pyarrow as pa
import pyarrow.compute as pc

from crawler.audit.rules import _SEP, OsEolRule
from crawler.normalize.lifecycle import Lifecycle
from crawler.normalize.schema import FINDINGS_SCHEMA, IMAGES_SCHEMA

if TYPE_CHECKING:  # a type only: this pure module stays clear of the policy file's reading
    from crawler.audit.policy import Policy

_KEY: Final = ("project_id", "image_id")


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
