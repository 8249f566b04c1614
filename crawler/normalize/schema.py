"""The output tables' Arrow schemas: explicit, versioned, built once.

Bump ``SCHEMA_VERSION`` whenever a column is added, removed, renamed or retyped; the version
is written to every Parquet file's key-value metadata and to the run manifest, so readers can
tell which layout they hold.
"""

from __future__ import annotations

from typing import Final

import pyarrow as pa

SCHEMA_VERSION: Final = 3

_TS: Final = pa.timestamp("us", tz="UTC")

# (name, type, nullable, description). The description feeds the README's schema table test.
IMAGE_COLUMNS: Final[tuple[tuple[str, pa.DataType, bool, str], ...]] = (
    ("project_id", pa.string(), False, "project (tenant) the image was fetched through"),
    ("region", pa.string(), True, "region column of the input, if given"),
    ("image_id", pa.string(), False, "image UUID"),
    ("name", pa.string(), True, "image name"),
    ("status", pa.string(), True, "Nova status: ACTIVE, SAVING, DELETED, ERROR, UNKNOWN"),
    ("progress", pa.int32(), True, "Nova progress: 0, 25, 50 or 100"),
    ("size_bytes", pa.int64(), True, "`OS-EXT-IMG-SIZE:size`"),
    ("min_disk_gb", pa.int32(), True, "`minDisk`, GiB"),
    ("min_ram_mb", pa.int32(), True, "`minRam`, MiB"),
    ("created_at", _TS, True, "`created`"),
    ("updated_at", _TS, True, "`updated`"),
    ("os_type", pa.string(), True, "metadata `__os_type` (Linux, Windows, Other, ...)"),
    ("os_version", pa.string(), True, "metadata `__os_version`, verbatim"),
    ("disk_bus", pa.string(), True, "metadata `hw_disk_bus`"),
    ("virtual_env_type", pa.string(), True, "metadata `virtual_env_type`"),
    ("platform", pa.string(), True, "metadata `__platform`"),
    ("os_bit", pa.string(), True, 'metadata `__os_bit` ("32" or "64"), verbatim'),
    ("image_type", pa.string(), True, "metadata `__imagetype` (gold, private, shared)"),
    ("os_family", pa.string(), False, "normalised: linux, windows, other or unknown"),
    ("os_distro", pa.string(), False, "normalised distro id: centos, rhel, ubuntu, ... or unknown"),
    ("os_release", pa.string(), True, 'normalised release: "7.6", "16.04", "2012 R2", "15 SP1"'),
    ("os_major", pa.int32(), True, "major version of `os_release`"),
    ("os_edition", pa.string(), True, "edition: Datacenter, Standard, Enterprise, Server, ..."),
    ("os_bits", pa.int32(), True, "32 or 64"),
    ("os_eol_date", pa.date32(), True, "end of the vendor's support for this release, if known"),
    ("os_is_eol", pa.bool_(), True, "`os_eol_date` is before the snapshot date (null: unknown)"),
    ("disk_config", pa.string(), True, "`OS-DCF:diskConfig` (AUTO, MANUAL)"),
    ("server_id", pa.string(), True, "`server.id`: the instance a snapshot image was taken from"),
    # Glance-only: null in rows from the Nova proxy, which does not show these fields.
    ("visibility", pa.string(), True, "Glance `visibility` (public, private, shared, community)"),
    ("owner", pa.string(), True, "Glance `owner`: the project that owns the image"),
    ("disk_format", pa.string(), True, "Glance `disk_format` (qcow2, raw, zvhd2, iso, ...)"),
    ("container_format", pa.string(), True, "Glance `container_format` (bare, ovf, ...)"),
    ("checksum", pa.string(), True, "Glance `checksum` (MD5 of the image data)"),
    ("virtual_size_bytes", pa.int64(), True, "Glance `virtual_size`"),
    ("protected", pa.bool_(), True, "Glance `protected`"),
    ("tags_json", pa.string(), True, "Glance `tags`, a JSON array, sorted"),
    ("metadata_json", pa.string(), False, "all metadata, lossless JSON, keys sorted"),
    ("extra_json", pa.string(), True, "top-level fields with no column, or whose type was off"),
    ("source_api", pa.string(), False, "which API answered: `nova-proxy` or `glance`"),
    ("fetched_at", _TS, False, "when the response arrived"),
)

ERROR_COLUMNS: Final[tuple[tuple[str, pa.DataType, bool, str], ...]] = (
    ("project_id", pa.string(), True, "project id as given in the input"),
    ("region", pa.string(), True, "region column of the input, if given"),
    ("image_id", pa.string(), True, "image id as given in the input"),
    ("error_kind", pa.string(), False, "why the item failed (see README)"),
    ("http_status", pa.int32(), True, "last HTTP status, if a response arrived"),
    ("attempts", pa.int32(), False, "requests made for this item (0 for invalid input)"),
    ("message", pa.string(), False, "what went wrong; for invalid input, `file:line: reason`"),
    ("request_id", pa.string(), True, "server request id of the last response"),
    ("fetched_at", _TS, False, "when the item was given up"),
)


def _schema(columns: tuple[tuple[str, pa.DataType, bool, str], ...], table: str) -> pa.Schema:
    fields = [pa.field(name, dtype, nullable=nullable) for name, dtype, nullable, _ in columns]
    metadata = {"imagecrawler.table": table, "imagecrawler.schema_version": str(SCHEMA_VERSION)}
    return pa.schema(fields, metadata=metadata)


FINDING_COLUMNS: Final[tuple[tuple[str, pa.DataType, bool, str], ...]] = (
    ("rule", pa.string(), False, "id of the policy rule that matched"),
    ("severity", pa.string(), False, "low, medium, high or critical"),
    ("project_id", pa.string(), False, "the image's project"),
    ("image_id", pa.string(), False, "the image"),
    ("message", pa.string(), False, "the rule's message"),
    ("evidence", pa.string(), False, "the values that matched, as `column=value` pairs"),
)

CHANGE_COLUMNS: Final[tuple[tuple[str, pa.DataType, bool, str], ...]] = (
    ("change", pa.string(), False, "added, removed, changed or unknown"),
    ("project_id", pa.string(), False, "the image's project"),
    ("image_id", pa.string(), False, "the image"),
    ("field", pa.string(), True, "for changed: the column, or `metadata.<key>`"),
    ("old", pa.string(), True, "for changed: the old value as text (null: absent)"),
    ("new", pa.string(), True, "for changed: the new value as text (null: absent)"),
    ("detail", pa.string(), True, "for unknown: why the image's state is not known"),
)

IMAGES_SCHEMA: Final = _schema(IMAGE_COLUMNS, "images")
ERRORS_SCHEMA: Final = _schema(ERROR_COLUMNS, "errors")
FINDINGS_SCHEMA: Final = _schema(FINDING_COLUMNS, "findings")
CHANGES_SCHEMA: Final = _schema(CHANGE_COLUMNS, "changes")
# The tables a crawl writes (and journals); the analysis commands write the others.
SCHEMAS: Final = {"images": IMAGES_SCHEMA, "errors": ERRORS_SCHEMA}
ALL_SCHEMAS: Final = {**SCHEMAS, "findings": FINDINGS_SCHEMA, "changes": CHANGES_SCHEMA}
