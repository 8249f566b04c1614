"""Snapshots in object storage, against a real S3 API: moto's server on loopback.

The server runs as a subprocess (module-scoped fixture); pyarrow's S3FileSystem talks to it
over HTTP exactly as it would to AWS S3 or Huawei/OTC OBS.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pytest
from click.testing import CliRunner

from crawler.commands.publish import publish
from crawler.errors import ConfigError, SnapshotError
from crawler.objectstore import (
    Destination,
    S3Location,
    S3Settings,
    latest_run,
    list_runs,
    read_table,
    upload_files,
    upload_run,
)
from crawler.simulator import RunningSimulator
from tests.conftest import id_list
from tests.test_cli import NO_AUTH, run_cli

BUCKET = "imagecrawler-test"
SECRET = "moto-dummy-secret-3f9a1c77"  # must never be printed


@dataclass(frozen=True)
class Moto:
    endpoint: str
    env: dict[str, str | None]
    fs: pafs.S3FileSystem


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_until_up(url: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"moto server exited with {server.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except urllib.error.HTTPError:
            return  # it answers, if only with an error
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("moto server did not answer within 30 s")


@pytest.fixture(scope="module")
def moto() -> Iterator[Moto]:
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        endpoint = f"http://127.0.0.1:{port}"
        _wait_until_up(endpoint, server)
        env: dict[str, str | None] = {
            "AWS_ACCESS_KEY_ID": "AKIDTESTING",
            "AWS_SECRET_ACCESS_KEY": SECRET,
            "AWS_SESSION_TOKEN": None,
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": None,
            "AWS_PROFILE": None,
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ENDPOINT_URL_S3": None,
            "IMAGECRAWLER_S3_ADDRESSING_STYLE": None,
        }
        settings = S3Settings.from_env({k: v for k, v in env.items() if v is not None})
        fs = settings.filesystem()
        pafs.S3FileSystem(
            access_key=settings.access_key,
            secret_key=settings.secret_key,
            region="us-east-1",
            endpoint_override=settings.endpoint_override,
            scheme="http",
            allow_bucket_creation=True,
        ).create_dir(BUCKET)
        yield Moto(endpoint, env, fs)
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.fixture(scope="module")
def local_snapshot(simulator: RunningSimulator, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One committed local snapshot of the simulator, copied by the tests that change it."""
    base = tmp_path_factory.mktemp("local")
    ids = id_list(simulator, base / "ids.csv", unknown=5)
    code, _, _ = run_cli(
        "crawl", "--input", str(ids), "--endpoint", simulator.base_url,
        "--output", str(base / "out"), "-q",
    )  # fmt: skip
    assert code == 0
    (snapshot,) = base.glob("out/snapshot_date=*/run_id=*")
    return snapshot


def _copy(snapshot: Path, tmp_path: Path) -> Path:
    copy = tmp_path / snapshot.parent.name / snapshot.name
    shutil.copytree(snapshot, copy)
    return copy


def _manifest(snapshot: Path) -> dict[str, object]:
    manifest: dict[str, object] = json.loads((snapshot / "manifest.json").read_text())
    return manifest


def _exists(moto: Moto, location: S3Location) -> bool:
    return bool(moto.fs.get_file_info(location.path).type == pafs.FileType.File)


# --- parsing and settings --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "bucket", "prefix"),
    [
        ("s3://bucket", "bucket", ""),
        ("s3://bucket/", "bucket", ""),
        ("s3://my.bucket-1/nightly/", "my.bucket-1", "nightly"),
        ("s3://bucket/a/b", "bucket", "a/b"),
    ],
)
def test_s3_urls_parse(url: str, bucket: str, prefix: str) -> None:
    location = S3Location.parse(url)
    assert (location.bucket, location.prefix) == (bucket, prefix)
    assert str(location) == f"s3://{bucket}/{prefix}".rstrip("/")


@pytest.mark.parametrize(
    "url",
    ["s3:/bucket/x", "bucket/x", "s3://", "s3://B/x", "s3://ab", "s3://b1/a//b", "s3://b1/../x"],
)
def test_bad_s3_urls_are_config_errors(url: str) -> None:
    with pytest.raises(ConfigError):
        S3Location.parse(url)


