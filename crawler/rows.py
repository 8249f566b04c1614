"""From a fetched body to the row a batch carries: flatten, check, end-of-life columns, size.

``row_from`` turns one fetched image into its row, or into an ``ErrorRecord`` when the body is
not the image that was asked for; ``EolColumns`` fills the end-of-life columns as of the
snapshot date; ``row_size`` is the estimate the pool's batch limits count with.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime

from crawler.errors import InvalidRecordError
from crawler.inputs import ImageRef
from crawler.normalize import flatten_glance_image, flatten_nova_image
from crawler.normalize.lifecycle import Lifecycle
from crawler.outcomes import Fetched
from crawler.pool import Outcome, Row

__all__ = ["EolColumns", "row_from", "row_size"]


class EolColumns:
    """Fills ``os_eol_date``/``os_is_eol`` from the lifecycle table as of the snapshot date.

    The distinct (distro, release) pairs of a cloud number in the dozens, so lookups are cached.
    """

    def __init__(self, lifecycle: Lifecycle) -> None:
        self.as_of = datetime.now(UTC).date()
        self._status = functools.lru_cache(maxsize=4096)(lifecycle.status)

    def fill(self, row: Row) -> None:
        row["os_eol_date"], row["os_is_eol"] = self._status(
            row["os_distro"], row["os_release"], row["os_major"], self.as_of
        )


def row_from(ref: ImageRef, fetched: Fetched, eol: EolColumns) -> Outcome:
    """Flatten a fetched body, or explain why it is not the image that was asked for."""
    try:
        flatten = flatten_glance_image if fetched.api == "glance" else flatten_nova_image
        row = flatten(
            fetched.body, project_id=ref.project_id, region=ref.region, fetched_at=fetched.at
        )
    except InvalidRecordError as exc:
        message = str(exc)
    else:
        if row["image_id"] == ref.image_id:
            eol.fill(row)
            return row
        message = f"response is for image {row['image_id']!r}, not the one requested"
    return fetched.invalid(ref.project_id, ref.region, ref.image_id, message)


def row_size(row: Row) -> int:
    """Rough bytes of one row in a batch: its JSON text dominates, the rest is ~300 bytes."""
    metadata, extra = row.get("metadata_json"), row.get("extra_json")
    return (
        300
        + (len(metadata) if isinstance(metadata, str) else 0)
        + (len(extra) if isinstance(extra, str) else 0)
    )
