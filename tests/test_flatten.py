"""The pure flattener: the seed example, and the rules for missing and odd values."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crawler.errors import InvalidRecordError
from crawler.normalize import IMAGES_SCHEMA, flatten_nova_image

FETCHED_AT = datetime(2026, 11, 27, 12, 0, 0, tzinfo=UTC)
PROJECT = "6f70656e737461636b20342065766572"

# doc/api_samples/images/image-get-resp.json (API.md section 1.3)
SEED_RESPONSE = {
    "image": {
        "OS-DCF:diskConfig": "AUTO",
        "OS-EXT-IMG-SIZE:size": 74185822,
        "created": "2011-01-01T01:02:03Z",
        "id": "70a599e0-31e7-49b7-b260-868f441e862b",
        "links": [
            {
                "href": "http://openstack.example.com/v2/6f70656e737461636b20342065766572/images/70a599e0-31e7-49b7-b260-868f441e862b",
                "rel": "self",
            },
            {
                "href": "http://openstack.example.com/6f70656e737461636b20342065766572/images/70a599e0-31e7-49b7-b260-868f441e862b",
                "rel": "bookmark",
            },
            {
                "href": "http://glance.openstack.example.com/images/70a599e0-31e7-49b7-b260-868f441e862b",
                "rel": "alternate",
                "type": "application/vnd.openstack.image",
            },
        ],
        "metadata": {
            "architecture": "x86_64",
            "auto_disk_config": "True",
            "kernel_id": "nokernel",
            "ramdisk_id": "nokernel",
        },
        "minDisk": 0,
        "minRam": 0,
        "name": "fakeimage7",
        "progress": 100,
        "status": "ACTIVE",
        "updated": "2011-01-01T01:02:03Z",
    }
}

# The OTC "Querying Details About a Specified Image (Discarded)" example (API.md 1.8).
OTC_RESPONSE = {
    "image": {
        "status": "ACTIVE",
        "updated": "2015-12-27T02:52:25Z",
        "name": "cirror",
        "links": [],
        "created": "2015-12-27T02:52:24Z",
        "minDisk": 0,
        "progress": 100,
        "minRam": 0,
        "metadata": {
            "__os_version": "CentOS 4.4 32bit",
            "file_format": "img",
            "file_name": "**.img",
            "describe": "",
            "__os_type": "Linux",
            "virtual_env_type": "KVM",
            "hw_disk_bus": "scsi",
        },
        "id": "17a1890b-0fa4-485e-8505-14e294017988",
        "OS-EXT-IMG-SIZE:size": 13167616,
    }
}


def flatten(body: object) -> dict[str, object]:
    return flatten_nova_image(body, project_id=PROJECT, region=None, fetched_at=FETCHED_AT)


def test_seed_example_flattens_to_exactly_the_expected_row() -> None:
    assert flatten(SEED_RESPONSE) == {
        "project_id": PROJECT,
        "region": None,
        "image_id": "70a599e0-31e7-49b7-b260-868f441e862b",
        "name": "fakeimage7",
        "status": "ACTIVE",
        "progress": 100,
        "size_bytes": 74185822,
        "min_disk_gb": 0,
        "min_ram_mb": 0,
        "created_at": datetime(2011, 1, 1, 1, 2, 3, tzinfo=UTC),
        "updated_at": datetime(2011, 1, 1, 1, 2, 3, tzinfo=UTC),
        "os_type": None,
        "os_version": None,
        "disk_bus": None,
        "virtual_env_type": None,
        "platform": None,
        "os_bit": None,
        "image_type": None,
        "os_family": "unknown",
        "os_distro": "unknown",
        "os_release": None,
        "os_major": None,
        "os_edition": None,
        "os_bits": None,
        "os_eol_date": None,
        "os_is_eol": None,
        "disk_config": "AUTO",
        "server_id": None,
        "visibility": None,
        "owner": None,
        "disk_format": None,
        "container_format": None,
        "checksum": None,
        "virtual_size_bytes": None,
        "protected": None,
        "tags_json": None,
        "metadata_json": '{"architecture":"x86_64","auto_disk_config":"True",'
        '"kernel_id":"nokernel","ramdisk_id":"nokernel"}',
        "extra_json": None,
        "source_api": "nova-proxy",
        "fetched_at": FETCHED_AT,
    }


def test_row_has_exactly_the_schema_columns() -> None:
    assert list(flatten(SEED_RESPONSE)) == IMAGES_SCHEMA.names


def test_huawei_metadata_fills_the_os_columns() -> None:
    row = flatten(OTC_RESPONSE)
    assert (row["os_type"], row["os_version"], row["disk_bus"], row["virtual_env_type"]) == (
        "Linux",
        "CentOS 4.4 32bit",
        "scsi",
        "KVM",
    )
    assert row["platform"] is None
    assert (row["os_family"], row["os_distro"], row["os_release"], row["os_major"]) == (
        "linux",
        "centos",
        "4.4",
        4,
    )
    assert (row["os_bits"], row["os_edition"]) == (32, None)
    assert row["size_bytes"] == 13167616
    assert row["disk_config"] is None


def test_missing_keys_are_nulls_not_errors() -> None:
    row = flatten({"image": {"id": "17a1890b-0fa4-485e-8505-14e294017988"}})
    assert row["image_id"] == "17a1890b-0fa4-485e-8505-14e294017988"
    nullable = [f.name for f in IMAGES_SCHEMA if f.nullable and f.name != "region"]
    assert all(row[name] is None for name in nullable)
    assert (row["os_family"], row["os_distro"]) == ("unknown", "unknown")
    assert row["metadata_json"] == "{}"


def test_odd_types_become_nulls_and_are_kept_verbatim() -> None:
    body = {
        "image": {
            "id": "17a1890b-0fa4-485e-8505-14e294017988",
            "name": 42,
            "minDisk": "20",
            "minRam": True,
            "progress": 2**40,
            "created": "yesterday",
            "server": "not-an-object",
            "surprise": [1, 2],
            "metadata": {"__os_version": 7.0, "__os_bit": 64, "hw_disk_bus": None},
        }
    }
    row = flatten(body)
    for column in ("name", "min_disk_gb", "min_ram_mb", "progress", "created_at", "server_id"):
        assert row[column] is None
    assert (row["os_version"], row["os_bit"], row["disk_bus"]) == (None, None, None)
    assert json.loads(str(row["metadata_json"])) == body["image"]["metadata"]
    assert json.loads(str(row["extra_json"])) == {
        "name": 42,
        "minDisk": "20",
        "minRam": True,
        "progress": 2**40,
        "created": "yesterday",
        "server": "not-an-object",
        "surprise": [1, 2],
    }


def test_snapshot_image_keeps_its_server_id() -> None:
    body = {"image": {"id": "17a1890b-0fa4-485e-8505-14e294017988", "server": {"id": "b600"}}}
    assert flatten(body)["server_id"] == "b600"


def test_timestamps_with_offsets_are_converted_to_utc() -> None:
    body = {"image": {"id": "x", "created": "2020-05-01T10:00:00+02:00", "updated": "2020-05-01"}}
    row = flatten(body)
    assert row["created_at"] == datetime(2020, 5, 1, 8, 0, tzinfo=UTC)
    assert row["updated_at"] == datetime(2020, 5, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    "body",
    [None, [], "image", {"images": []}, {"image": None}, {"image": {"name": "no id"}}],
)
def test_bodies_that_are_not_image_records_are_rejected(body: object) -> None:
    with pytest.raises(InvalidRecordError):
        flatten(body)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3)
    ),
    max_leaves=10,
)


@given(
    metadata=st.dictionaries(st.text(max_size=30), json_values, max_size=8),
    top=st.dictionaries(st.sampled_from(["name", "minDisk", "created", "x"]), json_values),
)
def test_metadata_round_trips_losslessly_and_flatten_never_crashes(
    metadata: dict[str, object], top: dict[str, object]
) -> None:
    row = flatten({"image": {**top, "id": "i", "metadata": metadata}})
    assert json.loads(str(row["metadata_json"])) == metadata
    assert list(row) == IMAGES_SCHEMA.names


def test_glance_style_properties_are_the_os_fallback() -> None:
    body = {
        "image": {
            "id": "17a1890b-0fa4-485e-8505-14e294017988",
            "metadata": {"os_distro": "ubuntu", "os_version": "22.04", "__os_bit": "64"},
        }
    }
    row = flatten(body)
    assert (row["os_family"], row["os_distro"], row["os_release"], row["os_bits"]) == (
        "linux",
        "ubuntu",
        "22.04",
        64,
    )