def test_settings_follow_the_aws_variables_and_hide_secrets() -> None:
    settings = S3Settings.from_env(
        {
            "AWS_ACCESS_KEY_ID": "AK",
            "AWS_SECRET_ACCESS_KEY": SECRET,
            "AWS_SESSION_TOKEN": "session-token-xyz",
            "AWS_DEFAULT_REGION": "eu-central-1",
            "AWS_REGION": "eu-de",
            "AWS_ENDPOINT_URL": "https://ignored.example",
            "AWS_ENDPOINT_URL_S3": "https://obs.eu-de.otc.t-systems.com",
            "IMAGECRAWLER_S3_ADDRESSING_STYLE": "virtual",
        }
    )
    assert settings.region == "eu-de"  # AWS_REGION wins, as in the AWS SDKs
    assert (settings.scheme, settings.endpoint_override) == ("https", "obs.eu-de.otc.t-systems.com")
    assert settings.virtual_addressing
    assert SECRET not in repr(settings)
    assert "session-token-xyz" not in repr(settings)
    local = S3Settings.from_env({"AWS_ENDPOINT_URL": "http://127.0.0.1:9000/"})
    assert (local.scheme, local.endpoint_override, local.access_key) == (
        "http",
        "127.0.0.1:9000",
        None,
    )


@pytest.mark.parametrize(
    "env",
    [
        {"AWS_ACCESS_KEY_ID": "AK"},
        {"AWS_SECRET_ACCESS_KEY": SECRET},
        {"AWS_ENDPOINT_URL": "ftp://host"},
        {"AWS_ENDPOINT_URL": "https://host/path"},
        {"AWS_ENDPOINT_URL": "https://host:99999"},
        {"AWS_ENDPOINT_URL": "https://host?x=1"},
        {"AWS_ENDPOINT_URL_S3": f"https://ak:{SECRET}@host"},
        {"IMAGECRAWLER_S3_ADDRESSING_STYLE": "dns"},
    ],
)
def test_unusable_settings_are_config_errors(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError) as caught:
        S3Settings.from_env(env)
    assert SECRET not in str(caught.value)


def test_destination_stages_s3_runs_under_the_cache(tmp_path: Path) -> None:
    env = {"XDG_CACHE_HOME": str(tmp_path)}
    remote = Destination.parse("s3://bucket/nightly", None, False, env)
    assert remote.local_root == tmp_path / "imagecrawler/staging/bucket/nightly"
    assert remote.remote == S3Location("bucket", "nightly")
    assert Destination.parse("out", None, False, env) == Destination(Path("out"))
    with pytest.raises(ConfigError, match="--staging"):
        Destination.parse("out", tmp_path, False, env)
    with pytest.raises(ConfigError, match="s3://"):
        Destination.parse("gs://bucket/nightly", None, False, env)


# --- against the S3 API ----------------------------------------------------------------------


@pytest.mark.slow  # moto's server is a subprocess
def test_crawl_to_s3_writes_a_readable_committed_run(
    moto: Moto, simulator: RunningSimulator, tmp_path: Path
) -> None:
    ids = id_list(simulator, tmp_path / "ids.csv", unknown=7)
    staging = tmp_path / "staging"
    code, stdout, stderr = run_cli(
        "crawl", "--input", str(ids), "--endpoint", simulator.base_url,
        "--output", f"s3://{BUCKET}/nightly", "--staging", str(staging),
        env=moto.env,
    )  # fmt: skip
    assert code == 0, stderr
    assert SECRET not in stdout + stderr
    (run,) = list_runs(f"s3://{BUCKET}/nightly", moto.fs)
    assert f"uploaded: {run.location}" in stdout
    assert not list(staging.glob("*/*/snapshot_date=*/run_id=*"))  # staging copy removed
    assert latest_run(f"s3://{BUCKET}/nightly", moto.fs) == run

    with moto.fs.open_input_stream(run.location.child("manifest.json").path) as stream:
        manifest = json.loads(stream.read())
    assert SECRET not in json.dumps(manifest)
    counts = manifest["counts"]
    assert run.counts == counts
    assert counts["not_found"] >= 7  # the unknown IDs, and images the cloud lost
    images = read_table(run, "images", filesystem=moto.fs)
    errors = read_table(run, "errors", filesystem=moto.fs, fmt="csv")
    assert images.num_rows == counts["ok"] == manifest["files"]["images.parquet"]["rows"]
    assert errors.num_rows == counts["not_found"] + counts["failed"] + counts["invalid"]
    # The plain pyarrow way, without this package: dataset + S3FileSystem, then pandas.
    images_key = run.location.child("images.parquet").path  # bucket/key, as pyarrow names it
    dataset = ds.dataset(images_key, filesystem=moto.fs)
    frame = dataset.to_table().to_pandas()
    assert len(frame) == counts["ok"]
    assert len(pd.read_parquet(images_key, filesystem=moto.fs)) == counts["ok"]  # no s3fs
    assert set(frame["image_id"]) == set(images.column("image_id").to_pylist())


