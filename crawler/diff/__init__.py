"""What changed between two snapshots: images added, removed or changed, and those unknown.

An image is the pair ``(project_id, image_id)``. With OLD and NEW two committed snapshots:

``added``
    in NEW's images; not in OLD's images, and OLD either did not ask for it or got 404.
``removed``
    in OLD's images, and NEW got 404 "Image not found." for it (``error_kind`` not_found).
    An image NEW merely failed to fetch is never removed.
``changed``
    in both snapshots' images with differing values: one row per differing column,
    compared as text (``old``/``new``; null is None, timestamps ISO 8601 UTC), and one
    row per differing metadata key, ``field`` = ``metadata.<key>``, ``old``/``new`` the
    value's JSON text (None: the key is absent). ``metadata_json`` itself does not appear;
    a column copied from metadata (``disk_bus``) shows next to its key. ``fetched_at`` is
    not compared, nor ``os_is_eol``, which turns true with the date alone.
``unknown``
    the state is not known: in OLD's images but NEW failed for it other than by 404
    (``detail`` = ``error_kind: message``) or did not ask for it at all; or in NEW's
    images while OLD failed for it (``old run failed: <kind>``).

Only the columns both snapshots have are compared, so snapshots of different schema
versions can be diffed. Joins and comparisons are Arrow kernels over whole columns, read
one column at a time; only rows whose values differ are looked at one by one.
"""

from crawler.diff.compare import (
    CHANGE_KINDS,
    IGNORED,
    KEY,
    METADATA,
    NOT_IN_INPUT,
    summarize,
)
from crawler.diff.snapshots import diff_snapshots
from crawler.diff.write import CHANGES, write_changes

__all__ = [
    "CHANGES",
    "CHANGE_KINDS",
    "IGNORED",
    "KEY",
    "METADATA",
    "NOT_IN_INPUT",
    "diff_snapshots",
    "summarize",
    "write_changes",
]