@pytest.mark.slow  # moto's server is a subprocess
def test_failed_upload_keeps_the_local_snapshot_and_publish_completes_it(
    moto: Moto, simulator: RunningSimulator, tmp_path: Path
) -> None:
    ids = id_list(simulator, tmp_path / "ids.csv")
    staging = tmp_path / "staging"
    code, stdout, stderr = run_cli(
        "crawl", "--input", str(ids), "--endpoint", simulator.base_url,
        "--output", "s3://no-such-bucket/nightly", "--staging", str(staging),
        env=moto.env,
    )  # fmt: skip
    assert code == 3
    assert "NO_SUCH_BUCKET" in stderr or "does not exist" in stderr
    (kept,) = staging.glob("no-such-bucket/nightly/snapshot_date=*/run_id=*")
    assert (kept / "manifest.json").is_file()
    assert f"kept in {kept}" in stderr
    assert f"crawler publish {kept} s3://no-such-bucket/nightly" in stderr
    assert SECRET not in stdout + stderr
    assert list_runs("s3://no-such-bucket/nightly", moto.fs) == []

    result = CliRunner().invoke(
        publish, [str(kept), f"s3://{BUCKET}/retried", "--remove-local"], env=NO_AUTH | moto.env
    )
    assert result.exit_code == 0, result.output
    assert SECRET not in result.output
    (run,) = list_runs(f"s3://{BUCKET}/retried", moto.fs)
    assert f"uploaded: {run.location}" in result.stdout
    assert run.counts == _manifest_counts(moto, run.location)
    assert not kept.exists()


def _manifest_counts(moto: Moto, location: S3Location) -> object:
    with moto.fs.open_input_stream(location.child("manifest.json").path) as stream:
        return json.loads(stream.read())["counts"]


@pytest.mark.slow  # moto's server is a subprocess
def test_upload_dying_midway_leaves_no_manifest(
    moto: Moto, local_snapshot: Path, tmp_path: Path
) -> None:
    snapshot = _copy(local_snapshot, tmp_path)
    root = S3Location(BUCKET, "midway")
    manifest = _manifest(snapshot)
    target = root.child(
        f"snapshot_date={manifest['snapshot_date']}", f"run_id={manifest['run_id']}"
    )
    files = [snapshot / "images.parquet", snapshot / "gone.parquet", snapshot / "errors.parquet"]
    with pytest.raises(SnapshotError, match=r"gone\.parquet"):
        upload_files(moto.fs, files, snapshot / "manifest.json", target, checksums={})
    assert _exists(moto, target.child("images.parquet"))  # the first file made it ...
    assert not _exists(moto, target.child("manifest.json"))  # ... but the run is absent
    assert list_runs(root, moto.fs) == []
    with pytest.raises(ConfigError, match="not a committed snapshot"):
        read_table(target, "images", filesystem=moto.fs)

    assert upload_run(snapshot, root, moto.fs) == target  # the retry completes it
    (run,) = list_runs(root, moto.fs)
    assert run.location == target
    assert read_table(run, "images", filesystem=moto.fs).num_rows == run.counts["ok"]
    assert upload_run(snapshot, root, moto.fs) == target  # published before: left alone


@pytest.mark.slow  # moto's server is a subprocess
def test_a_damaged_local_file_is_not_published(
    moto: Moto, local_snapshot: Path, tmp_path: Path
) -> None:
    snapshot = _copy(local_snapshot, tmp_path)
    with (snapshot / "images.csv").open("ab") as handle:
        handle.write(b"tampered\r\n")
    root = S3Location(BUCKET, "damaged")
    with pytest.raises(SnapshotError, match="SHA-256") as caught:
        upload_run(snapshot, root, moto.fs)
    assert any("crawler publish" in note for note in caught.value.__notes__)
    assert list_runs(root, moto.fs) == []


@pytest.mark.slow  # moto's server is a subprocess
def test_a_different_run_under_the_same_name_is_not_overwritten(
    moto: Moto, local_snapshot: Path, tmp_path: Path
) -> None:
    snapshot = _copy(local_snapshot, tmp_path)
    root = S3Location(BUCKET, "conflict")
    upload_run(snapshot, root, moto.fs)
    manifest = _manifest(snapshot)
    (snapshot / "manifest.json").write_text(json.dumps({**manifest, "status": "edited"}))
    with pytest.raises(SnapshotError, match="different committed run"):
        upload_run(snapshot, root, moto.fs)
